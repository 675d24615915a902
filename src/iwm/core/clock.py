"""The only clock of the service: tests move it with `travel()`."""

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    return datetime.now(UTC) + _offset


def travel(delta: timedelta) -> None:
    """Move the service clock by `delta` (tests and the cleanup drill only)."""
    global _offset  # noqa: PLW0603
    _offset += delta


def reset() -> None:
    global _offset  # noqa: PLW0603
    _offset = timedelta(0)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, as the contract writes timestamps."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
