"""The network's figures per partner and level: `network_levels` (members and sales volume
of each level below a partner), `network_partners.network_size` and `direct_referrals`.
Kept by `PartnerJoined` and `SalesVolumeBooked`; rebuilt from the closure rows and the
partners' own sales volume."""

import uuid
from collections import defaultdict
from typing import cast

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from iwm.core.events import Projection, Snapshot, Subscriptions, rows_of
from iwm.core.upsert import upsert
from iwm.modules.network.events import PartnerJoined, SalesVolumeBooked
from iwm.modules.network.models import NetworkLevel, NetworkPartner, NetworkTreeEdge


async def _joined(session: AsyncSession, event: PartnerJoined) -> None:
    if not event.upline:
        return
    ancestor_ids = sorted(a for a, _ in event.upline)
    await session.execute(
        update(NetworkPartner)
        .where(NetworkPartner.id.in_(ancestor_ids))
        .values(network_size=NetworkPartner.network_size + 1)
    )
    await session.execute(
        update(NetworkPartner)
        .where(NetworkPartner.id == event.sponsor_id)
        .values(direct_referrals=NetworkPartner.direct_referrals + 1)
    )
    # One more partner at each (ancestor, level): an upsert, in key order.
    await session.execute(
        upsert(
            session,
            NetworkLevel,
            [
                {"ancestor_id": a, "depth": d, "members": 1, "volume_minor": 0}
                for a, d in sorted(event.upline)
            ],
            key=["ancestor_id", "depth"],
            add=["members"],
        )
    )


_LEVELS = cast(Table, NetworkLevel.__table__)
# One UPDATE run once per (ancestor, level) row (an executemany). On the Core table: the
# ORM would read a list of parameters as a bulk update by primary key.
_ADD_LEVEL_VOLUME = (
    update(_LEVELS)
    .where(_LEVELS.c.ancestor_id == bindparam("ancestor"), _LEVELS.c.depth == bindparam("level"))
    .values(volume_minor=_LEVELS.c.volume_minor + bindparam("delta"))
)


async def _volumes(session: AsyncSession, events: list[SalesVolumeBooked]) -> None:
    """Each partner's amount to his level in each of his uplines' rows: the rows of all
    the partners locked by one statement in key order (so concurrent bookings of buyers
    under a shared ancestor never deadlock), then moved by one executemany."""
    deltas: dict[uuid.UUID, int] = defaultdict(int)
    for event in events:
        deltas[event.partner_id] += event.delta_minor
    partners = sorted(p for p, d in deltas.items() if d)
    if not partners:
        return
    edge = NetworkTreeEdge
    rows = await session.execute(
        select(edge.descendant_id, NetworkLevel.ancestor_id, NetworkLevel.depth)
        .join(
            NetworkLevel,
            and_(NetworkLevel.ancestor_id == edge.ancestor_id, NetworkLevel.depth == edge.depth),
        )
        .where(edge.descendant_id.in_(partners), edge.depth >= 1)
        .order_by(NetworkLevel.ancestor_id, NetworkLevel.depth)
        .with_for_update(of=NetworkLevel)
    )
    per_level: dict[tuple[uuid.UUID, int], int] = defaultdict(int)
    for descendant, ancestor, depth in rows:
        per_level[(ancestor, depth)] += deltas[descendant]
    params = [
        {"ancestor": ancestor, "level": depth, "delta": delta}
        for (ancestor, depth), delta in sorted(per_level.items())
        if delta
    ]
    if params:
        await session.execute(_ADD_LEVEL_VOLUME, params)


def _subscribe(bus: Subscriptions) -> None:
    bus.on(PartnerJoined, _joined)
    bus.on_many(SalesVolumeBooked, _volumes)


async def _rebuild(session: AsyncSession) -> None:
    edge = NetworkTreeEdge
    below = aliased(NetworkPartner)
    await session.execute(delete(NetworkLevel))
    await session.execute(
        insert(NetworkLevel).from_select(
            ["ancestor_id", "depth", "members", "volume_minor"],
            select(
                edge.ancestor_id,
                edge.depth,
                func.count(),
                func.coalesce(func.sum(below.sales_volume_minor), 0),
            )
            .join(below, below.id == edge.descendant_id)
            .where(edge.depth >= 1)
            .group_by(edge.ancestor_id, edge.depth),
        )
    )

    def count(where: ColumnElement[bool]) -> ScalarSelect[int]:
        return (
            select(func.count())
            .select_from(edge)
            .where(edge.ancestor_id == NetworkPartner.id, where)
            .scalar_subquery()
        )

    await session.execute(
        update(NetworkPartner)
        .values(network_size=count(edge.depth >= 1), direct_referrals=count(edge.depth == 1))
        .execution_options(synchronize_session=False)
    )


async def _snapshot(session: AsyncSession) -> Snapshot:
    return {
        "network_levels": await rows_of(
            session,
            select(
                NetworkLevel.ancestor_id,
                NetworkLevel.depth,
                NetworkLevel.members,
                NetworkLevel.volume_minor,
            ),
            2,
        ),
        "network_partners sizes": await rows_of(
            session,
            select(NetworkPartner.id, NetworkPartner.network_size, NetworkPartner.direct_referrals),
            1,
        ),
    }


NETWORK_LEVELS = Projection(
    name="network_levels",
    owner="network",
    subscribe=_subscribe,
    rebuild=_rebuild,
    snapshot=_snapshot,
)
