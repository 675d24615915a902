"""Page parameters shared by list endpoints."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Response

MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class PageParams:
    page: int
    page_size: int


async def page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> PageParams:
    return PageParams(page=page, page_size=page_size)


Page = Annotated[PageParams, Depends(page_params)]


def set_total(response: Response, total: int) -> None:
    """Partner lists are plain arrays; the total travels in a header."""
    response.headers["X-Total-Count"] = str(total)
