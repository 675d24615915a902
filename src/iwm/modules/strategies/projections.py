"""`participation_returns`: each participation's `returns_distributed_minor` (every
return credited) and `pending_returns_minor` (credited, not yet paid out), kept by the
return events; the strategies' `totalReturnsDistributed` and `pendingReturns` sum them."""

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.events import Projection, Snapshot, Subscriptions, rows_of
from iwm.modules.strategies.events import ReturnCredited, ReturnsPaid
from iwm.modules.strategies.models import InvestmentReturn, Participation, ReturnStatus


async def _credited(session: AsyncSession, event: ReturnCredited) -> None:
    await session.execute(
        update(Participation)
        .where(Participation.id == event.participation_id)
        .values(
            returns_distributed_minor=Participation.returns_distributed_minor + event.amount_minor,
            pending_returns_minor=Participation.pending_returns_minor
            + (0 if event.paid else event.amount_minor),
        )
        .execution_options(synchronize_session=False)
    )


async def _paid(session: AsyncSession, event: ReturnsPaid) -> None:
    await session.execute(
        update(Participation)
        .where(Participation.id == event.participation_id)
        .values(pending_returns_minor=Participation.pending_returns_minor - event.amount_minor)
        .execution_options(synchronize_session=False)
    )


def _subscribe(bus: Subscriptions) -> None:
    bus.on(ReturnCredited, _credited)
    bus.on(ReturnsPaid, _paid)


def _sum(*conditions: object) -> object:
    r = InvestmentReturn
    return (
        select(func.coalesce(func.sum(r.amount_minor), 0))
        .where(r.participation_id == Participation.id, *conditions)  # type: ignore[arg-type]
        .scalar_subquery()
    )


async def _rebuild(session: AsyncSession) -> None:
    await session.execute(
        update(Participation)
        .values(
            returns_distributed_minor=_sum(),
            pending_returns_minor=_sum(InvestmentReturn.status == ReturnStatus.CREDITED),
        )
        .execution_options(synchronize_session=False)
    )


async def _snapshot(session: AsyncSession) -> Snapshot:
    p = Participation
    stmt = select(p.id, p.returns_distributed_minor, p.pending_returns_minor)
    return {"strategy_participations returns": await rows_of(session, stmt, 1)}


PARTICIPATION_RETURNS = Projection(
    name="participation_returns",
    owner="strategies",
    subscribe=_subscribe,
    rebuild=_rebuild,
    snapshot=_snapshot,
)
