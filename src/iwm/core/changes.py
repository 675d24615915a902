"""Change notices for the shops' live screens: "something of shop X changed".

A write path says which shops it changed (`shop_changed`); once its transaction commits,
the notice goes to every open screen of those shops, in this process and, through one
Redis channel, in every other app process. A screen told of a change reads the database
again: a notice carries no data, so a lost one costs a refresh at the next notice or at
the screen's own periodic check, never a wrong screen.
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.orm import Session

log = structlog.get_logger()

_CHANGED_KEY = "iwm.changed_shops"
_FEED_KEY = "iwm.change_feed"


class Subscription:
    """One open screen: set when one of its shops changed."""

    def __init__(self, shop_ids: frozenset[uuid.UUID]) -> None:
        self.shop_ids = shop_ids
        self._changed = asyncio.Event()

    def notify(self) -> None:
        self._changed.set()

    async def wait(self, seconds: float) -> bool:
        """True when a change came within `seconds` (and clears it)."""
        try:
            await asyncio.wait_for(self._changed.wait(), seconds)
        except TimeoutError:
            return False
        self._changed.clear()
        return True


class ChangeFeed:
    """Notices within this process (the embedded default: one process)."""

    def __init__(self) -> None:
        self._subs: dict[uuid.UUID, set[Subscription]] = {}

    @property
    def open_screens(self) -> int:
        return len({s for subs in self._subs.values() for s in subs})

    def _deliver(self, shop_ids: Iterable[uuid.UUID]) -> None:
        for shop_id in shop_ids:
            for sub in self._subs.get(shop_id, ()):
                sub.notify()

    def announce(self, shop_ids: set[uuid.UUID]) -> None:
        """Called after a commit, from synchronous code."""
        self._deliver(shop_ids)

    async def start(self) -> None:
        return None

    @contextlib.asynccontextmanager
    async def subscribe(self, shop_ids: Iterable[uuid.UUID]) -> AsyncIterator[Subscription]:
        await self.start()
        sub = Subscription(frozenset(shop_ids))
        for shop_id in sub.shop_ids:
            self._subs.setdefault(shop_id, set()).add(sub)
        try:
            yield sub
        finally:
            for shop_id in sub.shop_ids:
                subs = self._subs.get(shop_id)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._subs[shop_id]

    async def close(self) -> None:
        return None


class RedisChangeFeed(ChangeFeed):
    """Notices between app processes: one Redis channel, listened to by one task per
    process from the first open screen on."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        super().__init__()
        self._redis = redis
        self._channel = f"{prefix}:shop-changes"
        self._listener: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[Any]] = set()

    def announce(self, shop_ids: set[uuid.UUID]) -> None:
        message = ",".join(str(s) for s in shop_ids)
        try:
            task = asyncio.get_running_loop().create_task(self._publish(message))
        except RuntimeError:  # no loop (a synchronous script): nobody is watching
            return
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish(self, message: str) -> None:
        try:
            await self._redis.publish(self._channel, message)
        except Exception as exc:  # a lost notice: screens catch up by themselves
            log.warning("changes.publish_failed", error=str(exc))

    async def start(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel)
                    async for message in pubsub.listen():
                        data = message.get("data")
                        if isinstance(data, bytes):
                            self._deliver(_ids(data.decode()))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: listen again shortly
                log.warning("changes.listen_failed", error=str(exc))
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        for task in list(self._sending):
            with contextlib.suppress(Exception):
                await task


def _ids(text: str) -> list[uuid.UUID]:
    found = []
    for part in text.split(","):
        with contextlib.suppress(ValueError):
            found.append(uuid.UUID(part))
    return found


def bind_feed(session_info: dict[Any, Any], feed: ChangeFeed) -> None:
    """Sessions made with this info announce the shops they changed when they commit."""
    session_info[_FEED_KEY] = feed


def shop_changed(session: Any, shop_id: uuid.UUID) -> None:
    """Something the shop's screen shows changes in this transaction (an AsyncSession or
    a Session): its screens are told once the transaction commits."""
    session.info.setdefault(_CHANGED_KEY, set()).add(shop_id)


@event.listens_for(Session, "after_commit")
def _announce_changed_shops(session: Session) -> None:
    changed = session.info.pop(_CHANGED_KEY, None)
    feed = session.info.get(_FEED_KEY)
    if changed and feed is not None:
        feed.announce(changed)


@event.listens_for(Session, "after_rollback")
def _discard_changed_shops(session: Session) -> None:
    session.info.pop(_CHANGED_KEY, None)
