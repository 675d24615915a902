"""The network's figures per partner and level: `network_levels` (members and sales volume
of each level below a partner), `network_partners.network_size` and `direct_referrals`.
Kept by `PartnerJoined` and `SalesVolumeBooked`; rebuilt from the closure rows and the
partners' own sales volume."""

from sqlalchemy import ColumnElement, ScalarSelect, and_, delete, func, insert, select, update
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


async def _volume(session: AsyncSession, event: SalesVolumeBooked) -> None:
    """The same amount to the partner's level in each upline's row (locked in key order)."""
    upline = (
        select(NetworkTreeEdge.ancestor_id, NetworkTreeEdge.depth)
        .where(NetworkTreeEdge.descendant_id == event.partner_id, NetworkTreeEdge.depth >= 1)
        .subquery()
    )
    matches = and_(
        NetworkLevel.ancestor_id == upline.c.ancestor_id, NetworkLevel.depth == upline.c.depth
    )
    await session.execute(
        select(NetworkLevel.ancestor_id)
        .join(upline, matches)
        .order_by(NetworkLevel.ancestor_id, NetworkLevel.depth)
        .with_for_update(of=NetworkLevel)
    )
    await session.execute(
        update(NetworkLevel)
        .where(
            select(upline.c.ancestor_id)
            .where(
                upline.c.ancestor_id == NetworkLevel.ancestor_id,
                upline.c.depth == NetworkLevel.depth,
            )
            .exists()
        )
        .values(volume_minor=NetworkLevel.volume_minor + event.delta_minor)
        .execution_options(synchronize_session=False)
    )


def _subscribe(bus: Subscriptions) -> None:
    bus.on(PartnerJoined, _joined)
    bus.on(SalesVolumeBooked, _volume)


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
