"""Members' checkout (/api/v1/orders) end to end: catalogue prices, stock taken at once,
the provider's page and its signed webhook as the only way to PAID, the upline's
commissions, shipping by an admin, expiry, cancel with refund and clawback, and the races
(PostgreSQL)."""

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.resources import Resources
from iwm.modules.audit.models import AuditLog
from iwm.modules.commissions.models import Commission, CommissionStatus
from iwm.modules.payments.models import Payment
from iwm.modules.payments.service import SUCCEEDED
from iwm.modules.products.models import Product
from iwm.modules.shop_orders.models import ShopOrder, ShopOrderItem
from iwm.modules.shop_orders.service import ShopOrderService
from iwm.modules.users.models import UserStatus
from tests.factories.admin import admin_headers
from tests.factories.checkout import (
    ORDERS,
    add_address,
    checkout,
    order_body,
    pay_page,
    use_fast_start,
)
from tests.factories.kiosk_network import login
from tests.factories.members import signed_in
from tests.factories.money import (
    Chain,
    balances,
    fresh,
    ledger_sums,
    make_chain,
    make_person,
    make_product,
)
from tests.factories.payments import deliver


async def _stock(db: AsyncSession, product: Product) -> int | None:
    await fresh(db)
    row = await db.get(Product, product.id)
    assert row is not None
    return row.stock_quantity


async def _payment(db: AsyncSession, payment_id: str) -> Payment:
    """The payment as the database holds it now (a fresh snapshot)."""
    await fresh(db)
    payment = await db.get(Payment, uuid.UUID(payment_id))
    assert payment is not None
    return payment


async def _commissions(db: AsyncSession, order_id: str) -> list[Commission]:
    await fresh(db)
    rows = await db.scalars(
        select(Commission)
        .where(Commission.source_id == uuid.UUID(order_id))
        .order_by(Commission.source_type, Commission.level_depth)
    )
    return list(rows)


def _with_quantity(body: dict[str, Any], quantity: object) -> dict[str, Any]:
    return {**body, "items": [{**body["items"][0], "quantity": quantity}]}


async def _actions(db: AsyncSession, order_id: str) -> list[str]:
    await fresh(db)
    rows = await db.scalars(
        select(AuditLog.action)
        .where(AuditLog.entity_type == "shop_order", AuditLog.entity_id == order_id)
        .order_by(AuditLog.created_at, AuditLog.id)
    )
    return list(rows)


async def _buyer(client: httpx.AsyncClient, chain: Chain) -> tuple[dict[str, str], str]:
    headers = await login(client, chain.buyer)
    return headers, await add_address(client, headers)


async def _upline_sees(
    client: httpx.AsyncClient, db: AsyncSession, chain: Chain, order_id: str
) -> None:
    expected = [
        (chain.partners[2], 1, "ORDER", 10.0),
        (chain.partners[1], 2, "ORDER", 4.0),
        (chain.partners[0], 3, "ORDER", 2.0),
        (chain.partners[2], 1, "BONUS", 10.0),
    ]
    for partner, level, source, amount in expected:
        user = next(u for u in chain.users if u.id == partner.user_id)
        headers = await login(client, user)
        seen = await client.get(
            "/api/v1/me/commissions", params={"sourceType": source}, headers=headers
        )
        assert seen.status_code == 200, seen.text
        [row] = [c for c in seen.json()["data"]["commissions"] if c["sourceId"] == order_id]
        assert (row["levelDepth"], row["grossAmount"], row["status"]) == (
            level,
            amount,
            "PENDING",
        )
    for partner in chain.partners:
        assert await balances(db, partner.id) == await ledger_sums(db, partner.id)


async def _hidden_from_strangers(
    client: httpx.AsyncClient, resources: Resources, order_id: str
) -> None:
    # Another member sees none of it.
    _, stranger = await signed_in(client, resources)
    assert (await client.get(f"{ORDERS}/{order_id}", headers=stranger)).status_code == 404
    stolen = await client.post(f"{ORDERS}/{order_id}/cancel", headers=stranger)
    assert (stolen.status_code, stolen.json()["error"]["code"]) == (404, "ORDER_NOT_FOUND")
    assert (await client.get(ORDERS, headers=stranger)).json()["data"] == []


