"""The partner balance columns (`network_partners.available_minor`, `pending_minor`,
`total_earned_minor`, `total_withdrawn_minor`, `career_points_total`): the sums of the
partner's ledger entries, kept by `LedgerPosted`. The columns sit on the partner row, so
that a payout request reads them under the partner's lock; the ledger owns their values."""

import uuid
from typing import cast

from sqlalchemy import Table, bindparam, func, select, update
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


_PARTNERS = cast(Table, NetworkPartner.__table__)
# One UPDATE statement, run once per partner with its summed deltas (an executemany: one
# round trip for a sale's whole upline). On the Core table: the ORM would read a list of
# parameters as a bulk update by primary key.
_ADD_DELTAS = (
    update(_PARTNERS)
    .where(_PARTNERS.c.id == bindparam("partner"))
    .values({column.key: column + bindparam(f"add_{column.key}") for column in _COLUMNS})
)


async def _posted(session: AsyncSession, events: list[LedgerPosted]) -> None:
    by_partner: dict[uuid.UUID, list[int]] = {}
    for event in events:
        deltas = (
            event.available,
            event.pending,
            event.earned,
            event.withdrawn,
            event.career_points,
        )
        sums = by_partner.setdefault(event.partner_id, [0] * len(_COLUMNS))
        for i, delta in enumerate(deltas):
            sums[i] += delta
    # Atomic increments; the poster holds the partners' locks, and concurrent postings to
    # other partners never meet. In id order, as every writer locks partner rows.
    params = [
        {"partner": partner, **{f"add_{c.key}": d for c, d in zip(_COLUMNS, sums, strict=True)}}
        for partner, sums in sorted(by_partner.items())
        if any(sums)
    ]
    if params:
        await session.execute(_ADD_DELTAS, params)


def _subscribe(bus: Subscriptions) -> None:
    bus.on_many(LedgerPosted, _posted)


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
