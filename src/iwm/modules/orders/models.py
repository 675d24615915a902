import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core.db import Base, CreatedAtMixin, IdMixin


class PrintStatus(enum.StrEnum):
    PRINTED = "printed"
    NOT_PRINTED = "not_printed"


class Order(IdMixin, CreatedAtMixin, Base):
    """A photo order made at a kiosk. `status` follows `printed_at`."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_kiosk_created", "kiosk_id", "created_at"),
        Index("ix_orders_kiosk_printed", "kiosk_id", "printed_at"),
        Index("ix_orders_number", "number"),
    )

    kiosk_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kiosks.id", ondelete="CASCADE"))
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_email: Mapped[str] = mapped_column(String(320), default="")
    customer_phone: Mapped[str] = mapped_column(String(32), default="")
    image_key: Mapped[str] = mapped_column(String(300), unique=True)
    image_content_type: Mapped[str] = mapped_column(String(32), default="image/jpeg")
    # The dashboard's small JPEG of the photo, made at upload (none for older orders).
    thumbnail_key: Mapped[str | None] = mapped_column(String(300), unique=True, index=True)
    printed_at: Mapped[datetime | None]
    # Short and per shop (1, 2, 3, ...): what the kiosk shows the customer and the shop
    # asks for at pickup. Drawn from OrderNumber when the order is made.
    number: Mapped[int] = mapped_column(Integer, server_default="0")

    @property
    def status(self) -> PrintStatus:
        return PrintStatus.PRINTED if self.printed_at else PrintStatus.NOT_PRINTED


# The "new orders" screen reads, per kiosk, only orders whose last event (printing, else
# creation) is recent: see OrderService.new_orders.
Index("ix_orders_kiosk_activity", Order.kiosk_id, func.coalesce(Order.printed_at, Order.created_at))
# The shop screen's "older unprinted" count and view: a kiosk's unprinted orders by age,
# whatever share of its orders are printed.
Index(
    "ix_orders_kiosk_unprinted",
    Order.kiosk_id,
    Order.created_at,
    postgresql_where=Order.printed_at.is_(None),
    sqlite_where=Order.printed_at.is_(None),
)


class OrderNumber(Base):
    """The last order number given out in each shop."""

    __tablename__ = "order_numbers"

    shop_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    last_number: Mapped[int] = mapped_column(Integer, default=0)
