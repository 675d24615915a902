"""Whatever sequence of operations the services run (accounts, enrolments, addresses,
orders placed, paid, moved and cancelled, investments and their end, partner statuses,
commission actions, payout steps, months' returns and ranks, on days spread around
today), every projection equals a rebuild from the source rows: `events.check`, the
function behind `iwm rebuild-projections --check`, finds no drift."""

import uuid
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock, events
from iwm.core.errors import DomainError
from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.commissions.admin_service import AdjustAction, CommissionService
from iwm.modules.commissions.engine import qualify_ranks
from iwm.modules.commissions.models import Commission
from iwm.modules.network.models import PartnerStatus
from iwm.modules.network.service import NetworkService
from iwm.modules.payouts.provider import make_provider
from iwm.modules.payouts.service import PayoutProcessor, PayoutService
from iwm.modules.shop_orders.models import ShopOrderStatus
from iwm.modules.shop_orders.service import OrderLine, ShopOrderService
from iwm.modules.strategies.models import Participation, ParticipationStatus
from iwm.modules.strategies.service import ParticipationService, distribute_returns
from iwm.modules.users.service import UserService
from tests.conftest import wipe
from tests.factories.kiosk_network import make_user, principal_of
from tests.factories.money import make_chain, make_person, make_product, make_strategy

EXAMPLES = 20
"""Examples per configuration: each runs up to 20 operations and a full check (about
20 s per configuration on this machine)."""

INDEX = st.integers(0, 50)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("join"), st.one_of(st.none(), INDEX)),
        st.tuples(st.just("address"), INDEX, st.sampled_from(["DE", "RU", "FR"])),
        st.tuples(st.just("order"), INDEX, INDEX, st.integers(1, 4), st.booleans()),
        st.tuples(st.sampled_from(["pay", "cancel"]), INDEX),
        st.tuples(
            st.just("move"),
            INDEX,
            st.sampled_from(
                [ShopOrderStatus.PROCESSING, ShopOrderStatus.SHIPPED, ShopOrderStatus.DELIVERED]
            ),
        ),
        st.tuples(st.just("invest"), INDEX, st.integers(100, 2000)),
        st.tuples(st.sampled_from(list(AdjustAction)), INDEX, st.integers(0, 5000)),
        st.tuples(st.just("payout"), INDEX, st.integers(100, 3000)),
        st.tuples(
            st.sampled_from(["approve", "reject", "reject_keep", "withdraw", "process"]), INDEX
        ),
        st.tuples(st.just("travel"), st.integers(-72, 72)),
        # A month later: last month's returns and ranks (with their bonuses).
        st.tuples(st.just("month")),
        st.tuples(st.just("finish"), INDEX, st.booleans()),
        st.tuples(st.just("status"), INDEX, st.sampled_from(["ACTIVE", "SUSPENDED", "TERMINATED"])),
    ),
    min_size=1,
    max_size=20,
)


def _pick(items: list[Any], index: object) -> Any:
    return items[int(index) % len(items)]  # type: ignore[call-overload]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
