"""`commission_totals`: count and net sum per (status, source type), the unfiltered
summary of the admin list, kept by the commission events."""

from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.counters import add_many, recount
from iwm.core.events import Projection, Snapshot, Subscriptions, summed
from iwm.modules.commissions.events import CommissionChanged, CommissionEvent
from iwm.modules.commissions.models import Commission, CommissionTotal


async def _moved(session: AsyncSession, events: list[CommissionEvent]) -> None:
    totals: dict[tuple[str, str], dict[str, int]] = {}

    def move(status: str, source_type: str, count: int, amount: int) -> None:
        row = totals.setdefault((status, source_type), {"row_count": 0, "amount_minor": 0})
        row["row_count"] += count
        row["amount_minor"] += amount

    for event in events:
        if isinstance(event, CommissionChanged):
            move(event.before_status, event.source_type, -1, -event.before_net_minor)
        move(event.status, event.source_type, 1, event.net_minor)
    await add_many(session, CommissionTotal, ("status", "source_type"), totals)


def _subscribe(bus: Subscriptions) -> None:
    bus.on_many(CommissionEvent, _moved)


async def _rebuild(session: AsyncSession) -> None:
    await recount(
        session, CommissionTotal, [Commission.status, Commission.source_type], Commission.net_minor
    )


async def _snapshot(session: AsyncSession) -> Snapshot:
    t = CommissionTotal
    rows = await summed(session, (t.status, t.source_type), (t.row_count, t.amount_minor))
    return {"commission_totals": rows}


COMMISSION_TOTALS = Projection(
    name="commission_totals",
    owner="commissions",
    subscribe=_subscribe,
    rebuild=_rebuild,
    snapshot=_snapshot,
)
