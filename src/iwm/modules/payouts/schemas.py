import re
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, StrictBool

from iwm.core.amounts import PositiveAmountIn
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


# -- the member's requests (SPEC §8) ---------------------------------------------------


def _iban(value: str) -> str:
    """ISO 13616: country, check digits, account; the mod-97 check must give 1."""
    iban = "".join(value.split()).upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", iban):
        raise ValueError("not an IBAN")
    digits = "".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])
    if int(digits) % 97 != 1:
        raise ValueError("the IBAN's check digits do not match")
    return iban


def _card(value: str) -> str:
    """12 to 19 digits (spaces and dashes allowed) passing the Luhn check."""
    number = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"[0-9]{12,19}", number):
        raise ValueError("not a card number")
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += sum(divmod(d, 10))
    if total % 10:
        raise ValueError("the card number's check digit does not match")
    return number


def _holder(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


Holder = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_holder)]


class BankDetails(StrictBody):
    iban: Annotated[str, Field(max_length=64), AfterValidator(_iban)]
    account_holder: Holder


class CardDetails(StrictBody):
    card_number: Annotated[str, Field(max_length=32), AfterValidator(_card)]
    card_holder: Holder


class BankMethod(StrictBody):
    type: Literal["BANK_TRANSFER"]
    details: BankDetails


class CardMethod(StrictBody):
    type: Literal["CARD"]
    details: CardDetails


class PayoutCreate(StrictBody):
    """Only the masked form of the account is kept; the full number is never stored."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "amount": 150.00,
                "method": {
                    "type": "BANK_TRANSFER",
                    "details": {"iban": "DE89370400440532013000", "accountHolder": "Anna Ivanova"},
                },
            }
        }
    )

    amount: PositiveAmountIn
    method: Annotated[BankMethod | CardMethod, Field(discriminator="type")]

    @property
    def account(self) -> str:
        details = self.method.details
        return details.iban if isinstance(details, BankDetails) else details.card_number


class MemberPayout(CamelModel):
    id: uuid.UUID
    amount: Money
    currency: str
    method: MethodRead
    status: str
    rejection_reason: str | None
    # Whether the amount went back to the available balance (a cancelled request, a
    # rejection with `returnToBalance`), and how much did; null while the request is live.
    funds_returned: bool | None
    amount_returned: Money | None
    created_at: UtcDateTime
    approved_at: UtcDateTime | None
    processed_at: UtcDateTime | None
    completed_at: UtcDateTime | None
    updated_at: UtcDateTime
