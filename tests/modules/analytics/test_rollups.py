"""The rollups equal the raw aggregates after a sequence of writes (payments, refunds,
reversals, amount changes, payouts), and `rebuild` gives the same rows back."""

import random
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.errors import DomainError
from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.analytics import rollups
from iwm.modules.analytics.models import (
    ALL_CATEGORIES,
    CommissionDaily,
    CustomerSales,
    PartnerCommissions,
    ProductSalesDaily,
    SalesDaily,
    UsersDaily,
)
from iwm.modules.commissions.admin_service import AdjustAction, CommissionService
from iwm.modules.commissions.models import Commission
from iwm.modules.shop_orders.models import PaymentStatus, ShopOrder, ShopOrderItem
from iwm.modules.users.models import User
from tests.factories.kiosk_network import make_user, principal_of
from tests.factories.money import (
    cancel_order,
    fresh,
    make_chain,
    make_product,
    paid_order,
    place_order,
)


async def _rollups(db: AsyncSession) -> dict[str, object]:
    await fresh(db)
    sales = {
        (d, v): (int(n), int(r))
        for d, v, n, r in await db.execute(
            select(
                SalesDaily.day,
                SalesDaily.value,
                func.sum(SalesDaily.orders),
                func.sum(SalesDaily.revenue_minor),
            )
            .where(SalesDaily.category_id == ALL_CATEGORIES)
            .group_by(SalesDaily.day, SalesDaily.dimension, SalesDaily.value)
        )
        if n or r
    }
    products = {
        (d, p): (int(q), int(r))
        for d, p, q, r in await db.execute(
            select(
                ProductSalesDaily.day,
                ProductSalesDaily.product_id,
                func.sum(ProductSalesDaily.quantity),
                func.sum(ProductSalesDaily.revenue_minor),
            ).group_by(ProductSalesDaily.day, ProductSalesDaily.product_id)
        )
        if q or r
    }
    commissions = {
        (d, s, lv, st): (int(n), int(a))
        for d, s, lv, st, n, a in await db.execute(
            select(
                CommissionDaily.day,
                CommissionDaily.source_type,
                CommissionDaily.level,
                CommissionDaily.status,
                func.sum(CommissionDaily.row_count),
                func.sum(CommissionDaily.amount_minor),
            ).group_by(
                CommissionDaily.day,
                CommissionDaily.source_type,
                CommissionDaily.level,
                CommissionDaily.status,
            )
        )
        if n or a
    }
    customers = {
        u: (int(n), f.replace(microsecond=0), last.replace(microsecond=0))
        for u, n, f, last in await db.execute(
            select(
                CustomerSales.user_id,
                CustomerSales.paid_orders,
                CustomerSales.first_paid_at,
                CustomerSales.last_paid_at,
            ).where(CustomerSales.category_id == ALL_CATEGORIES)
        )
    }
    partners = {
        p: int(n)
        for p, n in await db.execute(
            select(PartnerCommissions.partner_id, PartnerCommissions.row_count)
        )
    }
    users = {
        d: int(n)
        for d, n in await db.execute(
            select(UsersDaily.day, func.sum(UsersDaily.registered)).group_by(UsersDaily.day)
        )
    }
    return {
        "sales": sales,
        "products": products,
        "commissions": commissions,
        "customers": customers,
        "partners": partners,
        "users": users,
    }


