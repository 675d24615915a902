"""Kiosk heartbeats: the hottest path of the service, kept off the database's back.

Every kiosk says it is alive every few seconds. Writing each heartbeat as its own UPDATE
made PostgreSQL and the framework the limit of the fleet's size, so in the default mode
(`heartbeat_flush_seconds` > 0) a heartbeat is answered from memory:

- the kiosk's device key hash, status and language are cached per process;
- the time of the heartbeat is kept in a per-process buffer, and the buffer is written
  once a `heartbeat_flush_seconds` in one UPDATE for all kiosks heard since the last
  write (only while their key still matches, and never moving `last_active_at` back);
- that UPDATE answers the kiosks whose state is no longer what the cache holds (a key
  replaced, a kiosk switched off or gone, a new language) and the cache follows, so a
  change made by another server process reaches this one within one flush interval. A
  change made through this process drops the kiosk from the cache when its transaction
  commits (`kiosk_changed`).

With `heartbeat_flush_seconds` = 0 every heartbeat is written at once with one
`UPDATE ... RETURNING` that checks the key in the database.
"""

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import structlog
from sqlalchemy import Table, bindparam, case, event, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from iwm.core import clock
from iwm.core.errors import is_outage
from iwm.core.metrics import HEARTBEAT_BUFFER, HEARTBEAT_FLUSH
from iwm.core.security import same_hash, token_hash
from iwm.modules.kiosks.models import Kiosk

log = structlog.get_logger()

_KIOSKS = cast(Table, Kiosk.__table__)
_HEARTBEATS_KEY = "iwm.heartbeats"
_CHANGED_KEY = "iwm.changed_kiosks"
# A kiosk heard rarely is read afresh rather than trusted from an old cache entry.
CACHE_SECONDS = 60.0
REREAD_AFTER_OUTAGE_SECONDS = 5.0

# Write-through mode: the key is checked by the UPDATE itself.
_STAMP = (
    update(_KIOSKS)
    .where(
        _KIOSKS.c.id == bindparam("kiosk_id"),
        _KIOSKS.c.device_key_hash == bindparam("key_hash"),
    )
    .values(last_active_at=bindparam("seen_at", type_=_KIOSKS.c.last_active_at.type))
    .returning(_KIOSKS.c.status, _KIOSKS.c.default_language)
)
_LOAD = select(_KIOSKS.c.device_key_hash, _KIOSKS.c.status, _KIOSKS.c.default_language).where(
    _KIOSKS.c.id == bindparam("kiosk_id")
)
# The buffered stamps of all kiosks in one statement. Rows are locked in id order first,
# so two processes flushing overlapping sets of kiosks cannot deadlock.
_LOCK_PG = text(
    "SELECT count(*) FROM (SELECT 1 FROM kiosks WHERE id = ANY(:ids) ORDER BY id FOR UPDATE) AS l"
)
# Answers only the kiosks whose state differs from what this process has cached: no
# longer stamped (key replaced, kiosk gone: NULL status) or with a new status or language.
_FLUSH_PG = text(
    """
    WITH v AS (
        SELECT * FROM unnest(
            CAST(:ids AS uuid[]), CAST(:seen AS timestamptz[]), CAST(:hashes AS text[]),
            CAST(:statuses AS text[]), CAST(:languages AS text[])
        ) AS v(id, seen_at, key_hash, status, language)
    ), stamped AS (
        UPDATE kiosks AS k
        SET last_active_at = GREATEST(k.last_active_at, v.seen_at)
        FROM v
        WHERE k.id = v.id AND k.device_key_hash = v.key_hash
        RETURNING k.id, k.status, k.default_language
    )
    SELECT v.id, s.status, s.default_language
    FROM v LEFT JOIN stamped AS s ON s.id = v.id
    WHERE s.id IS NULL
       OR s.status IS DISTINCT FROM v.status
       OR s.default_language IS DISTINCT FROM v.language
    """
)
_seen = bindparam("seen_at", type_=_KIOSKS.c.last_active_at.type)
# SQLite (the embedded default) has no arrays: one statement per kiosk, in one transaction.
_FLUSH_ONE = (
    update(_KIOSKS)
    .where(
        _KIOSKS.c.id == bindparam("kiosk_id"),
        _KIOSKS.c.device_key_hash == bindparam("key_hash"),
    )
    .values(
        last_active_at=case(
            (_KIOSKS.c.last_active_at.is_(None), _seen),
            (_KIOSKS.c.last_active_at < _seen, _seen),
            else_=_KIOSKS.c.last_active_at,
        )
    )
    .returning(_KIOSKS.c.status, _KIOSKS.c.default_language)
)


