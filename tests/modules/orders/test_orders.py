import io
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PIL import Image
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.resources import Resources
from iwm.modules.activity.models import ActivityLog
from iwm.modules.orders.models import Order
from tests.factories.images import gif, jpeg, png
from tests.factories.kiosk_network import (
    KioskHandle,
    count,
    login,
    make_order,
    make_world,
)

FORM = {
    "customerName": "John Doe",
    "customerEmail": "John@Example.com",
    "customerPhone": "+1234567890",
}


async def _post_order(
    client: httpx.AsyncClient,
    kiosk: KioskHandle,
    image: bytes,
    name: str = "photo.jpg",
    data: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        f"/kiosk/{kiosk.id}/orders",
        headers=kiosk.headers,
        data=FORM if data is None else data,
        files={"image": (name, image, "image/jpeg")},
    )


async def _fetch(client: httpx.AsyncClient, url: str) -> httpx.Response:
    """Local links are served by the app itself; S3 links by the S3 server."""
    if url.startswith("http://127.0.0.1:8000/"):
        return await client.get(url.removeprefix("http://127.0.0.1:8000"))
    async with httpx.AsyncClient() as outside:
        return await outside.get(url)


async def _set_created(db: AsyncSession, order_id: uuid.UUID, when: datetime) -> None:
    await db.execute(update(Order).where(Order.id == order_id).values(created_at=when))
    await db.commit()


async def test_kiosk_creates_an_order_with_its_photo(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    photo = jpeg()
    resp = await _post_order(client, kiosk, photo)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert set(body) == {
        "id",
        "customerName",
        "customerEmail",
        "customerPhone",
        "status",
        "imageUrl",
        "printedAt",
        "kiosk",
        "createdAt",
        "number",
    }
    assert body["number"] == 1
    assert body["customerName"] == "John Doe"
    assert body["customerEmail"] == "john@example.com"
    assert body["status"] == "not_printed"
    assert body["printedAt"] is None
    assert body["kiosk"] == {"id": str(kiosk.id), "name": "Kiosk #1"}
    image = await _fetch(client, body["imageUrl"])
    assert image.status_code == 200
    # What is served is the stored photo: the upload decoded and encoded afresh.
    stored = (await db.execute(select(Order).where(Order.id == uuid.UUID(body["id"])))).scalar_one()
    assert image.content == await resources.storage.get(stored.image_key)
    with Image.open(io.BytesIO(image.content)) as served, Image.open(io.BytesIO(photo)) as sent:
        assert (served.format, served.size) == ("JPEG", sent.size)
    assert await count(db, ActivityLog, event="ORDER_CREATED") == 1


async def test_png_is_accepted_whatever_the_file_name(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    resp = await _post_order(client, world.kiosks[0], png(), name="photo.jpg")
    assert resp.status_code == 201
    assert ".png" in resp.json()["imageUrl"]


@pytest.mark.parametrize(
    ("image", "detail"),
    [
        (b"not an image at all", "image"),
        (gif(), "image"),
        (b"", "image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "image"),
    ],
)
async def test_non_images_are_refused(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, image: bytes, detail: str
) -> None:
    world = await make_world(resources)
    resp = await _post_order(client, world.kiosks[0], image)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert detail in resp.json()["error"]["details"]
    assert await count(db, Order) == 0
    assert [o async for o in resources.storage.list()] == []


async def test_oversized_upload_is_413(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    big = jpeg() + b"\x00" * (resources.settings.max_upload_bytes + 1)
    resp = await _post_order(client, world.kiosks[0], big)
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert await count(db, Order) == 0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"customerEmail": "a@b.co"}, "customerName"),
        ({"customerName": ""}, "customerName"),
        ({"customerName": "Jo", "customerEmail": "not-an-email"}, "customerEmail"),
        ({"customerName": "Jo", "customerPhone": "call me"}, "customerPhone"),
    ],
)
async def test_bad_order_forms_are_400(
    client: httpx.AsyncClient,
    resources: Resources,
    db: AsyncSession,
    data: dict[str, str],
    field: str,
) -> None:
    world = await make_world(resources)
    resp = await _post_order(client, world.kiosks[0], jpeg(), data=data)
    assert resp.status_code == 400
    assert field in resp.json()["error"]["details"]
    assert await count(db, Order) == 0


async def test_missing_photo_is_400(client: httpx.AsyncClient, resources: Resources) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    resp = await client.post(f"/kiosk/{kiosk.id}/orders", headers=kiosk.headers, data=FORM)
    assert resp.status_code == 400
    assert "image" in resp.json()["error"]["details"]


