"""GET /orders and PATCH /orders/{id}: transitions, tracking, notifications, summary."""

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.mail import OutboxMail
from iwm.core.resources import Resources
from iwm.modules.audit.models import AuditLog
from iwm.modules.shop_orders.models import ShopOrder
from tests.factories.kiosk_network import count
from tests.factories.money import (
    API,
    admin,
    fresh,
    make_person,
    make_product,
    pay_order,
    place_order,
)

PATHS = {
    "PENDING_PAYMENT": [],
    "PAID": [],
    "PROCESSING": ["PROCESSING"],
    "SHIPPED": ["PROCESSING", "SHIPPED"],
    "DELIVERED": ["PROCESSING", "SHIPPED", "DELIVERED"],
    "CANCELLED": ["CANCELLED"],
}
ALLOWED = {
    ("PENDING_PAYMENT", "CANCELLED"),
    ("PAID", "PROCESSING"),
    ("PAID", "CANCELLED"),
    ("PROCESSING", "SHIPPED"),
    ("PROCESSING", "CANCELLED"),
    ("SHIPPED", "DELIVERED"),
}
TARGETS = ["PROCESSING", "SHIPPED", "DELIVERED", "CANCELLED"]


@pytest.mark.parametrize(("start", "target"), [(s, t) for s in PATHS for t in TARGETS])
async def test_status_transitions(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, start: str, target: str
) -> None:
    _, headers = await admin(client, resources)
    buyer = await make_person(resources)
    order = await place_order(resources, buyer, await make_product(resources))
    if start not in {"PENDING_PAYMENT", "CANCELLED"}:
        await pay_order(resources, order)
    for step in PATHS[start]:
        resp = await client.patch(
            f"{API}/orders/{order.id}", json={"status": step}, headers=headers
        )
        assert resp.status_code == 200, resp.text
    resp = await client.patch(f"{API}/orders/{order.id}", json={"status": target}, headers=headers)
    row = await (await fresh(db)).get(ShopOrder, order.id)
    assert row is not None
    if (start, target) in ALLOWED:
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"]["status"] == target
        assert row.status == target
    else:
        assert resp.status_code == 400
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
        assert row.status == start


async def test_tracking_note_notification_and_audit(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    staff, headers = await admin(client, resources)
    buyer = await make_person(resources)
    order = await pay_order(
        resources, await place_order(resources, buyer, await make_product(resources))
    )
    await client.patch(f"{API}/orders/{order.id}", json={"status": "PROCESSING"}, headers=headers)
    resp = await client.patch(
        f"{API}/orders/{order.id}",
        json={
            "status": "SHIPPED",
            "trackingNumber": "TRACK123",
            "trackingUrl": "https://post.example/TRACK123",
            "note": "fragile",
            "notifyCustomer": True,
        },
        headers=headers,
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["orderNumber"].startswith("ORD-")
    assert (data["trackingNumber"], data["updatedBy"]) == ("TRACK123", staff.full_name)
    await fresh(db)
    assert await count(db, OutboxMail, recipient=buyer.email) == 1
    assert await count(db, AuditLog, action="ORDER_UPDATED") == 2
    missing = await client.patch(f"{API}/orders/{uuid.uuid4()}", json={}, headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ORDER_NOT_FOUND"
    bad = await client.patch(f"{API}/orders/{order.id}", json={"status": "PAID"}, headers=headers)
    assert bad.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_list_search_filters_and_summary(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await admin(client, resources)
    alice = await make_person(resources, "Alice")
    bob = await make_person(resources, "Bob")
    product = await make_product(resources, price="25.50")
    o1 = await place_order(resources, alice, product, quantity=2)
    o2 = await pay_order(resources, await place_order(resources, bob, product))
    await client.patch(f"{API}/orders/{o2.id}", json={"status": "PROCESSING"}, headers=headers)
    assert o1.order_number != o2.order_number
    resp = await client.get(f"{API}/orders", headers=headers)
    assert resp.status_code == 200
    data = resp.json()["data"]
    assert [o["id"] for o in data["orders"]] == [str(o2.id), str(o1.id)]
    assert data["orders"][1]["itemCount"] == 2
    assert data["orders"][1]["total"] == 51
    assert data["summary"] == {
        "totalOrders": 2,
        "totalRevenue": 25.5,
        "pendingPayment": 1,
        "processing": 1,
        "shipped": 0,
    }
    by_email = await client.get(f"{API}/orders", params={"search": "alice"}, headers=headers)
    assert [o["id"] for o in by_email.json()["data"]["orders"]] == [str(o1.id)]
    by_number = await client.get(
        f"{API}/orders", params={"search": o2.order_number}, headers=headers
    )
    assert [o["id"] for o in by_number.json()["data"]["orders"]] == [str(o2.id)]
    paid = await client.get(f"{API}/orders", params={"paymentStatus": "PAID"}, headers=headers)
    assert paid.json()["meta"]["pagination"]["total"] == 1
    mine = await client.get(f"{API}/orders", params={"userId": str(bob.id)}, headers=headers)
    assert mine.json()["data"]["summary"]["totalOrders"] == 1
    assert (
        await client.get(f"{API}/orders", params={"status": "X"}, headers=headers)
    ).status_code == 400
    every = await client.get(f"{API}/orders", params={"status": "ALL"}, headers=headers)
    assert every.json()["meta"]["pagination"]["total"] == 2
    nul = await client.get(f"{API}/orders", params={"search": "\x00alice"}, headers=headers)
    assert nul.status_code == 400
    assert nul.json()["error"]["code"] == "VALIDATION_ERROR"
