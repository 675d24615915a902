"""Query parameter helpers of admin lists."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Query

DateFrom = Annotated[datetime | None, Query(alias="dateFrom")]
DateTo = Annotated[datetime | None, Query(alias="dateTo")]
SortOrder = Annotated[Literal["asc", "desc"], Query(alias="sortOrder")]


def as_utc(value: datetime | None) -> datetime | None:
    """ISO 8601 from the query; a value without offset is taken as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