async def test_new_orders_window(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    now = clock.now()
    fresh = await make_order(resources, kiosk, "Fresh")
    stale = await make_order(resources, kiosk, "Stale")
    await _set_created(db, stale.id, now - timedelta(hours=3, minutes=1))
    printed_recently = await make_order(resources, kiosk, "Printed recently")
    printed_long_ago = await make_order(resources, kiosk, "Printed long ago")
    headers = await login(client, world.partner)
    for order in (printed_recently, printed_long_ago):
        resp = await client.post(
            f"/partner/orders/{order.id}/mark", headers=headers, json={"status": "printed"}
        )
        assert resp.status_code == 200
    await db.execute(
        update(Order)
        .where(Order.id == printed_long_ago.id)
        .values(printed_at=now - timedelta(minutes=16))
    )
    await db.commit()
    resp = await client.get("/partner/orders/new", headers=headers)
    assert resp.status_code == 200
    names = {o["customerName"] for o in resp.json()}
    assert names == {fresh.customer_name, printed_recently.customer_name}


async def test_history_filters_and_paging(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources, kiosks=2)
    first, second = world.kiosks
    now = clock.now()
    alice = await make_order(resources, first, "Alice Smith", "alice@example.com")
    bob = await make_order(resources, second, "Bob Jones", "bob@example.com")
    old = await make_order(resources, first, "Old Alice", "alice@example.com")
    await _set_created(db, old.id, now - timedelta(days=31))
    week = await make_order(resources, first, "Week Carol", "carol@example.com")
    await _set_created(db, week.id, now - timedelta(days=7))
    headers = await login(client, world.partner)
    await client.post(f"/partner/orders/{bob.id}/mark", headers=headers, json={"status": "printed"})

    async def names(query: str) -> list[str]:
        resp = await client.get(f"/partner/orders{query}", headers=headers)
        assert resp.status_code == 200, resp.text
        return [o["customerName"] for o in resp.json()]

    assert set(await names("")) == {"Alice Smith", "Bob Jones", "Week Carol"}
    assert await names("?status=printed") == ["Bob Jones"]
    assert set(await names("?status=not_printed")) == {"Alice Smith", "Week Carol"}
    assert set(await names(f"?kioskId={first.id}")) == {"Alice Smith", "Week Carol"}
    assert await names("?customerName=aLiCe") == ["Alice Smith"]
    assert await names("?customerEmail=BOB@example.com") == ["Bob Jones"]
    day = (now - timedelta(days=7)).date().isoformat()
    assert await names(f"?dateFrom={day}&dateTo={day}") == ["Week Carol"]
    assert set(await names(f"?dateFrom={(now - timedelta(days=1)).date()}")) == {
        "Alice Smith",
        "Bob Jones",
    }
    paged = await client.get("/partner/orders?pageSize=2&page=2", headers=headers)
    assert paged.headers["X-Total-Count"] == "3"
    assert len(paged.json()) == 1
    assert alice.id != old.id
    for bad in ("?status=lost", "?dateFrom=yesterday", "?kioskId=7", "?pageSize=1000", "?page=0"):
        resp = await client.get(f"/partner/orders{bad}", headers=headers)
        assert resp.status_code == 400, bad
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_order_detail_and_mark(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    order = await make_order(resources, world.kiosks[0])
    headers = await login(client, world.partner)
    detail = await client.get(f"/partner/orders/{order.id}", headers=headers)
    assert detail.status_code == 200
    assert detail.json()["id"] == str(order.id)
    printed = await client.post(
        f"/partner/orders/{order.id}/mark", headers=headers, json={"status": "printed"}
    )
    assert printed.json()["status"] == "printed"
    assert printed.json()["printedAt"].endswith("Z")
    back = await client.post(
        f"/partner/orders/{order.id}/mark", headers=headers, json={"status": "not_printed"}
    )
    assert back.json()["status"] == "not_printed"
    assert back.json()["printedAt"] is None
    events = list(
        (await db.execute(select(ActivityLog.event).order_by(ActivityLog.created_at))).scalars()
    )
    assert events == ["ORDER_CREATED", "ORDER_MARK_PRINTED", "ORDER_MARK_NOT_PRINTED"]
    bad = await client.post(
        f"/partner/orders/{order.id}/mark", headers=headers, json={"status": "done"}
    )
    assert bad.status_code == 400


async def test_daily_counters_follow_the_shop_time_zone(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources, timezone="Asia/Tokyo")  # UTC+9, no DST
    kiosk = world.kiosks[0]
    headers = await login(client, world.partner)
    # 2026-03-10 in Tokyo runs from 03-09 15:00 UTC to 03-10 15:00 UTC.
    inside = [datetime(2026, 3, 9, 15, 0, tzinfo=UTC), datetime(2026, 3, 10, 14, 59, tzinfo=UTC)]
    outside = [datetime(2026, 3, 9, 14, 59, tzinfo=UTC), datetime(2026, 3, 10, 15, 0, tzinfo=UTC)]
    orders = [await make_order(resources, kiosk) for _ in range(4)]
    for order, when in zip(orders, inside + outside, strict=True):
        await _set_created(db, order.id, when)
    await db.execute(update(Order).where(Order.id == orders[0].id).values(printed_at=inside[0]))
    await db.commit()
    resp = await client.get("/partner/orders/daily-counters?date=2026-03-10", headers=headers)
    assert resp.status_code == 200
    assert resp.json() == {"all": 2, "printed": 1}
    today = await client.get("/partner/orders/daily-counters", headers=headers)
    assert today.json() == {"all": 0, "printed": 0}
    bad = await client.get("/partner/orders/daily-counters?date=10.03.2026", headers=headers)
    assert bad.status_code == 400


async def test_another_partners_orders_are_not_found(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world_a = await make_world(resources)
    world_b = await make_world(resources, admin=world_a.admin)
    order = await make_order(resources, world_a.kiosks[0])
    headers_b = await login(client, world_b.partner)
    for method, path, body in [
        ("GET", f"/partner/orders/{order.id}", None),
        ("POST", f"/partner/orders/{order.id}/mark", {"status": "printed"}),
        ("GET", f"/partner/orders/{uuid.uuid4()}", None),
    ]:
        resp = await client.request(method, path, json=body, headers=headers_b)
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "ORDER_NOT_FOUND"
    assert (await client.get("/partner/orders/new", headers=headers_b)).json() == []
    assert (await client.get("/partner/orders", headers=headers_b)).json() == []
    filtered = await client.get(
        f"/partner/orders?kioskId={world_a.kiosks[0].id}", headers=headers_b
    )
    assert filtered.json() == []
    counters = await client.get("/partner/orders/daily-counters", headers=headers_b)
    assert counters.json() == {"all": 0, "printed": 0}
    row = (await db.execute(select(Order))).scalar_one()
    assert row.printed_at is None


async def test_photo_links_are_signed(
    client: httpx.AsyncClient, resources: Resources, is_production: bool
) -> None:
    world = await make_world(resources)
    order = await make_order(resources, world.kiosks[0])
    headers = await login(client, world.partner)
    url = (await client.get(f"/partner/orders/{order.id}", headers=headers)).json()["imageUrl"]
    if is_production:
        assert "X-Amz-Signature" in url or "Signature=" in url
        return
    tampered = url.replace("signature=", "signature=0")
    assert (await _fetch(client, tampered)).status_code == 404
    unsigned = url.split("?")[0]
    assert (await _fetch(client, unsigned)).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "/partner/orders?dateTo=9999-12-31",
        "/partner/orders?dateFrom=0001-01-01",
        "/partner/orders/daily-counters?date=9999-12-31",
        "/partner/orders/daily-counters?date=0001-01-01",
        "/partner/orders?customerName=a%00b",
        "/partner/orders?customerEmail=a%00b@x.com",
    ],
)
async def test_extreme_or_nul_query_values_are_400(
    client: httpx.AsyncClient, resources: Resources, query: str
) -> None:
    world = await make_world(resources)
    headers = await login(client, world.partner)
    resp = await client.get(query, headers=headers)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    param = query.split("?")[1].split("=", maxsplit=1)[0]
    assert list(resp.json()["error"]["details"]) == [param]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"customerName": "   "}, "customerName"),
        ({"customerName": "Nul\x00name"}, "customerName"),
        ({"customerName": "Jo", "extra": "1"}, "extra"),
    ],
)
async def test_blank_nul_and_unknown_form_fields_are_400(
    client: httpx.AsyncClient,
    resources: Resources,
    db: AsyncSession,
    data: dict[str, str],
    field: str,
) -> None:
    world = await make_world(resources)
    resp = await _post_order(client, world.kiosks[0], jpeg(), data=data)
    assert resp.status_code == 400, resp.text
    assert field in resp.json()["error"]["details"]
    assert await count(db, Order) == 0


async def test_optional_contact_fields_are_null_when_missing(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    resp = await _post_order(client, world.kiosks[0], jpeg(), data={"customerName": "Jo"})
    assert resp.status_code == 201
    assert resp.json()["customerEmail"] is None
    assert resp.json()["customerPhone"] is None


async def test_a_switched_off_kiosk_takes_no_orders(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    headers = await login(client, world.partner)
    await client.post(
        f"/partner/kiosks/{kiosk.id}/status", headers=headers, json={"status": "inactive"}
    )
    resp = await _post_order(client, kiosk, jpeg())
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "KIOSK_INACTIVE"
    assert await count(db, Order) == 0
