"""Analytics periods and timeline buckets (UTC calendar days)."""

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from iwm.core import clock


class Period(enum.StrEnum):
    TODAY = "TODAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    QUARTER = "QUARTER"
    YEAR = "YEAR"


class Granularity(enum.StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


DAYS = {Period.TODAY: 1, Period.WEEK: 7, Period.MONTH: 30, Period.QUARTER: 90, Period.YEAR: 365}
DEFAULT_GRANULARITY = {
    Period.TODAY: Granularity.DAY,
    Period.WEEK: Granularity.DAY,
    Period.MONTH: Granularity.DAY,
    Period.QUARTER: Granularity.WEEK,
    Period.YEAR: Granularity.MONTH,
}


@dataclass(frozen=True, slots=True)
class Window:
    """The last `days` UTC calendar days, today included up to now, and the same number
    of whole days just before them (the previous period, for growth)."""

    period: Period
    first_day: date
    last_day: date
    start: datetime
    end: datetime
    previous_first_day: date
    previous_last_day: date
    previous_start: datetime

    @classmethod
    def of(cls, period: Period, now: datetime | None = None) -> "Window":
        end = now or clock.now()
        today = end.astimezone(UTC).date()
        days = DAYS[period]
        first = today - timedelta(days=days - 1)
        previous_first = first - timedelta(days=days)
        return cls(
            period=period,
            first_day=first,
            last_day=today,
            start=datetime.combine(first, time.min, tzinfo=UTC),
            end=end,
            previous_first_day=previous_first,
            previous_last_day=first - timedelta(days=1),
            previous_start=datetime.combine(previous_first, time.min, tzinfo=UTC),
        )


def bucket(day: date, granularity: Granularity) -> date:
    """The first day of the bucket holding `day`: the day, its ISO week's Monday, or the
    first of its month."""
    if granularity is Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    if granularity is Granularity.MONTH:
        return day.replace(day=1)
    return day


def buckets(window: Window, granularity: Granularity) -> list[date]:
    """Every bucket of the window, oldest first (the first may begin before the period)."""
    result: list[date] = []
    day = window.first_day
    while day <= window.last_day:
        b = bucket(day, granularity)
        if not result or result[-1] != b:
            result.append(b)
        day += timedelta(days=1)
    return result


HUNDRED = Decimal(100)
CENT = Decimal("0.01")


def ratio(part: int | Decimal, whole: int | Decimal, scale: int | Decimal = 1) -> Decimal:
    """`part / whole * scale`, two decimals ROUND_HALF_UP; 0 when `whole` is 0."""
    if not whole:
        return Decimal("0.00")
    return (Decimal(part) * Decimal(scale) / Decimal(whole)).quantize(CENT, ROUND_HALF_UP)


def percent(part: int | Decimal, whole: int | Decimal) -> Decimal:
    return ratio(part, whole, HUNDRED)


def growth(current: int | Decimal, previous: int | Decimal) -> Decimal:
    """Percent change against the previous period: 0 from 0 to 0, 100 from 0 to more."""
    if not previous:
        return Decimal("100.00") if current else Decimal("0.00")
    return percent(Decimal(current) - Decimal(previous), abs(Decimal(previous)))


def average_minor(total_minor: int, count: int) -> Decimal:
    """The mean of amounts in minor units, as a money amount (two decimals, half up)."""
    return ratio(total_minor, count * 100) if count else Decimal("0.00")
