"""The partner balance columns (`network_partners.available_minor`, `pending_minor`,
`total_earned_minor`, `total_withdrawn_minor`, `career_points_total`): the sums of the
partner's ledger entries, kept by `LedgerPosted`. The columns sit on the partner row, so
that a payout request reads them under the partner's lock; the ledger owns their values."""

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.events import Projection, Snapshot, Subscriptions, rows_of
from iwm.modules.ledger.events import LedgerPosted
from iwm.modules.ledger.models import LedgerEntry
from iwm.modules.network.models import NetworkPartner

_COLUMNS = (
    NetworkPartner.available_minor,
    NetworkPartner.pending_minor,
    NetworkPartner.total_earned_minor,
    NetworkPartner.total_withdrawn_minor,
    NetworkPartner.career_points_total,
)
_DELTAS = (
    LedgerEntry.available_delta,
    LedgerEntry.pending_delta,
    LedgerEntry.earned_delta,
    LedgerEntry.withdrawn_delta,
    LedgerEntry.career_points_delta,
)


async def _posted(session: AsyncSession, event: LedgerPosted) -> None:
    deltas = (event.available, event.pending, event.earned, event.withdrawn, event.career_points)
    if not any(deltas):
        return
    # One atomic UPDATE: the partner row is locked by the poster, and concurrent postings
    # to other partners never meet.
    await session.execute(
        update(NetworkPartner)
        .where(NetworkPartner.id == event.partner_id)
        .values({column: column + delta for column, delta in zip(_COLUMNS, deltas, strict=True)})
        .execution_options(synchronize_session=False)
    )


def _subscribe(bus: Subscriptions) -> None:
    bus.on(LedgerPosted, _posted)


async def _rebuild(session: AsyncSession) -> None:
    values = {
        column: select(func.coalesce(func.sum(delta), 0))
        .where(LedgerEntry.partner_id == NetworkPartner.id)
        .scalar_subquery()
        for column, delta in zip(_COLUMNS, _DELTAS, strict=True)
    }
    await session.execute(
        update(NetworkPartner).values(values).execution_options(synchronize_session=False)
    )


async def _snapshot(session: AsyncSession) -> Snapshot:
    return {
        "network_partners balances": await rows_of(session, select(NetworkPartner.id, *_COLUMNS), 1)
    }


BALANCES = Projection(
    name="partner_balances",
    owner="ledger",
    subscribe=_subscribe,
    rebuild=_rebuild,
    snapshot=_snapshot,
)
