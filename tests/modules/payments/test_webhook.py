"""Payments: the simulated provider's page, the signed webhook as the only way to success,
idempotency by event id, refunds."""

import asyncio
import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.events import recorded
from iwm.core.resources import Resources
from iwm.modules.payments.events import PaymentEvent, PaymentRefunded, PaymentSucceeded
from iwm.modules.payments.models import Payment, PaymentWebhookEvent
from iwm.modules.payments.service import PaymentService
from tests.factories.kiosk_network import count
from tests.factories.payments import deliver, open_payment, provider


async def _status(db: AsyncSession, payment: Payment) -> str:
    await db.rollback()  # a new snapshot (SQLite keeps the first one per transaction)
    return (await db.execute(select(Payment.status).where(Payment.id == payment.id))).scalar_one()


async def test_the_hosted_page_pays_through_a_signed_webhook(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    payment = await open_payment(resources, amount_minor=1250, currency="EUR")
    assert payment.checkout_url.endswith(f"/pay/{payment.id}")
    page = await client.get(f"/pay/{payment.id}")
    assert page.status_code == 200
    assert "12.50 EUR" in page.text
    # Plain HTML forms: a browser without JavaScript pays with them.
    forms = re.findall(r'<form method="post" action="([^"]+)">', page.text)
    assert forms == [f"/pay/{payment.id}"] * 2
    assert "<script" not in page.text
    with recorded(PaymentEvent) as events:
        done = await client.post(f"/pay/{payment.id}", data={"action": "pay"})
    assert done.status_code == 303
    assert await _status(db, payment) == "succeeded"
    assert [type(e) for e in events] == [PaymentSucceeded]
    assert events[0].amount_minor == 1250
    after = await client.get(f"/pay/{payment.id}")
    assert "Paid" in after.text
    assert 'action="/pay/' not in after.text  # nothing left to pay


async def test_decline_then_pay_again(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    payment = await open_payment(resources)
    await client.post(f"/pay/{payment.id}", data={"action": "decline"})
    assert await _status(db, payment) == "failed"
    assert "declined" in (await client.get(f"/pay/{payment.id}")).text
    await client.post(f"/pay/{payment.id}", data={"action": "pay"})
    assert await _status(db, payment) == "succeeded"


async def test_unknown_action_and_payment_are_refused(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    payment = await open_payment(resources)
    bad = await client.post(f"/pay/{payment.id}", data={"action": "steal"})
    assert bad.status_code == 400
    missing = await client.get("/pay/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "PAYMENT_NOT_FOUND"


@pytest.mark.parametrize("forgery", ["wrong-secret", "no-header", "stale", "future", "garbled"])
async def test_forged_or_stale_webhooks_change_nothing(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, forgery: str
) -> None:
    payment = await open_payment(resources)
    now = int(clock.now().timestamp())
    if forgery == "wrong-secret":
        resp = await deliver(client, resources, "payment.succeeded", payment, secret=b"guess")
    elif forgery == "stale":  # signed correctly, six minutes ago
        resp = await deliver(client, resources, "payment.succeeded", payment, timestamp=now - 360)
    elif forgery == "future":
        resp = await deliver(client, resources, "payment.succeeded", payment, timestamp=now + 360)
    elif forgery == "no-header":
        resp = await client.post("/api/v1/payments/webhook", content=b'{"id":"evt_1"}')
    else:
        resp = await client.post(
            "/api/v1/payments/webhook",
            content=b"{}",
            headers={"Webhook-Signature": "t=abc,v2=zzz"},
        )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "INVALID_WEBHOOK"
    assert await _status(db, payment) == "pending"
    assert await count(db, PaymentWebhookEvent) == 0


async def test_a_webhook_four_minutes_old_is_accepted(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    payment = await open_payment(resources)
    old = int((clock.now() - timedelta(minutes=4)).timestamp())
    resp = await deliver(client, resources, "payment.succeeded", payment, timestamp=old)
    assert resp.status_code == 200
    assert await _status(db, payment) == "succeeded"


async def test_a_redelivered_event_changes_nothing(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    payment = await open_payment(resources)
    with recorded(PaymentSucceeded) as events:
        first = await deliver(client, resources, "payment.succeeded", payment, event_id="evt_a")
        again = await deliver(client, resources, "payment.succeeded", payment, event_id="evt_a")
        # Another event id for an already succeeded payment: recorded, no second success.
        other = await deliver(client, resources, "payment.succeeded", payment, event_id="evt_b")
    assert first.json()["data"] == {
        "received": True,
        "duplicate": False,
        "paymentId": str(payment.id),
        "status": "succeeded",
    }
    assert again.json()["data"]["duplicate"] is True
    assert other.json()["data"]["duplicate"] is False
    assert len(events) == 1
    assert await count(db, PaymentWebhookEvent) == 2


async def test_an_event_for_an_unknown_payment_is_acknowledged(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    payment = await open_payment(resources)
    object.__setattr__(payment, "provider_reference", "sim_unknown")
    resp = await deliver(client, resources, "payment.succeeded", payment)
    assert resp.status_code == 200
    assert resp.json()["data"]["paymentId"] is None


async def test_the_same_event_delivered_twenty_times_at_once(
    production_only: None, client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    payment = await open_payment(resources)
    with recorded(PaymentSucceeded) as events:
        answers = await asyncio.gather(
            *(
                deliver(client, resources, "payment.succeeded", payment, event_id="evt_same")
                for _ in range(20)
            )
        )
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert sum(1 for a in answers if a.json()["data"]["duplicate"] is False) == 1
    assert len(events) == 1
    assert await _status(db, payment) == "succeeded"


async def test_a_refund_is_decided_then_sent_once(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    payment = await open_payment(resources)
    await deliver(client, resources, "payment.succeeded", payment)
    async with resources.sessionmaker.begin() as session:
        assert await PaymentService.request_refund(session, payment.id) is True
        assert await PaymentService.request_refund(session, payment.id) is False
    assert await _status(db, payment) == "refund_pending"
    with recorded(PaymentRefunded) as events:
        done = await PaymentService.process_refunds(resources.sessionmaker, provider(resources))
        again = await PaymentService.process_refunds(resources.sessionmaker, provider(resources))
    assert (done, again) == (1, 0)
    assert len(events) == 1
    assert await _status(db, payment) == "refunded"
