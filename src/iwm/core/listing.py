"""One recipe for every list endpoint: filters declared once, a sort whitelist, LIKE
escaping, a page with its total, and statements built once per combination.

A list declares a `Listing`: the columns its rows show, its filters, its sorts. A request
passes the filter values it was given (None: not given) and the page; the `Listing` picks
the statements for that combination of given filters and sort from its cache, binds the
values and returns rows whose columns are read by name.

Why the cache: building a SELECT per request (constructs, cache key, result map) costs more
CPU than the page's own SQL on an index. Why the page's ids first: the page is chosen from
an index without the joins, and only its rows are joined to what they show.
"""

import enum
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    UnaryExpression,
    and_,
    asc,
    bindparam,
    desc,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

T = TypeVar("T")
AnySelect = Select[*tuple[Any, ...]]


class SortOrder(enum.StrEnum):
    ASC = "asc"
    DESC = "desc"


def ordered(expr: Any, order: SortOrder | str) -> UnaryExpression[Any]:
    result: UnaryExpression[Any] = asc(expr) if order == SortOrder.ASC else desc(expr)
    return result


def like_pattern(term: str) -> str:
    """`%term%` for a case-insensitive substring match, with LIKE wildcards escaped (the
    statements say `ESCAPE '\\'`)."""
    escaped = term.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def param(name: str, type_: Any = None) -> Any:
    """The bound parameter a filter's value is given as."""
    return bindparam(name, type_=type_)


@dataclass(frozen=True, slots=True)
class Filter:
    """A named condition. Its clause binds the value under the filter's name. `variant`,
    when set, maps a value to a key and `build` makes the clause for that key: for filters
    whose SQL differs by value (a status computed from several columns), each variant's
    statements are cached on their own."""

    name: str
    clause: ColumnElement[bool] | None = None
    variant: Callable[[Any], Hashable] | None = None
    build: Callable[[Any], ColumnElement[bool]] | None = None
    to_param: Callable[[Any], Any] | None = None
    # For a condition binding several parameters (one search box over several columns):
    # the value -> the parameters by name.
    to_params: Callable[[Any], Mapping[str, Any]] | None = None

    def sql(self, key: Hashable) -> ColumnElement[bool]:
        if self.build is not None:
            return self.build(key)
        assert self.clause is not None  # noqa: S101 (one of clause and build is set)
        return self.clause


def equals(name: str, column: Any) -> Filter:
    return Filter(name, column == param(name))


def at_least(name: str, column: Any) -> Filter:
    return Filter(name, column >= param(name))


def one_of(name: str, column: Any) -> Filter:
    """The column's value is in the given list."""
    return Filter(name, column.in_(bindparam(name, expanding=True)))


def below(name: str, column: Any) -> Filter:
    """An exclusive upper bound (`date_range` makes `dateTo` exclusive)."""
    return Filter(name, column < param(name))


def contains(name: str, *columns: Any, case_insensitive: bool = False) -> Filter:
    """Any of `columns` contains the searched text (LIKE-escaped by the listing). With
    `case_insensitive`, ILIKE; otherwise the columns are expected lower-case already."""
    pattern = param(name)

    def like(column: Any) -> ColumnElement[bool]:
        if case_insensitive:
            return column.ilike(pattern, escape="\\")  # type: ignore[no-any-return]
        return column.like(pattern, escape="\\")  # type: ignore[no-any-return]

    return Filter(name, or_(*(like(c) for c in columns)), to_param=like_pattern)


def clause(
    name: str, condition: ColumnElement[bool], to_param: Callable[[Any], Any] | None = None
) -> Filter:
    """A condition written by hand; it binds `param(name)` (or nothing, for a flag)."""
    return Filter(name, condition, to_param=to_param)


def by_value(name: str, build: Callable[[Any], ColumnElement[bool]]) -> Filter:
    """A condition whose SQL depends on the value itself (cached per value)."""
    return Filter(name, variant=lambda value: value, build=build)


@dataclass(frozen=True, slots=True)
class Sort:
    """A sort the list allows: its SQL expression, whether empty values go last in either
    direction, and further fixed orderings before the key's tie-break."""

    expr: Any
    nulls_last: bool = False
    then: tuple[Any, ...] = ()


@dataclass(slots=True)
class ListPage(Generic[T]):
    rows: list[T]
    total: int


