"""A session used a moment ago is answered from the process's memory: whatever ends a
session or changes an account in this process takes effect at once; a change made in
another process takes effect there within `IWM_PRINCIPAL_CACHE_SECONDS`."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.principal import Principal, PrincipalCache, Role
from iwm.core.resources import Resources
from iwm.core.security import token_hash
from iwm.main import create_app
from tests.factories.accounts import PASSWORD as MEMBER_PASSWORD
from tests.factories.accounts import MemberApp
from tests.factories.admin import admin_headers
from tests.factories.kiosk_network import login, make_user

USERS = "/api/v1/admin/users"


async def test_logout_and_revocation_are_immediate_in_the_process(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    assert resources.principals.enabled
    user = await make_user(resources)
    first, second, third = [await login(client, user) for _ in range(3)]
    for headers in (first, second, third):  # each is now kept in memory
        assert (await client.get("/auth/me", headers=headers)).status_code == 200
    assert (await client.post("/auth/logout", headers=first)).status_code == 200
    assert (await client.get("/auth/me", headers=first)).status_code == 401
    assert await resources.sessions.revoke_user(user.id, keep=_hash(third)) == 1
    assert (await client.get("/auth/me", headers=second)).status_code == 401
    assert (await client.get("/auth/me", headers=third)).status_code == 200


async def test_suspension_and_role_changes_are_immediate(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, admin = await admin_headers(client, resources, Role.SUPER_ADMIN)
    partner = await make_user(resources, Role.PARTNER)
    mine = await login(client, partner)
    assert (await client.get("/partner/kiosks", headers=mine)).status_code == 200
    changed = await client.patch(f"{USERS}/{partner.id}", json={"roles": ["USER"]}, headers=admin)
    assert changed.status_code == 200, changed.text
    assert (await client.get("/partner/kiosks", headers=mine)).status_code == 403
    me = await client.get("/auth/me", headers=mine)
    assert me.json()["roles"] == ["USER"]

    suspended = await client.post(
        f"{USERS}/{partner.id}/suspend", json={"reason": "checks"}, headers=admin
    )
    assert suspended.status_code == 200, suspended.text
    assert (await client.get("/auth/me", headers=mine)).status_code == 401


async def test_password_change_and_verification_are_immediate(app: MemberApp) -> None:
    email = "cached@example.com"
    assert (await app.register(email)).status_code == 201
    # Signed in before verifying: the account is PENDING_VERIFICATION.
    mine = await app.login(email)
    other = await app.login(email)
    me = await app.http.get("/api/v1/me", headers=mine)
    assert me.json()["data"]["status"] == "PENDING_VERIFICATION"
    token = (await app.mail(email))[-1].token
    assert (await app.http.post("/auth/verify-email", json={"token": token})).status_code == 200
    me = await app.http.get("/api/v1/me", headers=mine)
    assert me.json()["data"]["status"] == "ACTIVE"

    assert (await app.http.get("/auth/me", headers=other)).status_code == 200
    done = await app.http.post(
        "/auth/password/change",
        json={"currentPassword": MEMBER_PASSWORD, "newPassword": "another-long-password"},
        headers=mine,
    )
    assert done.json() == {"sessionsRevoked": 1}
    assert (await app.http.get("/auth/me", headers=other)).status_code == 401
    assert (await app.http.get("/auth/me", headers=mine)).status_code == 200


async def test_the_session_end_is_checked_on_every_use(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    headers = await login(client, await make_user(resources))
    assert (await client.get("/auth/me", headers=headers)).status_code == 200
    clock.travel(timedelta(seconds=resources.settings.session_ttl_seconds + 1))
    assert (await client.get("/auth/me", headers=headers)).status_code == 401


@pytest.fixture
async def other_process(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the same database and session store, as another worker would be,
    keeping principals for a short time."""
    app = create_app(settings.model_copy(update={"principal_cache_seconds": 0.5}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
    await app.state.resources.close()


async def test_another_process_sees_a_logout_within_its_bound(
    client: httpx.AsyncClient, resources: Resources, other_process: httpx.AsyncClient
) -> None:
    headers = await login(client, await make_user(resources))
    assert (await other_process.get("/auth/me", headers=headers)).status_code == 200
    assert (await client.post("/auth/logout", headers=headers)).status_code == 200
    assert (await client.get("/auth/me", headers=headers)).status_code == 401
    await asyncio.sleep(0.6)
    assert (await other_process.get("/auth/me", headers=headers)).status_code == 401


def _principal(user_id: uuid.UUID | None = None, key: str = "t") -> Principal:
    return Principal(
        user_id=user_id or uuid.uuid4(),
        email="a@example.com",
        roles=frozenset({Role.USER}),
        token_hash=key,
        session_expires_at=clock.now() + timedelta(hours=1),
    )


def test_a_principal_read_during_a_logout_is_not_kept() -> None:
    cache = PrincipalCache(5)
    seen = cache.generation
    cache.forget("other")  # a logout finished while the principal was being read
    cache.put(_principal(key="t"), seen)
    assert cache.get("t", clock.now()) is None
    cache.put(_principal(key="t"), cache.generation)
    assert cache.get("t", clock.now()) is not None


def test_the_cache_is_bounded_and_can_be_turned_off() -> None:
    cache = PrincipalCache(5, size=2)
    for token in ("a", "b", "c"):
        cache.put(_principal(key=token), cache.generation)
    assert [cache.get(t, clock.now()) is not None for t in ("a", "b", "c")] == [
        False,
        True,
        True,
    ]
    off = PrincipalCache(0)
    off.put(_principal(key="a"), off.generation)
    assert off.get("a", clock.now()) is None


def _hash(headers: dict[str, str]) -> str:
    return token_hash(headers["Authorization"].removeprefix("Bearer "))
