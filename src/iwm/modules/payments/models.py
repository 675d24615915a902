import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core import clock
from iwm.core.db import Base, CreatedAtMixin, IdMixin


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    # A declined attempt: the customer may still pay on the same page (as a payment
    # intent that needs another payment method).
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    # The refund is decided and committed; the provider call may still be under way.
    REFUND_PENDING = "refund_pending"
    REFUNDED = "refunded"


class PaymentPurpose(enum.StrEnum):
    KIOSK_ROUND = "kiosk_round"
    SHOP_ORDER = "shop_order"
    INVESTMENT = "investment"


class Payment(IdMixin, CreatedAtMixin, Base):
    """An incoming payment taken through the configured provider, for one object of its
    owner (`purpose`, `reference_id`). Only a verified webhook makes it `succeeded`."""

    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_purpose_reference", "purpose", "reference_id"),)

    provider: Mapped[str] = mapped_column(String(32))
    provider_reference: Mapped[str | None] = mapped_column(String(128), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))
    reference_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    description: Mapped[str] = mapped_column(String(200), default="")
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=PaymentStatus.PENDING)
    checkout_url: Mapped[str] = mapped_column(String(500), default="")
    # Past it the hosted page takes no money: the owner (a kiosk session, an unpaid order)
    # has given up on the payment. A provider's late success is refunded by the owner.
    expires_at: Mapped[datetime | None]
    # Set with `expires_at` when the owner closed the payment before its time (an order
    # cancelled unpaid): the page then says cancelled rather than expired.
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
    succeeded_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]
    refund_reference: Mapped[str | None] = mapped_column(String(128))


class PaymentWebhookEvent(Base):
    """Every provider event handled, by its id: a redelivered event changes nothing."""

    __tablename__ = "payment_webhook_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payments.id", ondelete="SET NULL")
    )
    received_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
