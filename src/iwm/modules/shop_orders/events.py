"""What the shop order service publishes: an order placed, then each move of its status."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from iwm.core.events import Event

DEFAULT_PAYMENT_METHOD = "CARD"


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopOrderEvent(Event):
    """The order as it is now."""

    order_id: uuid.UUID
    user_id: uuid.UUID
    status: str
    payment_status: str
    total_minor: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopOrderPlaced(ShopOrderEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopOrderMoved(ShopOrderEvent):
    """The status (and so perhaps the payment status) changed; `before_*` is what it was.
    Subclasses name the moves other modules care about; the others (processing, shipped,
    delivered) are plain `ShopOrderMoved`."""

    before_status: str
    before_payment_status: str


@dataclass(frozen=True, slots=True)
class PaidLine:
    """A line of a paid order as it was sold: what the sales rollups and the commission
    engine need of it (read once, with the payment)."""

    product_id: uuid.UUID
    category_id: uuid.UUID | None
    quantity: int
    amount_minor: int
    commission_bp: int
    career_points_bp: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopOrderPaid(ShopOrderMoved):
    paid_at: datetime
    lines: tuple[PaidLine, ...]
    payment_method: str = DEFAULT_PAYMENT_METHOD


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopOrderCancelled(ShopOrderMoved):
    """Cancelled before it was paid."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopOrderRefunded(ShopOrderMoved):
    """A paid order cancelled: the payment is refunded."""
