"""The partner balance ledger: every commission state change and payout step is one row
of signed deltas; a partner's balance columns are always the sums of these rows."""

import uuid

from sqlalchemy import BigInteger, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core.db import Base, CreatedAtMixin, IdMixin


class LedgerEntry(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "partner_ledger"
    __table_args__ = (Index("ix_partner_ledger_partner_created", "partner_id", "created_at"),)

    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("network_partners.id", ondelete="RESTRICT")
    )
    # COMMISSION_CREATED, COMMISSION_APPROVED, ..., PAYOUT_REQUESTED, PAYOUT_COMPLETED, ...
    kind: Mapped[str] = mapped_column(String(32))
    commission_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("commissions.id", ondelete="RESTRICT"), index=True
    )
    payout_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payouts.id", ondelete="RESTRICT"), index=True
    )
    available_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    pending_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    earned_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    withdrawn_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    career_points_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    admin_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