async def test_no_projection_drifts_whatever_the_services_do(
    resources: Resources, db: AsyncSession, ops: list[tuple[Any, ...]]
) -> None:
    await wipe(resources)  # each example from an empty database, so a failure is its own
    maker, cfg = resources.sessionmaker, resources.settings
    chain = await make_chain(resources, levels=2)
    staff = principal_of(await make_user(resources, Role.ADMIN))
    products = [
        await make_product(resources, price="19.99", commission="10", points="1"),
        await make_product(resources, price="250.00", commission="20", points="0"),
    ]
    strategy = await make_strategy(resources)
    users = [*chain.users, chain.buyer]
    partners = [*chain.partners, chain.buyer_partner]
    orders: list[uuid.UUID] = []
    payouts: list[uuid.UUID] = []
    # A paid order of every partner to start from, so that cancellations, moves and
    # commission actions have something to act on from the first operation.
    for buyer in users:
        async with maker.begin() as s:
            order = await ShopOrderService(s, cfg).place(buyer.id, [OrderLine(products[0].id, 2)])
            await ShopOrderService(s, cfg).pay(order.id)
            orders.append(order.id)
    try:
        for op in ops:
            kind = op[0]
            if kind == "travel":
                clock.travel(timedelta(hours=op[1]))
                continue
            if kind == "month":
                clock.travel(timedelta(days=31))
                await distribute_returns(resources)
                await qualify_ranks(resources)
                continue
            if kind == "join":
                user = await make_person(resources, "Joiner")
                users.append(user)
                if op[1] is None:
                    continue
                sponsor = _pick(partners, op[1])
                async with maker.begin() as s:
                    partners.append(await NetworkService(s, cfg).enroll(user.id, sponsor.id))
                continue
            try:
                async with maker.begin() as s:
                    await _run(
                        s, cfg, staff, op, users, partners, products, strategy, orders, payouts
                    )
                if kind == "process" and payouts:
                    processor = PayoutProcessor(maker, cfg, make_provider("simulated", maker))
                    await processor.process(staff, _pick(payouts, op[1]), None)
            except DomainError:
                pass  # a refused operation changes nothing
        drifts = await events.check(maker)
    finally:
        clock.reset()
    assert {d.projection: d.differences for d in drifts if d.differences} == {}
    assert {d.projection for d in drifts} >= {
        "partner_balances",
        "network_levels",
        "commission_totals",
        "shop_order_totals",
        "participation_returns",
        "analytics_rollups",
    }


async def _run(
    s: AsyncSession,
    cfg: Any,
    staff: Any,
    op: tuple[Any, ...],
    users: list[Any],
    partners: list[Any],
    products: list[Any],
    strategy: uuid.UUID,
    orders: list[uuid.UUID],
    payouts: list[uuid.UUID],
) -> None:
    kind = op[0]
    shop = ShopOrderService(s, cfg)
    if kind == "address":
        await UserService(s).add_address(
            _pick(users, op[1]).id, country=op[2], city="Capital", is_default=True
        )
    elif kind == "order":
        order = await shop.place(
            _pick(users, op[1]).id, [OrderLine(_pick(products, op[2]).id, op[3])]
        )
        orders.append(order.id)
        if op[4]:
            await shop.pay(order.id, "SBP")
    elif kind == "pay" and orders:
        await shop.pay(_pick(orders, op[1]))
    elif kind == "cancel" and orders:
        await shop.cancel(_pick(orders, op[1]), staff)
    elif kind == "move" and orders:
        await shop.admin_update(staff, _pick(orders, op[1]), op[2], {})
    elif kind == "finish":
        ids = list(await s.scalars(select(Participation.id).order_by(Participation.created_at)))
        if ids:
            status = ParticipationStatus.COMPLETED if op[2] else ParticipationStatus.WITHDRAWN
            await ParticipationService(s, cfg).finish(_pick(ids, op[1]), status)
    elif kind == "status":
        await NetworkService(s, cfg).set_status(
            staff, _pick(partners, op[1]).id, PartnerStatus(op[2]), "test"
        )
    elif kind == "invest":
        await ParticipationService(s, cfg).invest(_pick(users, op[1]).id, strategy, op[2] * 100)
    elif isinstance(kind, AdjustAction):
        ids = list(await s.scalars(select(Commission.id).order_by(Commission.created_at)))
        if ids:
            await CommissionService(s, cfg).adjust(staff, _pick(ids, op[1]), kind, "test", op[2])
    elif kind == "payout":
        payout = await PayoutService(s, cfg).request(_pick(partners, op[1]).id, op[2])
        payouts.append(payout.id)
    elif kind in ("approve", "reject", "reject_keep", "withdraw") and payouts:
        service, payout_id = PayoutService(s, cfg), _pick(payouts, op[1])
        if kind == "approve":
            await service.approve(staff, payout_id, None)
        elif kind == "withdraw":
            await service.cancel(payout_id)
        else:
            await service.reject(staff, payout_id, "no", kind == "reject")
