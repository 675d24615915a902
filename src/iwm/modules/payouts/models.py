"""Payout requests of network partners, and the simulated payment provider's own record."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core import clock
from iwm.core.db import Base, CreatedAtMixin, IdMixin


class PayoutStatus(enum.StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


class PayoutMethod(enum.StrEnum):
    BANK_TRANSFER = "BANK_TRANSFER"
    CARD = "CARD"
    CRYPTO = "CRYPTO"


class Payout(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "payouts"
    __table_args__ = (
        Index("ix_payouts_status_created", "status", "created_at"),
        Index("ix_payouts_partner_created", "partner_id", "created_at"),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("network_partners.id", ondelete="RESTRICT")
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method_type: Mapped[str] = mapped_column(String(20))
    masked_details: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=PayoutStatus.PENDING)
    note: Mapped[str | None] = mapped_column(String(1000))
    rejection_reason: Mapped[str | None] = mapped_column(String(1000))
    funds_returned: Mapped[bool | None]
    # Sent with every provider call for this payout: a retry can never pay twice.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    external_reference: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[uuid.UUID | None]
    rejected_at: Mapped[datetime | None]
    rejected_by: Mapped[uuid.UUID | None]
    processed_at: Mapped[datetime | None]
    processed_by: Mapped[uuid.UUID | None]
    completed_at: Mapped[datetime | None]
    estimated_completion_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class SimulatedPayment(CreatedAtMixin, Base):
    """What the simulated provider has paid: one row per idempotency key, ever."""

    __tablename__ = "simulated_payments"

    idempotency_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
