"""Behind a TLS proxy: client addresses and the scheme from trusted peers only, and only
the configured host names served."""

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.config import Settings
from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.main import create_app
from tests.factories.admin import audit_rows
from tests.factories.kiosk_network import PASSWORD, login, make_user

ClientAt = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def app_with(
    settings: Settings, client: httpx.AsyncClient
) -> AsyncIterator[Callable[..., FastAPI]]:
    """Apps on the test databases with some settings changed (the `client` fixture wipes
    what they write)."""
    made: list[FastAPI] = []

    def make(**changes: Any) -> FastAPI:
        app = create_app(settings.model_copy(update=changes))
        made.append(app)
        return app

    yield make
    for app in made:
        await app.state.resources.close()


@asynccontextmanager
async def peer(
    app: FastAPI, ip: str, base_url: str = "http://test"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client connecting from `ip` (a proxy, or a client directly)."""
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
        yield http


async def _fail_logins(http: httpx.AsyncClient, times: int, xff: str, first: int = 0) -> int:
    """Wrong passwords for `times` different accounts; the last answer's status."""
    status = 0
    for i in range(first, first + times):
        resp = await http.post(
            "/auth/login",
            json={"email": f"nobody-{i}@example.com", "password": "wrong"},
            headers={"X-Forwarded-For": xff},
        )
        status = resp.status_code
    return status


async def test_forwarded_for_counts_only_from_a_trusted_proxy(
    app_with: Callable[..., FastAPI], resources: Resources
) -> None:
    per_ip = resources.settings.login_failures_per_ip_per_minute
    user = await make_user(resources)
    behind_proxy = app_with(forwarded_allow_ips=["127.0.0.1"])
    async with peer(behind_proxy, "127.0.0.1") as proxy:
        # One client guessing through the proxy uses up its own budget only ...
        assert await _fail_logins(proxy, per_ip + 1, "203.0.113.5") == 429
        # ... the proxy's other clients still sign in.
        ok = await proxy.post(
            "/auth/login",
            json={"email": user.email, "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.23"},
        )
        assert ok.status_code == 200, ok.text
    # A peer that is not the proxy cannot choose its address by sending the header.
    async with peer(behind_proxy, "192.0.2.99") as direct:
        assert await _fail_logins(direct, per_ip + 1, "10.1.2.3") == 429
        spoofed = await direct.post(
            "/auth/login",
            json={"email": user.email, "password": PASSWORD},
            headers={"X-Forwarded-For": "10.9.9.9"},
        )
        assert spoofed.status_code == 429


async def test_by_default_no_proxy_is_trusted(
    app_with: Callable[..., FastAPI], resources: Resources
) -> None:
    per_ip = resources.settings.login_failures_per_ip_per_minute
    user = await make_user(resources)
    app = app_with()
    async with peer(app, "127.0.0.1") as local:
        # Each request claims another address: all are counted against the real peer.
        for i in range(per_ip):
            await _fail_logins(local, 1, f"203.0.113.{i + 1}", first=i)
        blocked = await local.post(
            "/auth/login",
            json={"email": user.email, "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.1"},
        )
        assert blocked.status_code == 429


async def test_audit_rows_record_the_client_behind_the_proxy(
    app_with: Callable[..., FastAPI], resources: Resources, db: AsyncSession
) -> None:
    staff = await make_user(resources, Role.ADMIN)
    app = app_with(forwarded_allow_ips=["127.0.0.0/8"])
    async with peer(app, "127.0.0.1") as proxy:
        headers = {**await login(proxy, staff), "X-Forwarded-For": "203.0.113.77"}
        made = await proxy.post(
            "/api/v1/admin/categories", json={"name": "Prints", "type": "PRODUCT"}, headers=headers
        )
        assert made.status_code == 201, made.text
    (row,) = await audit_rows(db)
    assert row.ip_address == "203.0.113.77"


async def _dashboard_cookies(http: httpx.AsyncClient, email: str, **headers: str) -> list[str]:
    """Signs in on the dashboard; the Set-Cookie lines of the answer."""
    form = await http.get("/dashboard/login", headers=headers)
    match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert match, form.text
    # Sent by hand: the client's jar keeps a Secure cookie from a plain http:// address.
    http.cookies.clear()
    resp = await http.post(
        "/dashboard/login",
        data={"email": email, "password": PASSWORD, "csrf_token": match.group(1)},
        headers={**headers, "Cookie": f"iwm_csrf={match.group(1)}"},
    )
    assert resp.status_code == 303, resp.text
    return resp.headers.get_list("set-cookie")


def _session_cookie(lines: list[str]) -> str:
    return next(line for line in lines if line.startswith("iwm_session="))


async def test_cookies_are_secure_when_the_proxy_says_https(
    app_with: Callable[..., FastAPI], resources: Resources
) -> None:
    partner = await make_user(resources, Role.PARTNER)
    proxied = app_with(forwarded_allow_ips=["*"])
    async with peer(proxied, "10.0.0.2") as proxy:
        lines = await _dashboard_cookies(proxy, partner.email, **{"X-Forwarded-Proto": "https"})
        assert "secure" in _session_cookie(lines).lower()
        assert all("secure" in line.lower() for line in lines)
    untrusted = app_with()
    async with peer(untrusted, "10.0.0.2") as direct:
        lines = await _dashboard_cookies(direct, partner.email, **{"X-Forwarded-Proto": "https"})
        assert "secure" not in _session_cookie(lines).lower()


async def test_production_cookies_are_always_secure(
    app_with: Callable[..., FastAPI], resources: Resources, production_only: None
) -> None:
    # (Production mode refuses SQLite: this runs on the PostgreSQL profile.)
    partner = await make_user(resources, Role.PARTNER)
    app = app_with(env="production", allowed_hosts=["test"])
    async with peer(app, "127.0.0.1") as http:
        lines = await _dashboard_cookies(http, partner.email)
    assert "secure" in _session_cookie(lines).lower()


async def test_other_hosts_are_refused(app_with: Callable[..., FastAPI]) -> None:
    app = app_with(allowed_hosts=["api.example.com", "*.kiosks.example.com"])
    async with peer(app, "127.0.0.1", "http://api.example.com") as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/healthz", headers={"Host": "api.example.com:8443"})).is_success
        assert (await http.get("/healthz", headers={"Host": "k1.kiosks.example.com"})).is_success
        for host in ("evil.example", "api.example.com.evil.example", "kiosks.example.com", ""):
            resp = await http.get("/partner/orders/", headers={"Host": host})
            assert resp.status_code == 400, (host, resp.status_code)
            assert resp.json() == {
                "success": False,
                "error": {
                    "code": "INVALID_HOST",
                    "message": "This host name is not served here",
                    "details": {},
                },
            }
            assert "location" not in resp.headers
        # A health check, a load balancer or a scraper calls the server by its address.
        for probe in ("/healthz", "/readyz", "/metrics"):
            by_address = await http.get(probe, headers={"Host": "10.0.0.7:8000"})
            assert by_address.status_code in (200, 503), (probe, by_address.status_code)
        redirect = await http.get("/partner/orders/")
        assert redirect.status_code in (307, 308)
        assert redirect.headers["location"].startswith("http://api.example.com/")


async def test_development_answers_any_host_by_default(app_with: Callable[..., FastAPI]) -> None:
    app = app_with()
    async with peer(app, "127.0.0.1") as http:
        assert (await http.get("/healthz", headers={"Host": "whatever.local"})).is_success
