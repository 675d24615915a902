"""INSERT ... ON CONFLICT for both databases. PostgreSQL and SQLite spell it the same way,
but SQLAlchemy keeps the construct in each dialect's own module."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

Insert = PgInsert | SqliteInsert


def _table(target: type[DeclarativeBase] | Table) -> Table:
    table = target if isinstance(target, Table) else target.__table__
    assert isinstance(table, Table)  # noqa: S101 (a mapped class always has one)
    return table


def insert(session: AsyncSession, target: type[DeclarativeBase] | Table) -> Insert:
    """An INSERT on `target` in the session's dialect, with `on_conflict_do_*`."""
    table = _table(target)
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(
    session: AsyncSession,
    target: type[DeclarativeBase] | Table,
    values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    add: Sequence[str] = (),
    set_: Callable[[Any], Mapping[str, Any]] | None = None,
) -> Insert:
    """Inserts `values`; a row whose `key` exists instead gets each `add` column increased by
    the new value and the columns `set_(excluded)` returns set, where `excluded.<column>` is
    the value the insert proposed. With neither, the conflicting row is left as it is."""
    table = _table(target)
    return _on_conflict(insert(session, table).values(values), table, key, add, set_)


def _on_conflict(
    stmt: Insert,
    table: Table,
    key: Sequence[str],
    add: Sequence[str],
    set_: Callable[[Any], Mapping[str, Any]] | None,
) -> Insert:
    changes: dict[str, Any] = {name: table.c[name] + stmt.excluded[name] for name in add}
    if set_ is not None:
        changes.update(set_(stmt.excluded))
    if not changes:
        return stmt.on_conflict_do_nothing(index_elements=list(key))
    return stmt.on_conflict_do_update(index_elements=list(key), set_=changes)


_BUILT: dict[tuple[Any, ...], Insert] = {}


async def upsert_rows(
    session: AsyncSession,
    target: type[DeclarativeBase] | Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    add: Sequence[str] = (),
    set_: Callable[[Any], Mapping[str, Any]] | None = None,
) -> None:
    """`upsert` of `rows` (each with the same columns) in one round trip: the statement is
    built once per table, dialect and conflict rule (`set_` a function defined once, not a
    new lambda per call) and run with the rows as its parameters, which the driver sends
    together. Building an ON CONFLICT statement anew costs more than running it; so does
    compiling a multi-row VALUES, whose shape changes with the number of rows."""
    if not rows:
        return
    table = _table(target)
    dialect = session.get_bind().dialect.name
    built_key = (dialect, table, tuple(key), tuple(add), set_)
    stmt = _BUILT.get(built_key)
    if stmt is None:
        stmt = _on_conflict(insert(session, table), table, key, add, set_)
        _BUILT[built_key] = stmt
    await session.execute(stmt, [dict(row) for row in rows])
