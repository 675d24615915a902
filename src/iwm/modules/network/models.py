"""Network partners and their sponsor tree.

The tree is a closure table (`network_tree`): one row per (ancestor, descendant) pair
with the distance between them, including each partner's own row at depth 0. Listing a
partner's network to a given depth, counting it per level and finding its depth are then
single index range scans, whatever the size of the tree (see docs/decisions.md).
"""

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core import clock
from iwm.core.db import Base, CreatedAtMixin, IdMixin


class PartnerStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"


class PartnerRank(IdMixin, Base):
    __tablename__ = "partner_ranks"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[int] = mapped_column(Integer, unique=True)


class NetworkPartner(IdMixin, CreatedAtMixin, Base):
    """`created_at` is the join date. Balances are integer minor units; they are moved
    only by the commission and payout ledgers, so they stay 0 until those exist."""

    __tablename__ = "network_partners"
    __table_args__ = (
        Index("ix_network_partners_status_created", "status", "created_at"),
        Index("ix_network_partners_network_size", "network_size"),
        Index("ix_network_partners_total_earned", "total_earned_minor"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), unique=True
    )
    referral_code: Mapped[str] = mapped_column(String(8), unique=True)
    # NO ACTION (checked at the end of the statement), not RESTRICT: a partner with
    # referrals still cannot be deleted, but a whole tree can be removed in one statement.
    sponsor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("network_partners.id"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=PartnerStatus.ACTIVE)
    rank_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("partner_ranks.id", ondelete="SET NULL"), index=True
    )
    highest_rank_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("partner_ranks.id", ondelete="SET NULL")
    )
    highest_rank_at: Mapped[datetime | None]
    activated_at: Mapped[datetime | None]
    # Level below the root of the whole tree (0 for a partner without a sponsor).
    depth: Mapped[int] = mapped_column(Integer, default=0)
    # Counters kept with the closure rows, so that lists can sort by them.
    direct_referrals: Mapped[int] = mapped_column(Integer, default=0)
    network_size: Mapped[int] = mapped_column(Integer, default=0)

    available_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    pending_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    total_earned_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    total_withdrawn_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # Career points are whole units.
    career_points_total: Mapped[int] = mapped_column(BigInteger, default=0)
    # Not moved by anything: the admin views compute the current period from commissions.
    career_points_period: Mapped[int] = mapped_column(BigInteger, default=0)
    # Personal sales volume: the partner's own paid (not refunded) shop orders plus its
    # investments, kept by the commission engine in the sale's transaction.
    sales_volume_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class NetworkTreeEdge(Base):
    """Closure of the sponsor relation. `descendant_joined_at` is copied from the
    descendant so that a level lists in join order straight from the index."""

    __tablename__ = "network_tree"
    __table_args__ = (
        Index(
            "ix_network_tree_ancestor_depth",
            "ancestor_id",
            "depth",
            "descendant_joined_at",
            "descendant_id",
        ),
    )

    # Primary key (descendant, ancestor): it also answers "the ancestors of X".
    descendant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("network_partners.id", ondelete="CASCADE"), primary_key=True
    )
    ancestor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("network_partners.id", ondelete="CASCADE"), primary_key=True
    )
    depth: Mapped[int] = mapped_column(Integer)
    descendant_joined_at: Mapped[datetime]


class NetworkLevel(Base):
    """Per partner and level below it: how many partners and how much personal sales
    volume that level holds. Kept with the closure rows at enrolment and with every sale
    (`NetworkService.book_sales_volume`), so per-level statistics read at most one row per
    level instead of scanning the downline."""

    __tablename__ = "network_levels"

    ancestor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("network_partners.id", ondelete="CASCADE"), primary_key=True
    )
    depth: Mapped[int] = mapped_column(Integer, primary_key=True)
    members: Mapped[int] = mapped_column(Integer, default=0)
    volume_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class PartnerPeriodVolume(Base):
    """A partner's personal sales volume booked in a month (`YYYY-MM`, UTC): what rank
    qualification reads. Kept with `sales_volume_minor` by `book_sales_volume`; a refund
    counts in the month it is booked, as its correcting commission does."""

    __tablename__ = "partner_period_volumes"

    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("network_partners.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    volume_minor: Mapped[int] = mapped_column(BigInteger, default=0)
