"""Payments opened through the service, and webhooks signed as the provider signs them."""

import json
import uuid

import httpx

from iwm.core.resources import Resources
from iwm.modules.payments.models import Payment, PaymentPurpose
from iwm.modules.payments.provider import SimulatedProvider, event_body, sign
from iwm.modules.payments.service import PaymentService

WEBHOOK = "/api/v1/payments/webhook"


def provider(resources: Resources) -> SimulatedProvider:
    return SimulatedProvider(resources.settings, resources.payment_webhook_secret)


async def open_payment(
    resources: Resources, amount_minor: int = 500, currency: str = "USD"
) -> Payment:
    async with resources.sessionmaker.begin() as db:
        return await PaymentService(db, provider(resources)).create(
            PaymentPurpose.SHOP_ORDER,
            uuid.uuid4(),
            amount_minor,
            currency,
            idempotency_key=uuid.uuid4().hex,
            description="Test purchase",
        )


async def deliver(
    client: httpx.AsyncClient,
    resources: Resources,
    event_type: str,
    payment: Payment,
    *,
    event_id: str | None = None,
    timestamp: int | None = None,
    secret: bytes | None = None,
) -> httpx.Response:
    """Posts a provider event signed with the configured secret (or `secret`)."""
    assert payment.provider_reference is not None
    body = event_body(event_type, payment.provider_reference, event_id)
    header = sign(secret or resources.payment_webhook_secret, body, timestamp)
    return await client.post(
        WEBHOOK,
        content=body,
        headers={"Webhook-Signature": header, "Content-Type": "application/json"},
    )


def body_of(resp: httpx.Response) -> dict[str, object]:
    data: dict[str, object] = json.loads(resp.text)
    return data
