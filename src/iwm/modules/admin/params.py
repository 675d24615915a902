"""Query parameters shared by the admin lists."""

from datetime import UTC, date, datetime, time, timedelta

from iwm.core.errors import ValidationFailed


def start_of(value: date | datetime) -> datetime:
    """A date means the start of its day (UTC); a naive datetime is taken as UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


def end_of(value: date | datetime) -> datetime:
    """An exclusive upper bound: a date means its whole day; a datetime is taken as is
    (made exclusive by one microsecond, so that the instant itself is included)."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware + timedelta(microseconds=1)
    return datetime.combine(value + timedelta(days=1), time.min, tzinfo=UTC)


def date_range(
    date_from: date | datetime | None, date_to: date | datetime | None
) -> tuple[datetime | None, datetime | None]:
    """Raises VALIDATION_ERROR when the range is reversed."""
    lower = start_of(date_from) if date_from is not None else None
    upper = end_of(date_to) if date_to is not None else None
    if lower is not None and upper is not None and lower >= upper:
        raise ValidationFailed(
            "dateFrom must not be after dateTo", {"dateFrom": ["must not be after dateTo"]}
        )
    return lower, upper
