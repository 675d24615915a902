"""Reservations that hold: a clawback may leave a partner's available balance negative; no
payout of that partner is approved or paid while it is, and the admin views say why."""

import asyncio
import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.resources import Resources
from iwm.modules.ledger.service import Shares
from iwm.modules.payouts.models import Payout, PayoutStatus, SimulatedPayment
from tests.factories.kiosk_network import count
from tests.factories.money import (
    API,
    Chain,
    admin,
    balances,
    cancel_order,
    commissions_of,
    fresh,
    ledger_sums,
    make_chain,
    make_product,
    paid_order,
    request_payout,
)


async def _approved_commission(
    client: httpx.AsyncClient,
    resources: Resources,
    db: AsyncSession,
    headers: dict[str, str],
    price: str = "213.40",
) -> tuple[Chain, uuid.UUID]:
    """A partner whose one approved commission is 10.67 (213.40 x 10 % x 50 %)."""
    chain = await make_chain(resources, levels=1)
    product = await make_product(resources, price=price, commission="10", points="0")
    order = await paid_order(resources, chain.buyer, product)
    (row,) = await commissions_of(db, order.id)
    resp = await client.post(
        f"{API}/commissions/{row.id}/adjust",
        json={"action": "APPROVE", "reason": "ok"},
        headers=headers,
    )
    assert resp.status_code == 200, resp.text
    return chain, row.id


async def _reverse(
    client: httpx.AsyncClient, headers: dict[str, str], commission_id: uuid.UUID
) -> httpx.Response:
    return await client.post(
        f"{API}/commissions/{commission_id}/adjust",
        json={"action": "REVERSE", "reason": "order refunded"},
        headers=headers,
    )


async def _status(db: AsyncSession, payout_id: uuid.UUID) -> str:
    await fresh(db)
    return str(await db.scalar(select(Payout.status).where(Payout.id == payout_id)))