async def _same_key(
    client: httpx.AsyncClient,
    db: AsyncSession,
    headers: dict[str, str],
    body: dict[str, Any],
    order_id: str,
    product: Product,
) -> None:
    again = await checkout(client, headers, body, key="order-1")
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["data"]["order"]["id"] == order_id
    other_body = {**body, "items": [{"productId": str(product.id), "quantity": 1}]}
    other = await checkout(client, headers, other_body, key="order-1")
    assert other.status_code == 409, other.text
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await _stock(db, product) == 3
    assert await db.scalar(select(func.count()).select_from(ShopOrder)) == 1


async def test_browse_order_pay_commissions_and_ship(
    client: httpx.AsyncClient,
    resources: Resources,
    db: AsyncSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_fast_start(resources, tmp_path, monkeypatch)
    chain = await make_chain(resources, levels=3)
    product = await make_product(resources, price="100.00", commission="10", stock=5)
    headers, address = await _buyer(client, chain)

    shown = await client.get(f"/api/v1/products/{product.id}", headers=headers)
    assert shown.status_code == 200, shown.text
    assert shown.json()["data"]["price"] == 100.0
    body = order_body(address, (product.id, 2))
    # A price sent by the client is not the shop's price: it is ignored.
    body["items"][0]["unitPrice"] = 0.01
    placed = await checkout(client, headers, body, key="order-1")

    assert placed.status_code == 201, placed.text
    data = placed.json()["data"]
    order, payment = data["order"], data["payment"]
    assert (order["status"], order["paymentStatus"]) == ("PENDING_PAYMENT", "PENDING")
    assert (order["total"], order["itemCount"], order["currency"]) == (200.0, 2, "USD")
    [item] = order["items"]
    assert (item["productId"], item["name"]) == (str(product.id), "Vitamin Complex")
    assert (item["quantity"], item["unitPrice"], item["total"]) == (2, 100.0, 200.0)
    assert order["shippingAddress"]["city"] == "Moscow"
    assert (payment["status"], order["payment"]) == ("pending", payment)
    assert payment["checkoutUrl"].endswith(f"/pay/{payment['id']}")
    assert await _stock(db, product) == 3

    # The same key and body: the same order, nothing taken twice.
    await _same_key(client, db, headers, body, order["id"], product)

    # Only the webhook pays: the page's Pay delivers it.
    page = await pay_page(client, payment["checkoutUrl"])
    assert "Paid" in page
    mine = (await client.get(f"{ORDERS}/{order['id']}", headers=headers)).json()["data"]
    assert (mine["status"], mine["paymentStatus"]) == ("PAID", "PAID")
    assert mine["payment"]["status"] == "succeeded"
    assert mine["paidAt"] is not None

    # The upline: 10% commission volume of 200.00 = 20.00 at 50/20/10 %, and the sponsor's
    # 5% fast-start bonus on the buyer's first paid order.
    await _upline_sees(client, db, chain, order["id"])

    # The admin ships it through the admin orders; the member sees the tracking.
    _, admin = await admin_headers(client, resources)
    url = f"/api/v1/admin/orders/{order['id']}"
    assert (
        await client.patch(url, json={"status": "PROCESSING"}, headers=admin)
    ).status_code == 200
    shipped = await client.patch(
        url, json={"status": "SHIPPED", "trackingNumber": "TRK-1"}, headers=admin
    )
    assert shipped.status_code == 200, shipped.text
    mine = (await client.get(f"{ORDERS}/{order['id']}", headers=headers)).json()["data"]
    assert (mine["status"], mine["trackingNumber"]) == ("SHIPPED", "TRK-1")
    late = await client.post(f"{ORDERS}/{order['id']}/cancel", headers=headers)
    assert late.status_code == 400
    assert late.json()["error"]["code"] == "NOT_CANCELLABLE"
    listed = await client.get(ORDERS, headers=headers)
    assert [o["id"] for o in listed.json()["data"]] == [order["id"]]
    assert listed.json()["meta"]["pagination"]["total"] == 1
    assert await _actions(db, order["id"]) == [
        "ORDER_PLACED",
        "ORDER_PAID",
        "ORDER_UPDATED",
        "ORDER_UPDATED",
    ]

    await _hidden_from_strangers(client, resources, order["id"])


async def test_declined_stays_pending_then_expires_with_its_stock_back(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    chain = await make_chain(resources, levels=1)
    product = await make_product(resources, stock=5)
    headers, address = await _buyer(client, chain)
    placed = await checkout(client, headers, order_body(address, (product.id, 2)))
    order = placed.json()["data"]["order"]
    url = placed.json()["data"]["payment"]["checkoutUrl"]

    assert "declined" in await pay_page(client, url, "decline")
    mine = (await client.get(f"{ORDERS}/{order['id']}", headers=headers)).json()["data"]
    assert (mine["status"], mine["payment"]["status"]) == ("PENDING_PAYMENT", "failed")
    assert await _stock(db, product) == 3

    # Not yet due: nothing expires.
    assert await ShopOrderService.expire_unpaid(resources.sessionmaker, resources.settings) == 0
    clock.travel(timedelta(minutes=resources.settings.order_payment_ttl_minutes, seconds=1))
    assert await ShopOrderService.expire_unpaid(resources.sessionmaker, resources.settings) == 1

    mine = (await client.get(f"{ORDERS}/{order['id']}", headers=headers)).json()["data"]
    assert (mine["status"], mine["paymentStatus"]) == ("CANCELLED", "CANCELLED")
    assert await _stock(db, product) == 5
    page = await client.get(f"/pay/{mine['payment']['id']}")
    assert "expired" in page.text
    assert "cancelled" not in page.text
    assert 'id="pay"' not in page.text
    assert await _actions(db, order["id"]) == ["ORDER_PLACED", "ORDER_EXPIRED"]
    assert await _commissions(db, order["id"]) == []
    assert await ShopOrderService.expire_unpaid(resources.sessionmaker, resources.settings) == 0

    # The provider's success arrives after all (a page opened before the expiry): the
    # money goes back, and the order says it was taken and refunded.
    payment = await _payment(db, mine["payment"]["id"])
    late = await deliver(client, resources, SUCCEEDED, payment)
    assert late.status_code == 200, late.text
    mine = (await client.get(f"{ORDERS}/{order['id']}", headers=headers)).json()["data"]
    assert (mine["status"], mine["paymentStatus"]) == ("CANCELLED", "REFUNDED")
    assert mine["payment"]["status"] == "refund_pending"
    assert await _actions(db, order["id"]) == ["ORDER_PLACED", "ORDER_EXPIRED", "ORDER_REFUNDED"]
    assert await _commissions(db, order["id"]) == []
    assert await _stock(db, product) == 5


async def test_cancel_after_paying_refunds_and_reverses_the_commissions(
    client: httpx.AsyncClient,
    resources: Resources,
    db: AsyncSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_fast_start(resources, tmp_path, monkeypatch)
    chain = await make_chain(resources, levels=2)
    product = await make_product(resources, price="40.00", stock=10)
    headers, address = await _buyer(client, chain)
    placed = await checkout(client, headers, order_body(address, (product.id, 3)))
    order = placed.json()["data"]["order"]
    await pay_page(client, placed.json()["data"]["payment"]["checkoutUrl"])
    assert len(await _commissions(db, order["id"])) == 3  # two levels and the bonus

    cancelled = await client.post(f"{ORDERS}/{order['id']}/cancel", headers=headers)

    assert cancelled.status_code == 200, cancelled.text
    data = cancelled.json()["data"]
    assert (data["status"], data["paymentStatus"]) == ("CANCELLED", "REFUNDED")
    mine = (await client.get(f"{ORDERS}/{order['id']}", headers=headers)).json()["data"]
    assert mine["payment"]["status"] == "refunded"
    payment = await _payment(db, mine["payment"]["id"])
    assert payment.refund_reference is not None
    assert payment.refunded_at is not None
    assert {c.status for c in await _commissions(db, order["id"])} == {CommissionStatus.REVERSED}
    assert await _stock(db, product) == 10
    for partner in chain.partners:
        assert (await balances(db, partner.id)).pending == 0
        assert await balances(db, partner.id) == await ledger_sums(db, partner.id)
    assert await _actions(db, order["id"]) == ["ORDER_PLACED", "ORDER_PAID", "ORDER_CANCELLED"]
    again = await client.post(f"{ORDERS}/{order['id']}/cancel", headers=headers)
    assert again.json()["error"]["code"] == "NOT_CANCELLABLE"


async def test_cancel_before_paying_closes_the_payment_page(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    chain = await make_chain(resources, levels=1)
    product = await make_product(resources, stock=2)
    headers, address = await _buyer(client, chain)
    placed = await checkout(client, headers, order_body(address, (product.id, 2)))
    data = placed.json()["data"]

    cancelled = await client.post(f"{ORDERS}/{data['order']['id']}/cancel", headers=headers)

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["data"]["paymentStatus"] == "CANCELLED"
    assert await _stock(db, product) == 2
    page = await client.get(f"/pay/{data['payment']['id']}")
    assert page.status_code == 200
    assert 'id="pay"' not in page.text
    assert 'id="decline"' not in page.text
    # The member reads what he did: cancelled, not run out of time.
    assert "cancelled" in page.text
    assert "expired" not in page.text
    # And the page takes no money for it.
    refused = await client.post(f"/pay/{data['payment']['id']}", data={"action": "pay"})
    assert refused.status_code == 303
    mine = (await client.get(f"{ORDERS}/{data['order']['id']}", headers=headers)).json()["data"]
    assert (mine["status"], mine["payment"]["status"]) == ("CANCELLED", "pending")
    # A provider's success arriving anyway is refunded, and the order stays cancelled.
    payment = await _payment(db, data["payment"]["id"])
    assert (await deliver(client, resources, SUCCEEDED, payment)).status_code == 200
    await fresh(db)
    assert await db.scalar(select(Payment.status).where(Payment.id == payment.id)) == (
        "refund_pending"
    )
    mine = (await client.get(f"{ORDERS}/{data['order']['id']}", headers=headers)).json()["data"]
    assert mine["status"] == "CANCELLED"
    assert await _stock(db, product) == 2


async def test_forged_replayed_and_stale_webhooks_change_nothing(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    chain = await make_chain(resources, levels=2)
    product = await make_product(resources)
    headers, address = await _buyer(client, chain)
    placed = await checkout(client, headers, order_body(address, (product.id, 1)))
    order_id = placed.json()["data"]["order"]["id"]
    payment = await _payment(db, placed.json()["data"]["payment"]["id"])

    forged = await deliver(client, resources, SUCCEEDED, payment, secret=b"not the secret")
    stale = await deliver(
        client,
        resources,
        SUCCEEDED,
        payment,
        timestamp=int(clock.now().timestamp()) - 301,
    )
    for refused in (forged, stale):
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "INVALID_WEBHOOK"
    mine = (await client.get(f"{ORDERS}/{order_id}", headers=headers)).json()["data"]
    assert (mine["status"], mine["payment"]["status"]) == ("PENDING_PAYMENT", "pending")
    assert await _commissions(db, order_id) == []

    first = await deliver(client, resources, SUCCEEDED, payment, event_id="evt_once")
    replayed = await deliver(client, resources, SUCCEEDED, payment, event_id="evt_once")
    other_event = await deliver(client, resources, SUCCEEDED, payment, event_id="evt_twice")

    assert first.json()["data"]["duplicate"] is False
    assert replayed.json()["data"]["duplicate"] is True
    assert other_event.json()["data"]["duplicate"] is False
    assert len(await _commissions(db, order_id)) == 2
    assert (await _actions(db, order_id)).count("ORDER_PAID") == 1


async def test_refusals_take_no_stock(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    chain = await make_chain(resources, levels=1)
    scarce = await make_product(resources, stock=1)
    plenty = await make_product(resources, stock=10)
    headers, address = await _buyer(client, chain)
    _, stranger = await signed_in(client, resources)
    foreign_address = await add_address(client, stranger)
    unverified_user, unverified = await signed_in(
        client, resources, status=UserStatus.PENDING_VERIFICATION
    )
    assert unverified_user.status == UserStatus.PENDING_VERIFICATION

    out = await checkout(client, headers, order_body(address, (plenty.id, 2), (scarce.id, 2)))
    assert out.status_code == 409, out.text
    error = out.json()["error"]
    assert error["code"] == "OUT_OF_STOCK"
    assert "Vitamin Complex" in error["message"]
    assert error["details"] == {"productId": [str(scarce.id)]}
    cases = [
        (headers, order_body(foreign_address, (plenty.id, 1)), 404, "ADDRESS_NOT_FOUND"),
        (headers, order_body(address, (uuid.uuid4(), 1)), 400, "PRODUCT_NOT_AVAILABLE"),
        (headers, order_body(address, (plenty.id, 0)), 400, "VALIDATION_ERROR"),
        # A quantity is a number: not "2", not true (which read as 2 and 1).
        (
            headers,
            _with_quantity(order_body(address, (plenty.id, 1)), "2"),
            400,
            "VALIDATION_ERROR",
        ),
        (
            headers,
            _with_quantity(order_body(address, (plenty.id, 1)), True),
            400,
            "VALIDATION_ERROR",
        ),
        (headers, {"items": [], "shippingAddressId": address}, 400, "VALIDATION_ERROR"),
        (unverified, order_body(address, (plenty.id, 1)), 403, "EMAIL_NOT_VERIFIED"),
    ]
    for who, body, status, code in cases:
        resp = await checkout(client, who, body)
        assert (resp.status_code, resp.json()["error"]["code"]) == (status, code), resp.text
    keyless = await client.post(ORDERS, json=order_body(address, (plenty.id, 1)), headers=headers)
    assert keyless.status_code == 400, keyless.text
    assert "Idempotency-Key" in keyless.json()["error"]["details"]
    assert (await _stock(db, scarce), await _stock(db, plenty)) == (1, 10)
    assert await db.scalar(select(func.count()).select_from(ShopOrder)) == 0
    assert await db.scalar(select(func.count()).select_from(Payment)) == 0


async def test_two_hundred_parallel_checkouts_sell_exactly_the_stock(
    production_only: None, client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    product = await make_product(resources, stock=100)
    buyers = []
    for i in range(20):
        headers = await login(client, await make_person(resources, f"Buyer{i}"))
        buyers.append((headers, await add_address(client, headers)))

    answers = await asyncio.gather(
        *(
            checkout(client, headers, order_body(address, (product.id, 1)))
            for headers, address in buyers
            for _ in range(10)
        )
    )

    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 100, codes
    assert codes.count(409) == 100, codes
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"OUT_OF_STOCK"}
    assert await _stock(db, product) == 0
    held = await db.scalar(
        select(func.sum(ShopOrderItem.quantity)).where(ShopOrderItem.product_id == product.id)
    )
    assert held == 100


async def test_one_webhook_delivered_twenty_times_at_once_pays_once(
    production_only: None,
    client: httpx.AsyncClient,
    resources: Resources,
    db: AsyncSession,
) -> None:
    chain = await make_chain(resources, levels=3)
    product = await make_product(resources)
    headers, address = await _buyer(client, chain)
    placed = await checkout(client, headers, order_body(address, (product.id, 1)))
    order_id = placed.json()["data"]["order"]["id"]
    payment = await _payment(db, placed.json()["data"]["payment"]["id"])

    answers = await asyncio.gather(
        *(deliver(client, resources, SUCCEEDED, payment, event_id="evt_storm") for _ in range(20))
    )

    assert {a.status_code for a in answers} == {200}
    assert sum(a.json()["data"]["duplicate"] is False for a in answers) == 1
    assert len(await _commissions(db, order_id)) == 3
    assert (await _actions(db, order_id)).count("ORDER_PAID") == 1
    for partner in chain.partners:
        assert await balances(db, partner.id) == await ledger_sums(db, partner.id)


async def test_a_cancel_meeting_the_payments_webhook_waits_for_it_instead_of_deadlocking(
    production_only: None,
    client: httpx.AsyncClient,
    resources: Resources,
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The webhook locks the payment, then the order; the member's cancel closes the
    # payment. Held up between its two locks, the webhook lets the cancel reach the order
    # first: the cancel must then wait for the payment, not hold the order against it.
    chain = await make_chain(resources, levels=2)
    product = await make_product(resources, stock=5)
    headers, address = await _buyer(client, chain)
    placed = await checkout(client, headers, order_body(address, (product.id, 1)))
    order_id = placed.json()["data"]["order"]["id"]
    payment = await _payment(db, placed.json()["data"]["payment"]["id"])
    pay_pending = ShopOrderService.pay_pending

    async def held_up(self: ShopOrderService, *args: Any) -> ShopOrder | None:
        await asyncio.sleep(0.5)
        return await pay_pending(self, *args)

    monkeypatch.setattr(ShopOrderService, "pay_pending", held_up)

    async def cancel_meanwhile() -> httpx.Response:
        await asyncio.sleep(0.2)
        return await client.post(f"{ORDERS}/{order_id}/cancel", headers=headers)

    paid, cancelled = await asyncio.gather(
        deliver(client, resources, SUCCEEDED, payment), cancel_meanwhile()
    )

    assert (paid.status_code, cancelled.status_code) == (200, 200), (paid.text, cancelled.text)
    # Paid first, then cancelled: refunded, its sale never booked, the stock back.
    data = cancelled.json()["data"]
    assert (data["status"], data["paymentStatus"]) == ("CANCELLED", "REFUNDED")
    assert await _commissions(db, order_id) == []
    assert await _stock(db, product) == 5
    for partner in chain.partners:
        assert await balances(db, partner.id) == await ledger_sums(db, partner.id)
