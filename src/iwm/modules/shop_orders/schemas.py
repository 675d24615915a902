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


# -- the member's checkout (/api/v1/orders) ----------------------------------------------


class OrderItemIn(CamelModel):
    product_id: uuid.UUID
    # Strict: "2" or true is a mistake of the client's, not a quantity (as amounts are).
    quantity: int = Field(ge=1, le=1000, strict=True)


class OrderCreate(CamelModel):
    items: list[OrderItemIn] = Field(min_length=1, max_length=50)
    shipping_address_id: uuid.UUID
    shipping_method: Literal["STANDARD", "EXPRESS", "PICKUP"] = "STANDARD"


class MemberOrderItem(CamelModel):
    product_id: uuid.UUID
    name: str
    quantity: int
    unit_price: Money
    total: Money


class ShippingAddress(CamelModel):
    id: uuid.UUID
    label: str
    country: str
    region: str
    city: str
    street: str
    building: str
    apartment: str | None
    postal_code: str


class OrderPayment(CamelModel):
    id: uuid.UUID
    status: str
    checkout_url: str
    expires_at: UtcDateTime | None


class MemberOrder(CamelModel):
    id: uuid.UUID
    order_number: str
    status: str
    payment_status: str
    items: list[MemberOrderItem]
    item_count: int
    total: Money
    currency: str
    shipping_method: str
    shipping_address: ShippingAddress | None
    tracking_number: str | None
    tracking_url: str | None
    payment: OrderPayment | None
    created_at: UtcDateTime
    updated_at: UtcDateTime
    paid_at: UtcDateTime | None
    cancelled_at: UtcDateTime | None


class OrderPlaced(CamelModel):
    order: MemberOrder
    payment: OrderPayment
