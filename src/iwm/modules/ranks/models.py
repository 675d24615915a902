"""Rank plan versions, qualified months and the partners' rank history."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core.db import Base, CreatedAtMixin, IdMixin


class RankPlanRecord(Base):
    """Every plan version ever used, with its rules: what a history row or bonus names."""

    __tablename__ = "rank_plans"

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    registered_at: Mapped[datetime]


class RankPeriod(Base):
    """A qualified month: its primary key lets one run qualify a month, once."""

    __tablename__ = "rank_periods"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    plan_version: Mapped[str] = mapped_column(ForeignKey("rank_plans.version"))
    qualified_at: Mapped[datetime]
    partners: Mapped[int] = mapped_column(Integer)
    promoted: Mapped[int] = mapped_column(Integer)
    demoted: Mapped[int] = mapped_column(Integer)


class RankChange(IdMixin, CreatedAtMixin, Base):
    """A partner's rank changed by a month's qualification, with the figures it was
    judged on (minor units)."""

    __tablename__ = "partner_rank_history"
    __table_args__ = (
        Index("ix_partner_rank_history_partner_period", "partner_id", "period", unique=True),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("network_partners.id", ondelete="CASCADE")
    )
    period: Mapped[str] = mapped_column(String(7), index=True)
    previous_rank: Mapped[str | None] = mapped_column(String(32))
    rank: Mapped[str | None] = mapped_column(String(32))
    plan_version: Mapped[str] = mapped_column(ForeignKey("rank_plans.version"))
    personal_volume_minor: Mapped[int] = mapped_column(BigInteger)
    group_volume_minor: Mapped[int] = mapped_column(BigInteger)
    active_directs: Mapped[int] = mapped_column(Integer)
