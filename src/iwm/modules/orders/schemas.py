import uuid

from pydantic import ConfigDict, EmailStr, Field

from iwm.core.schemas import (
    CamelModel,
    InputModel,
    PlausibleDate,
    PlausibleDateTime,
    StrictBody,
    UtcDateTime,
)
from iwm.modules.orders.models import PrintStatus


class OrderKiosk(CamelModel):
    id: uuid.UUID
    name: str


class OrderRead(CamelModel):
    id: uuid.UUID
    customer_name: str
    customer_email: str | None
    customer_phone: str | None
    status: PrintStatus
    image_url: str
    printed_at: UtcDateTime | None
    kiosk: OrderKiosk
    created_at: UtcDateTime


class OrderCard(OrderRead):
    """An order as the dashboard lists it: with its thumbnail (None for older orders)."""

    thumbnail_url: str | None


class MarkRequest(StrictBody):
    status: PrintStatus


class DailyCounters(CamelModel):
    all: int
    printed: int


class NewOrderForm(InputModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    customer_name: str = Field(min_length=1, max_length=200)
    customer_email: EmailStr | None = None
    customer_phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 ()-]{3,32}$")


class OrderFilters(InputModel):
    status: PrintStatus | None = None
    date_from: PlausibleDate | PlausibleDateTime | None = None
    date_to: PlausibleDate | PlausibleDateTime | None = None
    kiosk_id: uuid.UUID | None = None
    customer_name: str | None = Field(default=None, max_length=200)
    customer_email: str | None = Field(default=None, max_length=320)
