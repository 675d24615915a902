"""Wake-ups across processes: a request waiting for something (a kiosk's long poll on its
payment session) is woken when another request, in this process or another, changes it.

`Wakeups.watch(key)` is entered before the waiter reads the state it waits on, so a change
committed between the read and the wait is never missed. The writer calls
`wake_after_commit(session, key)`: the wake-up is sent once its transaction commits.
In production the wake-ups travel over one Redis pub/sub channel (one subscriber
connection per process, whatever the number of waiters); in the embedded default they
stay in the process. A waiter holds no database connection while it waits.

A watch that is never woken tells its waiter that nothing it watches changed
(`Woken.complete`), when every wake-up could reach it: Redis had confirmed the subscription
when the watch began, and losing it wakes every waiter. What is still possible is a writer that
committed but could not publish (Redis away at that moment): its waiters learn the change
when they read the state again, at their next wait at the latest.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

log = structlog.get_logger()

_WAKEUPS_KEY = "iwm.wakeups"
_PENDING_KEY = "iwm.pending_wakeups"


class Woken(asyncio.Event):
    """Set when the watched key is woken. `complete`: a wake-up sent from any process while
    the watch lasts sets it (so, unset, nothing published a change)."""

    def __init__(self, complete: bool) -> None:
        super().__init__()
        self.complete = complete


class Wakeups:
    """One per process (it lives on `Resources`)."""

    def __init__(
        self, redis: Redis | None = None, subscriber: Redis | None = None, prefix: str = "iwm"
    ) -> None:
        """`subscriber`: a client without a read timeout, for the one blocking subscription
        (the main client's short timeout is right for commands, not for listening)."""
        self._redis = redis
        self._subscriber = subscriber or redis
        self._channel = f"{prefix}:wakeups"
        self._waiters: dict[str, set[Woken]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def shared(self) -> bool:
        """True when wake-ups reach the other processes (Redis)."""
        return self._redis is not None

    @contextlib.asynccontextmanager
    async def watch(self, key: str) -> AsyncIterator[Woken]:
        """An event set when `key` is woken while inside the block."""
        if self._redis is not None and self._listener is None:
            self._listener = asyncio.create_task(self._listen())
        if self._redis is not None:
            # Until the subscription is live a wake-up from elsewhere would be lost.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._subscribed.wait(), 2.0)
        # Without Redis, other processes cannot wake this one: never complete.
        woken = Woken(complete=self._redis is not None and self._subscribed.is_set())
        self._waiters.setdefault(key, set()).add(woken)
        try:
            yield woken
        finally:
            waiting = self._waiters.get(key)
            if waiting is not None:
                waiting.discard(woken)
                if not waiting:
                    del self._waiters[key]

    @property
    def waiting(self) -> int:
        return sum(len(w) for w in self._waiters.values())

    async def wake(self, *keys: str) -> None:
        """Wakes the waiters of `keys` in every process."""
        if self._redis is None:
            self._wake_here(keys)
            return
        try:
            await self._redis.publish(self._channel, "\n".join(keys))
        except Exception:  # Redis away: the waiters find out when their wait ends
            log.exception("wakeup.publish_failed", keys=len(keys))

    def wake_soon(self, keys: list[str]) -> None:
        """`wake` from synchronous code inside the event loop (a commit hook)."""
        task = asyncio.get_running_loop().create_task(self.wake(*keys))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _wake_here(self, keys: Iterator[str] | tuple[str, ...] | list[str]) -> None:
        for key in keys:
            for woken in self._waiters.get(key, ()):
                woken.set()

    async def _listen(self) -> None:
        assert self._subscriber is not None  # noqa: S101
        while True:
            pubsub = self._subscriber.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None:
                        continue
                    if message.get("type") == "subscribe":
                        # Redis confirmed: from now on every publish reaches this process.
                        self._subscribed.set()
                    elif message.get("type") == "message":
                        data = message["data"]
                        text = data.decode() if isinstance(data, bytes) else str(data)
                        self._wake_here(text.split("\n"))
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis restarted: subscribe again; waits end on their timer
                self._subscribed.clear()
                log.warning("wakeup.subscription_lost")
                # Everyone waiting reads again, and no longer trusts its silence: a wake-up may
                # have been lost meanwhile, and more may be until Redis is back.
                for waiting in self._waiters.values():
                    for woken in waiting:
                        woken.complete = False
                        woken.set()
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await task
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._subscriber is not None and self._subscriber is not self._redis:
            await self._subscriber.aclose()


def bind_wakeups(session_info: dict[Any, Any], wakeups: Wakeups) -> None:
    """Sessions made with this info send their wake-ups through `wakeups`."""
    session_info[_WAKEUPS_KEY] = wakeups


def wake_after_commit(session: AsyncSession, key: str) -> None:
    """Wakes the waiters of `key` once this transaction has committed (never before: a
    waiter woken early would read the old state)."""
    session.info.setdefault(_PENDING_KEY, []).append(key)


@event.listens_for(Session, "after_commit")
def _send_wakeups(session: Session) -> None:
    keys = session.info.pop(_PENDING_KEY, None)
    wakeups = session.info.get(_WAKEUPS_KEY)
    if keys and wakeups is not None:
        wakeups.wake_soon(keys)


@event.listens_for(Session, "after_rollback")
def _drop_wakeups(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
