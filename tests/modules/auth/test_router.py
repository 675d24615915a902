from datetime import timedelta

import httpx

from iwm.core import clock
from iwm.core.principal import Role
from iwm.core.resources import Resources
from tests.factories.kiosk_network import PASSWORD, login, make_user


async def test_login_returns_token_and_user(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    user = await make_user(resources, Role.PARTNER, email="Shop.Owner@Example.com")
    resp = await client.post(
        "/auth/login", json={"email": "shop.owner@example.com", "password": PASSWORD}
    )
    assert resp.status_code == 200
    body = resp.json()
    assert len(body["token"]) >= 43  # 256 bits, URL-safe base64
    assert body["expiresAt"].endswith("Z")
    assert body["user"] == {
        "id": str(user.id),
        "email": "shop.owner@example.com",
        "roles": ["PARTNER"],
    }
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == str(user.id)


async def test_wrong_password_and_unknown_email_look_the_same(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    user = await make_user(resources)
    wrong = await client.post("/auth/login", json={"email": user.email, "password": "nope"})
    unknown = await client.post(
        "/auth/login", json={"email": "ghost@example.com", "password": "nope"}
    )
    for resp in (wrong, unknown):
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "INVALID_CREDENTIALS"


async def test_login_validation_errors(client: httpx.AsyncClient) -> None:
    resp = await client.post("/auth/login", json={"email": "a@b.c"})
    assert resp.status_code == 400
    body = resp.json()
    assert body["success"] is False
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert "password" in body["error"]["details"]
    not_json = await client.post(
        "/auth/login", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400
    assert not_json.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_logout_ends_the_session(client: httpx.AsyncClient, resources: Resources) -> None:
    headers = await login(client, await make_user(resources))
    assert (await client.post("/auth/logout", headers=headers)).status_code == 200
    resp = await client.get("/auth/me", headers=headers)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "UNAUTHORIZED"


async def test_missing_garbage_and_expired_tokens_are_401(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    assert (await client.get("/auth/me")).status_code == 401
    garbage = await client.get("/auth/me", headers={"Authorization": "Bearer xyz"})
    assert garbage.status_code == 401
    headers = await login(client, await make_user(resources))
    clock.travel(timedelta(seconds=resources.settings.session_ttl_seconds + 1))
    assert (await client.get("/auth/me", headers=headers)).status_code == 401


async def test_login_attempts_are_rate_limited_per_account(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    user = await make_user(resources)
    limit = resources.settings.login_attempts_per_minute
    for _ in range(limit):
        resp = await client.post("/auth/login", json={"email": user.email, "password": "bad"})
        assert resp.status_code == 401
    blocked = await client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "RATE_LIMITED"
    assert int(blocked.headers["Retry-After"]) >= 1


async def test_sessions_are_counted_and_revoked_per_user(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    user = await make_user(resources)
    first = await login(client, user)
    second = await login(client, user)
    assert await resources.sessions.count_user(user.id) == 2
    assert await resources.sessions.revoke_user(user.id) == 2
    for headers in (first, second):
        assert (await client.get("/auth/me", headers=headers)).status_code == 401
