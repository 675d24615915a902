"""GET /commissions and POST /commissions/{id}/adjust."""

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.audit.models import AuditLog
from iwm.modules.commissions.models import Commission, CommissionStatus
from iwm.modules.ledger.models import LedgerEntry
from iwm.modules.ledger.service import Shares
from tests.factories.kiosk_network import count, login, make_user
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


async def _one_commission(resources: Resources, db: AsyncSession) -> tuple[Chain, Commission]:
    chain = await make_chain(resources, levels=1)
    product = await make_product(resources, price="100.00", commission="10", points="0")
    order = await paid_order(resources, chain.buyer, product)
    (row,) = await commissions_of(db, order.id)
    return chain, row


async def _adjust(
    client: httpx.AsyncClient, headers: dict[str, str], cid: uuid.UUID, action: str, **extra: object
) -> httpx.Response:
    return await client.post(
        f"{API}/commissions/{cid}/adjust",
        json={"action": action, "reason": "checked by finance", **extra},
        headers=headers,
    )


async def _bring_to(
    client: httpx.AsyncClient,
    resources: Resources,
    headers: dict[str, str],
    chain: Chain,
    row: Commission,
    status: str,
) -> None:
    path = {
        "PENDING": [],
        "APPROVED": ["APPROVE"],
        "HELD": ["HOLD"],
        "REVERSED": ["REVERSE"],
        "PAID": ["APPROVE"],
    }[status]
    for action in path:
        assert (await _adjust(client, headers, row.id, action)).status_code == 200
    if status == "PAID":
        payout = await request_payout(resources, chain.partners[0], "5.00")
        assert (
            await client.post(f"{API}/payouts/{payout.id}/approve", headers=headers)
        ).status_code == 200
        assert (
            await client.post(f"{API}/payouts/{payout.id}/process", headers=headers)
        ).status_code == 200


ALLOWED = {
    ("PENDING", "APPROVE"): "APPROVED",
    ("PENDING", "HOLD"): "HELD",
    ("PENDING", "REVERSE"): "REVERSED",
    ("PENDING", "ADJUST_AMOUNT"): "PENDING",
    ("APPROVED", "HOLD"): "HELD",
    ("APPROVED", "REVERSE"): "REVERSED",
    ("APPROVED", "ADJUST_AMOUNT"): "APPROVED",
    ("HELD", "APPROVE"): "APPROVED",
    ("HELD", "REVERSE"): "REVERSED",
    ("HELD", "ADJUST_AMOUNT"): "HELD",
}
STATUSES = ["PENDING", "APPROVED", "HELD", "REVERSED", "PAID"]
ACTIONS = ["APPROVE", "HOLD", "REVERSE", "ADJUST_AMOUNT"]


@pytest.mark.parametrize(("start", "action"), [(s, a) for s in STATUSES for a in ACTIONS])
async def test_adjust_transitions(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, start: str, action: str
) -> None:
    staff, headers = await admin(client, resources)
    chain, row = await _one_commission(resources, db)
    await _bring_to(client, resources, headers, chain, row, start)
    audits_before = await count(await fresh(db), AuditLog, action="COMMISSION_ADJUSTED")
    resp = await _adjust(client, headers, row.id, action, newAmount=3.5)
    await fresh(db)
    if (start, action) in ALLOWED:
        assert resp.status_code == 200, resp.text
        assert set(resp.json()) == {"success", "data"}  # `meta?` is left out, not null
        data = resp.json()["data"]
        assert data["previousStatus"] == start
        assert data["newStatus"] == ALLOWED[(start, action)]
        assert data["adjustedBy"] == staff.full_name
        assert data["reason"] == "checked by finance"
        if action == "ADJUST_AMOUNT":
            assert (data["previousAmount"], data["newAmount"]) == (5, 3.5)
        else:
            assert data["previousAmount"] is None
            assert data["newAmount"] is None
        assert await count(db, AuditLog, action="COMMISSION_ADJUSTED") == audits_before + 1
    else:
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"]["code"] == "CANNOT_ADJUST"
        assert await count(db, AuditLog, action="COMMISSION_ADJUSTED") == audits_before
    partner = chain.partners[0].id
    assert await balances(db, partner) == await ledger_sums(db, partner)


