"""Login limits that cannot be turned against the account owner, and the log they leave."""

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import structlog
from structlog.testing import capture_logs

from iwm.core.resources import Resources
from iwm.core.security import PasswordHasher
from iwm.modules.auth import service as auth_service
from tests.factories.kiosk_network import PASSWORD, make_user


@asynccontextmanager
async def client_at(
    app_and_resources: tuple[object, Resources], ip: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from `ip`."""
    app, _ = app_and_resources
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def _login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/auth/login", json={"email": email, "password": password})


async def test_wrong_passwords_from_elsewhere_do_not_lock_the_owner_out(
    client: httpx.AsyncClient,
    app_and_resources: tuple[object, Resources],
    resources: Resources,
) -> None:
    user = await make_user(resources)
    limit = resources.settings.login_attempts_per_minute
    async with client_at(app_and_resources, "203.0.113.66") as attacker:
        for _ in range(limit + 5):
            resp = await _login(attacker, user.email, "guess")
            assert resp.status_code in (401, 429)
        assert (await _login(attacker, user.email, "guess")).status_code == 429
        # The attacker's own address stays locked, even with the right password.
        assert (await _login(attacker, user.email, PASSWORD)).status_code == 429
    async with client_at(app_and_resources, "198.51.100.7") as owner:
        resp = await _login(owner, user.email, PASSWORD)
        assert resp.status_code == 200, resp.text


async def test_successful_logins_are_not_counted(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    user = await make_user(resources)
    for _ in range(resources.settings.login_attempts_per_minute + 3):
        assert (await _login(client, user.email, PASSWORD)).status_code == 200


async def test_a_success_clears_the_pair_failures(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    user = await make_user(resources)
    limit = resources.settings.login_attempts_per_minute
    for _ in range(limit - 1):
        assert (await _login(client, user.email, "typo")).status_code == 401
    assert (await _login(client, user.email, PASSWORD)).status_code == 200
    for _ in range(limit - 1):
        assert (await _login(client, user.email, "typo")).status_code == 401
    assert (await _login(client, user.email, PASSWORD)).status_code == 200


async def test_one_address_guessing_many_accounts_is_stopped(
    client: httpx.AsyncClient,
    app_and_resources: tuple[object, Resources],
    resources: Resources,
) -> None:
    per_ip = resources.settings.login_failures_per_ip_per_minute
    victim = await make_user(resources)
    async with client_at(app_and_resources, "192.0.2.10") as sprayer:
        for i in range(per_ip):
            resp = await _login(sprayer, f"nobody-{i}@example.com", "guess")
            assert resp.status_code == 401
        refused = await _login(sprayer, victim.email, PASSWORD)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "RATE_LIMITED"
        assert int(refused.headers["Retry-After"]) >= 1
    async with client_at(app_and_resources, "192.0.2.11") as neighbour:
        assert (await _login(neighbour, victim.email, PASSWORD)).status_code == 200


async def test_failures_and_lockouts_are_logged_without_the_password(
    client: httpx.AsyncClient,
    app_and_resources: tuple[object, Resources],
    resources: Resources,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A logger not yet cached, so that it is assembled with the capturing processors
    # (each profile's app configures logging anew).
    monkeypatch.setattr(auth_service, "log", structlog.get_logger())
    user = await make_user(resources)
    limit = resources.settings.login_attempts_per_minute
    secret_guess = "Tr0ub4dor&3-guess"
    async with client_at(app_and_resources, "203.0.113.9") as attacker:
        with capture_logs() as logs:
            for _ in range(limit + 1):
                await _login(attacker, user.email, secret_guess)
            await _login(attacker, "ghost@example.com", secret_guess)
    failed = [e for e in logs if e["event"] == "login.failed"]
    assert len(failed) == limit + 1
    assert {e["account"] for e in failed} == {user.email, "ghost@example.com"}
    assert {e["ip"] for e in failed} == {"203.0.113.9"}
    assert {e["reason"] for e in failed} == {"wrong_password", "unknown_account"}
    locked = [e for e in logs if e["event"] == "login.locked_out"]
    assert [(e["account"], e["ip"], e["scope"]) for e in locked] == [
        (user.email, "203.0.113.9", "account_ip")
    ]
    refused = [e for e in logs if e["event"] == "login.refused_locked"]
    assert refused
    assert refused[0]["account"] == user.email
    assert secret_guess not in repr(logs)


async def test_password_hashing_leaves_the_event_loop_free(
    client: httpx.AsyncClient, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where each hash runs, not how long the loop waited: a timing would pass or fail with
    # the machine's load. (bench/login_storm.py measures the latency.)
    loop_thread = threading.get_ident()
    hashed_on: list[int] = []

    class Recording(PasswordHasher):
        def verify(self, password_hash: str | None, password: str) -> bool:
            hashed_on.append(threading.get_ident())
            return super().verify(password_hash, password)

    recording = Recording(time_cost=1, memory_cost=8, parallelism=1, concurrency=2)
    monkeypatch.setattr(resources, "passwords", recording)
    user = await make_user(resources)
    answers = await asyncio.gather(
        *(_login(client, user.email, f"guess-{i}") for i in range(4)),
        _login(client, "nobody@example.com", "guess"),
    )
    assert [a.status_code for a in answers] == [401] * 5
    assert len(hashed_on) == 5
    assert loop_thread not in hashed_on
