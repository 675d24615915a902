"""Each step of a payout, and each investment, is published as a domain event in the
transaction that makes it."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.events import recorded
from iwm.core.resources import Resources
from iwm.modules.payouts import events as ev
from iwm.modules.strategies.events import ParticipationEvent, ParticipationStarted
from tests.factories.money import (
    API,
    admin,
    commissions_of,
    invest,
    make_chain,
    make_product,
    make_strategy,
    paid_order,
    request_payout,
)


async def test_every_payout_step_is_an_event(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    staff, headers = await admin(client, resources)
    chain = await make_chain(resources, levels=1)
    product = await make_product(resources, price="1000.00", commission="10", points="0")
    order = await paid_order(resources, chain.buyer, product)
    (commission,) = await commissions_of(db, order.id)
    approved = await client.post(
        f"{API}/commissions/{commission.id}/adjust",
        json={"action": "APPROVE", "reason": "ok"},
        headers=headers,
    )
    assert approved.status_code == 200, approved.text
    partner = chain.partners[0]

    with recorded(ev.PayoutEvent) as seen:
        paid = await request_payout(resources, partner, "20.00")
        kept = await request_payout(resources, partner, "10.00")
        for path in (f"{paid.id}/approve", f"{paid.id}/process"):
            resp = await client.post(f"{API}/payouts/{path}", json={}, headers=headers)
            assert resp.status_code == 200, resp.text
        resp = await client.post(
            f"{API}/payouts/{kept.id}/reject",
            json={"reason": "duplicate", "returnToBalance": True},
            headers=headers,
        )
        assert resp.status_code == 200, resp.text

    steps = [(type(e), e.payout_id) for e in seen]
    assert steps == [
        (ev.PayoutReserved, paid.id),
        (ev.PayoutReserved, kept.id),
        (ev.PayoutApproved, paid.id),
        (ev.PayoutProcessing, paid.id),
        (ev.PayoutCompleted, paid.id),
        (ev.PayoutRejected, kept.id),
    ]
    assert all(e.partner_id == partner.id for e in seen)
    assert [e.amount_minor for e in seen] == [2000, 1000, 2000, 2000, 2000, 1000]
    assert seen[2].admin_id == staff.id
    rejected = seen[-1]
    assert isinstance(rejected, ev.PayoutRejected)
    assert rejected.funds_returned is True


async def test_an_investment_is_an_event(client: httpx.AsyncClient, resources: Resources) -> None:
    await admin(client, resources)
    chain = await make_chain(resources, levels=1)
    strategy_id = await make_strategy(resources)
    with recorded(ParticipationEvent) as seen:
        await invest(resources, chain.buyer, strategy_id, "1000.00")
    assert len(seen) == 1
    (started,) = seen
    assert isinstance(started, ParticipationStarted)
    assert (started.strategy_id, started.user_id, started.amount_minor) == (
        strategy_id,
        chain.buyer.id,
        100000,
    )
