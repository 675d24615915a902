"""GET /payouts, approve, reject, process; the reserve and the never-pay-twice rule."""

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.resources import Resources
from iwm.modules.audit.models import AuditLog
from iwm.modules.commissions.models import Commission, CommissionStatus
from iwm.modules.ledger.service import Shares
from iwm.modules.payouts.models import Payout, PayoutStatus, SimulatedPayment
from tests.factories.kiosk_network import count
from tests.factories.money import (
    API,
    Chain,
    admin,
    balances,
    commissions_of,
    fresh,
    ledger_sums,
    make_chain,
    make_product,
    paid_order,
    request_payout,
)


async def _earning_partner(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, headers: dict[str, str]
) -> tuple[Chain, list[uuid.UUID]]:
    """A partner with 50.00 approved (two commissions of 5.00 and 45.00)."""
    chain = await make_chain(resources, levels=1)
    ids = []
    for price in ("100.00", "900.00"):
        product = await make_product(resources, price=price, commission="10", points="0")
        order = await paid_order(resources, chain.buyer, product)
        (row,) = await commissions_of(db, order.id)
        resp = await client.post(
            f"{API}/commissions/{row.id}/adjust",
            json={"action": "APPROVE", "reason": "ok"},
            headers=headers,
        )
        assert resp.status_code == 200
        ids.append(row.id)
    return chain, ids


