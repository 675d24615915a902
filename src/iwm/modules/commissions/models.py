"""Commissions made by the commission engine, one per upline level of a sale."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core import clock
from iwm.core.db import Base, CreatedAtMixin, IdMixin


class CommissionStatus(enum.StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    PAID = "PAID"
    HELD = "HELD"
    REVERSED = "REVERSED"


class SourceType(enum.StrEnum):
    ORDER = "ORDER"
    INVESTMENT = "INVESTMENT"
    BONUS = "BONUS"
    RANK_BONUS = "RANK_BONUS"


class Commission(IdMixin, CreatedAtMixin, Base):
    """`net_minor` is what the partner's balances count; a correction of a PAID commission
    is a new row with a negative amount pointing at it (`corrects_id`)."""

    __tablename__ = "commissions"
    __table_args__ = (
        Index("ix_commissions_status_created", "status", "created_at"),
        Index("ix_commissions_partner_created", "partner_id", "created_at"),
        Index("ix_commissions_source", "source_type", "source_id"),
        Index("ix_commissions_net_amount", "net_minor"),
        # A fast-start bonus once per (sponsor, new partner); a rank bonus once per rank.
        Index(
            "uq_commissions_fast_start",
            "partner_id",
            "source_partner_id",
            unique=True,
            sqlite_where=text("source_type = 'BONUS' AND corrects_id IS NULL"),
            postgresql_where=text("source_type = 'BONUS' AND corrects_id IS NULL"),
        ),
        Index(
            "uq_commissions_rank_bonus",
            "partner_id",
            "rule",
            unique=True,
            sqlite_where=text("source_type = 'RANK_BONUS' AND corrects_id IS NULL"),
            postgresql_where=text("source_type = 'RANK_BONUS' AND corrects_id IS NULL"),
        ),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("network_partners.id", ondelete="RESTRICT")
    )
    source_type: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[uuid.UUID]
    source_partner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("network_partners.id", ondelete="SET NULL")
    )
    # How the engine computed it, recorded at creation so that every commission explains
    # itself: the plan (its level rates) and level, the rate, the sale's commissionable
    # volume it applied to (`base`) and what that gave (`plan_amount`, the ceiling of any
    # later ADJUST_AMOUNT). `plan_version` is null for rows made before it was recorded.
    level_depth: Mapped[int | None] = mapped_column(Integer)
    base_minor: Mapped[int] = mapped_column(BigInteger)
    rate_bp: Mapped[int] = mapped_column(Integer)
    plan_version: Mapped[str | None] = mapped_column(String(64))
    plan_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    # Which rule of the plan: LEVEL (LEVEL_COMPRESSED when inactive partners below were
    # passed over), FAST_START (BONUS), RANK:<code> (RANK_BONUS). Null before it was kept.
    rule: Mapped[str | None] = mapped_column(String(40))
    gross_minor: Mapped[int] = mapped_column(BigInteger)
    net_minor: Mapped[int] = mapped_column(BigInteger)
    career_points: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=CommissionStatus.PENDING)
    period_id: Mapped[str | None] = mapped_column(String(7))
    corrects_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("commissions.id", ondelete="RESTRICT")
    )
    processed_at: Mapped[datetime | None]
    approved_by: Mapped[uuid.UUID | None]
    adjusted_at: Mapped[datetime | None]
    adjusted_by: Mapped[uuid.UUID | None]
    adjust_reason: Mapped[str | None] = mapped_column(String(1000))
    # The admin who last changed the amount (who asked, when a second admin confirmed):
    # he cannot also approve the commission.
    amount_adjusted_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    @property
    def is_correction(self) -> bool:
        """A row of the engine's clawback (a negative correction of a paid commission)."""
        return self.corrects_id is not None or self.gross_minor < 0


class ChangeStatus(enum.StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"


class CommissionChange(IdMixin, CreatedAtMixin, Base):
    """An amount change waiting for a second admin (four eyes): a raise, or a change by
    more than IWM_FOUR_EYES_ABOVE. Nothing moves in the ledger until it is confirmed."""

    __tablename__ = "commission_changes"
    __table_args__ = (Index("ix_commission_changes_status_created", "status", "created_at"),)

    commission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("commissions.id", ondelete="RESTRICT"), index=True
    )
    requested_by: Mapped[uuid.UUID]
    previous_gross_minor: Mapped[int] = mapped_column(BigInteger)
    new_gross_minor: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16), default=ChangeStatus.PENDING)
    decided_by: Mapped[uuid.UUID | None]
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(String(1000))


class CommissionTotal(Base):
    """Running count and net sum per (status, source type), sharded (see core/counters)."""

    __tablename__ = "commission_totals"

    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    source_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class PendingSale(IdMixin, CreatedAtMixin, Base):
    """A paid sale whose commissions are booked after its payment's transaction
    (`CommissionEngine.defer`): what the engine needs, so booking reads nothing else. The
    booker deletes the row in the transaction that books it; a cancel that deletes it first
    leaves nothing to book and nothing to reverse."""

    __tablename__ = "pending_sales"
    __table_args__ = (UniqueConstraint("source_type", "source_id"),)

    source_type: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[uuid.UUID]
    buyer_user_id: Mapped[uuid.UUID]
    currency: Mapped[str] = mapped_column(String(3))
    lines: Mapped[list[list[int]]] = mapped_column(JSON)
    """[amount_minor, commission_bp, career_points_bp] per line."""