async def _raw(db: AsyncSession) -> dict[str, object]:
    """The same figures straight from the raw tables, summed here in Python."""
    await fresh(db)
    orders = list(
        await db.scalars(select(ShopOrder).where(ShopOrder.payment_status == PaymentStatus.PAID))
    )
    sales: dict[tuple[object, str], list[int]] = defaultdict(lambda: [0, 0])
    customers: dict[object, list[object]] = {}
    for o in orders:
        assert o.paid_at is not None
        for value in ("", "CARD", "UNKNOWN"):  # every order here: card, no address
            sales[(o.paid_at.date(), value)][0] += 1
            sales[(o.paid_at.date(), value)][1] += o.total_minor
        paid_at = o.paid_at.replace(microsecond=0)
        c = customers.setdefault(o.user_id, [0, paid_at, paid_at])
        c[0] = int(c[0]) + 1  # type: ignore[call-overload]
        c[1] = min(c[1], paid_at)  # type: ignore[type-var]
        c[2] = max(c[2], paid_at)  # type: ignore[type-var]
    products: dict[tuple[object, object], list[int]] = defaultdict(lambda: [0, 0])
    paid_ids = {o.id: o for o in orders}
    for item in await db.scalars(select(ShopOrderItem)):
        if item.order_id in paid_ids:
            day = paid_ids[item.order_id].paid_at.date()  # type: ignore[union-attr]
            products[(day, item.product_id)][0] += item.quantity
            products[(day, item.product_id)][1] += item.line_total_minor
    commissions: dict[tuple[object, ...], list[int]] = defaultdict(lambda: [0, 0])
    partners: dict[object, int] = defaultdict(int)
    for c in await db.scalars(select(Commission)):
        key = (c.created_at.date(), c.source_type, c.level_depth or 0, c.status)
        commissions[key][0] += 1
        commissions[key][1] += c.net_minor
        partners[c.partner_id] += 1
    users: dict[object, int] = defaultdict(int)
    for u in await db.scalars(select(User)):
        users[u.created_at.date()] += 1
    return {
        "sales": {k: tuple(v) for k, v in sales.items()},
        "products": {k: tuple(v) for k, v in products.items()},
        "commissions": {k: tuple(v) for k, v in commissions.items()},
        "customers": {k: tuple(v) for k, v in customers.items()},
        "partners": dict(partners),
        "users": dict(users),
    }


async def test_rollups_follow_every_write_and_rebuild_agrees(
    resources: Resources, db: AsyncSession
) -> None:
    rng = random.Random(7)
    chain = await make_chain(resources, levels=3)
    products = [
        await make_product(resources, price=p, commission="10", points="0")
        for p in ("19.99", "100.00", "7.35")
    ]
    staff = await make_user(resources, Role.ADMIN)
    buyers = [chain.buyer, *chain.users[1:]]
    paid: list[ShopOrder] = []
    for step in range(30):
        clock.travel(timedelta(hours=rng.randint(1, 30)) * (-1 if step < 10 else 1))
        action = rng.random()
        if action < 0.55 or not paid:
            order = await paid_order(
                resources, rng.choice(buyers), rng.choice(products), rng.randint(1, 3)
            )
            paid.append(order)
        elif action < 0.7:
            await cancel_order(resources, paid.pop(rng.randrange(len(paid))))
        elif action < 0.8:
            await place_order(resources, rng.choice(buyers), rng.choice(products))
        else:
            row = await db.scalar(
                select(Commission)
                .where(Commission.status.in_(("PENDING", "HELD", "APPROVED")))
                .order_by(Commission.created_at)
                .limit(1)
            )
            await fresh(db)
            if row is None:
                continue
            verb = rng.choice(list(AdjustAction))
            async with resources.sessionmaker.begin() as s:
                try:
                    await CommissionService(s, resources.settings).adjust(
                        principal_of(staff),
                        row.id,
                        verb,
                        "checked",
                        row.net_minor // 2 if verb is AdjustAction.ADJUST_AMOUNT else None,
                    )
                except DomainError:  # a refused action changes nothing
                    await s.rollback()
    clock.reset()

    raw = await _raw(db)
    assert raw["commissions"], "the sequence made commissions"
    assert any(k[3] == "REVERSED" for k in raw["commissions"])  # type: ignore[attr-defined]
    kept = await _rollups(db)
    assert kept == raw

    async with resources.sessionmaker.begin() as s:
        await rollups.rebuild(s)
    assert await _rollups(db) == raw
