"""Four eyes on money: amounts never above the plan's, raises and large changes confirmed
by a second admin, the adjuster never the approver; corrections are never rewritten."""

import uuid
from decimal import Decimal

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.resources import Resources
from iwm.modules.audit.models import AuditLog
from iwm.modules.commissions.models import Commission, CommissionStatus
from iwm.modules.ledger.service import Shares
from iwm.modules.shop_orders.models import ShopOrder
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


async def _commission(
    resources: Resources, db: AsyncSession, price: str = "72.00"
) -> tuple[Chain, ShopOrder, Commission]:
    """One PENDING level-1 commission: 72.00 x 10 % x 50 % = 3.60."""
    chain = await make_chain(resources, levels=1)
    product = await make_product(resources, price=price, commission="10", points="0")
    order = await paid_order(resources, chain.buyer, product)
    (row,) = await commissions_of(db, order.id)
    return chain, order, row


async def _adjust(
    client: httpx.AsyncClient, headers: dict[str, str], cid: uuid.UUID, action: str, **extra: object
) -> httpx.Response:
    return await client.post(
        f"{API}/commissions/{cid}/adjust",
        json={"action": action, "reason": "checked by finance", **extra},
        headers=headers,
    )


async def test_every_commission_records_how_it_was_computed(
    resources: Resources, db: AsyncSession
) -> None:
    _, _, row = await _commission(resources, db)
    assert (row.plan_version, row.level_depth, row.rate_bp) == ("50/20/10/10/10", 1, 5000)
    assert (row.base_minor, row.plan_amount_minor, row.gross_minor) == (720, 360, 360)


