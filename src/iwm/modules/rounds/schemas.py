import uuid
from datetime import date

from iwm.core.money import Money, from_minor
from iwm.core.schemas import CamelModel, UtcDateTime
from iwm.modules.rounds.models import KioskSession, SessionStatus


class SessionRead(CamelModel):
    id: uuid.UUID
    amount: Money
    currency: str
    status: SessionStatus
    payment_url: str
    expires_at: UtcDateTime
    paid_at: UtcDateTime | None = None
    started_at: UtcDateTime | None = None

    @classmethod
    def build(cls, row: KioskSession, status: SessionStatus) -> "SessionRead":
        return cls(
            id=row.id,
            amount=from_minor(row.amount_minor),
            currency=row.currency,
            status=status,
            payment_url=row.payment_url,
            expires_at=row.expires_at,
            paid_at=row.paid_at,
            started_at=row.started_at,
        )


class RoundStarted(CamelModel):
    status: SessionStatus
    started_at: UtcDateTime


class Rounds(CamelModel):
    rounds: int
    amount: Money


class FreeRounds(CamelModel):
    cash: int
    error: int


class RevenueDay(CamelModel):
    date: date
    online: Rounds
    cash: Rounds
    free: FreeRounds


class Revenue(CamelModel):
    """A kiosk's rounds over the period, in the shop's time zone. `online`: rounds paid
    online and started (refunded ones are not revenue); `cash`: rounds granted by cash codes,
    at the round price of their day; `free`: redeemed codes by type."""

    kiosk_id: uuid.UUID
    currency: str | None
    date_from: date
    date_to: date
    online: Rounds
    cash: Rounds
    free: FreeRounds
    days: list[RevenueDay]
