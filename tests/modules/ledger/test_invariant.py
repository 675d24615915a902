"""After any sequence of sales, clawbacks, adjustments and payout steps, each partner's
balance columns equal the sums over the ledger and the SPEC §6 definitions."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.errors import DomainError
from iwm.core.resources import Resources
from iwm.modules.commissions.admin_service import AdjustAction, CommissionService
from iwm.modules.commissions.models import Commission
from iwm.modules.payouts.provider import make_provider
from iwm.modules.payouts.service import PayoutProcessor, PayoutService
from iwm.modules.shop_orders.service import OrderLine, ShopOrderService
from tests.factories.kiosk_network import make_user, principal_of
from tests.factories.money import (
    balances,
    expected_balances,
    fresh,
    ledger_sums,
    make_chain,
    make_product,
)

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("order"), st.integers(1, 5), st.booleans()),
        st.tuples(st.just("cancel"), st.integers(0, 20)),
        st.tuples(
            st.sampled_from([a.value for a in AdjustAction]),
            st.integers(0, 50),
            st.integers(0, 5000),
        ),
        st.tuples(st.just("payout"), st.integers(0, 2), st.integers(100, 3000)),
        st.tuples(
            st.sampled_from(["approve", "reject", "reject_keep", "process"]), st.integers(0, 20)
        ),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
async def test_balances_always_equal_the_ledger(
    resources: Resources, db: AsyncSession, ops: list[tuple[object, ...]]
) -> None:
    chain = await make_chain(resources, levels=2)
    staff = principal_of(await make_user(resources))
    product = await make_product(resources, price="123.45", commission="20", points="3")
    orders: list[object] = []
    payouts: list[object] = []
    maker, cfg = resources.sessionmaker, resources.settings
    for op in ops:
        try:
            async with maker.begin() as s:
                kind = op[0]
                if kind == "order":
                    order = await ShopOrderService(s, cfg).place(
                        chain.buyer.id,
                        [OrderLine(product.id, int(op[1]))],  # type: ignore[call-overload]
                    )
                    orders.append(order.id)
                    if op[2]:
                        await ShopOrderService(s, cfg).pay(order.id)
                elif kind == "cancel" and orders:
                    await ShopOrderService(s, cfg).cancel(orders[int(op[1]) % len(orders)])  # type: ignore[arg-type, call-overload]
                elif kind in {a.value for a in AdjustAction}:
                    ids = list(
                        await s.scalars(select(Commission.id).order_by(Commission.created_at))
                    )
                    if ids:
                        await CommissionService(s, cfg).adjust(
                            staff,
                            ids[int(op[1]) % len(ids)],
                            AdjustAction(kind),
                            "test",  # type: ignore[call-overload]
                            int(op[2]),  # type: ignore[call-overload]
                        )
                elif kind == "payout":
                    payout = await PayoutService(s, cfg).request(
                        chain.partners[int(op[1]) % len(chain.partners)].id,
                        int(op[2]),  # type: ignore[call-overload]
                    )
                    payouts.append(payout.id)
                elif payouts and kind in ("approve", "reject", "reject_keep"):
                    pid = payouts[int(op[1]) % len(payouts)]  # type: ignore[call-overload]
                    service = PayoutService(s, cfg)
                    if kind == "approve":
                        await service.approve(staff, pid, None)  # type: ignore[arg-type]
                    else:
                        await service.reject(staff, pid, "no", kind == "reject")  # type: ignore[arg-type]
            if op[0] == "process" and payouts:
                processor = PayoutProcessor(maker, cfg, make_provider("simulated", maker))
                await processor.process(staff, payouts[int(op[1]) % len(payouts)], None)  # type: ignore[arg-type, call-overload]
        except DomainError:
            pass  # refused operations change nothing; the invariant must hold regardless
    for partner in chain.partners:
        columns = await balances(db, partner.id)
        assert columns == await ledger_sums(db, partner.id)
        assert columns == await expected_balances(await fresh(db), partner.id)
