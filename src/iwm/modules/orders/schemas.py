import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

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
    """Seed 000's order, plus `number`: the order's short number in its shop (1, 2, ...),
    shown by the kiosk to the customer and on the dashboard."""

    id: uuid.UUID
    customer_name: str
    customer_email: str | None
    customer_phone: str | None
    status: PrintStatus
    image_url: str
    printed_at: UtcDateTime | None
    kiosk: OrderKiosk
    created_at: UtcDateTime
    number: int


class _OrderLike(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def number(self) -> int: ...
    @property
    def customer_name(self) -> str: ...
    @property
    def customer_email(self) -> str: ...
    @property
    def customer_phone(self) -> str: ...
    @property
    def printed_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def kiosk_id(self) -> uuid.UUID: ...
    @property
    def kiosk_name(self) -> str: ...


def _z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def orders_json(rows: Sequence[_OrderLike], image_urls: Sequence[str]) -> bytes:
    """OrderRead's JSON for many rows at once, without a model per row."""
    return json.dumps(
        [
            {
                "id": str(o.id),
                "customerName": o.customer_name,
                "customerEmail": o.customer_email or None,
                "customerPhone": o.customer_phone or None,
                "status": "printed" if o.printed_at else "not_printed",
                "imageUrl": url,
                "printedAt": _z(o.printed_at) if o.printed_at else None,
                "kiosk": {"id": str(o.kiosk_id), "name": o.kiosk_name},
                "createdAt": _z(o.created_at),
                "number": o.number,
            }
            for o, url in zip(rows, image_urls, strict=True)
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


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
    # One search box: name, email, phone or order number.
    q: str | None = Field(default=None, max_length=200)
