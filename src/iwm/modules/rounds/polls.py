"""The reads of kiosks' long polls, taken together.

A fleet's polls come in bursts (kiosks reconnecting after a restart, polls ending within
the same seconds). Read one by one, a burst of a thousand polls is a thousand statements
queueing for the process's pooled connections, which the webhooks and the round starts
need too. Here a poll's read joins the next statement: while one is running, the reads
asked for meanwhile gather, and the next statement reads them all (the session and its
kiosk's device key hash, one primary-key join). One poll alone is read at once; a burst
costs a few statements and one connection.
"""

import asyncio
import uuid
from collections.abc import Iterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from iwm.core.config import Settings
from iwm.core.resources import Resources
from iwm.modules.rounds.models import KioskSession
from iwm.modules.rounds.service import RoundService

Found = tuple[KioskSession, str] | None
# At most this many sessions in one statement: loading the rows holds the event loop (tens
# of microseconds a row), and the heartbeats answered by the same loop should not wait long.
BATCH = 100


class SessionReads:
    """One per app (`reads_of`): the rows it hands out are detached and only read."""

    def __init__(self, maker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._maker = maker
        self._settings = settings
        self._asked: dict[uuid.UUID, list[asyncio.Future[Found]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def read(self, session_id: uuid.UUID) -> Found:
        """The session with its kiosk's device key hash; None when there is no such session.
        Raises what the read raised (a database outage)."""
        answer: asyncio.Future[Found] = asyncio.get_running_loop().create_future()
        self._asked.setdefault(session_id, []).append(answer)
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_all())
        return await answer

    async def _read_all(self) -> None:
        batch: dict[uuid.UUID, list[asyncio.Future[Found]]] = {}
        try:
            while self._asked:
                ids = list(self._asked)[:BATCH]
                batch = {i: self._asked.pop(i) for i in ids}
                try:
                    async with self._maker() as db:
                        found = await RoundService(db, self._settings).get_many_with_keys(ids)
                except Exception as exc:  # every poll of the batch answers the failure
                    for answer in _open(batch):
                        answer.set_exception(exc)
                else:
                    for session_id, waiting in batch.items():
                        for answer in _open({session_id: waiting}):
                            answer.set_result(found.get(session_id))
                batch = {}
        finally:
            self._reader = None
            # Stopped (shutting down): nobody is left waiting for an answer that never comes.
            for answer in [*_open(batch), *_open(self._asked)]:
                answer.cancel()
            self._asked.clear()


def _open(
    batch: dict[uuid.UUID, list[asyncio.Future[Found]]],
) -> Iterator[asyncio.Future[Found]]:
    """The answers still awaited (a poll cancelled meanwhile is not answered)."""
    for waiting in batch.values():
        yield from (answer for answer in waiting if not answer.done())


def reads_of(request: Request, resources: Resources) -> SessionReads:
    """The app's one `SessionReads`."""
    reads: SessionReads | None = getattr(request.app.state, "kiosk_session_reads", None)
    if reads is None:
        reads = SessionReads(resources.read_sessionmaker, resources.settings)
        request.app.state.kiosk_session_reads = reads
    return reads
