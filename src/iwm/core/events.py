"""Domain events inside the writer's transaction, and the projections they feed.

A service that changes state publishes a typed event (a frozen dataclass deriving from
`Event`) with `await publish(session, event)`. Every handler subscribed to the event's
class or one of its bases runs at once, in the order the projections were registered, on
the publisher's own `AsyncSession`: what a handler writes commits or rolls back with the
change itself, and a handler's exception reaches the publisher (the request fails, nothing
is committed). There is no queue and no second transaction.

A change that makes many rows at once (a sale's commissions for every upline level)
publishes their events together with `publish_all`: a handler subscribed with `on_many`
gets all of them in one call and writes its rows in one statement, instead of one
round trip per event while the writer holds its locks.

A `Projection` is a derived table (or derived columns) kept by its handlers, together with
`rebuild` (recompute it from the source rows) and `snapshot` (read it in a comparable form).
Projections live in the module that owns the derived rows and subscribe to events of that
module or of modules below it; the entry points register them all once at startup
(`iwm.projections.install`). `check` compares every projection with a rebuild of it in a
transaction that is rolled back: the difference is the drift.
"""

import contextlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from sqlalchemy import Executable, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iwm.core.progress import OnProgress, silent


class Event:
    """Base of every domain event: a frozen dataclass naming what happened, with the
    values its subscribers need (ids and figures, never ORM rows)."""

    __slots__ = ()