async def test_a_payout_is_not_approved_or_paid_after_its_commission_is_reversed(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    chain, commission_id = await _approved_commission(client, resources, db, headers)
    pid = chain.partners[0].id
    payout = await request_payout(resources, chain.partners[0], "10.67")
    reversed_ = await _reverse(client, headers, commission_id)
    assert reversed_.status_code == 200
    assert await balances(db, pid) == Shares(available=-1067)

    approve = await client.post(f"{API}/payouts/{payout.id}/approve", headers=headers)
    assert approve.status_code == 400, approve.text
    assert approve.json()["error"]["code"] == "INSUFFICIENT_BALANCE"
    assert approve.json()["error"]["details"] == {"available": ["-10.67"]}
    assert await _status(db, payout.id) == PayoutStatus.PENDING

    listed = await client.get(f"{API}/payouts", headers=headers)
    (item,) = listed.json()["data"]["payouts"]
    assert item["blockedReason"] == "INSUFFICIENT_BALANCE"
    detail = await client.get(f"{API}/payouts/{payout.id}", headers=headers)
    assert detail.status_code == 200
    assert detail.json()["data"] == item
    missing = await client.get(f"{API}/payouts/{uuid.uuid4()}", headers=headers)
    assert missing.json()["error"]["code"] == "PAYOUT_NOT_FOUND"

    # The documented way out: rejected with the funds returned, the debt is gone.
    rejected = await client.post(
        f"{API}/payouts/{payout.id}/reject",
        json={"reason": "commission reversed", "returnToBalance": True},
        headers=headers,
    )
    assert rejected.status_code == 200
    assert await balances(db, pid) == Shares()
    assert await ledger_sums(db, pid) == Shares()
    after = await client.get(f"{API}/payouts/{payout.id}", headers=headers)
    assert after.json()["data"]["blockedReason"] is None


async def test_an_approved_payout_is_not_paid_after_a_clawback(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    chain, commission_id = await _approved_commission(client, resources, db, headers)
    pid = chain.partners[0].id
    payout = await request_payout(resources, chain.partners[0], "10.67")
    approve = await client.post(f"{API}/payouts/{payout.id}/approve", headers=headers)
    assert approve.status_code == 200
    assert (await _reverse(client, headers, commission_id)).status_code == 200

    process = await client.post(f"{API}/payouts/{payout.id}/process", headers=headers)
    assert process.status_code == 400, process.text
    assert process.json()["error"]["code"] == "INSUFFICIENT_BALANCE"
    assert await _status(db, payout.id) == PayoutStatus.APPROVED
    assert await count(db, SimulatedPayment) == 0
    assert await balances(db, pid) == Shares(available=-1067)
    detail = await client.get(f"{API}/payouts/{payout.id}", headers=headers)
    assert detail.json()["data"]["blockedReason"] == "INSUFFICIENT_BALANCE"

    # New earnings that cover the debt unblock it: it waits, it is not lost.
    await _approved_commission_for(client, resources, db, headers, chain, "500.00")
    assert (await balances(db, pid)).available == 2500 - 1067
    process = await client.post(f"{API}/payouts/{payout.id}/process", headers=headers)
    assert process.status_code == 200, process.text
    assert await _status(db, payout.id) == PayoutStatus.COMPLETED
    assert await ledger_sums(db, pid) == await balances(db, pid)


async def _approved_commission_for(
    client: httpx.AsyncClient,
    resources: Resources,
    db: AsyncSession,
    headers: dict[str, str],
    chain: Chain,
    price: str,
) -> None:
    product = await make_product(resources, price=price, commission="10", points="0")
    order = await paid_order(resources, chain.buyer, product)
    (row,) = await commissions_of(db, order.id)
    resp = await client.post(
        f"{API}/commissions/{row.id}/adjust",
        json={"action": "APPROVE", "reason": "ok"},
        headers=headers,
    )
    assert resp.status_code == 200


async def test_a_large_payout_is_processed_by_another_admin(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    _, other = await admin(client, resources)
    # 30,000.00 x 10 % x 50 % = 1,500.00, above the 1,000.00 threshold.
    chain, _ = await _approved_commission(client, resources, db, headers, price="30000.00")
    big = await request_payout(resources, chain.partners[0], "1000.01")
    small = await request_payout(resources, chain.partners[0], "499.99")
    for payout in (big, small):
        resp = await client.post(f"{API}/payouts/{payout.id}/approve", headers=headers)
        assert resp.status_code == 200
    same = await client.post(f"{API}/payouts/{big.id}/process", headers=headers)
    assert same.status_code == 403, same.text
    assert same.json()["error"]["code"] == "SEPARATION_OF_DUTIES"
    assert await _status(db, big.id) == PayoutStatus.APPROVED
    assert (await client.post(f"{API}/payouts/{big.id}/process", headers=other)).status_code == 200
    # At or below the threshold one admin may do both.
    assert (
        await client.post(f"{API}/payouts/{small.id}/process", headers=headers)
    ).status_code == 200


async def test_a_clawback_racing_the_processing(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, production_only: None
) -> None:
    """Real concurrent transactions: whichever takes the partner's lock first wins, and a
    payout is never paid once the clawback has made the balance negative."""
    outcomes = set()
    _, headers = await admin(client, resources)
    # Processing is limited to five a minute per admin: two take turns.
    processors = [(await admin(client, resources))[1] for _ in range(2)]
    for round_ in range(6):
        chain = await make_chain(resources, levels=1)
        product = await make_product(resources, price="213.40", commission="10", points="0")
        order = await paid_order(resources, chain.buyer, product)
        (row,) = await commissions_of(db, order.id)
        approve = await client.post(
            f"{API}/commissions/{row.id}/adjust",
            json={"action": "APPROVE", "reason": "ok"},
            headers=headers,
        )
        assert approve.status_code == 200
        payout = await request_payout(resources, chain.partners[0], "10.67")
        assert (
            await client.post(f"{API}/payouts/{payout.id}/approve", headers=headers)
        ).status_code == 200
        # The engine's clawback: the order is refunded while the payout is processed.
        process, _ = await asyncio.gather(
            client.post(f"{API}/payouts/{payout.id}/process", headers=processors[round_ % 2]),
            cancel_order(resources, order),
        )
        pid = chain.partners[0].id
        status = await _status(db, payout.id)
        if process.status_code == 200:
            # Paid before the clawback: the correction leaves a debt, to be repaid.
            assert status == PayoutStatus.COMPLETED
            assert await balances(db, pid) == Shares(available=-1067, withdrawn=1067)
        else:
            assert process.json()["error"]["code"] == "INSUFFICIENT_BALANCE"
            assert status == PayoutStatus.APPROVED
            assert await balances(db, pid) == Shares(available=-1067)
        assert await ledger_sums(db, pid) == await balances(db, pid)
        outcomes.add(process.status_code)
    assert outcomes <= {200, 400}
