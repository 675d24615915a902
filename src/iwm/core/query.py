"""Query parameter types of admin lists."""

from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator

from iwm.core.listing import SortOrder
from iwm.core.schemas import PlausibleDate, PlausibleDateTime, no_nul

# A date (the whole day) or an ISO 8601 date-time; far-off years are refused with a 400
# (they would overflow the date arithmetic of the range).
DateFrom = Annotated[PlausibleDate | PlausibleDateTime | None, Query(alias="dateFrom")]
DateTo = Annotated[PlausibleDate | PlausibleDateTime | None, Query(alias="dateTo")]
SortOrderQuery = Annotated[SortOrder, Query(alias="sortOrder")]
# Free text to search for. A NUL is refused: PostgreSQL text cannot hold one, and SQLite
# would end the pattern there and match everything.
SearchText = Annotated[str, AfterValidator(no_nul)]