async def test_full_flow_reserves_pays_and_settles_commissions(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    staff, headers = await admin(client, resources)
    chain, commission_ids = await _earning_partner(client, resources, db, headers)
    pid = chain.partners[0].id
    payout = await request_payout(resources, chain.partners[0], "20.00")
    assert await balances(db, pid) == Shares(available=3000, earned=5000)

    approved = await client.post(
        f"{API}/payouts/{payout.id}/approve", json={"note": "fine"}, headers=headers
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["data"]["status"] == "APPROVED"
    assert approved.json()["data"]["approvedBy"] == staff.full_name

    processed = await client.post(f"{API}/payouts/{payout.id}/process", headers=headers)
    assert processed.status_code == 200, processed.text
    data = processed.json()["data"]
    assert data["status"] == "COMPLETED"
    assert data["externalReference"].startswith("SIM-")
    assert data["processedBy"] == staff.full_name
    assert await balances(db, pid) == Shares(available=3000, earned=5000, withdrawn=2000)
    assert await ledger_sums(db, pid) == await balances(db, pid)
    # 20.00 covers the 5.00 commission (oldest) but not the 45.00 one.
    await fresh(db)
    rows = {c.id: c.status for c in await db.scalars(select(Commission))}
    assert rows[commission_ids[0]] == CommissionStatus.PAID
    assert rows[commission_ids[1]] == CommissionStatus.APPROVED
    for action in ("PAYOUT_APPROVED", "PAYOUT_PROCESSING", "PAYOUT_COMPLETED"):
        assert await count(db, AuditLog, action=action) == 1

    again = await client.post(f"{API}/payouts/{payout.id}/process", headers=headers)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "NOT_APPROVED"
    assert await count(await fresh(db), SimulatedPayment) == 1

    listed = await client.get(f"{API}/payouts", headers=headers)
    item = listed.json()["data"]["payouts"][0]
    assert item["status"] == "COMPLETED"
    assert item["amount"] == 20
    assert item["method"] == {"type": "BANK_TRANSFER", "maskedDetails": "****4312"}
    assert item["partner"]["referralCode"] == chain.partners[0].referral_code
    assert item["completedAt"]


async def test_reject_with_and_without_return(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    chain, _ = await _earning_partner(client, resources, db, headers)
    pid = chain.partners[0].id
    first = await request_payout(resources, chain.partners[0], "10.00")
    second = await request_payout(resources, chain.partners[0], "15.00")
    assert await balances(db, pid) == Shares(available=2500, earned=5000)

    kept = await client.post(
        f"{API}/payouts/{first.id}/reject",
        json={"reason": "fraud check", "returnToBalance": False},
        headers=headers,
    )
    assert kept.status_code == 200, kept.text
    assert kept.json()["data"]["fundsReturned"] is False
    assert await balances(db, pid) == Shares(available=2500, earned=5000)

    returned = await client.post(
        f"{API}/payouts/{second.id}/reject", json={"reason": "wrong account"}, headers=headers
    )
    body = returned.json()["data"]
    assert (body["status"], body["reason"], body["fundsReturned"]) == (
        "REJECTED",
        "wrong account",
        True,
    )
    assert await balances(db, pid) == Shares(available=4000, earned=5000)
    assert await ledger_sums(db, pid) == await balances(db, pid)
    assert await count(db, AuditLog, action="PAYOUT_REJECTED") == 2

    again = await client.post(
        f"{API}/payouts/{second.id}/reject", json={"reason": "x"}, headers=headers
    )
    assert again.json()["error"]["code"] == "NOT_REJECTABLE"
    not_pending = await client.post(f"{API}/payouts/{second.id}/approve", headers=headers)
    assert not_pending.json()["error"]["code"] == "NOT_PENDING"
    not_approved = await client.post(f"{API}/payouts/{second.id}/process", headers=headers)
    assert not_approved.json()["error"]["code"] == "NOT_APPROVED"
    no_reason = await client.post(f"{API}/payouts/{second.id}/reject", json={}, headers=headers)
    assert no_reason.status_code == 400
    assert no_reason.json()["error"]["code"] == "VALIDATION_ERROR"
    for action, body in (("approve", {}), ("reject", {"reason": "x"}), ("process", {})):
        missing = await client.post(
            f"{API}/payouts/{uuid.uuid4()}/{action}", json=body, headers=headers
        )
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "PAYOUT_NOT_FOUND"


async def test_failed_payment_returns_the_payout_to_approved(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    chain, _ = await _earning_partner(client, resources, db, headers)
    payout = await request_payout(resources, chain.partners[0], "10.00")
    await client.post(f"{API}/payouts/{payout.id}/approve", headers=headers)
    resources.settings.payout_provider = "failing"
    try:
        failed = await client.post(f"{API}/payouts/{payout.id}/process", headers=headers)
    finally:
        resources.settings.payout_provider = "simulated"
    assert failed.status_code == 400
    assert failed.json()["error"]["code"] == "PAYMENT_FAILED"
    row = await (await fresh(db)).get(Payout, payout.id)
    assert row is not None
    assert row.status == PayoutStatus.APPROVED
    assert (row.processed_at, row.processed_by) == (None, None)  # not processed after all
    assert await count(db, AuditLog, action="PAYOUT_PAYMENT_FAILED") == 1
    retried = await client.post(f"{API}/payouts/{payout.id}/process", headers=headers)
    assert retried.json()["data"]["status"] == "COMPLETED"


async def test_process_is_limited_to_five_per_minute(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    codes = [
        (await client.post(f"{API}/payouts/{uuid.uuid4()}/process", headers=headers)).status_code
        for _ in range(6)
    ]
    assert codes == [404] * 5 + [429]


async def test_twenty_concurrent_process_calls_pay_once(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, production_only: None
) -> None:
    _, headers = await admin(client, resources)
    chain, _ = await _earning_partner(client, resources, db, headers)
    payout = await request_payout(resources, chain.partners[0], "30.00")
    await client.post(f"{API}/payouts/{payout.id}/approve", headers=headers)
    admins = [await admin(client, resources) for _ in range(4)]
    calls = [
        client.post(f"{API}/payouts/{payout.id}/process", headers=h)
        for _, h in admins
        for _ in range(5)
    ]
    results = await asyncio.gather(*calls)
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [400] * 19
    assert {r.json()["error"]["code"] for r in results if r.status_code == 400} == {"NOT_APPROVED"}
    await fresh(db)
    assert await db.scalar(select(func.count()).select_from(SimulatedPayment)) == 1
    assert await count(db, AuditLog, action="PAYOUT_COMPLETED") == 1
    pid = chain.partners[0].id
    assert await balances(db, pid) == Shares(available=2000, earned=5000, withdrawn=3000)
    assert await ledger_sums(db, pid) == await balances(db, pid)


@pytest.mark.parametrize("status", ["PENDING", "APPROVED", "COMPLETED", "ALL"])
async def test_list_filters_and_summary(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, status: str
) -> None:
    _, headers = await admin(client, resources)
    chain, _ = await _earning_partner(client, resources, db, headers)
    pending = await request_payout(resources, chain.partners[0], "10.00")
    approved = await request_payout(resources, chain.partners[0], "12.00")
    done = await request_payout(resources, chain.partners[0], "15.00")
    await client.post(f"{API}/payouts/{approved.id}/approve", headers=headers)
    await client.post(f"{API}/payouts/{done.id}/approve", headers=headers)
    await client.post(f"{API}/payouts/{done.id}/process", headers=headers)
    resp = await client.get(f"{API}/payouts", params={"status": status}, headers=headers)
    assert resp.status_code == 200
    data = resp.json()["data"]
    expected = {
        "PENDING": [pending.id],
        "APPROVED": [approved.id],
        "COMPLETED": [done.id],
        "ALL": [done.id, approved.id, pending.id],
    }[status]
    assert [p["id"] for p in data["payouts"]] == [str(i) for i in expected]
    assert data["summary"] == {
        "pendingCount": 1,
        "pendingAmount": 10,
        "processingCount": 0,
        "processingAmount": 0,
    }
    big = await client.get(f"{API}/payouts", params={"minAmount": 12}, headers=headers)
    assert big.json()["meta"]["pagination"]["total"] == 2
    other = await client.get(
        f"{API}/payouts", params={"partnerId": str(uuid.uuid4())}, headers=headers
    )
    assert other.json()["data"]["payouts"] == []