async def test_adjust_balances_follow_the_status(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    chain, row = await _one_commission(resources, db)
    pid = chain.partners[0].id
    assert await balances(db, pid) == Shares(pending=500, career_points=0)
    await _adjust(client, headers, row.id, "APPROVE")
    assert await balances(db, pid) == Shares(available=500, earned=500)
    # Lowered (a raise waits for a second admin: see test_four_eyes).
    await _adjust(client, headers, row.id, "ADJUST_AMOUNT", newAmount=3.25)
    assert await balances(db, pid) == Shares(available=325, earned=325)
    await _adjust(client, headers, row.id, "HOLD")
    assert await balances(db, pid) == Shares(pending=325)
    await _adjust(client, headers, row.id, "REVERSE")
    assert await balances(db, pid) == Shares()
    assert await ledger_sums(db, pid) == Shares()
    assert await count(db, LedgerEntry, commission_id=row.id) == 5


async def test_adjust_errors(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    _, row = await _one_commission(resources, db)
    missing = await _adjust(client, headers, uuid.uuid4(), "APPROVE")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "COMMISSION_NOT_FOUND"
    for body in (
        {"action": "PAY", "reason": "x"},
        {"action": "APPROVE"},
        {"action": "APPROVE", "reason": "   "},
        {"action": "ADJUST_AMOUNT", "reason": "x"},
        {"action": "ADJUST_AMOUNT", "reason": "x", "newAmount": 1.234},
        {"action": "ADJUST_AMOUNT", "reason": "x", "newAmount": "5.5"},  # a number, not text
        {"action": "ADJUST_AMOUNT", "reason": "x", "newAmount": None},
    ):
        resp = await client.post(f"{API}/commissions/{row.id}/adjust", json=body, headers=headers)
        assert resp.status_code == 400, body
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert (await client.post(f"{API}/commissions/{row.id}/adjust", json={})).status_code == 401
    user = await make_user(resources, Role.USER)
    forbidden = await client.post(
        f"{API}/commissions/{row.id}/adjust",
        json={"action": "APPROVE", "reason": "x"},
        headers=await login(client, user),
    )
    assert forbidden.status_code == 403


async def test_adjust_is_limited_to_ten_per_minute_per_admin(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    _, row = await _one_commission(resources, db)
    codes = []
    for i in range(11):
        # Lowering only: a raise would wait for a second admin (202).
        resp = await _adjust(
            client, headers, row.id, "ADJUST_AMOUNT", newAmount=round(4.9 - i / 10, 1)
        )
        codes.append(resp.status_code)
    assert codes == [200] * 10 + [429]
    assert "Retry-After" in resp.headers
    _, other = await admin(client, resources)
    assert (await _adjust(client, other, row.id, "HOLD")).status_code == 200


async def test_concurrent_approvals_apply_once(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, production_only: None
) -> None:
    _, row = await _one_commission(resources, db)
    admins = [await admin(client, resources) for _ in range(2)]
    calls = [_adjust(client, h, row.id, "APPROVE") for _, h in admins for _ in range(10)]
    results = await asyncio.gather(*calls)
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [400] * 19
    assert {r.json()["error"]["code"] for r in results if r.status_code == 400} == {"CANNOT_ADJUST"}
    await fresh(db)
    assert await count(db, LedgerEntry, commission_id=row.id, kind="COMMISSION_APPROVE") == 1
    assert await count(db, AuditLog, action="COMMISSION_ADJUSTED") == 1
    pid = row.partner_id
    assert await balances(db, pid) == Shares(available=500, earned=500)


async def test_list_filters_sorting_and_summary(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    chain = await make_chain(resources, levels=2)
    cheap = await make_product(resources, price="10.00", commission="10")
    dear = await make_product(resources, price="1000.00", commission="10")
    o1 = await paid_order(resources, chain.buyer, cheap)
    o2 = await paid_order(resources, chain.buyer, dear)
    c1 = await commissions_of(db, o1.id)
    c2 = await commissions_of(db, o2.id)
    await _adjust(client, headers, c2[0].id, "APPROVE")
    await _adjust(client, headers, c1[1].id, "REVERSE")

    resp = await client.get(f"{API}/commissions", headers=headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["meta"]["pagination"]["total"] == 4
    assert body["data"]["summary"] == {
        "totalPending": 0.5 + 20,
        "totalApproved": 50,
        "totalPaid": 0,
        "totalReversed": 0.2,
    }
    first = body["data"]["commissions"][0]
    assert set(first) == {
        "id",
        "partner",
        "sourceType",
        "sourceId",
        "sourcePartner",
        "levelDepth",
        "explanation",
        "grossAmount",
        "netAmount",
        "careerPoints",
        "currency",
        "status",
        "periodId",
        "processedAt",
        "approvedBy",
        "createdAt",
    }
    assert first["explanation"] == {
        "planVersion": "50/20/10/10/10",
        "rule": "LEVEL",
        "level": first["levelDepth"],
        "rate": {1: 50, 2: 20}[first["levelDepth"]],
        "baseAmount": 100,  # 1000.00 x 10 %
        "planAmount": first["grossAmount"],
    }
    assert first["partner"]["referralCode"]
    assert first["sourcePartner"]["id"] == str(chain.buyer_partner.id)

    by_amount = await client.get(
        f"{API}/commissions", params={"sortBy": "amount", "sortOrder": "asc"}, headers=headers
    )
    amounts = [c["netAmount"] for c in by_amount.json()["data"]["commissions"]]
    assert amounts == sorted(amounts) == [0.2, 0.5, 20, 50]

    approved = await client.get(
        f"{API}/commissions", params={"status": "APPROVED"}, headers=headers
    )
    assert [c["id"] for c in approved.json()["data"]["commissions"]] == [str(c2[0].id)]
    assert approved.json()["data"]["commissions"][0]["approvedBy"]
    assert approved.json()["meta"]["pagination"]["total"] == 1

    mine = await client.get(
        f"{API}/commissions",
        params={"partnerId": str(chain.partners[1].id), "minAmount": 1},
        headers=headers,
    )
    data = mine.json()["data"]
    assert [c["netAmount"] for c in data["commissions"]] == [50]
    assert data["summary"]["totalApproved"] == 50
    assert data["summary"]["totalPending"] == 0

    later = await client.get(
        f"{API}/commissions", params={"dateFrom": "2999-01-01T00:00:00Z"}, headers=headers
    )
    assert later.json()["data"]["commissions"] == []
    bad = await client.get(f"{API}/commissions", params={"status": "NOPE"}, headers=headers)
    assert bad.status_code == 400
    assert (await client.get(f"{API}/commissions")).status_code == 401
    rows = (await (await fresh(db)).scalars(select(Commission))).all()
    assert len(rows) == 4
    assert {r.status for r in rows} == {
        CommissionStatus.PENDING,
        CommissionStatus.APPROVED,
        CommissionStatus.REVERSED,
    }
