"""Monthly investment returns (`iwm distribute-returns`, the monthly job): one prorated
entry per participation and month, whatever the retries; the admin's strategy figures."""

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock, events
from iwm.core.errors import ValidationFailed
from iwm.core.resources import Resources
from iwm.modules.audit.models import AuditLog
from iwm.modules.strategies.models import (
    InvestmentReturn,
    Participation,
    ParticipationStatus,
    ReturnStatus,
)
from iwm.modules.strategies.service import ParticipationService, distribute_returns
from tests.factories.money import API, admin, fresh, invest, make_person, make_strategy


def travel_to(moment: datetime) -> None:
    clock.travel(moment - clock.now())


async def _participation(db: AsyncSession, strategy_id: uuid.UUID) -> Participation:
    await fresh(db)
    row = await db.scalar(select(Participation).where(Participation.strategy_id == strategy_id))
    assert row is not None
    return row


async def _returns(db: AsyncSession) -> list[InvestmentReturn]:
    await fresh(db)
    return list(await db.scalars(select(InvestmentReturn).order_by(InvestmentReturn.period)))


async def test_a_month_credits_each_participation_its_prorated_return_once(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    travel_to(datetime(2026, 10, 11, 15, 0, tzinfo=UTC))
    strategy = await make_strategy(resources)  # expected 8 % a year, 365 days at most
    investor = await make_person(resources, "Investor")
    await invest(resources, investor, strategy, "10000.00")
    other = await make_strategy(resources)  # nobody in it: nothing to credit
    travel_to(datetime(2026, 11, 2, 4, 0, tzinfo=UTC))

    report = await distribute_returns(resources)

    # October 11-31: 21 days. 10,000.00 x 8 % x 21 / 365 = 46.027... -> 46.03
    assert (report.period, report.credited, report.amount_minor) == ("2026-10", 1, 4603)
    (entry,) = await _returns(db)
    part = await _participation(db, strategy)
    assert (entry.participation_id, entry.user_id, entry.days, entry.rate_bp) == (
        part.id,
        investor.id,
        21,
        800,
    )
    assert (entry.base_minor, entry.amount_minor, entry.status) == (
        1_000_000,
        4603,
        ReturnStatus.CREDITED,
    )
    assert (part.returns_distributed_minor, part.pending_returns_minor) == (4603, 4603)
    audits = list(
        await db.scalars(select(AuditLog).where(AuditLog.action == "RETURNS_DISTRIBUTED"))
    )
    assert [(a.admin_id, a.entity_id, a.new_values) for a in audits] == [
        (None, "2026-10", {"credited": 1, "amount": "46.03"})
    ]

    _, headers = await admin(client, resources)
    listed = (await client.get(f"{API}/strategies", headers=headers)).json()["data"]
    figures = {s["id"]: s["financials"] for s in listed["strategies"]}
    assert figures[str(strategy)] == {
        "totalInvested": 10000,
        "totalReturnsDistributed": 46.03,
        "pendingReturns": 46.03,
    }
    assert figures[str(other)]["totalReturnsDistributed"] == 0

    # A retry, the job the next day: nothing more.
    again = await distribute_returns(resources, "2026-10")
    assert (again.credited, again.already_done) == (0, 1)
    assert len(await _returns(db)) == 1
    assert (
        await db.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "RETURNS_DISTRIBUTED")
        )
        == 1
    )

    # November in full (30 days: 65.75), then the end of the participation on Dec 10 pays
    # the credited returns out with the principal; December counts 9 days (19.73), paid at
    # once as the principal is back already.
    travel_to(datetime(2026, 12, 1, 4, 0, tzinfo=UTC))
    assert (await distribute_returns(resources)).amount_minor == 6575
    travel_to(datetime(2026, 12, 10, 9, 0, tzinfo=UTC))
    async with resources.sessionmaker.begin() as session:
        await ParticipationService(session, resources.settings).finish(
            part.id, ParticipationStatus.COMPLETED
        )
    part = await _participation(db, strategy)
    assert (part.returns_distributed_minor, part.pending_returns_minor) == (4603 + 6575, 0)
    assert {r.status for r in await _returns(db)} == {ReturnStatus.PAID}
    travel_to(datetime(2027, 1, 1, 4, 0, tzinfo=UTC))
    assert (await distribute_returns(resources)).amount_minor == 1973
    part = await _participation(db, strategy)
    assert (part.returns_distributed_minor, part.pending_returns_minor) == (13151, 0)
    assert [(r.period, r.status) for r in await _returns(db)] == [
        ("2026-10", ReturnStatus.PAID),
        ("2026-11", ReturnStatus.PAID),
        ("2026-12", ReturnStatus.PAID),
    ]

    # The derived columns agree with the entries.
    assert [d for d in await events.check(resources.sessionmaker) if d.differences] == []


async def test_open_or_malformed_months_are_refused(resources: Resources, db: AsyncSession) -> None:
    strategy = await make_strategy(resources)
    await invest(resources, await make_person(resources), strategy, "500.00")
    for period in (clock.now().strftime("%Y-%m"), "2999-01", "2026-1", "2026-00"):
        with pytest.raises(ValidationFailed) as refused:
            await distribute_returns(resources, period)
        assert list(refused.value.details) == ["period"]
    assert await _returns(db) == []


async def test_two_distributions_at_once_credit_a_month_once(
    resources: Resources, db: AsyncSession, production_only: None
) -> None:
    travel_to(datetime(2026, 9, 1, 0, 0, tzinfo=UTC))
    strategy = await make_strategy(resources)
    for i in range(5):
        await invest(resources, await make_person(resources, f"I{i}"), strategy, "1000.00")
    travel_to(datetime(2026, 10, 1, 3, 0, tzinfo=UTC))

    reports = await asyncio.gather(*(distribute_returns(resources) for _ in range(4)))

    assert sum(r.credited for r in reports) == 5
    entries = await _returns(db)
    # 1,000.00 x 8 % x 30 / 365 = 6.575... -> 6.58 each.
    assert [e.amount_minor for e in entries] == [658] * 5
    await fresh(db)
    distributed = await db.scalar(select(func.sum(Participation.returns_distributed_minor)))
    assert distributed == 5 * 658
    assert (
        await db.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "RETURNS_DISTRIBUTED")
        )
        == 1
    )
    assert [d for d in await events.check(resources.sessionmaker) if d.differences] == []
