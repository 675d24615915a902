"""A kiosk's revenue over a period, per day of its shop's time zone. Reads only."""

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.errors import ValidationFailed
from iwm.core.money import from_minor
from iwm.modules.codes.models import FreeRoundCode
from iwm.modules.kiosks.models import CashEntryType, KioskCashEntry
from iwm.modules.kiosks.schemas import KioskLike
from iwm.modules.rounds.models import KioskSession, SessionStatus
from iwm.modules.rounds.schemas import FreeRounds, Revenue, RevenueDay, Rounds
from iwm.modules.shops.models import Shop

MAX_DAYS = 366
DEFAULT_DAYS = 30


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def period(
    date_from: date | None, date_to: date | None, today: date, days: int = DEFAULT_DAYS
) -> tuple[date, date]:
    """Defaults: the last `days` days to today. 400 when reversed or longer than a year."""
    last = date_to or today
    first = date_from or (last - timedelta(days=days - 1))
    if first > last:
        raise ValidationFailed(details={"dateFrom": ["must not be after dateTo"]})
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationFailed(details={"dateFrom": [f"at most {MAX_DAYS} days"]})
    return first, last


class _Day:
    __slots__ = ("cash", "cash_amount", "error", "free_cash", "online", "online_amount")

    def __init__(self) -> None:
        self.online = self.online_amount = self.cash = self.cash_amount = 0
        self.free_cash = self.error = 0


async def revenue(
    db: AsyncSession,
    kiosk: KioskLike,
    date_from: date | None,
    date_to: date | None,
    now: datetime,
    default_days: int = DEFAULT_DAYS,
) -> Revenue:
    shop_zone = await db.scalar(select(Shop.timezone).where(Shop.id == kiosk.shop_id))
    zone = _zone(shop_zone)
    first, last = period(date_from, date_to, now.astimezone(zone).date(), default_days)
    start = datetime.combine(first, time.min, zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, zone).astimezone(UTC)
    days: dict[date, _Day] = defaultdict(_Day)

    def day_of(moment: datetime | None) -> date:
        assert moment is not None  # noqa: S101 (the query filters on it)
        return moment.astimezone(zone).date()

    online = await db.execute(
        select(KioskSession.started_at, KioskSession.amount_minor).where(
            KioskSession.kiosk_id == kiosk.id,
            KioskSession.status == SessionStatus.STARTED.value,
            KioskSession.started_at >= start,
            KioskSession.started_at < end,
        )
    )
    for started_at, amount in online:
        d = days[day_of(started_at)]
        d.online += 1
        d.online_amount += amount
    cash = await db.execute(
        select(KioskCashEntry.created_at, KioskCashEntry.rounds, KioskCashEntry.amount_minor).where(
            KioskCashEntry.kiosk_id == kiosk.id,
            KioskCashEntry.entry_type == CashEntryType.FREE_ROUND.value,
            KioskCashEntry.created_at >= start,
            KioskCashEntry.created_at < end,
        )
    )
    for created_at, rounds, amount in cash:
        d = days[day_of(created_at)]
        d.cash += rounds
        d.cash_amount += amount
    codes = await db.execute(
        select(FreeRoundCode.consumed_at, FreeRoundCode.type).where(
            FreeRoundCode.kiosk_id == kiosk.id,
            FreeRoundCode.consumed_at >= start,
            FreeRoundCode.consumed_at < end,
        )
    )
    for consumed_at, code_type in codes:
        d = days[day_of(consumed_at)]
        if code_type == "cash":
            d.free_cash += 1
        else:
            d.error += 1

    out: list[RevenueDay] = []
    total = _Day()
    for i in range((last - first).days + 1):
        day = first + timedelta(days=i)
        d = days.get(day, _Day())
        for name in _Day.__slots__:
            setattr(total, name, getattr(total, name) + getattr(d, name))
        out.append(_day(day, d))
    return Revenue(
        kiosk_id=kiosk.id,
        currency=kiosk.currency,
        date_from=first,
        date_to=last,
        online=Rounds(rounds=total.online, amount=from_minor(total.online_amount)),
        cash=Rounds(rounds=total.cash, amount=from_minor(total.cash_amount)),
        free=FreeRounds(cash=total.free_cash, error=total.error),
        days=out,
    )


def _day(day: date, d: _Day) -> RevenueDay:
    return RevenueDay(
        date=day,
        online=Rounds(rounds=d.online, amount=from_minor(d.online_amount)),
        cash=Rounds(rounds=d.cash, amount=from_minor(d.cash_amount)),
        free=FreeRounds(cash=d.free_cash, error=d.error),
    )


async def online_today(
    db: AsyncSession, kiosk_ids: list[uuid.UUID], start: datetime, end: datetime
) -> dict[uuid.UUID, tuple[int, int]]:
    """Online rounds started and their amount per kiosk between two moments."""
    if not kiosk_ids:
        return {}
    rows = await db.execute(
        select(KioskSession.kiosk_id, func.count(), func.sum(KioskSession.amount_minor))
        .where(
            KioskSession.kiosk_id.in_(kiosk_ids),
            KioskSession.status == SessionStatus.STARTED.value,
            KioskSession.started_at >= start,
            KioskSession.started_at < end,
        )
        .group_by(KioskSession.kiosk_id)
    )
    return {k: (int(n), int(a or 0)) for k, n, a in rows}
