"""The money side of the admin user and partner views: stats, balances, recent commissions
and payouts, the current period's career points and sales volume, all made through the
services (orders, investments, payouts) and read over the API."""

from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.resources import Resources
from iwm.modules.commissions.models import Commission
from iwm.modules.payouts.models import Payout
from tests.factories.money import (
    API,
    admin,
    cancel_order,
    commissions_of,
    fresh,
    invest,
    make_chain,
    make_product,
    make_strategy,
    paid_order,
    place_order,
    request_payout,
)


def tick() -> None:
    clock.travel(timedelta(seconds=1))  # distinct creation times, in the order made


async def test_user_stats_count_orders_and_investments(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await admin(client, resources)
    chain = await make_chain(resources, levels=1)
    product = await make_product(resources, price="120.50")
    strategy = await make_strategy(resources)
    await paid_order(resources, chain.buyer, product, 2)  # 241.00 paid
    await place_order(resources, chain.buyer, product)  # not paid yet
    refunded = await paid_order(resources, chain.buyer, product)
    await cancel_order(resources, refunded)  # paid, then refunded: spent nothing
    await invest(resources, chain.buyer, strategy, "600.00")
    await invest(resources, chain.buyer, strategy, "150.25")

    listed = await client.get(f"{API}/users", headers=headers, params={"pageSize": 100})
    assert listed.status_code == 200, listed.text
    by_id = {u["id"]: u for u in listed.json()["data"]["users"]}
    assert by_id[str(chain.buyer.id)]["stats"] == {
        "ordersCount": 3,
        "totalSpent": 241,
        "investmentsCount": 2,
        "totalInvested": 750.25,
    }
    # A user who bought nothing still shows zeros.
    assert by_id[str(chain.users[0].id)]["stats"] == {
        "ordersCount": 0,
        "totalSpent": 0,
        "investmentsCount": 0,
        "totalInvested": 0,
    }

    detail = await client.get(f"{API}/users/{chain.buyer.id}", headers=headers)
    assert detail.json()["data"]["stats"] == {
        "ordersCount": 3,
        "totalSpent": 241,
        "investmentsCount": 2,
        "totalInvested": 750.25,
        "commissionsEarned": 0,
        "referralsCount": 0,
    }


async def test_partner_detail_reflects_commissions_and_payouts(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    chain = await make_chain(resources, levels=2)
    sponsor = chain.partners[-1]  # level 1 above the buyer: 50% of the volume
    product = await make_product(resources, price="100.00", commission="10", points="5")
    strategy = await make_strategy(resources)  # 3% commission, 1% career points

    first = await paid_order(resources, chain.buyer, product, 2)  # 10.00, 10 points
    tick()
    second = await paid_order(resources, chain.buyer, product)  # 5.00, 5 points
    tick()
    await cancel_order(resources, second)  # reversed: its points go back
    await invest(resources, chain.buyer, strategy, "600.00")  # 9.00, 6 points
    tick()
    (first_commission, *_) = await commissions_of(db, first.id)
    approved = await client.post(
        f"{API}/commissions/{first_commission.id}/adjust",
        json={"action": "APPROVE", "reason": "Verified"},
        headers=headers,
    )
    assert approved.status_code == 200, approved.text
    payout = await request_payout(resources, sponsor, "4.00")

    resp = await client.get(f"{API}/partners/{sponsor.id}", headers=headers)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["balance"] == {
        "available": 6,
        "pending": 9,
        "totalEarned": 10,
        "totalWithdrawn": 0,
        "careerPointsTotal": 16,
        "careerPointsPeriod": 16,
        "currency": resources.settings.currency,
    }
    assert data["stats"]["commissionsCount"] == 3
    assert data["stats"]["payoutsCount"] == 1
    assert [(c["amount"], c["sourceType"], c["status"]) for c in data["recentCommissions"]] == [
        (9, "INVESTMENT", "PENDING"),
        (5, "ORDER", "REVERSED"),
        (10, "ORDER", "APPROVED"),
    ]
    assert data["recentPayouts"] == [
        {
            "id": str(payout.id),
            "amount": 4,
            "status": "PENDING",
            "createdAt": clock.iso(payout.created_at.replace(microsecond=0)),
        }
    ]
    assert data["payoutDetails"]["method"] == "BANK_TRANSFER"
    assert data["payoutDetails"]["maskedDetails"] == "****4312"

    # The partner list shows the same balances.
    listed = await client.get(f"{API}/partners", headers=headers, params={"pageSize": 100})
    item = next(p for p in listed.json()["data"]["partners"] if p["id"] == str(sponsor.id))
    assert item["stats"] | {"directReferrals": 0, "networkSize": 0} == {
        "directReferrals": 0,
        "networkSize": 0,
        "totalEarned": 10,
        "totalWithdrawn": 0,
        "availableBalance": 6,
        "pendingBalance": 9,
    }


async def test_career_points_period_is_the_current_month(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    chain = await make_chain(resources, levels=1)
    sponsor = chain.partners[-1]
    product = await make_product(resources, price="100.00", commission="10", points="5")
    await paid_order(resources, chain.buyer, product, 3)  # 15 points this month

    async def points() -> tuple[int, int]:
        resp = await client.get(f"{API}/partners/{sponsor.id}", headers=headers)
        balance = resp.json()["data"]["balance"]
        return balance["careerPointsPeriod"], balance["careerPointsTotal"]

    assert await points() == (15, 15)

    clock.travel(timedelta(days=40))  # next month: a new period, the total stays
    _, headers = await admin(client, resources)  # the old session has expired by now
    assert await points() == (0, 15)

    await paid_order(resources, chain.buyer, product)  # 5 points in the new month
    assert await points() == (5, 20)
    await fresh(db)
    periods = set(
        await db.scalars(select(Commission.period_id).where(Commission.partner_id == sponsor.id))
    )
    assert len(periods) == 2  # each commission keeps the month it was made in


async def test_network_volume_comes_from_paid_orders_and_investments(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    chain = await make_chain(resources, levels=3)  # top -> middle -> buyer's sponsor -> buyer
    top, middle, sponsor = chain.partners
    product = await make_product(resources, price="80.00")
    strategy = await make_strategy(resources)
    await paid_order(resources, chain.users[-1], product)  # the sponsor buys for 80
    await paid_order(resources, chain.buyer, product, 2)  # 160
    refunded = await paid_order(resources, chain.buyer, product)
    await cancel_order(resources, refunded)  # no longer counts
    await place_order(resources, chain.buyer, product)  # unpaid: does not count
    await invest(resources, chain.buyer, strategy, "300.50")

    resp = await client.get(f"{API}/partners/{top.id}/network", headers=headers)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    volumes = {n["id"]: n["totalVolume"] for n in data["network"]}
    assert volumes == {
        str(middle.id): 0,
        str(sponsor.id): 80,
        str(chain.buyer_partner.id): 460.5,
    }
    assert data["stats"]["byLevel"] == [
        {"level": 1, "count": 1, "volume": 0},
        {"level": 2, "count": 1, "volume": 80},
        {"level": 3, "count": 1, "volume": 460.5},
    ]
    shallow = await client.get(
        f"{API}/partners/{top.id}/network", headers=headers, params={"depth": 2}
    )
    assert shallow.json()["data"]["stats"]["byLevel"][-1] == {"level": 2, "count": 1, "volume": 80}
    await fresh(db)
    assert await db.scalar(select(Payout.id)) is None  # volume is not money: nothing was paid