@dataclass(slots=True)
class _Device:
    key_hash: str
    status: str
    language: str
    read_at: float


class Heartbeats:
    """One per process (it lives on `Resources`)."""

    def __init__(self, engine: AsyncEngine, flush_seconds: float) -> None:
        self._engine = engine
        self._flush_seconds = flush_seconds
        self._devices: dict[uuid.UUID, _Device] = {}
        self._pending: dict[uuid.UUID, tuple[datetime, str]] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._flush_failing = False

    @property
    def buffered(self) -> bool:
        return self._flush_seconds > 0

    async def beat(self, kiosk_id: uuid.UUID, device_key: str | None) -> tuple[str, str] | None:
        """Records that the kiosk is alive and returns its (status, language); None when
        the key does not open this kiosk (the caller then finds out why)."""
        if not device_key:
            return None
        key_hash = token_hash(device_key)
        if not self.buffered:
            return await self._write_through(kiosk_id, key_hash)
        device = self._devices.get(kiosk_id)
        if device is None or time.monotonic() - device.read_at > CACHE_SECONDS:
            try:
                fresh = await self._read(kiosk_id)
            except Exception as exc:
                # The database is away: a kiosk heard before keeps its cached key and state
                # (nothing can change them meanwhile), rather than every heartbeat failing
                # once its entry is older than CACHE_SECONDS.
                if device is None or not is_outage(exc):
                    raise
                # Asked again in a few seconds, not on every heartbeat of the outage.
                device.read_at = time.monotonic() - CACHE_SECONDS + REREAD_AFTER_OUTAGE_SECONDS
                fresh = device
            if fresh is None:
                return None
            device = fresh
        if not same_hash(device.key_hash, key_hash):
            return None
        self._pending[kiosk_id] = (clock.now(), key_hash)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_periodically())
        return device.status, device.language

    def forget(self, kiosk_ids: Iterable[uuid.UUID]) -> None:
        """Drops cached kiosks: the next heartbeat reads them from the database."""
        for kiosk_id in kiosk_ids:
            self._devices.pop(kiosk_id, None)

    async def flush(self) -> int:
        """Writes the buffered heartbeats now; returns how many kiosks were stamped."""
        async with self._flush_lock:
            pending, self._pending = self._pending, {}
            HEARTBEAT_BUFFER.set(len(pending))
            if not pending:
                return 0
            try:
                with HEARTBEAT_FLUSH.time():
                    changes = await self._write(pending)
            except Exception:
                # Keep what was heard for the next attempt, unless newer stamps came in.
                for kiosk_id, stamp in pending.items():
                    self._pending.setdefault(kiosk_id, stamp)
                raise
        # Refreshed in place: thousands of new objects a second would keep the garbage
        # collector's oldest generation busy.
        now = time.monotonic()
        for kiosk_id in pending:
            device = self._devices.get(kiosk_id)
            if device is not None:
                device.read_at = now
        missing = 0
        for kiosk_id, status, language in changes:
            device = self._devices.get(kiosk_id)
            if status is None or language is None:
                missing += 1
                self._devices.pop(kiosk_id, None)
            elif device is not None:
                device.status, device.language = status, language
        return len(pending) - missing

    async def close(self) -> None:
        """Stops the periodic writer and writes what is still buffered."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        if self._pending:
            try:
                await self.flush()
            except Exception:  # shutting down without a database: the next beats restamp
                log.exception("heartbeat_flush_failed", pending=len(self._pending))

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            try:
                await self.flush()
            except Exception as exc:  # the database is away: keep the stamps, try again later
                if not is_outage(exc):
                    log.exception("heartbeat_flush_failed", pending=len(self._pending))
                elif not self._flush_failing:
                    # Once per outage, without a traceback: it repeats every interval.
                    log.warning(
                        "heartbeat.flush_failed", pending=len(self._pending), error=repr(exc)[:200]
                    )
                self._flush_failing = True
            else:
                self._flush_failing = False

    async def _read(self, kiosk_id: uuid.UUID) -> _Device | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(_LOAD, {"kiosk_id": kiosk_id})).one_or_none()
        if row is None:
            self._devices.pop(kiosk_id, None)
            return None
        device = _Device(row[0], row[1], row[2], time.monotonic())
        self._devices[kiosk_id] = device
        return device

    async def _write_through(self, kiosk_id: uuid.UUID, key_hash: str) -> tuple[str, str] | None:
        params = {"kiosk_id": kiosk_id, "key_hash": key_hash, "seen_at": clock.now()}
        if self._engine.dialect.name == "postgresql":
            # Autocommit: one round trip instead of BEGIN, UPDATE, COMMIT.
            async with self._engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                row = (await auto.execute(_STAMP, params)).one_or_none()
        else:
            async with self._engine.begin() as conn:
                row = (await conn.execute(_STAMP, params)).one_or_none()
        return (row[0], row[1]) if row is not None else None

    async def _write(
        self, pending: dict[uuid.UUID, tuple[datetime, str]]
    ) -> list[tuple[uuid.UUID, str | None, str | None]]:
        """Stamps the kiosks; answers those whose cached state is out of date."""
        ids = sorted(pending)
        cached = [self._devices.get(i) for i in ids]
        async with self._engine.begin() as conn:
            if self._engine.dialect.name == "postgresql":
                await conn.execute(_LOCK_PG, {"ids": ids})
                result = await conn.execute(
                    _FLUSH_PG,
                    {
                        "ids": ids,
                        "seen": [pending[i][0] for i in ids],
                        "hashes": [pending[i][1] for i in ids],
                        "statuses": [d.status if d else None for d in cached],
                        "languages": [d.language if d else None for d in cached],
                    },
                )
                return [(r[0], r[1], r[2]) for r in result]
            changes: list[tuple[uuid.UUID, str | None, str | None]] = []
            for kiosk_id, device in zip(ids, cached, strict=True):
                seen_at, key_hash = pending[kiosk_id]
                params = {"kiosk_id": kiosk_id, "key_hash": key_hash, "seen_at": seen_at}
                row = (await conn.execute(_FLUSH_ONE, params)).one_or_none()
                if row is None:
                    changes.append((kiosk_id, None, None))
                elif device is None or (row[0], row[1]) != (device.status, device.language):
                    changes.append((kiosk_id, row[0], row[1]))
            return changes


def bind_heartbeats(session_info: dict[Any, Any], heartbeats: Heartbeats) -> None:
    """Lets sessions made with this info tell `heartbeats` which kiosks they changed."""
    session_info[_HEARTBEATS_KEY] = heartbeats


def heartbeat_buffer(
    engine: AsyncEngine, flush_seconds: float, session_info: dict[Any, Any]
) -> Heartbeats:
    """The buffer the app runs with (`Resources.build(settings, heartbeat_buffer)`): sessions
    made with `session_info` drop the kiosks they change from its cache when they commit."""
    heartbeats = Heartbeats(engine, flush_seconds)
    bind_heartbeats(session_info, heartbeats)
    return heartbeats


def kiosk_changed(session: AsyncSession, kiosk_id: uuid.UUID) -> None:
    """The kiosk's key, status or language changes in this transaction: its cached
    device state is dropped once the transaction commits."""
    session.info.setdefault(_CHANGED_KEY, set()).add(kiosk_id)


@event.listens_for(Session, "after_commit")
def _forget_changed_kiosks(session: Session) -> None:
    changed = session.info.pop(_CHANGED_KEY, None)
    heartbeats = session.info.get(_HEARTBEATS_KEY)
    if changed and heartbeats is not None:
        heartbeats.forget(changed)


@event.listens_for(Session, "after_rollback")
def _discard_changed_kiosks(session: Session) -> None:
    session.info.pop(_CHANGED_KEY, None)
