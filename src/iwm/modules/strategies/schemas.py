import uuid
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, StrictBool, StrictInt

from iwm.core.amounts import PercentIn, PositiveAmountIn, SignedPercentIn
from iwm.core.money import Money
from iwm.core.schemas import CamelModel, PatchBody, StrictBody, UtcDateTime
from iwm.modules.strategies.models import RiskLevel, StrategyStatus


class ReturnRateIn(StrictBody):
    min: SignedPercentIn
    max: SignedPercentIn
    expected: SignedPercentIn
    type: Literal["FIXED", "VARIABLE"]
    payout_frequency: Literal["DAILY", "WEEKLY", "MONTHLY", "END_OF_TERM"]


class DurationIn(StrictBody):
    min_days: StrictInt = Field(ge=1, le=36_500)
    max_days: StrictInt = Field(ge=1, le=36_500)
    lock_period_days: StrictInt = Field(ge=0, le=36_500)


class InvestmentIn(StrictBody):
    min_amount: PositiveAmountIn
    max_amount: PositiveAmountIn | None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    total_capacity: PositiveAmountIn | None


class TermsIn(StrictBody):
    early_withdrawal_allowed: StrictBool
    early_withdrawal_penalty: PercentIn | None
    compounding_available: StrictBool
    automatic_reinvestment: StrictBool


class StrategyCreate(StrictBody):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(max_length=20_000)
    short_description: str = Field(max_length=500)
    category_id: uuid.UUID
    return_rate: ReturnRateIn
    duration: DurationIn
    investment: InvestmentIn
    risk_level: RiskLevel
    risk_disclosure: str = Field(max_length=20_000)
    terms: TermsIn
    commission_percentage: PercentIn
    career_points_percentage: PercentIn
    status: StrategyStatus


class ReturnRatePatch(PatchBody):
    min: SignedPercentIn | None = None
    max: SignedPercentIn | None = None
    expected: SignedPercentIn | None = None


class InvestmentPatch(PatchBody):
    nullable = frozenset({"max_amount", "total_capacity"})

    min_amount: PositiveAmountIn | None = None
    max_amount: PositiveAmountIn | None = None
    total_capacity: PositiveAmountIn | None = None


class TermsPatch(PatchBody):
    nullable = frozenset({"early_withdrawal_penalty"})

    early_withdrawal_allowed: StrictBool | None = None
    early_withdrawal_penalty: PercentIn | None = None
    compounding_available: StrictBool | None = None
    automatic_reinvestment: StrictBool | None = None


class StrategyUpdate(PatchBody):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    short_description: str | None = Field(default=None, max_length=500)
    category_id: uuid.UUID | None = None
    return_rate: ReturnRatePatch | None = None
    investment: InvestmentPatch | None = None
    risk_disclosure: str | None = Field(default=None, max_length=20_000)
    terms: TermsPatch | None = None
    commission_percentage: PercentIn | None = None
    career_points_percentage: PercentIn | None = None
    status: StrategyStatus | None = None


class ReturnRateRead(CamelModel):
    min: Money
    max: Money
    expected: Money


class CapacityRead(CamelModel):
    total: Money | None
    used: Money
    available: Money | None


class ParticipantsRead(CamelModel):
    total: int
    active: int


class FinancialsRead(CamelModel):
    total_invested: Money
    total_returns_distributed: Money
    pending_returns: Money


class AdminStrategy(CamelModel):
    id: uuid.UUID
    name: str
    status: str
    risk_level: str
    return_rate: ReturnRateRead
    capacity: CapacityRead
    participants: ParticipantsRead
    financials: FinancialsRead
    created_at: UtcDateTime
    updated_at: UtcDateTime


class AdminStrategiesPage(CamelModel):
    strategies: list[AdminStrategy]


class StrategyCreated(CamelModel):
    id: uuid.UUID
    name: str
    slug: str
    status: str
    created_at: UtcDateTime
    created_by: str


class StrategyUpdated(CamelModel):
    id: uuid.UUID
    name: str
    status: str
    updated_at: UtcDateTime
    updated_by: str


class CatalogueStrategyCategory(CamelModel):
    id: uuid.UUID
    name: str
    slug: str


class CatalogueReturnRate(CamelModel):
    min: Money
    max: Money
    expected: Money
    type: str
    payout_frequency: str


class CatalogueDuration(CamelModel):
    min_days: int
    max_days: int
    lock_period_days: int


class CatalogueInvestment(CamelModel):
    min_amount: Money
    max_amount: Money | None
    currency: str
    available_capacity: Money | None  # null: no capacity limit


class TermsRead(CamelModel):
    early_withdrawal_allowed: bool
    early_withdrawal_penalty: Money | None
    compounding_available: bool
    automatic_reinvestment: bool

    @classmethod
    def of(cls, stored: dict[str, Any]) -> "TermsRead":
        """From the stored JSON (the admin's body as it was validated: the penalty there
        is text, to keep its decimals exact)."""
        penalty = stored.get("earlyWithdrawalPenalty")
        return cls(
            early_withdrawal_allowed=bool(stored.get("earlyWithdrawalAllowed")),
            early_withdrawal_penalty=None if penalty is None else Decimal(str(penalty)),
            compounding_available=bool(stored.get("compoundingAvailable")),
            automatic_reinvestment=bool(stored.get("automaticReinvestment")),
        )


class CatalogueStrategy(CamelModel):
    """A strategy as members see it: terms and room left, not the platform's figures."""

    id: uuid.UUID
    name: str
    slug: str
    short_description: str
    description: str
    category: CatalogueStrategyCategory | None
    risk_level: str
    risk_disclosure: str
    return_rate: CatalogueReturnRate
    duration: CatalogueDuration
    investment: CatalogueInvestment
    terms: TermsRead


class CatalogueStrategiesPage(CamelModel):
    strategies: list[CatalogueStrategy]


# -- the member's investments (/api/v1/investments) ----------------------------------------


class InvestmentCreate(StrictBody):
    strategy_id: uuid.UUID
    amount: PositiveAmountIn


class InvestmentPayment(CamelModel):
    id: uuid.UUID
    status: str
    checkout_url: str
    expires_at: UtcDateTime | None


class InvestmentStrategyRef(CamelModel):
    id: uuid.UUID
    name: str


class ReturnsSummary(CamelModel):
    """Every return credited so far; `pending`: credited, paid out with the principal when
    the participation ends; `paid`: paid out."""

    total: Money
    pending: Money
    paid: Money


class ReturnEntry(CamelModel):
    id: uuid.UUID
    period: str
    days: int
    rate: Money  # the strategy's annual rate, percent
    base: Money
    amount: Money
    status: str
    credited_at: UtcDateTime
    paid_at: UtcDateTime | None


class MemberInvestment(CamelModel):
    id: uuid.UUID
    strategy: InvestmentStrategyRef
    amount: Money
    currency: str
    status: str
    start_date: UtcDateTime | None
    end_date: UtcDateTime | None
    closed_at: UtcDateTime | None
    created_at: UtcDateTime
    returns: ReturnsSummary
    # One investment's read lists each month's return; the list leaves them out.
    return_entries: list[ReturnEntry] | None = None
    payment: InvestmentPayment | None


class InvestmentPlaced(CamelModel):
    participation: MemberInvestment
    payment: InvestmentPayment
