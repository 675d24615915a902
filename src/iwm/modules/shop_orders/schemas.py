import uuid
from typing import Literal

from pydantic import Field, StrictBool

from iwm.core.money import Money
from iwm.core.schemas import CamelModel, PatchBody, UtcDateTime


class UserRef(CamelModel):
    id: uuid.UUID
    email: str
    name: str


class AdminOrder(CamelModel):
    id: uuid.UUID
    order_number: str
    user: UserRef
    status: str
    payment_status: str
    item_count: int
    total: Money
    currency: str
    shipping_method: str
    created_at: UtcDateTime
    updated_at: UtcDateTime


class OrderSummaryRead(CamelModel):
    total_orders: int
    total_revenue: Money
    pending_payment: int
    processing: int
    shipped: int


class AdminOrdersPage(CamelModel):
    orders: list[AdminOrder]
    summary: OrderSummaryRead


class OrderUpdate(PatchBody):
    status: Literal["PROCESSING", "SHIPPED", "DELIVERED", "CANCELLED"] | None = None
    tracking_number: str | None = Field(default=None, max_length=100)
    tracking_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://")
    note: str | None = Field(default=None, max_length=2000)
    notify_customer: StrictBool = False


class OrderUpdated(CamelModel):
    id: uuid.UUID
    order_number: str
    status: str
    tracking_number: str | None
    updated_at: UtcDateTime
    updated_by: str
