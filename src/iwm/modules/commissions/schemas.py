import uuid
from typing import Literal

from pydantic import Field

from iwm.core.amounts import AmountIn
from iwm.core.money import Money
from iwm.core.schemas import CamelModel, MonthText, StrictBody, UtcDateTime


class PartnerRef(CamelModel):
    id: uuid.UUID
    name: str
    referral_code: str


class SourcePartnerRef(CamelModel):
    id: uuid.UUID
    name: str


class CommissionExplanation(CamelModel):
    plan_version: str | None
    rule: str | None  # LEVEL, LEVEL_COMPRESSED, FAST_START, RANK:<code>
    level: int | None
    rate: Money  # percent of the base
    base_amount: Money  # the sale's commissionable volume
    plan_amount: Money  # base x rate: the ceiling of any amount change


class AdminCommission(CamelModel):
    id: uuid.UUID
    partner: PartnerRef
    source_type: str
    source_id: uuid.UUID
    source_partner: SourcePartnerRef | None
    level_depth: int | None
    # Beyond the seed: how the engine computed it (see docs/decisions.md, Money).
    explanation: CommissionExplanation
    gross_amount: Money
    net_amount: Money
    career_points: int
    currency: str
    status: str
    period_id: MonthText | None
    processed_at: UtcDateTime | None
    approved_by: str | None
    created_at: UtcDateTime


class CommissionSummary(CamelModel):
    total_pending: Money
    total_approved: Money
    total_paid: Money
    total_reversed: Money


class AdminCommissionsPage(CamelModel):
    commissions: list[AdminCommission]
    summary: CommissionSummary


class MemberCommission(CamelModel):
    """A commission as its partner sees it: the admin's fields but the partner (himself)
    and the approving admin."""

    id: uuid.UUID
    source_type: str
    source_id: uuid.UUID
    source_partner: SourcePartnerRef | None
    level_depth: int | None
    gross_amount: Money
    net_amount: Money
    career_points: int
    currency: str
    status: str
    period_id: MonthText | None
    processed_at: UtcDateTime | None
    created_at: UtcDateTime


class MemberCommissionsPage(CamelModel):
    commissions: list[MemberCommission]
    summary: CommissionSummary


class AdjustRequest(StrictBody):
    """The seed's body; beyond it, `CONFIRM_CHANGE` and `REJECT_CHANGE` with `changeId`
    decide an amount change waiting for a second admin."""

    action: Literal[
        "APPROVE", "HOLD", "REVERSE", "ADJUST_AMOUNT", "CONFIRM_CHANGE", "REJECT_CHANGE"
    ]
    new_amount: AmountIn | None = None
    change_id: uuid.UUID | None = None
    reason: str = Field(min_length=1, max_length=1000)


class AdjustResponse(CamelModel):
    id: uuid.UUID
    previous_status: str
    new_status: str
    previous_amount: Money | None
    new_amount: Money | None
    adjusted_at: UtcDateTime
    adjusted_by: str
    reason: str
    # Only when a second admin confirmed a pending change (left out otherwise).
    confirmed_by: str | None = Field(default=None, exclude_if=lambda value: value is None)


class PendingChange(CamelModel):
    """An amount change waiting for a second admin (202), or its rejection."""

    id: uuid.UUID  # the commission's
    change_id: uuid.UUID
    status: Literal["PENDING_CONFIRMATION", "REJECTED"]
    previous_amount: Money
    new_amount: Money
    requested_at: UtcDateTime
    requested_by: str
    reason: str
