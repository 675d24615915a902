"""The commission engine: a paid order or an investment pays each upline level."""

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.resources import Resources
from iwm.modules.commissions.models import CommissionStatus, SourceType
from iwm.modules.ledger.service import Shares
from tests.factories.money import (
    balances,
    cancel_order,
    commissions_of,
    ledger_sums,
    make_chain,
    make_person,
    make_product,
    paid_order,
    pay_order,
    place_order,
)


async def test_paid_order_pays_each_upline_level_from_the_plan(
    resources: Resources, db: AsyncSession
) -> None:
    chain = await make_chain(resources, levels=3)
    product = await make_product(resources, price="100.00", commission="10", points="5")
    order = await place_order(resources, chain.buyer, product, quantity=2)
    assert await commissions_of(db, order.id) == []  # nothing before payment

    await pay_order(resources, order)
    rows = await commissions_of(db, order.id)
    # volume = 200.00 * 10% = 20.00; plan 50/20/10 % for levels 1..3
    assert [(r.level_depth, r.partner_id, r.gross_minor, r.net_minor) for r in rows] == [
        (1, chain.partners[2].id, 1000, 1000),
        (2, chain.partners[1].id, 400, 400),
        (3, chain.partners[0].id, 200, 200),
    ]
    assert all(r.status == CommissionStatus.PENDING for r in rows)
    assert all(r.career_points == 10 for r in rows)  # 5% of 200.00
    assert all(r.source_type == SourceType.ORDER for r in rows)
    assert all(r.source_partner_id == chain.buyer_partner.id for r in rows)
    level1 = chain.partners[2].id
    assert await balances(db, level1) == Shares(pending=1000, career_points=10)
    assert await ledger_sums(db, level1) == await balances(db, level1)


async def test_rounding_is_half_up_once_per_commission(
    resources: Resources, db: AsyncSession
) -> None:
    chain = await make_chain(resources, levels=2)
    # 33.33 * 12.5% = 4.16625; level 1 (50%) = 2.083125 -> 2.08; level 2 (20%) = 0.83325 -> 0.83
    product = await make_product(resources, price="33.33", commission="12.5", points="0")
    order = await paid_order(resources, chain.buyer, product)
    rows = await commissions_of(db, order.id)
    assert [r.gross_minor for r in rows] == [208, 83]
    assert Decimal(rows[0].gross_minor) / 100 == Decimal("2.08")


async def test_buyer_without_partner_profile_makes_no_commissions(
    resources: Resources, db: AsyncSession
) -> None:
    buyer = await make_person(resources)
    product = await make_product(resources)
    order = await paid_order(resources, buyer, product)
    assert await commissions_of(db, order.id) == []


async def test_cancelling_a_paid_order_reverses_its_commissions(
    resources: Resources, db: AsyncSession
) -> None:
    chain = await make_chain(resources, levels=2)
    product = await make_product(resources)
    order = await paid_order(resources, chain.buyer, product)
    await cancel_order(resources, order)
    rows = await commissions_of(db, order.id)
    assert {r.status for r in rows} == {CommissionStatus.REVERSED}
    for partner in chain.partners:
        assert await balances(db, partner.id) == Shares()
        assert await ledger_sums(db, partner.id) == Shares()
