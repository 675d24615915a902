import uuid
from datetime import date, datetime

from pydantic import EmailStr, Field

from iwm.core.schemas import CamelModel, StrictBody, UtcDateTime
from iwm.modules.orders.models import PrintStatus


class OrderKiosk(CamelModel):
    id: uuid.UUID
    name: str


class OrderRead(CamelModel):
    id: uuid.UUID
    customer_name: str
    customer_email: str
    customer_phone: str
    status: PrintStatus
    image_url: str
    printed_at: UtcDateTime | None
    kiosk: OrderKiosk
    created_at: UtcDateTime


class MarkRequest(StrictBody):
    status: PrintStatus


class DailyCounters(CamelModel):
    all: int
    printed: int


class NewOrderForm(CamelModel):
    customer_name: str = Field(min_length=1, max_length=200)
    customer_email: EmailStr | None = None
    customer_phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 ()-]{3,32}$")


class OrderFilters(CamelModel):
    status: PrintStatus | None = None
    date_from: date | datetime | None = None
    date_to: date | datetime | None = None
    kiosk_id: uuid.UUID | None = None
    customer_name: str | None = Field(default=None, max_length=200)
    customer_email: str | None = Field(default=None, max_length=320)
