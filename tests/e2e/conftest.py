"""End-to-end fixtures: the real `iwm serve` process, Debian's Chromium driven by
Playwright, and helpers that make data the way clients do (admin API, kiosk API).

The server runs on the embedded default (SQLite, SQL sessions, photo folder) and, when
PostgreSQL and Redis are reachable (always under CI=true), on the production parts too.
"""

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from iwm.core.config import Settings
from iwm.core.migrations import upgrade_head
from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.demo.kiosks import demo_photo
from tests.factories.kiosk_network import PASSWORD, make_user
from tests.support import (
    IN_CI,
    RUN_ID,
    embedded_env,
    free_port,
    production_available,
    production_env,
    psql,
    unlink_prefixed,
    wait_until_healthy,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
TABLET = {"width": 1024, "height": 768}
E2E_BUCKET = "iwm-test-photos"  # made by the root conftest's moto server


@dataclass
class DashboardServer:
    profile: str
    base_url: str
    env: dict[str, str]
    log_path: Path
    resources: Resources | None = None
    admin_token: str = ""

    def screenshot_path(self, name: str) -> Path:
        path = SCREENSHOTS / self.profile / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


@dataclass
class KioskRef:
    id: str
    name: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class PartnerShop:
    """A partner with one shop and its kiosks, made through the admin API."""

    email: str
    user_id: str
    shop_id: str
    kiosks: list[KioskRef] = field(default_factory=list)


def _start(env: dict[str, str], tmp: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log_path = tmp / "server.log"
    iwm = Path(sys.executable).parent / "iwm"
    full_env = {
        **os.environ,
        **env,
        # Every test signs in from 127.0.0.1; the per-IP login limit is tested elsewhere.
        "IWM_LOGIN_ATTEMPTS_PER_MINUTE": "1000",
        "IWM_LOG_LEVEL": "WARNING",
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603
            [str(iwm), "serve", "--port", str(port)],
            cwd=tmp,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    # Generous: on a busy two-core machine the import and the startup checks alone can
    # take tens of seconds, and a slow start is not what these tests are about.
    wait_until_healthy(proc, base_url, 90, output=log_path.read_text)
    return proc, base_url, log_path


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Under `--dist loadgroup` one worker runs every browser test: one Chromium and one
    # server per profile, rather than a set on each worker.
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail("CI=true needs Debian's chromium (make browser-deps)")
        pytest.skip("/usr/bin/chromium is not installed (make browser-deps)")
    return CHROMIUM


@pytest.fixture(scope="session", params=["embedded", "production"])
def server_process(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DashboardServer]:
    tmp = tmp_path_factory.mktemp(f"dashboard-{request.param}")
    db_name = ""
    if request.param == "embedded":
        env = embedded_env(tmp)
    else:
        if not production_available():
            if IN_CI:
                pytest.fail("CI=true needs PostgreSQL and Redis on 127.0.0.1")
            pytest.skip("PostgreSQL or Redis is not reachable")
        endpoint = request.getfixturevalue("s3_endpoint")
        db_name = f"iwm_e2e_{RUN_ID}"
        psql(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
        psql(f"CREATE DATABASE {db_name}")
        # A Redis prefix of its own: the module tests wipe theirs after every test.
        env = production_env(db_name, endpoint, E2E_BUCKET, redis_prefix=f"iwm_e2e_{RUN_ID}")
    upgrade_head(env["IWM_DATABASE_URL"])
    proc, base_url, log_path = _start(env, tmp)
    try:
        yield DashboardServer(request.param, base_url, env, log_path)
    finally:
        _stop(proc)
        if db_name:
            psql(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")


@pytest.fixture(scope="session")
async def server(server_process: DashboardServer) -> AsyncIterator[DashboardServer]:
    """The running server, with an admin signed in over the API."""
    settings = Settings(
        **{k[4:].lower(): v for k, v in server_process.env.items() if k.startswith("IWM_")}
    )
    resources = Resources.build(settings)
    server_process.resources = resources
    admin = await make_user(resources, Role.ADMIN)
    async with httpx.AsyncClient(base_url=server_process.base_url) as http:
        resp = await http.post("/auth/login", json={"email": admin.email, "password": PASSWORD})
        assert resp.status_code == 200, resp.text
        server_process.admin_token = resp.json()["token"]
    yield server_process
    if resources.redis is not None:
        await unlink_prefixed(resources.redis, settings.redis_prefix)
    await resources.close()


@pytest.fixture
async def api(server: DashboardServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        yield http


async def make_partner_shop(
    server: DashboardServer,
    http: httpx.AsyncClient,
    kiosks: tuple[str, ...] = ("Kiosk #1",),
    timezone: str = "UTC",
) -> PartnerShop:
    assert server.resources is not None
    partner = await make_user(
        server.resources, Role.PARTNER, email=f"shop-{uuid.uuid4().hex[:10]}@example.com"
    )
    admin = {"Authorization": f"Bearer {server.admin_token}"}
    resp = await http.post(
        "/api/v1/admin/shops",
        json={
            "partnerUserId": str(partner.id),
            "name": "Dizengoff Photo",
            "location": "Tel Aviv",
            "timezone": timezone,
        },
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    shop = PartnerShop(partner.email, str(partner.id), resp.json()["data"]["id"])
    for name in kiosks:
        resp = await http.post(
            "/api/v1/admin/kiosks",
            json={
                "shopId": shop.shop_id,
                "name": name,
                "location": "Dizengoff Center, floor 1",
                "defaultLanguage": "en",
            },
            headers=admin,
        )
        assert resp.status_code == 201, resp.text
        data = resp.json()["data"]
        shop.kiosks.append(KioskRef(data["id"], data["name"], data["deviceKey"]))
    return shop


COLOURS = ["#e76f51", "#2a9d8f", "#e9c46a", "#264653", "#f4a261", "#8ab17d"]


async def post_order(
    http: httpx.AsyncClient,
    kiosk: KioskRef,
    customer_name: str,
    customer_email: str = "",
    colour: str = "#2a9d8f",
    phone: str = "+972501234567",
    photo: bytes | None = None,
) -> dict[str, Any]:
    """What a kiosk does: a multipart order with the customer's photo."""
    data = {"customerName": customer_name, "customerPhone": phone}
    if customer_email:
        data["customerEmail"] = customer_email
    resp = await http.post(
        f"/kiosk/{kiosk.id}/orders",
        data=data,
        files={"image": ("photo.jpg", photo or demo_photo(customer_name, colour), "image/jpeg")},
        headers=kiosk.headers,
    )
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def bearer(http: httpx.AsyncClient, email: str) -> dict[str, str]:
    resp = await http.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


@pytest.fixture(scope="session")
async def browser(chromium_path: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(viewport=TABLET, locale="en-GB", timezone_id="UTC")
    ctx.set_default_timeout(10_000)
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def sign_in(page: Page, server: DashboardServer, email: str) -> None:
    await page.goto(f"{server.base_url}/dashboard/login")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form[action='/dashboard/login'] button[type=submit]")
    await page.wait_for_url(f"{server.base_url}/dashboard")


async def scroll_to(page: Page, selector: str) -> None:
    """Scrolls the element into view in one step of the page's own script: the shop screen
    may swap its cards for fresh ones at any moment, which a locator's find-then-scroll
    loses ("not attached to the DOM")."""
    await expect(page.locator(selector)).to_be_attached()
    await page.evaluate(
        "s => document.querySelector(s).scrollIntoView({block: 'center'})", selector
    )


async def eventually(check: Any, seconds: float = 10.0) -> None:
    """Retries an async assertion until it holds (for state the server changes)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            await check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
