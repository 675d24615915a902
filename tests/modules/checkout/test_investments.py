"""Members' investments (/api/v1/investments): paid through the same checkout, capacity
taken when the payment arrives (refunded when the strategy is full by then), the upline's
commissions, returns from the monthly distribution, expiry, and the race for the last room
(PostgreSQL)."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.resources import Resources
from iwm.modules.audit.models import AuditLog
from iwm.modules.commissions.models import Commission
from iwm.modules.payments.models import Payment
from iwm.modules.payments.service import SUCCEEDED, PaymentService
from iwm.modules.strategies.models import Participation, Strategy
from iwm.modules.strategies.service import ParticipationService, distribute_returns
from iwm.modules.users.models import UserStatus
from tests.factories.checkout import pay_page
from tests.factories.kiosk_network import login
from tests.factories.members import signed_in
from tests.factories.money import balances, fresh, ledger_sums, make_chain, make_person
from tests.factories.money import make_strategy as _make_strategy
from tests.factories.payments import deliver, provider

INVESTMENTS = "/api/v1/investments"


async def make_strategy(
    resources: Resources, capacity: int | None = 100000, **over: object
) -> uuid.UUID:
    investment = {"minAmount": 100, "maxAmount": 10000, "currency": "USD"}
    investment["totalCapacity"] = capacity  # type: ignore[assignment]
    return await _make_strategy(resources, investment=investment, **over)


async def invest(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    strategy_id: uuid.UUID | str,
    amount: Any,
    key: str | None = None,
) -> httpx.Response:
    return await client.post(
        INVESTMENTS,
        json={"strategyId": str(strategy_id), "amount": amount},
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


async def _payment(db: AsyncSession, answer: httpx.Response) -> Payment:
    await fresh(db)
    row = await db.get(Payment, uuid.UUID(answer.json()["data"]["payment"]["id"]))
    assert row is not None
    return row


async def _actions(db: AsyncSession, participation_id: str) -> list[str]:
    await fresh(db)
    rows = await db.scalars(
        select(AuditLog.action)
        .where(AuditLog.entity_type == "participation", AuditLog.entity_id == participation_id)
        .order_by(AuditLog.created_at, AuditLog.id)
    )
    return list(rows)


async def _hidden_from_strangers(
    client: httpx.AsyncClient, resources: Resources, participation_id: str
) -> None:
    _, stranger = await signed_in(client, resources)
    hidden = await client.get(f"{INVESTMENTS}/{participation_id}", headers=stranger)
    assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "PARTICIPATION_NOT_FOUND")
    assert (await client.get(INVESTMENTS, headers=stranger)).json()["data"] == []


async def test_invest_pay_commissions_and_returns(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    chain = await make_chain(resources, levels=2)
    strategy_id = await make_strategy(resources)
    headers = await login(client, chain.buyer)
    shown = await client.get(f"/api/v1/strategies/{strategy_id}", headers=headers)
    assert shown.status_code == 200, shown.text

    placed = await invest(client, headers, strategy_id, 1000, key="inv-1")

    assert placed.status_code == 201, placed.text
    data = placed.json()["data"]
    part, payment = data["participation"], data["payment"]
    assert (part["status"], part["amount"], part["currency"]) == ("PENDING_PAYMENT", 1000.0, "USD")
    assert (part["startDate"], part["endDate"]) == (None, None)
    assert part["strategy"]["id"] == str(strategy_id)
    assert (payment["status"], part["payment"]) == ("pending", payment)
    again = await invest(client, headers, strategy_id, 1000, key="inv-1")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["data"]["participation"]["id"] == part["id"]
    other = await invest(client, headers, strategy_id, 2000, key="inv-1")
    assert (other.status_code, other.json()["error"]["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    await fresh(db)
    strategy = await db.get(Strategy, strategy_id)
    assert strategy is not None
    assert strategy.used_capacity_minor == 0  # taken when paid

    await pay_page(client, payment["checkoutUrl"])

    mine = (await client.get(f"{INVESTMENTS}/{part['id']}", headers=headers)).json()["data"]
    assert (mine["status"], mine["payment"]["status"]) == ("ACTIVE", "succeeded")
    assert mine["startDate"] is not None
    assert mine["endDate"][:10] == (clock.now() + timedelta(days=365)).date().isoformat()
    await fresh(db)
    used = select(Strategy.used_capacity_minor).where(Strategy.id == strategy_id)
    assert await db.scalar(used) == 100000
    # 3% commission volume of 1000.00 = 30.00 at 50/20 %.
    rows = await db.scalars(
        select(Commission)
        .where(Commission.source_id == uuid.UUID(part["id"]))
        .order_by(Commission.level_depth)
    )
    assert [(c.partner_id, c.level_depth, c.gross_minor, c.status) for c in rows] == [
        (chain.partners[1].id, 1, 1500, "PENDING"),
        (chain.partners[0].id, 2, 600, "PENDING"),
    ]
    for partner in chain.partners:
        assert await balances(db, partner.id) == await ledger_sums(db, partner.id)
    assert await _actions(db, part["id"]) == ["INVESTMENT_REQUESTED", "INVESTMENT_STARTED"]

    # The month's return, credited by the monthly distribution, is the member's to see.
    period = clock.now().strftime("%Y-%m")
    clock.travel(timedelta(days=32))
    report = await distribute_returns(resources, period)
    assert report.credited == 1
    headers = await login(client, chain.buyer)  # a month later: signed in again
    mine = (await client.get(f"{INVESTMENTS}/{part['id']}", headers=headers)).json()["data"]
    [entry] = mine["returnEntries"]
    assert (entry["period"], entry["status"], entry["rate"]) == (period, "CREDITED", 8.0)
    assert entry["amount"] == report.amount_minor / 100
    assert mine["returns"] == {"total": entry["amount"], "pending": entry["amount"], "paid": 0.0}
    listed = (await client.get(INVESTMENTS, headers=headers)).json()
    assert [i["id"] for i in listed["data"]] == [part["id"]]
    assert listed["data"][0]["returnEntries"] is None
    assert listed["data"][0]["returns"]["total"] == entry["amount"]

    await _hidden_from_strangers(client, resources, part["id"])


async def test_refusals_open_no_payment(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    strategy_id = await make_strategy(resources, capacity=1000)
    paused = await make_strategy(resources, status="PAUSED")
    _, headers = await signed_in(client, resources)
    _, unverified = await signed_in(client, resources, status=UserStatus.PENDING_VERIFICATION)

    cases = [
        (headers, strategy_id, 99.99, 400, "AMOUNT_OUT_OF_RANGE"),
        (headers, strategy_id, 10000.01, 400, "AMOUNT_OUT_OF_RANGE"),
        (headers, strategy_id, "100", 400, "VALIDATION_ERROR"),
        (headers, paused, 500, 404, "STRATEGY_NOT_FOUND"),
        (headers, uuid.uuid4(), 500, 404, "STRATEGY_NOT_FOUND"),
        (headers, strategy_id, 1000.01, 409, "STRATEGY_FULL"),
        (unverified, strategy_id, 500, 403, "EMAIL_NOT_VERIFIED"),
    ]
    for who, sid, amount, status, code in cases:
        resp = await invest(client, who, sid, amount)
        assert (resp.status_code, resp.json()["error"]["code"]) == (status, code), resp.text
    out = await invest(client, headers, strategy_id, 50)
    assert out.json()["error"]["details"] == {"amount": ["from 100.00 to 10000.00 USD"]}
    keyless = await client.post(
        INVESTMENTS, json={"strategyId": str(strategy_id), "amount": 500}, headers=headers
    )
    assert keyless.status_code == 400
    assert "Idempotency-Key" in keyless.json()["error"]["details"]
    assert await db.scalar(select(func.count()).select_from(Participation)) == 0
    assert await db.scalar(select(func.count()).select_from(Payment)) == 0


async def test_full_when_paid_is_refunded_and_unpaid_expires(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    strategy_id = await make_strategy(resources, capacity=1000)
    first = await login(client, await make_person(resources, "First"))
    second = await login(client, await make_person(resources, "Second"))
    third = await login(client, await make_person(resources, "Third"))
    # Each fits now: the capacity is taken by whoever pays first.
    a = await invest(client, first, strategy_id, 800)
    b = await invest(client, second, strategy_id, 800)
    c = await invest(client, third, strategy_id, 100)

    await pay_page(client, a.json()["data"]["payment"]["checkoutUrl"])
    await pay_page(client, b.json()["data"]["payment"]["checkoutUrl"])

    won = await client.get(
        f"{INVESTMENTS}/{a.json()['data']['participation']['id']}", headers=first
    )
    assert won.json()["data"]["status"] == "ACTIVE"
    lost_id = b.json()["data"]["participation"]["id"]
    lost = (await client.get(f"{INVESTMENTS}/{lost_id}", headers=second)).json()["data"]
    assert (lost["status"], lost["startDate"]) == ("REFUNDED", None)
    assert lost["payment"]["status"] == "refund_pending"
    assert await PaymentService.process_refunds(resources.sessionmaker, provider(resources)) == 1
    lost = (await client.get(f"{INVESTMENTS}/{lost_id}", headers=second)).json()["data"]
    assert lost["payment"]["status"] == "refunded"
    assert await _actions(db, lost_id) == ["INVESTMENT_REQUESTED", "INVESTMENT_REFUNDED"]
    assert (
        await db.scalar(
            select(func.count())
            .select_from(Commission)
            .where(Commission.source_id == uuid.UUID(lost_id))
        )
        == 0
    )

    # Unpaid past the payment's time: cancelled, its page closed.
    clock.travel(timedelta(minutes=resources.settings.order_payment_ttl_minutes, seconds=1))
    assert await ParticipationService.expire_unpaid(resources.sessionmaker, resources.settings) == 1
    left_id = c.json()["data"]["participation"]["id"]
    left = (await client.get(f"{INVESTMENTS}/{left_id}", headers=third)).json()["data"]
    assert left["status"] == "CANCELLED"
    page = await client.get(f"/pay/{left['payment']['id']}")
    assert 'id="pay"' not in page.text
    await fresh(db)
    strategy = await db.get(Strategy, strategy_id)
    assert strategy is not None
    assert strategy.used_capacity_minor == 80000
    # The admin's list counts real investments only.
    stats = await db.scalar(
        select(func.sum(Participation.amount_minor)).where(Participation.status == "ACTIVE")
    )
    assert stats == 80000


async def test_fifty_payments_for_room_for_ten(
    production_only: None, client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    strategy_id = await make_strategy(resources, capacity=1000)
    members = [await login(client, await make_person(resources, f"I{i}")) for i in range(10)]
    placed = await asyncio.gather(
        *(invest(client, headers, strategy_id, 100) for headers in members for _ in range(5))
    )
    assert {p.status_code for p in placed} == {201}
    payments = [await _payment(db, p) for p in placed]

    answers = await asyncio.gather(
        *(deliver(client, resources, SUCCEEDED, payment) for payment in payments)
    )

    assert {a.status_code for a in answers} == {200}
    await fresh(db)
    counts = dict(
        (
            await db.execute(
                select(Participation.status, func.count())
                .where(Participation.strategy_id == strategy_id)
                .group_by(Participation.status)
            )
        ).all()
    )
    assert counts == {"ACTIVE": 10, "REFUNDED": 40}
    statuses = dict(
        (
            await db.execute(
                select(Payment.status, func.count())
                .where(Payment.id.in_([p.id for p in payments]))
                .group_by(Payment.status)
            )
        ).all()
    )
    assert statuses == {"succeeded": 10, "refund_pending": 40}
    strategy = await db.get(Strategy, strategy_id)
    assert strategy is not None
    assert strategy.used_capacity_minor == strategy.total_capacity_minor == 100000
