"""`check` finds a projection that left its source rows behind, and `rebuild` repairs it."""

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import events
from iwm.core.resources import Resources
from iwm.modules.network.models import NetworkPartner
from tests.factories.money import balances, fresh, ledger_sums, make_chain, make_product, paid_order


def _drift(drifts: list[events.Drift]) -> dict[str, int]:
    return {d.projection: len(d.differences) for d in drifts if d.differences}


async def test_balances_drift_is_found_and_rebuilt(resources: Resources, db: AsyncSession) -> None:
    chain = await make_chain(resources, levels=2)
    product = await make_product(resources, price="100.00", commission="10", points="2")
    await paid_order(resources, chain.buyer, product, 2)
    maker = resources.sessionmaker
    assert _drift(await events.check(maker)) == {}

    sponsor = chain.partners[0]
    async with maker.begin() as s:
        await s.execute(
            update(NetworkPartner)
            .where(NetworkPartner.id == sponsor.id)
            .values(pending_minor=NetworkPartner.pending_minor + 7)
        )
    drifts = await events.check(maker)
    assert _drift(drifts) == {"partner_balances": 1}
    (drift,) = [d for d in drifts if d.differences]
    assert drift.owner == "ledger"
    assert drift.amount == 7
    assert await balances(db, sponsor.id) != await ledger_sums(await fresh(db), sponsor.id)

    await events.rebuild(maker)
    assert _drift(await events.check(maker)) == {}
    assert await balances(await fresh(db), sponsor.id) == await ledger_sums(db, sponsor.id)
