"""What happens to a payment. The owner of the paid object (`purpose`) handles these in
the webhook's own transaction: a kiosk session becomes paid, later a shop order."""

import uuid
from dataclasses import dataclass

from iwm.core.events import Event


@dataclass(frozen=True, slots=True)
class PaymentEvent(Event):
    payment_id: uuid.UUID
    purpose: str
    reference_id: uuid.UUID
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class PaymentSucceeded(PaymentEvent):
    pass


@dataclass(frozen=True, slots=True)
class PaymentFailed(PaymentEvent):
    pass


@dataclass(frozen=True, slots=True)
class PaymentRefunded(PaymentEvent):
    pass
