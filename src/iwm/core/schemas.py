"""Shared schema pieces: camelCase JSON, UTC timestamps with `Z`, the admin envelope."""

import math
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic.alias_generators import to_camel


def _iso_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# The serializer's `str` would leave the OpenAPI document a plain string: typed clients
# need the format to read a datetime.
UtcDateTime = Annotated[
    datetime,
    PlainSerializer(_iso_z, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
MonthText = Annotated[
    str, WithJsonSchema({"type": "string", "pattern": MONTH_PATTERN, "examples": ["2026-01"]})
]
"""A month as stored (`YYYY-MM`): documented, not checked again on the way out."""


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


def no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL and SQLite would store it: refuse it at the edge.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _not_a_number(value: Any) -> Any:
    # Pydantic reads a bare number as seconds since 1970: "20261120" became a date in
    # August 1970. A date in a query or a body is written in ISO 8601 (2026-11-20).
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        raise ValueError("must be an ISO 8601 date (YYYY-MM-DD) or date-time")
    return value


def _plausible(value: date) -> date:
    # Far-off dates overflow date arithmetic (a day later, a time zone away).
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"year must be between {MIN_YEAR} and {MAX_YEAR}")
    return value


MIN_YEAR, MAX_YEAR = 1970, 2999
PlausibleDate = Annotated[date, BeforeValidator(_not_a_number), AfterValidator(_plausible)]
PlausibleDateTime = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_plausible)]


def _check_nul(value: Any) -> None:
    """Every string in `value`, inside lists and mappings (keys too), must be NUL-free."""
    if isinstance(value, str):
        no_nul(value)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _check_nul(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_nul(key)
            _check_nul(item)


class InputModel(CamelModel):
    """Values that come from a request: no string may carry a NUL character."""

    @field_validator("*", mode="after")
    @classmethod
    def _strings_without_nul(cls, value: Any) -> Any:
        _check_nul(value)
        return value


class StrictBody(InputModel):
    """A request body: unknown fields are refused rather than silently dropped."""

    model_config = ConfigDict(extra="forbid")


class PatchBody(StrictBody):
    """A partial update: a field left out stays as it is. `null` is refused, except for the
    fields in `nullable`: those the contract types `| null`, which a client may clear."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_allowed(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("must not be null")
        return value


T = TypeVar("T")


class PaginationMeta(CamelModel):
    total: int
    page: int
    page_size: int
    total_pages: int
    has_next: bool
    has_previous: bool

    @classmethod
    def build(cls, total: int, page: int, page_size: int) -> "PaginationMeta":
        pages = math.ceil(total / page_size) if page_size else 0
        return cls(
            total=total,
            page=page,
            page_size=page_size,
            total_pages=pages,
            has_next=page < pages,
            has_previous=page > 1,
        )


class Envelope(CamelModel, Generic[T]):
    """The admin surface's success body: `{success, data, meta?}`."""

    success: bool = True
    data: T
    # The contract's `meta?` is optional, not nullable: an answer without one leaves it out.
    meta: dict[str, Any] | None = Field(default=None, exclude_if=lambda value: value is None)


def ok(data: T, **meta: Any) -> Envelope[T]:
    return Envelope[T](data=data, meta=meta or None)
