import uuid
from typing import Literal

from pydantic import Field, StrictBool

from iwm.core.money import Money
from iwm.core.schemas import CamelModel, StrictBody, UtcDateTime


class PartnerRef(CamelModel):
    id: uuid.UUID
    name: str
    referral_code: str


class MethodRead(CamelModel):
    type: str
    masked_details: str


class AdminPayout(CamelModel):
    id: uuid.UUID
    partner: PartnerRef
    amount: Money
    currency: str
    method: MethodRead
    status: str
    rejection_reason: str | None
    external_reference: str | None
    processed_by: str | None
    processed_at: UtcDateTime | None
    completed_at: UtcDateTime | None
    created_at: UtcDateTime
    # Beyond the seed: while PROCESSING, since when (the claim); a payout there for long
    # was interrupted and waits for the reconciliation (`iwm reconcile-payouts --now`).
    processing_since: UtcDateTime | None = None
    # Beyond the seed: why an open payout cannot be approved or paid now
    # ("INSUFFICIENT_BALANCE": its partner's available balance is negative), else null.
    blocked_reason: str | None


class PayoutSummaryRead(CamelModel):
    pending_count: int
    pending_amount: Money
    processing_count: int
    processing_amount: Money


class AdminPayoutsPage(CamelModel):
    payouts: list[AdminPayout]
    summary: PayoutSummaryRead


class ApproveRequest(StrictBody):
    note: str | None = Field(default=None, max_length=1000)


class ApproveResponse(CamelModel):
    id: uuid.UUID
    status: Literal["APPROVED"] = "APPROVED"
    approved_at: UtcDateTime
    approved_by: str


class RejectRequest(StrictBody):
    reason: str = Field(min_length=1, max_length=1000)
    return_to_balance: StrictBool = True


class RejectResponse(CamelModel):
    id: uuid.UUID
    status: Literal["REJECTED"] = "REJECTED"
    reason: str
    rejected_at: UtcDateTime
    rejected_by: str
    funds_returned: bool


class ProcessRequest(StrictBody):
    external_reference: str | None = Field(default=None, max_length=128)


class ProcessResponse(CamelModel):
    id: uuid.UUID
    status: Literal["PROCESSING", "COMPLETED"]
    external_reference: str | None
    processed_at: UtcDateTime
    processed_by: str
    estimated_completion: UtcDateTime | None
