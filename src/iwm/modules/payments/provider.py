"""The payment-provider interface for incoming payments, and the simulated provider.

A provider is one class (see docs/payments.md for the contract a real one fulfils):
`create` opens a payment the customer completes on the provider's page, `refund` returns
the money, `parse_webhook` verifies and reads what the provider reports. Both calls carry
an idempotency key: a repeated key never charges or refunds twice.

The simulated provider (the embedded default) keeps nothing of its own: its page
(`/pay/{paymentId}`, modules/payments/router.py) shows the payment, and Pay or Decline
delivers a signed webhook, exactly as a provider's server would.
"""

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from iwm.core import clock
from iwm.core.config import Settings
from iwm.modules.payments.errors import InvalidWebhook

SIGNATURE_HEADER = "Webhook-Signature"


@dataclass(frozen=True, slots=True)
class Checkout:
    payment_id: uuid.UUID
    amount_minor: int
    currency: str
    description: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    reference: str
    """The provider's id of the payment (a payment intent's id)."""
    checkout_url: str
    """Where the customer pays (shown by a kiosk as a QR code)."""


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    reference: str
    completed: bool
    """False: the provider confirms later with a `payment.refunded` webhook."""


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    event_id: str
    type: str
    """`payment.succeeded`, `payment.failed` or `payment.refunded`; others are ignored."""
    payment_reference: str
    occurred_at: datetime


class PaymentProvider(Protocol):
    name: str

    async def create(self, checkout: Checkout) -> ProviderPayment:
        """Opens the payment; the same idempotency key answers the same payment."""
        ...

    async def refund(
        self, reference: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> ProviderRefund:
        """Refunds the payment in full, once per idempotency key."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Verifies the signature and age first; raises InvalidWebhook, never reads an
        unverified body."""
        ...


def sign(secret: bytes, body: bytes, timestamp: int | None = None) -> str:
    """The `Webhook-Signature` header value: `t=<unix>,v1=<hex HMAC-SHA256("<t>.<body>")>`."""
    t = int(clock.now().timestamp()) if timestamp is None else timestamp
    digest = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(secret: bytes, header: str | None, body: bytes, tolerance_seconds: int) -> None:
    """Raises InvalidWebhook unless one `v1` signature matches and `t` is within the
    tolerance (either side: a timestamp from the future is as suspect as an old one)."""
    if not header:
        raise InvalidWebhook(details={SIGNATURE_HEADER: ["missing"]})
    stamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            stamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if stamp is None or not signatures:
        raise InvalidWebhook(details={SIGNATURE_HEADER: ["expected t=<unix>,v1=<hex>"]})
    expected = hmac.new(secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise InvalidWebhook(details={SIGNATURE_HEADER: ["signature does not match"]})
    if abs(clock.now().timestamp() - stamp) > tolerance_seconds:
        raise InvalidWebhook(details={SIGNATURE_HEADER: ["timestamp outside the tolerance"]})


def event_body(event_type: str, payment_reference: str, event_id: str | None = None) -> bytes:
    """A simulated provider event, as its server would send it."""
    return json.dumps(
        {
            "id": event_id or f"evt_{secrets.token_hex(12)}",
            "type": event_type,
            "created": int(clock.now().timestamp()),
            "data": {"object": {"id": payment_reference}},
        },
        separators=(",", ":"),
    ).encode()


class SimulatedProvider:
    """The embedded default: payments are completed on `/pay/{paymentId}` of this app."""

    name = "simulated"

    def __init__(self, settings: Settings, webhook_secret: bytes) -> None:
        self._base = settings.public_base_url.rstrip("/")
        self._secret = webhook_secret
        self._tolerance = settings.payment_webhook_tolerance_seconds

    async def create(self, checkout: Checkout) -> ProviderPayment:
        # The reference is derived from the key: the same key is the same payment.
        digest = hashlib.sha256(checkout.idempotency_key.encode()).hexdigest()[:24]
        return ProviderPayment(
            reference=f"sim_{digest}", checkout_url=f"{self._base}/pay/{checkout.payment_id}"
        )

    async def refund(
        self, reference: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> ProviderRefund:
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        return ProviderRefund(reference=f"sim_re_{digest}", completed=True)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        verify(self._secret, headers.get(SIGNATURE_HEADER.lower()), body, self._tolerance)
        try:
            data = json.loads(body)
            return WebhookEvent(
                event_id=str(data["id"]),
                type=str(data["type"]),
                payment_reference=str(data["data"]["object"]["id"]),
                occurred_at=datetime.fromtimestamp(int(data["created"]), UTC),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidWebhook(details={"body": ["not a provider event"]}) from exc

    def signed(self, body: bytes) -> dict[str, str]:
        """Headers for delivering `body` as this provider's server does."""
        return {SIGNATURE_HEADER: sign(self._secret, body), "Content-Type": "application/json"}


def make_provider(settings: Settings, webhook_secret: bytes) -> PaymentProvider:
    """The provider named by IWM_PAYMENT_PROVIDER."""
    if settings.payment_provider == "simulated":
        return SimulatedProvider(settings, webhook_secret)
    raise ValueError(f"unknown IWM_PAYMENT_PROVIDER: {settings.payment_provider!r}")
