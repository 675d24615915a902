"""/analytics/commissions `payoutStats`: amounts and the mean processing time of payouts
completed in the period, with request and completion at known moments."""

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.resources import Resources
from tests.factories.money import (
    API,
    admin,
    commissions_of,
    make_chain,
    make_product,
    paid_order,
    request_payout,
)


async def test_payout_stats_average_processing_time(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    chain = await make_chain(resources, levels=1)
    product = await make_product(resources, price="1000.00", commission="10", points="0")
    order = await paid_order(resources, chain.buyer, product)
    (row,) = await commissions_of(db, order.id)  # 50.00 to the sponsor
    resp = await client.post(
        f"{API}/commissions/{row.id}/adjust",
        json={"action": "APPROVE", "reason": "ok"},
        headers=headers,
    )
    assert resp.status_code == 200, resp.text

    async def complete(payout_id: object) -> None:
        for action in ("approve", "process"):
            resp = await client.post(f"{API}/payouts/{payout_id}/{action}", headers=headers)
            assert resp.status_code == 200, resp.text

    first = await request_payout(resources, chain.partners[0], "25.00")
    clock.travel(timedelta(hours=2, minutes=30))
    await complete(first.id)  # 2.5 hours after its request
    second = await request_payout(resources, chain.partners[0], "15.00")
    clock.travel(timedelta(hours=1))
    await complete(second.id)  # 1 hour
    await request_payout(resources, chain.partners[0], "5.00")  # requested, not approved

    resp = await client.get(
        f"{API}/analytics/commissions", params={"period": "WEEK"}, headers=headers
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["payoutStats"] == {
        "totalRequested": 45,
        "totalApproved": 40,
        "totalProcessed": 40,
        "averageProcessingTime": 1.75,  # (2.5 + 1) / 2 hours
    }