@dataclass(slots=True)
class Listing:
    """`rows`: the SELECT of what a row shows (joins included), without filters or order.
    `key`: the listed table's primary key, the tie-breaker of every sort. `base`: the
    listed table (the page's ids and the count read it alone). `filters`: by name.
    `sorts`: the allowed sorts by their API names. `entities`: the rows hold mapped
    objects (read through the ORM session) rather than plain columns. `key_order`: the
    tie-break's direction, if not the sort's."""

    rows: AnySelect
    key: Any
    base: Any
    filters: Sequence[Filter]
    sorts: Mapping[str, Sort | Any]
    default_sort: str
    ids_first: bool = True
    entities: bool = False
    key_order: SortOrder | None = None
    _by_name: dict[str, Filter] = field(init=False)
    _cache: dict[Hashable, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._by_name = {f.name: f for f in self.filters}

    # Statements -------------------------------------------------------------------------

    def bind(self, values: Mapping[str, Any]) -> tuple[tuple[Hashable, ...], dict[str, Any]]:
        """The given filters (values not None) as a cache key, and the parameters to bind.
        Raises KeyError for a filter the listing does not declare."""
        key: list[Hashable] = []
        params: dict[str, Any] = {}
        for name, value in values.items():
            if value is None:
                continue
            f = self._by_name[name]
            if f.variant is not None:
                key.append((name, f.variant(value)))
                continue
            key.append(name)
            if f.to_params is not None:
                params.update(f.to_params(value))
                continue
            params[name] = f.to_param(value) if f.to_param is not None else value
        key.sort(key=repr)
        return tuple(key), params

    def where(self, given: tuple[Hashable, ...]) -> ColumnElement[bool]:
        parts = []
        for item in given:
            name, variant = item if isinstance(item, tuple) else (item, None)
            parts.append(self._by_name[str(name)].sql(variant))
        return and_(true(), *parts)

    def _cached(self, key: Hashable, make: Callable[[], T]) -> T:
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = make()
        return found

    def order_by(self, sort_by: str, order: SortOrder | str) -> list[Any]:
        sort = self.sorts[sort_by]
        spec = sort if isinstance(sort, Sort) else Sort(sort)
        first = ordered(spec.expr, order)
        if spec.nulls_last:
            first = first.nulls_last()
        return [first, *spec.then, ordered(self.key, self.key_order or order)]

    def page_statement(
        self, given: tuple[Hashable, ...], sort_by: str, order: SortOrder | str
    ) -> AnySelect:
        """One page; binds the filters' values, `limit` and `offset`."""

        def make() -> AnySelect:
            order_by = self.order_by(sort_by, order)
            # LIMIT and OFFSET are written into the SQL: as parameters, PostgreSQL cannot
            # settle on one plan for the prepared statement and plans the joins each time.
            limit = bindparam("limit", type_=Integer, literal_execute=True)
            offset = bindparam("offset", type_=Integer, literal_execute=True)
            if not self.ids_first:
                return (
                    self.rows.where(self.where(given))
                    .order_by(*order_by)
                    .limit(limit)
                    .offset(offset)
                )
            page_ids = (
                select(self.key)
                .select_from(self.base)
                .where(self.where(given))
                .order_by(*order_by)
                .limit(limit)
                .offset(offset)
            )
            return self.rows.where(self.key.in_(page_ids)).order_by(*order_by)

        return self._cached(("page", given, sort_by, str(order)), make)

    def count_statement(self, given: tuple[Hashable, ...]) -> AnySelect:
        return self._cached(
            ("count", given),
            lambda: select(func.count()).select_from(self.base).where(self.where(given)),
        )

    def statement(
        self,
        name: str,
        given: tuple[Hashable, ...],
        make: Callable[[ColumnElement[bool]], Any],
    ) -> Any:
        """A further statement over the same filters (a summary), cached under `name`."""
        return self._cached((name, given), lambda: make(self.where(given)))

    # Reading ----------------------------------------------------------------------------

    async def count(
        self,
        db: AsyncSession | AsyncConnection,
        values: Mapping[str, Any],
        extra: Mapping[str, Any] | None = None,
    ) -> int:
        """The number of rows under the filters."""
        conn = db if isinstance(db, AsyncConnection) else await db.connection()
        given, params = self.bind(values)
        params.update(extra or {})
        return int((await conn.execute(self.count_statement(given), params)).scalar_one())

    async def page(
        self,
        db: AsyncSession | AsyncConnection,
        values: Mapping[str, Any],
        *,
        page: int,
        page_size: int,
        sort_by: str | None = None,
        sort_order: SortOrder | str = SortOrder.DESC,
        total: int | None = None,
        extra: Mapping[str, Any] | None = None,
        count_when_full: bool = False,
    ) -> ListPage[Row[Any]]:
        """The page's rows (columns by name) and the total under the filters. A total the
        caller already knows (from running totals) spares the count; `extra` binds further
        parameters the filters' SQL names (the current time). `count_when_full` reads the
        page first and counts only when it is full (or empty past the first page): right
        for short lists, such as a partner's kiosks."""
        conn = db if isinstance(db, AsyncConnection) else await db.connection()
        given, params = self.bind(values)
        params.update(extra or {})
        if total is None and count_when_full:
            # A short page is the last one: its rows tell the total, no count needed.
            found = await self._rows(db, conn, given, params, page, page_size, sort_by, sort_order)
            if 0 < len(found) < page_size or (page == 1 and not found):
                return ListPage(found, (page - 1) * page_size + len(found))
            total = int((await conn.execute(self.count_statement(given), params)).scalar_one())
            return ListPage(found, total)
        if total is None:
            total = int((await conn.execute(self.count_statement(given), params)).scalar_one())
        if total == 0 or (page - 1) * page_size >= total:
            return ListPage([], total)
        found = await self._rows(db, conn, given, params, page, page_size, sort_by, sort_order)
        return ListPage(found, total)

    async def _rows(
        self,
        db: AsyncSession | AsyncConnection,
        conn: AsyncConnection,
        given: tuple[Hashable, ...],
        params: dict[str, Any],
        page: int,
        page_size: int,
        sort_by: str | None,
        sort_order: SortOrder | str,
    ) -> list[Row[Any]]:
        stmt = self.page_statement(given, sort_by or self.default_sort, sort_order)
        params = {**params, "limit": page_size, "offset": (page - 1) * page_size}
        if self.entities and isinstance(db, AsyncSession):
            return list(await db.execute(stmt, params))
        return list(await conn.execute(stmt, params))
