"""Query parameter types of admin lists."""

from typing import Annotated, Literal

from fastapi import Query

from iwm.core.schemas import PlausibleDate, PlausibleDateTime

# A date (the whole day) or an ISO 8601 date-time; far-off years are refused with a 400
# (they would overflow the date arithmetic of the range).
DateFrom = Annotated[PlausibleDate | PlausibleDateTime | None, Query(alias="dateFrom")]
DateTo = Annotated[PlausibleDate | PlausibleDateTime | None, Query(alias="dateTo")]
SortOrder = Annotated[Literal["asc", "desc"], Query(alias="sortOrder")]
