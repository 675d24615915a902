import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core.db import Base, CreatedAtMixin, IdMixin


class SessionStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    STARTED = "started"
    EXPIRED = "expired"
    REFUNDED = "refunded"


class KioskSession(IdMixin, CreatedAtMixin, Base):
    """One round sold online: opened by the kiosk, paid by the customer on the provider's
    page, started by the kiosk. A pending session past `expires_at` is expired whether or
    not a row says so yet; a paid one not started by `refund_due_at` is refunded."""

    __tablename__ = "kiosk_sessions"
    __table_args__ = (
        Index("ix_kiosk_sessions_kiosk_created", "kiosk_id", "created_at"),
        Index("ix_kiosk_sessions_kiosk_started", "kiosk_id", "started_at"),
        Index("ix_kiosk_sessions_status_refund_due", "status", "refund_due_at"),
    )

    kiosk_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kiosks.id", ondelete="CASCADE"))
    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payments.id", ondelete="SET NULL"), unique=True
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.PENDING)
    payment_url: Mapped[str] = mapped_column(String(500), default="")
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]
    refund_due_at: Mapped[datetime | None]
