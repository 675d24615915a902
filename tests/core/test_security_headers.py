"""The browser-side safety headers: on pages, API answers and photos."""

import re
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from iwm.core.deps import SESSION_COOKIE
from iwm.core.resources import Resources
from iwm.web.deps import WEB_DIR
from tests.factories.kiosk_network import PASSWORD, login, make_order, make_world


def _policy(resp: httpx.Response) -> dict[str, str]:
    raw = resp.headers["content-security-policy"]
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
        for part in raw.split(";")
        if part.strip()
    }


def _common(resp: httpx.Response) -> None:
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]


async def test_dashboard_pages_forbid_inline_script_framing_and_caching(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    await make_order(resources, world.kiosks[0], customer_name="Noa Levi")
    token = (await login(client, world.partner))["Authorization"].removeprefix("Bearer ")
    client.cookies.set(SESSION_COOKIE, token)
    try:
        pages = [await client.get(p) for p in ("/dashboard", "/dashboard/orders")]
    finally:
        client.cookies.clear()
    pages.append(await client.get("/dashboard/login"))
    for page in pages:
        assert page.status_code == 200, page.text
        _common(page)
        policy = _policy(page)
        assert policy["script-src"] == "'self'"
        assert policy["style-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'"
        assert "unsafe-inline" not in page.headers["content-security-policy"]
        assert "unsafe-eval" not in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        # Nothing inline for the policy to refuse.
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text)
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", page.text)
    assert "Noa Levi" in pages[0].text


def test_no_template_has_inline_script_or_style() -> None:
    for template in (WEB_DIR / "templates").glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", text), template.name


async def test_api_answers_with_personal_data_are_not_stored(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    headers = await login(client, world.partner)
    for path in ("/partner/orders/new", "/partner/orders", "/auth/me"):
        resp = await client.get(path, headers=headers)
        assert resp.status_code == 200
        _common(resp)
        assert resp.headers["cache-control"] == "no-store"
    refused = await client.get("/partner/orders")
    assert refused.status_code == 401
    _common(refused)


async def test_static_files_stay_cacheable(client: httpx.AsyncClient) -> None:
    resp = await client.get("/dashboard/static/dashboard.js")
    assert resp.status_code == 200
    assert "no-store" not in resp.headers.get("cache-control", "")
    _common(resp)


async def test_photos_answer_in_a_sandbox(
    client: httpx.AsyncClient, resources: Resources, is_production: bool
) -> None:
    if is_production:
        pytest.skip("photos come from S3 presigned links there, not from /media")
    world = await make_world(resources)
    order = await make_order(resources, world.kiosks[0])
    headers = await login(client, world.partner)
    url = (await client.get(f"/partner/orders/{order.id}", headers=headers)).json()["imageUrl"]
    link = urlsplit(url)
    photo = await client.get(f"{link.path}?{link.query}")
    assert photo.status_code == 200, url
    _common(photo)
    policy = _policy(photo)
    assert "sandbox" in policy
    assert policy["default-src"] == "'none'"
    assert photo.headers["cache-control"] == "no-store"


async def test_hsts_only_over_https(app_and_resources: tuple[FastAPI, Resources]) -> None:
    app, _ = app_and_resources
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as https:
        secure = await https.get("/healthz")
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        plain = await http.get("/healthz")
    assert secure.headers["strict-transport-security"] == "max-age=31536000"
    assert "strict-transport-security" not in plain.headers


async def test_password_is_not_echoed_into_a_cacheable_page(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    form = await client.get("/dashboard/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf
    resp = await client.post(
        "/dashboard/login",
        data={"email": world.partner.email, "password": PASSWORD, "csrf_token": csrf.group(1)},
    )
    assert resp.status_code == 303
    assert resp.headers["cache-control"] == "no-store"
