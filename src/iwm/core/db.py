"""Engine, sessions and the declarative base shared by every module."""

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, DateTime, MetaData, delete, event, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from iwm.core import clock
from iwm.core.config import Settings, get_settings
from iwm.core.files import private_sqlite_file

# The app's settings in every session's info (`Resources.build`), for event handlers that
# run inside another module's transaction.
SETTINGS_INFO_KEY = "iwm.settings"


def settings_of(session: AsyncSession) -> Settings:
    """The app's settings riding along with the session (`Resources.build`), else the
    process's own: for event handlers running inside another module's transaction."""
    settings = session.info.get(SETTINGS_INFO_KEY)
    return settings if isinstance(settings, Settings) else get_settings()


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in Python on both databases; SQLite stores naive UTC text that sorts."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class CreatedAtMixin:
    created_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)


def _lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def _upper(value: str | None) -> str | None:
    return value.upper() if isinstance(value, str) else value


def make_engine(settings: Settings, *, sqlite_immediate: bool = True) -> AsyncEngine:
    """On SQLite, transactions take the write lock at BEGIN (see below) unless told not to:
    a read-only observer (tests, reports) can use deferred transactions instead."""
    if settings.is_sqlite:
        private_sqlite_file(settings.database_url.get_secret_value())
        engine = create_async_engine(
            settings.database_url.get_secret_value(), connect_args={"timeout": 30}
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Transactions are begun by the "begin" hook below, not by the driver.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # SQLite's own lower() and upper() know ASCII only, so a case-insensitive search
            # missed "Ёлкин" or "MÜLLER"; these are Python's, as PostgreSQL's are Unicode's.
            # No SQLite index is built on them.
            dbapi_conn.create_function("lower", 1, _lower, deterministic=True)
            dbapi_conn.create_function("upper", 1, _upper, deterministic=True)

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Take the write lock at BEGIN so two writers queue (busy_timeout) instead of
            # failing with "database is locked" when one upgrades a read transaction.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if sqlite_immediate else "BEGIN")

        return engine
    return checked_on_checkout(
        create_async_engine(
            settings.database_url.get_secret_value(),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_timeout=settings.db_pool_timeout_seconds,
            connect_args=_pg_timeouts(settings),
            # Most recently used first: a hot few connections keep their prepared statements
            # and plans warm, and the rest may idle out.
            pool_use_lifo=True,
        )
    )


# A connection used this recently is taken as alive without a round trip.
PING_AFTER_IDLE_SECONDS = 2.0


def checked_on_checkout(engine: AsyncEngine) -> AsyncEngine:
    """A connection dropped by a database restart is found and replaced before use, instead
    of failing the first request each pooled connection serves afterwards.

    SQLAlchemy's `pool_pre_ping` pings at every checkout, and on asyncpg a ping is three
    round trips (BEGIN, an empty query, ROLLBACK): more than the SQL of a short request.
    Here a connection whose socket is closed (a restart closes them all) is replaced at
    once, one idle for a while is pinged, and one in use a moment ago is trusted: if it
    died in between, the statement fails and the pool drops it (`is_disconnect`)."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        now = time.monotonic()
        last = record.info.get("used_at", 0.0)
        record.info["used_at"] = now
        if dbapi_conn._connection.is_closed():
            raise DisconnectionError("connection closed")
        if now - last > PING_AFTER_IDLE_SECONDS:
            try:
                dbapi_conn.ping()
            except Exception as exc:
                raise DisconnectionError(str(exc)) from exc

    return engine


def make_liveness_engine(settings: Settings, main: AsyncEngine) -> AsyncEngine:
    """Connections for liveness stamps (kiosk heartbeats) only.

    On PostgreSQL their commits do not wait for the WAL flush (`synchronous_commit=off`):
    a crash may lose the last fraction of a second of heartbeats, which the next heartbeat
    rewrites anyway, and a thousand fsyncs a second stop limiting the fleet. Nothing else,
    and never money, goes through these connections. SQLite shares the main engine.
    """
    if settings.is_sqlite:
        return main
    engine = create_async_engine(
        settings.database_url.get_secret_value(),
        pool_size=max(2, settings.db_pool_size // 2),
        max_overflow=settings.db_pool_size // 2,
        pool_timeout=settings.db_pool_timeout_seconds,
        connect_args={
            **_pg_timeouts(settings),
            "server_settings": {"synchronous_commit": "off"},
        },
    )
    return checked_on_checkout(engine)


def _pg_timeouts(settings: Settings) -> dict[str, Any]:
    """asyncpg's bounds: to open a connection, and per statement (a hung server)."""
    return {
        "timeout": settings.db_connect_timeout_seconds,
        "command_timeout": settings.db_command_timeout_seconds,
    }


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def session_scope(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction: committed when the block ends cleanly, rolled back otherwise."""
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def count_where(
    maker: async_sessionmaker[AsyncSession], condition: ColumnElement[bool]
) -> int:
    """Rows of the condition's table that match it."""
    table = condition.left.table
    async with maker() as db:
        result = await db.execute(select(func.count()).select_from(table).where(condition))
        return int(result.scalar_one())


async def delete_in_batches(
    maker: async_sessionmaker[AsyncSession],
    model: Any,
    condition: ColumnElement[bool],
    batch_size: int,
) -> int:
    """Deletes the rows of `model` that match `condition`, each batch its own short
    transaction so that the API keeps serving; the number deleted."""
    removed = 0
    while True:
        async with maker.begin() as db:
            ids = list(
                (await db.execute(select(model.id).where(condition).limit(batch_size))).scalars()
            )
            if not ids:
                break
            await db.execute(delete(model).where(model.id.in_(ids)))
        removed += len(ids)
    return removed
