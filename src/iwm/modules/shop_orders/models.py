"""Shop orders with their items, and the per-year counter behind order numbers."""

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core import clock
from iwm.core.db import Base, CreatedAtMixin, IdMixin


class ShopOrderStatus(enum.StrEnum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    PAID = "PAID"
    PROCESSING = "PROCESSING"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"


class PaymentStatus(enum.StrEnum):
    PENDING = "PENDING"
    PAID = "PAID"
    REFUNDED = "REFUNDED"
    CANCELLED = "CANCELLED"


class ShippingMethod(enum.StrEnum):
    STANDARD = "STANDARD"
    EXPRESS = "EXPRESS"
    PICKUP = "PICKUP"


class ShopOrder(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "shop_orders"
    __table_args__ = (
        Index("ix_shop_orders_status_created", "status", "created_at"),
        Index("ix_shop_orders_payment_status_created", "payment_status", "created_at"),
        Index("ix_shop_orders_user_created", "user_id", "created_at"),
        Index("ix_shop_orders_status_payment_expires", "status", "payment_expires_at"),
    )

    order_number: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20), default=ShopOrderStatus.PENDING_PAYMENT)
    payment_status: Mapped[str] = mapped_column(String(16), default=PaymentStatus.PENDING)
    shipping_method: Mapped[str] = mapped_column(String(16), default=ShippingMethod.STANDARD)
    currency: Mapped[str] = mapped_column(String(3))
    item_count: Mapped[int] = mapped_column(Integer)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    tracking_url: Mapped[str | None] = mapped_column(String(500))
    admin_note: Mapped[str | None] = mapped_column(String(2000))
    paid_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    updated_by: Mapped[uuid.UUID | None]
    # A member's checkout: the payment opened for it, when an unpaid order gives up (its
    # stock goes back), and the address as it was when the order was placed.
    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payments.id", ondelete="SET NULL"), unique=True
    )
    payment_expires_at: Mapped[datetime | None]
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ShopOrderItem(IdMixin, Base):
    """Price and percentages are copied from the product when the order is placed."""

    __tablename__ = "shop_order_items"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("shop_orders.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    line_total_minor: Mapped[int] = mapped_column(BigInteger)
    commission_bp: Mapped[int] = mapped_column(Integer)
    career_points_bp: Mapped[int] = mapped_column(Integer)


class OrderNumberCounter(Base):
    __tablename__ = "shop_order_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(BigInteger, default=0)


class ShopOrderTotal(Base):
    """Running count and total sum per (status, payment status), sharded (core/counters)."""

    __tablename__ = "shop_order_totals"

    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    payment_status: Mapped[str] = mapped_column(String(16), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