E = TypeVar("E", bound=Event)
Handler = Callable[[AsyncSession, Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Subscription:
    event: type[Event]
    handler: Handler
    many: bool
    """The handler takes a list of events (`on_many`), not one."""


Key = tuple[Any, ...]
Rows = dict[Key, tuple[Any, ...]]
Snapshot = dict[str, Rows]
"""A projection's rows by table label: key columns -> value columns, normalized."""


class Subscriptions(Protocol):
    def on(self, event: type[E], handler: Callable[[AsyncSession, E], Awaitable[None]]) -> None:
        """Subscribe `handler` to `event` and its subclasses."""

    def on_many(
        self, event: type[E], handler: Callable[[AsyncSession, list[E]], Awaitable[None]]
    ) -> None:
        """Subscribe `handler` to `event` and its subclasses, with every such event of one
        `publish_all` in one call (a single `publish` calls it with a list of one)."""


@dataclass(eq=False)
class Projection:
    """A derived table kept by event handlers. `subscribe` declares the handlers (called
    once, at registration); `rebuild` recomputes everything from the source rows;
    `snapshot` reads the derived rows for `check` (sharded counters summed over their
    shards, rows of zeros left out, so an incremental and a rebuilt table compare equal)."""

    name: str
    owner: str
    subscribe: Callable[[Subscriptions], None]
    rebuild: Callable[[AsyncSession], Awaitable[None]]
    snapshot: Callable[[AsyncSession], Awaitable[Snapshot]]


@dataclass
class _Registry:
    projections: dict[str, Projection] = field(default_factory=dict)
    subscriptions: list[_Subscription] = field(default_factory=list)
    by_type: dict[type[Event], list[_Subscription]] = field(default_factory=dict)
    """The subscriptions of each event class published so far, in registration order."""
    owners: set[str] = field(default_factory=set)

    def on(self, event: type[E], handler: Callable[[AsyncSession, E], Awaitable[None]]) -> None:
        self.subscriptions.append(_Subscription(event, handler, many=False))
        self.by_type.clear()

    def on_many(
        self, event: type[E], handler: Callable[[AsyncSession, list[E]], Awaitable[None]]
    ) -> None:
        self.subscriptions.append(_Subscription(event, handler, many=True))
        self.by_type.clear()

    def handlers(self, event: type[Event]) -> list[_Subscription]:
        found = self.by_type.get(event)
        if found is None:
            found = [sub for sub in self.subscriptions if issubclass(event, sub.event)]
            self.by_type[event] = found
        return found


_registry = _Registry()


def register(*projections: Projection) -> None:
    """Registers projections (again registering the same one is a no-op, so entry points
    and tests may all call the installer)."""
    for projection in projections:
        known = _registry.projections.get(projection.name)
        if known is projection:
            continue
        if known is not None:
            raise RuntimeError(f"two projections named {projection.name!r}")
        _registry.projections[projection.name] = projection
        projection.subscribe(_registry)


def handle(owner: str, subscribe: Callable[[Subscriptions], None]) -> None:
    """Registers an owner's handlers of events of the modules below it (a kiosk session
    becomes paid when its payment succeeds): state changes, not derived rows, so they are
    no projection and have nothing to rebuild. Once per owner name."""
    if owner in _registry.owners:
        return
    _registry.owners.add(owner)
    subscribe(_registry)


def projections() -> list[Projection]:
    """The registered projections, in registration order."""
    return list(_registry.projections.values())


@contextlib.contextmanager
def recorded(event: type[E]) -> Iterator[list[E]]:
    """The events of `event`'s class (and subclasses) published while inside, in order: for
    tests and tools that watch a flow without a projection of their own."""
    seen: list[E] = []

    async def handler(_session: AsyncSession, happened: E) -> None:
        seen.append(happened)

    _registry.on(event, handler)
    try:
        yield seen
    finally:
        _registry.subscriptions.remove(_Subscription(event, handler, many=False))
        _registry.by_type.clear()


def _ensure_heard() -> None:
    # An event nobody hears would leave every derived table behind without a trace.
    if not _registry.projections:
        raise RuntimeError("no projections registered: call iwm.projections.install() first")


async def publish(session: AsyncSession, event: Event) -> None:
    """Runs every handler of `event` (subscribed to its class or a base class) on `session`,
    now. Fails when no projection is registered."""
    _ensure_heard()
    for sub in _registry.handlers(type(event)):
        await sub.handler(session, [event] if sub.many else event)


async def publish_all(session: AsyncSession, events: Sequence[Event]) -> None:
    """Publishes `events` together, handler by handler in registration order: an `on_many`
    handler gets every one of them it listens to in one call, any other handler gets them
    one by one, in the order given."""
    _ensure_heard()
    if not events:
        return
    heard: dict[_Subscription, list[Event]] = {}
    for event in events:
        for sub in _registry.handlers(type(event)):
            heard.setdefault(sub, []).append(event)
    for sub in _registry.subscriptions:
        mine = heard.get(sub)
        if not mine:
            continue
        if sub.many:
            await sub.handler(session, mine)
        else:
            for event in mine:
                await sub.handler(session, event)


# -- rebuild and check ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Difference:
    table: str
    key: Key
    kept: tuple[Any, ...] | None
    """What the projection holds (None: row missing)."""
    rebuilt: tuple[Any, ...] | None
    """What a rebuild from the source rows gives (None: row should not exist)."""


@dataclass(frozen=True, slots=True)
class Drift:
    projection: str
    owner: str
    differences: list[Difference]

    @property
    def amount(self) -> int:
        """Sum of the absolute differences of the integer values, over all rows."""
        total = 0
        for d in self.differences:
            kept = d.kept or (0,) * len(d.rebuilt or ())
            rebuilt = d.rebuilt or (0,) * len(kept)
            for a, b in zip(kept, rebuilt, strict=True):
                if isinstance(a, int) and isinstance(b, int):
                    total += abs(a - b)
        return total


def _compare(kept: Snapshot, rebuilt: Snapshot) -> list[Difference]:
    out: list[Difference] = []
    for table in sorted(set(kept) | set(rebuilt)):
        a, b = kept.get(table, {}), rebuilt.get(table, {})
        for key in sorted(set(a) | set(b), key=lambda k: tuple(str(p) for p in k)):
            if a.get(key) != b.get(key):
                out.append(Difference(table, key, a.get(key), b.get(key)))
    return out


async def check(
    maker: async_sessionmaker[AsyncSession], on_progress: OnProgress = silent
) -> list[Drift]:
    """Every projection against a rebuild of it from the source rows, in one transaction
    that is rolled back: nothing is changed. One `Drift` per projection, in order."""
    async with maker() as session:
        try:
            before = {p.name: await p.snapshot(session) for p in projections()}
            every = projections()
            for done, p in enumerate(every):
                on_progress(f"check {p.name}", done, len(every))
                await p.rebuild(session)
            on_progress("check", len(every), len(every))
            await session.flush()
            return [
                Drift(p.name, p.owner, _compare(before[p.name], await p.snapshot(session)))
                for p in projections()
            ]
        finally:
            await session.rollback()


async def rebuild(
    maker: async_sessionmaker[AsyncSession], on_progress: OnProgress = silent
) -> None:
    """Recomputes every projection from the source rows, in one transaction."""
    async with maker.begin() as session:
        every = projections()
        for done, p in enumerate(every):
            on_progress(f"rebuild {p.name}", done, len(every))
            await p.rebuild(session)
        on_progress("rebuild", len(every), len(every))


# -- snapshot helpers ---------------------------------------------------------------------


def normalize(value: Any) -> Any:
    """One form per value whatever the database returned: integers for integral sums
    (PostgreSQL gives decimals), aware UTC datetimes (SQLite gives naive ones)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal) and value == int(value):
        return int(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return value


async def rows_of(session: AsyncSession, stmt: Executable, keys: int) -> Rows:
    """The statement's rows as key (the first `keys` columns) -> the other columns,
    normalized; rows whose values are all zero are left out."""
    out: Rows = {}
    for row in await session.execute(stmt):
        values = tuple(normalize(v) for v in row[keys:])
        if all(v == 0 for v in values):
            continue
        out[tuple(normalize(v) for v in row[:keys])] = values
    return out


async def summed(
    session: AsyncSession, keys: Iterable[Any], values: Iterable[Any], *where: Any
) -> Rows:
    """A sharded counter table summed over its shards: key columns -> summed values."""
    keys, values = list(keys), list(values)
    stmt = select(*keys, *(func.sum(v) for v in values)).where(*where).group_by(*keys)
    return await rows_of(session, stmt, len(keys))
