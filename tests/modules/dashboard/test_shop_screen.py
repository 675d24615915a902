"""The shop screen's server side: bulk marking, the owner's kiosk statuses, the sliding
session and the change notices behind the live view."""

import asyncio
import re
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.deps import SESSION_COOKIE
from iwm.core.middleware import Draining
from iwm.core.resources import Resources
from iwm.core.security import token_hash
from iwm.main import create_app
from iwm.modules.kiosks.models import Kiosk
from iwm.modules.orders.models import Order
from iwm.web import router as web_router
from tests.factories.kiosk_network import login, make_kiosk, make_order, make_shop, make_world

CSRF = "c" * 43


def _sign_in(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    client.cookies.set(SESSION_COOKIE, headers["Authorization"].removeprefix("Bearer "))
    client.cookies.set("iwm_csrf", CSRF)


async def test_bulk_mark_is_all_or_none(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    mine = await make_world(resources)
    theirs = await make_world(resources, admin=mine.admin)
    a = await make_order(resources, mine.kiosks[0], "A")
    b = await make_order(resources, mine.kiosks[0], "B")
    foreign = await make_order(resources, theirs.kiosks[0], "C")
    _sign_in(client, await login(client, mine.partner))
    try:
        refused = await client.post(
            "/dashboard/orders/mark",
            data={"id": [str(a.id), str(foreign.id)], "status": "printed"},
            headers={"X-CSRF-Token": CSRF},
        )
        assert refused.status_code == 404
        printed = (await db.execute(select(Order.printed_at))).scalars().all()
        assert printed == [None, None, None]
        done = await client.post(
            "/dashboard/orders/mark",
            data={"id": [str(a.id), str(b.id)], "status": "printed"},
            headers={"X-CSRF-Token": CSRF},
        )
        assert done.status_code == 204
        await db.rollback()  # a new snapshot (SQLite keeps the old one otherwise)
        rows = dict((await db.execute(select(Order.id, Order.printed_at))).all())
        assert rows[a.id] is not None
        assert rows[b.id] is not None
        assert rows[foreign.id] is None
        no_token = await client.post(
            "/dashboard/orders/mark", data={"id": [str(a.id)], "status": "not_printed"}
        )
        assert no_token.status_code == 403
    finally:
        client.cookies.clear()


async def test_cards_name_the_shop_when_the_partner_has_several(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    first = await make_order(resources, world.kiosks[0], "Alone")
    _sign_in(client, await login(client, world.partner))
    pages = ["/dashboard/orders/live", "/dashboard/orders", f"/dashboard/orders/{first.id}"]
    for path in pages:
        page = await client.get(path)
        assert page.status_code == 200, path
        assert 'data-testid="order-shop"' not in page.text, path

    # Order numbers count per shop: with a second shop, "#1" alone could be either.
    harbour = await make_shop(resources, world.partner, world.admin, name="Harbour Shop")
    kiosk = await make_kiosk(resources, harbour, world.admin, name="Pier kiosk")
    second = await make_order(resources, kiosk, "Pier")
    assert (first.number, second.number) == (1, 1)
    for path in [*pages, f"/dashboard/orders/{second.id}"]:
        page = await client.get(path)
        shops = re.findall(r'data-testid="order-shop">([^<]*)<', page.text)
        if path.endswith(str(first.id)):
            assert shops == ["Shop"], path
        elif path.endswith(str(second.id)):
            assert shops == ["Harbour Shop"], path
        else:
            assert sorted(shops) == ["Harbour Shop", "Shop"], path


async def test_older_unprinted_counts_only_the_partners_unprinted_orders_out_of_the_window(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources, kiosks=2)
    other = await make_world(resources, admin=world.admin)
    old = [await make_order(resources, world.kiosks[i % 2], f"Old {i}") for i in range(3)]
    printed = await make_order(resources, world.kiosks[0], "Old, printed")
    await make_order(resources, world.kiosks[0], "Recent")
    foreign = await make_order(resources, other.kiosks[0], "Another partner's")
    long_ago = clock.now() - timedelta(hours=5)
    beyond_history = clock.now() - timedelta(days=31)
    aged = [o.id for o in old] + [printed.id, foreign.id]
    await db.execute(update(Order).where(Order.id.in_(aged)).values(created_at=long_ago))
    await db.execute(update(Order).where(Order.id == printed.id).values(printed_at=long_ago))
    await db.execute(update(Order).where(Order.id == old[2].id).values(created_at=beyond_history))
    await db.commit()
    _sign_in(client, await login(client, world.partner))

    live = await client.get("/dashboard/orders/live")
    link = re.search(r'data-testid="older-unprinted">([^<]*)<', live.text)
    assert link is not None
    assert link.group(1).startswith("2 older unprinted")
    listed = await client.get("/dashboard/orders/older")
    names = re.findall(r'data-testid="customer-name" dir="auto">([^<]*)<', listed.text)
    assert sorted(names) == ["Old 0", "Old 1"]


async def test_owner_cannot_set_error_by_hand(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    _sign_in(client, await login(client, world.partner))
    try:
        resp = await client.post(
            f"/dashboard/kiosks/{kiosk.id}/status",
            data={"status": "error"},
            headers={"X-CSRF-Token": CSRF, "HX-Request": "true"},
        )
        assert resp.status_code == 400
        status = (await db.execute(select(Kiosk.status).where(Kiosk.id == kiosk.id))).scalar()
        assert status == "active"
        page = await client.get("/dashboard/kiosks")
        assert 'value="error"' not in page.text
    finally:
        client.cookies.clear()


async def test_dashboard_session_slides_up_to_its_limit(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    headers = await login(client, world.partner)
    hashed = token_hash(headers["Authorization"].removeprefix("Bearer "))
    before = await resources.sessions.get(hashed)
    assert before is not None
    _sign_in(client, headers)
    try:
        page = await client.get("/dashboard")
        assert page.status_code == 200
        assert SESSION_COOKIE in page.headers.get("set-cookie", "")
        after = await resources.sessions.get(hashed)
        assert after is not None
        idle = resources.settings.dashboard_session_idle_seconds
        assert after.expires_at > before.expires_at
        assert abs((after.expires_at - clock.now()).total_seconds() - idle) < 60
        # Never past the absolute limit from sign-in.
        limit = (after.created_at or clock.now()) + timedelta(
            seconds=resources.settings.dashboard_session_max_seconds
        )
        assert await resources.sessions.extend(hashed, limit)
        # A session ended meanwhile is not brought back.
        await resources.sessions.delete(hashed)
        assert not await resources.sessions.extend(hashed, limit)
        assert await resources.sessions.get(hashed) is None
        assert (await client.get("/dashboard")).status_code == 303
    finally:
        client.cookies.clear()


@pytest.mark.parametrize("kind", ["order", "other shop"])
async def test_change_notice_reaches_the_shops_screens_after_commit(
    resources: Resources, kind: str
) -> None:
    world = await make_world(resources)
    other = await make_world(resources, admin=world.admin)
    async with resources.changes.subscribe([world.shop.id]) as screen:
        await asyncio.sleep(0.2)  # the Redis listener subscribes
        target = world if kind == "order" else other
        await make_order(resources, target.kiosks[0], "Noa")
        told = await screen.wait(3.0)
    assert told is (kind == "order")


async def test_the_live_stream_outlives_the_request_deadline_and_ends_when_draining(
    resources: Resources, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await make_world(resources)
    monkeypatch.setattr(web_router, "STREAM_SECONDS", 4.0)
    monkeypatch.setattr(web_router, "SESSION_CHECK_SECONDS", 0.2)
    # Ordinary requests get 3 s (a loaded machine's first page may take one or two); the
    # stream runs its whole length past that.
    app = create_app(settings.model_copy(update={"request_timeout_seconds": 3.0}))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            _sign_in(http, await login(http, world.partner))
            # Opens the app's connections, so the stream's own start is not what is timed.
            await http.get("/dashboard")
            started = time.monotonic()
            stream = await http.get("/dashboard/orders/stream")
            lasted = time.monotonic() - started
            assert stream.status_code == 200
            assert stream.text.startswith("retry: 2000")
            assert stream.text.count(": keep-alive") >= 3
            assert lasted >= 3.9

            # A stopping server ends its streams at the next check instead of holding them.
            monkeypatch.setattr(web_router, "STREAM_SECONDS", 10.0)
            monkeypatch.setattr(Draining, "now", True)
            started = time.monotonic()
            ended = await http.get("/dashboard/orders/stream")
            assert ended.status_code == 200
            assert time.monotonic() - started < 5.0
    finally:
        await app.state.resources.close()
