"""What the payout service publishes: each step of a payout request, with the amount it
holds. The ledger entry of the step is posted in the same transaction, before the event."""

import uuid
from dataclasses import dataclass

from iwm.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class PayoutEvent(Event):
    payout_id: uuid.UUID
    partner_id: uuid.UUID
    amount_minor: int
    admin_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PayoutReserved(PayoutEvent):
    """A partner asked to be paid: the amount left his available balance."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PayoutApproved(PayoutEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class PayoutProcessing(PayoutEvent):
    """Claimed for the payment provider."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PayoutSent(PayoutEvent):
    """The provider accepted the payment and completes it later."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PayoutCompleted(PayoutEvent):
    """Paid: the amount is withdrawn."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PayoutFailed(PayoutEvent):
    """The provider declined; the payout is back to APPROVED."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PayoutRejected(PayoutEvent):
    funds_returned: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PayoutCancelled(PayoutEvent):
    """Withdrawn by the partner while pending: the amount is available again."""
