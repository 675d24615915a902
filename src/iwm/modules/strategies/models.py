"""Investment strategies and members' participations in them. Amounts are integer minor
units, rates and percentages hundredths of a percent."""

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ColumnElement, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core import clock
from iwm.core.db import Base, CreatedAtMixin, IdMixin


class StrategyStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    CLOSED = "CLOSED"


class RiskLevel(enum.StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class ParticipationStatus(enum.StrEnum):
    # A member's investment waits for its payment; not paid in time it is CANCELLED; paid
    # when the strategy had no room left (or took no investments any more), REFUNDED.
    PENDING_PAYMENT = "PENDING_PAYMENT"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    WITHDRAWN = "WITHDRAWN"


# The participations that are (or were) money in a strategy: what every sum and count of
# investments reads.
INVESTED = (
    ParticipationStatus.ACTIVE,
    ParticipationStatus.COMPLETED,
    ParticipationStatus.WITHDRAWN,
)


class Strategy(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "strategies"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(220), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    short_description: Mapped[str] = mapped_column(String(500), default="")
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=StrategyStatus.ACTIVE, index=True)
    risk_level: Mapped[str] = mapped_column(String(8))
    risk_disclosure: Mapped[str] = mapped_column(Text, default="")
    return_min_bp: Mapped[int] = mapped_column(Integer)
    return_max_bp: Mapped[int] = mapped_column(Integer)
    return_expected_bp: Mapped[int] = mapped_column(Integer)
    return_type: Mapped[str] = mapped_column(String(16))
    payout_frequency: Mapped[str] = mapped_column(String(16))
    min_days: Mapped[int] = mapped_column(Integer)
    max_days: Mapped[int] = mapped_column(Integer)
    lock_period_days: Mapped[int] = mapped_column(Integer)
    min_amount_minor: Mapped[int] = mapped_column(BigInteger)
    max_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    total_capacity_minor: Mapped[int | None] = mapped_column(BigInteger)
    # Kept by the participation service with a conditional update (never over capacity).
    used_capacity_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    terms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    commission_bp: Mapped[int] = mapped_column(Integer, default=0)
    career_points_bp: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[uuid.UUID | None]
    updated_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class Participation(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "strategy_participations"
    __table_args__ = (
        Index("ix_strategy_participations_strategy_status", "strategy_id", "status"),
        Index("ix_strategy_participations_user", "user_id", "created_at"),
        Index("ix_strategy_participations_status_payment_expires", "status", "payment_expires_at"),
    )

    strategy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("strategies.id", ondelete="RESTRICT"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=ParticipationStatus.ACTIVE)
    # From its payment on (a member's investment waits for it without dates).
    started_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    returns_distributed_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    pending_returns_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    closed_at: Mapped[datetime | None]
    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payments.id", ondelete="SET NULL"), unique=True
    )
    payment_expires_at: Mapped[datetime | None]


def invested() -> ColumnElement[bool]:
    return Participation.status.in_(INVESTED)


class ReturnStatus(enum.StrEnum):
    CREDITED = "CREDITED"  # owed to the investor, paid with the principal at the end
    PAID = "PAID"


class InvestmentReturn(IdMixin, CreatedAtMixin, Base):
    """The investors' returns ledger: one entry per participation and month, the month's
    prorated return (`amount_minor` = base x rate x days / days of the year). The unique
    key makes a month's distribution happen once, whatever the retries."""

    __tablename__ = "investment_returns"
    __table_args__ = (
        Index(
            "uq_investment_returns_participation_period", "participation_id", "period", unique=True
        ),
        Index("ix_investment_returns_user_created", "user_id", "created_at"),
        Index("ix_investment_returns_strategy_status", "strategy_id", "status"),
    )

    participation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("strategy_participations.id", ondelete="RESTRICT")
    )
    strategy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("strategies.id", ondelete="RESTRICT"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    period: Mapped[str] = mapped_column(String(7))
    days: Mapped[int] = mapped_column(Integer)
    rate_bp: Mapped[int] = mapped_column(Integer)  # annual, the strategy's expected rate
    base_minor: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=ReturnStatus.CREDITED)
    paid_at: Mapped[datetime | None]
