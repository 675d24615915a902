"""`commission_totals`: count and net sum per (status, source type), the unfiltered
summary of the admin list, kept by the commission events."""

from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.counters import bump, recount
from iwm.core.events import Projection, Snapshot, Subscriptions, summed
from iwm.modules.commissions.events import CommissionChanged, CommissionEvent
from iwm.modules.commissions.models import Commission, CommissionTotal


async def _moved(session: AsyncSession, event: CommissionEvent) -> None:
    if isinstance(event, CommissionChanged):
        key = {"status": event.before_status, "source_type": event.source_type}
        await bump(session, CommissionTotal, key, -1, -event.before_net_minor)
    key = {"status": event.status, "source_type": event.source_type}
    await bump(session, CommissionTotal, key, 1, event.net_minor)


def _subscribe(bus: Subscriptions) -> None:
    bus.on(CommissionEvent, _moved)


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
