import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, NamedTuple, Protocol

from pydantic import AfterValidator, Field

from iwm.core import clock
from iwm.core.amounts import Number, number_schema
from iwm.core.currencies import iso_4217
from iwm.core.money import MARKER, Money, from_minor, json_text
from iwm.core.schemas import CamelModel, StrictBody, UtcDateTime
from iwm.modules.kiosks.models import Kiosk, KioskErrorReport, KioskStatus


class KioskSettings(CamelModel):
    default_language: str


class KioskFullSettings(KioskSettings):
    """The settings the views show: the language and the price of a round paid online
    (null until the partner sets one)."""

    price_per_round: Money | None
    currency: str | None

    @classmethod
    def of(cls, kiosk: "KioskLike") -> "KioskFullSettings":
        return cls(
            default_language=kiosk.default_language,
            price_per_round=from_minor(kiosk.price_minor)
            if kiosk.price_minor is not None
            else None,
            currency=kiosk.currency,
        )


class KioskErrorRead(CamelModel):
    id: uuid.UUID
    code: str
    message: str
    created_at: UtcDateTime
    cleared_at: UtcDateTime | None


class KioskLike(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def last_error_code(self) -> str | None: ...
    @property
    def default_language(self) -> str: ...
    @property
    def last_active_at(self) -> datetime | None: ...
    @property
    def shop_id(self) -> uuid.UUID: ...
    @property
    def price_minor(self) -> int | None: ...
    @property
    def currency(self) -> str | None: ...


class KioskRow(NamedTuple):
    """A kiosk's columns as lists read them (no ORM object)."""

    id: uuid.UUID
    name: str
    location: str
    status: str
    last_error_code: str | None
    default_language: str
    last_active_at: datetime | None
    shop_id: uuid.UUID
    price_minor: int | None
    currency: str | None


def _price(minor: int | None) -> str | None:
    # A marked exact number, written bare by ExactNumbersMiddleware (as Money is).
    return None if minor is None else MARKER + json_text(from_minor(minor))


def _z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def kiosks_json(kiosks: Sequence[KioskLike], online_window_seconds: int) -> bytes:
    """KioskRead's JSON for many kiosks at once, without a model per kiosk (a test holds
    it equal to KioskRead's own)."""
    now = clock.now()
    return json.dumps(
        [
            {
                "id": str(k.id),
                "name": k.name,
                "location": k.location,
                "status": k.status,
                "lastErrorCode": k.last_error_code,
                "settings": {
                    "defaultLanguage": k.default_language,
                    "pricePerRound": _price(k.price_minor),
                    "currency": k.currency,
                },
                "online": k.last_active_at is not None
                and (now - k.last_active_at).total_seconds() <= online_window_seconds,
                "lastActiveAt": _z(k.last_active_at) if k.last_active_at else None,
                "shopId": str(k.shop_id),
            }
            for k in kiosks
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


class KioskRead(CamelModel):
    """The seed's kiosk shape, plus whether the kiosk is online (recent heartbeat)."""

    id: uuid.UUID
    name: str
    location: str
    status: KioskStatus
    last_error_code: str | None
    settings: KioskFullSettings
    online: bool
    last_active_at: UtcDateTime | None
    shop_id: uuid.UUID

    @classmethod
    def build(cls, kiosk: KioskLike, online_window_seconds: int) -> "KioskRead":
        return cls(
            id=kiosk.id,
            name=kiosk.name,
            location=kiosk.location,
            status=KioskStatus(kiosk.status),
            last_error_code=kiosk.last_error_code,
            settings=KioskFullSettings.of(kiosk),
            online=is_online(kiosk.last_active_at, online_window_seconds),
            last_active_at=kiosk.last_active_at,
            shop_id=kiosk.shop_id,
        )


class KioskDetail(KioskRead):
    errors: list[KioskErrorRead]

    @classmethod
    def with_errors(
        cls, kiosk: Kiosk, errors: list[KioskErrorReport], online_window_seconds: int
    ) -> "KioskDetail":
        base = KioskRead.build(kiosk, online_window_seconds)
        return cls(
            **base.model_dump(),
            errors=[KioskErrorRead.model_validate(e) for e in errors],
        )


def is_online(last_active_at: datetime | None, window_seconds: int) -> bool:
    if last_active_at is None:
        return False
    return (clock.now() - last_active_at).total_seconds() <= window_seconds


class StatusChange(StrictBody):
    status: KioskStatus


class LanguageChange(StrictBody):
    language: str = Field(min_length=2, max_length=8)


class ErrorReport(StrictBody):
    code: str = Field(min_length=1, max_length=64)
    message: str = Field(default="", max_length=1000)


class KioskCreate(StrictBody):
    shop_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    location: str = Field(default="", max_length=300)
    default_language: str = Field(default="en", min_length=2, max_length=8)


class AdminKioskRead(KioskRead):
    created_at: UtcDateTime


class KioskProvisioned(AdminKioskRead):
    """Carries the device key: shown once, at creation or rotation."""

    device_key: str


class HeartbeatAck(CamelModel):
    """What the kiosk needs to know back: its status and the language its partner set."""

    ok: bool = True
    server_time: UtcDateTime
    status: KioskStatus
    settings: KioskSettings


class DeviceKioskRead(CamelModel):
    """The kiosk's own view of itself."""

    id: uuid.UUID
    name: str
    status: KioskStatus
    settings: KioskFullSettings


# A photo round costs a few units of any currency; far above it is a typing mistake.
MAX_ROUND_PRICE = Decimal(1_000_000)


class PriceChange(StrictBody):
    amount: Annotated[
        Decimal,
        Number,
        Field(gt=0, le=MAX_ROUND_PRICE, decimal_places=2, examples=[12.5]),
        number_schema(exclusiveMinimum=0, maximum=int(MAX_ROUND_PRICE)),
    ]
    currency: Annotated[
        str,
        Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, upper case", examples=["ILS"]),
        AfterValidator(iso_4217),
    ]


class CashRead(CamelModel):
    """The kiosk's cash balance: rounds granted by cash codes since the last settlement."""

    kiosk_id: uuid.UUID
    rounds: int
    amount: Money
    currency: str | None
    last_settled_at: UtcDateTime | None

    @classmethod
    def build(cls, kiosk: Kiosk, balance: "CashBalanceLike") -> "CashRead":
        return cls(
            kiosk_id=kiosk.id,
            rounds=balance.rounds,
            amount=from_minor(balance.amount_minor),
            currency=kiosk.currency,
            last_settled_at=balance.last_settled_at,
        )


class CashSettled(CamelModel):
    """What the settlement booked as collected, and the balance after it (zero)."""

    kiosk_id: uuid.UUID
    settled_rounds: int
    settled_amount: Money
    currency: str | None
    settled_at: UtcDateTime | None
    balance: CashRead

    @classmethod
    def settled(cls, kiosk: Kiosk, balance: "CashBalanceLike") -> "CashSettled":
        return cls(
            kiosk_id=kiosk.id,
            settled_rounds=balance.rounds,
            settled_amount=from_minor(balance.amount_minor),
            currency=kiosk.currency,
            settled_at=balance.last_settled_at,
            balance=CashRead(
                kiosk_id=kiosk.id,
                rounds=0,
                amount=from_minor(0),
                currency=kiosk.currency,
                last_settled_at=balance.last_settled_at,
            ),
        )


class CashBalanceLike(Protocol):
    @property
    def rounds(self) -> int: ...
    @property
    def amount_minor(self) -> int: ...
    @property
    def last_settled_at(self) -> datetime | None: ...
