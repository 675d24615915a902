"""What the commission engine and the admin side publish: a commission made (a sale's
level, or a correction of a paid one) and each later change, named by where it led."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from iwm.core.events import Event
from iwm.modules.commissions.models import Commission, CommissionStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class CommissionEvent(Event):
    """The commission as it is now."""

    commission_id: uuid.UUID
    partner_id: uuid.UUID
    source_type: str
    level: int
    """The upline level (0 for none)."""
    status: str
    net_minor: int
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CommissionCreated(CommissionEvent):
    """A new commission (a sale's, or the negative correction of a PAID one)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommissionChanged(CommissionEvent):
    """A commission changed status or net amount; `before_*` is what it had."""

    before_status: str
    before_net_minor: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CommissionApproved(CommissionChanged):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class CommissionHeld(CommissionChanged):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class CommissionReleased(CommissionChanged):
    """Back to PENDING."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommissionReversed(CommissionChanged):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class CommissionPaid(CommissionChanged):
    """Settled by a completed payout."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommissionAdjusted(CommissionChanged):
    """Same status, another net amount."""


_BY_STATUS: dict[str, type[CommissionChanged]] = {
    CommissionStatus.APPROVED: CommissionApproved,
    CommissionStatus.HELD: CommissionHeld,
    CommissionStatus.PENDING: CommissionReleased,
    CommissionStatus.REVERSED: CommissionReversed,
    CommissionStatus.PAID: CommissionPaid,
}


def commission_event(row: Commission, before: tuple[str, int] | None) -> CommissionEvent:
    """The event of `row`'s change: `before` is the (status, net) it had, None when new."""
    now: dict[str, Any] = {
        "commission_id": row.id,
        "partner_id": row.partner_id,
        "source_type": str(row.source_type),
        "level": row.level_depth or 0,
        "status": str(row.status),
        "net_minor": row.net_minor,
        "created_at": row.created_at,
    }
    if before is None:
        return CommissionCreated(**now)
    kind = CommissionAdjusted if before[0] == row.status else _BY_STATUS[str(row.status)]
    return kind(**now, before_status=before[0], before_net_minor=before[1])