async def test_one_admin_cannot_raise_a_commission_above_the_plan(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    chain, _, row = await _commission(resources, db)
    pid = chain.partners[0].id
    huge = await _adjust(client, headers, row.id, "ADJUST_AMOUNT", newAmount=9999999999999.99)
    assert huge.status_code == 400, huge.text
    assert huge.json()["error"]["code"] == "VALIDATION_ERROR"
    assert huge.json()["error"]["details"] == {
        "newAmount": ["at most 3.6: the plan's amount (base 7.2 x 50 %)"]
    }
    above = await _adjust(client, headers, row.id, "ADJUST_AMOUNT", newAmount=3.61)
    assert above.status_code == 400
    assert await balances(db, pid) == Shares(pending=360)
    approve = await _adjust(client, headers, row.id, "APPROVE")
    assert approve.status_code == 200
    assert await balances(db, pid) == Shares(available=360, earned=360)


async def test_a_raise_waits_for_a_second_admin(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    first, headers = await admin(client, resources)
    second, other = await admin(client, resources)
    chain, _, row = await _commission(resources, db)
    pid = chain.partners[0].id
    lowered = await _adjust(client, headers, row.id, "ADJUST_AMOUNT", newAmount=1)
    assert lowered.status_code == 200  # a small cut: the seed's shape, at once
    assert set(lowered.json()["data"]) == {
        "id",
        "previousStatus",
        "newStatus",
        "previousAmount",
        "newAmount",
        "adjustedAt",
        "adjustedBy",
        "reason",
    }
    assert await balances(db, pid) == Shares(pending=100)

    raised = await _adjust(client, headers, row.id, "ADJUST_AMOUNT", newAmount=3.6)
    assert raised.status_code == 202, raised.text
    pending = raised.json()["data"]
    assert pending["status"] == "PENDING_CONFIRMATION"
    assert (pending["id"], pending["previousAmount"], pending["newAmount"]) == (
        str(row.id),
        1,
        3.6,
    )
    assert pending["requestedBy"] == first.full_name
    assert await balances(db, pid) == Shares(pending=100)  # nothing moved yet
    listed = await client.get(f"{API}/commissions/changes", headers=other)
    assert [c["changeId"] for c in listed.json()["data"]] == [pending["changeId"]]

    own = await _adjust(client, headers, row.id, "CONFIRM_CHANGE", changeId=pending["changeId"])
    assert own.status_code == 403
    assert own.json()["error"]["code"] == "SEPARATION_OF_DUTIES"
    missing = await _adjust(client, other, row.id, "CONFIRM_CHANGE", changeId=str(uuid.uuid4()))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "CHANGE_NOT_FOUND"
    confirmed = await _adjust(client, other, row.id, "CONFIRM_CHANGE", changeId=pending["changeId"])
    assert confirmed.status_code == 200, confirmed.text
    data = confirmed.json()["data"]
    assert (data["previousAmount"], data["newAmount"]) == (1, 3.6)
    assert (data["adjustedBy"], data["confirmedBy"]) == (first.full_name, second.full_name)
    assert await balances(db, pid) == Shares(pending=360)
    assert await ledger_sums(db, pid) == await balances(db, pid)
    again = await _adjust(client, other, row.id, "CONFIRM_CHANGE", changeId=pending["changeId"])
    assert again.json()["error"]["code"] == "CANNOT_ADJUST"
    assert (await client.get(f"{API}/commissions/changes", headers=other)).json()["data"] == []

    # The admin who changed the amount cannot approve it; another one can.
    refused = await _adjust(client, headers, row.id, "APPROVE")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "SEPARATION_OF_DUTIES"
    assert (await _adjust(client, other, row.id, "APPROVE")).status_code == 200
    await fresh(db)
    assert await count(db, AuditLog, action="COMMISSION_CHANGE_REQUESTED") == 1


async def test_a_large_cut_waits_and_can_be_rejected(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    _, other = await admin(client, resources)
    # 30,000.00 x 10 % x 50 % = 1,500.00; cutting it to 400.00 moves 1,100.00 > 1,000.00.
    chain, _, row = await _commission(resources, db, price="30000.00")
    pid = chain.partners[0].id
    cut = await _adjust(client, headers, row.id, "ADJUST_AMOUNT", newAmount=400)
    assert cut.status_code == 202
    change_id = cut.json()["data"]["changeId"]
    rejected = await _adjust(client, other, row.id, "REJECT_CHANGE", changeId=change_id)
    assert rejected.status_code == 200
    assert rejected.json()["data"]["status"] == "REJECTED"
    assert await balances(db, pid) == Shares(pending=150000)
    late = await _adjust(client, other, row.id, "CONFIRM_CHANGE", changeId=change_id)
    assert late.json()["error"]["code"] == "CANNOT_ADJUST"
    small = await _adjust(client, headers, row.id, "ADJUST_AMOUNT", newAmount=500)
    assert small.status_code == 200  # exactly 1,000.00 less: not above the threshold
    bad = await _adjust(client, headers, row.id, "APPROVE", changeId=change_id)
    assert bad.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_corrections_are_never_adjusted(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    _, other = await admin(client, resources)
    chain, order, row = await _commission(resources, db)
    pid = chain.partners[0].id
    assert (await _adjust(client, headers, row.id, "APPROVE")).status_code == 200
    payout = await request_payout(resources, chain.partners[0], "3.60")
    assert (await client.post(f"{API}/payouts/{payout.id}/approve", headers=headers)).is_success
    assert (await client.post(f"{API}/payouts/{payout.id}/process", headers=other)).is_success
    await cancel_order(resources, order)
    await fresh(db)
    correction = await db.scalar(select(Commission).where(Commission.corrects_id == row.id))
    assert correction is not None
    assert correction.gross_minor == -360
    assert correction.status == CommissionStatus.APPROVED
    after_clawback = await balances(db, pid)
    assert after_clawback == Shares(available=-360, earned=0, withdrawn=360)
    for action, extra in (
        ("ADJUST_AMOUNT", {"newAmount": 0}),
        ("REVERSE", {}),
        ("HOLD", {}),
        ("APPROVE", {}),
    ):
        resp = await _adjust(client, other, correction.id, action, **extra)
        assert resp.status_code == 400, (action, resp.text)
        assert resp.json()["error"]["code"] == "CANNOT_ADJUST"
    assert await balances(db, pid) == after_clawback
    assert await ledger_sums(db, pid) == after_clawback
    (await fresh(db)).expunge_all()
    stored = await db.get(Commission, correction.id)
    assert stored is not None
    assert stored.gross_minor == -360
    assert Decimal(stored.net_minor) == -360


async def test_a_change_is_stale_once_the_commission_moved(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    _, other = await admin(client, resources)
    _, third = await admin(client, resources)
    chain, _, row = await _commission(resources, db)
    lowered = await _adjust(client, headers, row.id, "ADJUST_AMOUNT", newAmount=1)
    assert lowered.status_code == 200
    raised = await _adjust(client, headers, row.id, "ADJUST_AMOUNT", newAmount=3.6)
    assert raised.status_code == 202, raised.text
    held = await _adjust(client, other, row.id, "HOLD")
    assert held.status_code == 200, held.text
    stale = await _adjust(
        client, third, row.id, "CONFIRM_CHANGE", changeId=raised.json()["data"]["changeId"]
    )
    assert stale.status_code == 400, stale.text
    assert stale.json()["error"]["code"] == "CANNOT_ADJUST"
    assert await balances(db, chain.partners[0].id) == Shares(pending=100)
