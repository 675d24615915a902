import uuid
from typing import Literal

from pydantic import Field

from iwm.core.amounts import AmountIn
from iwm.core.money import Money
from iwm.core.schemas import CamelModel, StrictBody, UtcDateTime


class PartnerRef(CamelModel):
    id: uuid.UUID
    name: str
    referral_code: str


class SourcePartnerRef(CamelModel):
    id: uuid.UUID
    name: str


class AdminCommission(CamelModel):
    id: uuid.UUID
    partner: PartnerRef
    source_type: str
    source_id: uuid.UUID
    source_partner: SourcePartnerRef | None
    level_depth: int | None
    gross_amount: Money
    net_amount: Money
    career_points: int
    currency: str
    status: str
    period_id: str | None
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


class AdjustRequest(StrictBody):
    action: Literal["APPROVE", "HOLD", "REVERSE", "ADJUST_AMOUNT"]
    new_amount: AmountIn | None = None
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
