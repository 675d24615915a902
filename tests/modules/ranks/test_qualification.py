"""Monthly rank qualification (`iwm qualify-ranks`, the monthly job) with its history and
RANK_BONUS, and the fast-start BONUS of a directly sponsored partner's first paid order."""

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.audit.models import AuditLog
from iwm.modules.commissions.engine import qualify_ranks
from iwm.modules.commissions.models import Commission, CommissionStatus, SourceType
from iwm.modules.ledger.models import LedgerEntry
from iwm.modules.network.models import NetworkPartner, PartnerStatus
from iwm.modules.network.service import NetworkService
from iwm.modules.ranks.models import RankChange, RankPeriod
from iwm.modules.ranks.schemas import DEFAULT_PLAN
from iwm.modules.ranks.service import previous_period
from tests.factories.kiosk_network import make_user, principal_of
from tests.factories.money import (
    API,
    admin,
    balances,
    cancel_order,
    fresh,
    make_chain,
    make_product,
    paid_order,
)


@pytest.fixture
def fast_start(resources: Resources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in plan with a 5 % fast-start bonus (the built-in plan pays none)."""
    plan = DEFAULT_PLAN.model_copy(update={"version": "test-5", "fast_start_percent": Decimal(5)})
    path = tmp_path / "plan.json"
    path.write_text(plan.model_dump_json(by_alias=True), encoding="utf-8")
    monkeypatch.setattr(resources.settings, "rank_plan_file", str(path))


async def _bonuses(db: AsyncSession, source_type: SourceType) -> list[Commission]:
    await fresh(db)
    rows = await db.scalars(
        select(Commission)
        .where(Commission.source_type == source_type)
        .order_by(Commission.created_at, Commission.rule)
    )
    return list(rows)


async def _partner(db: AsyncSession, partner: NetworkPartner) -> NetworkPartner:
    await fresh(db)
    row = await db.get(NetworkPartner, partner.id)
    assert row is not None
    return row


async def _next_month() -> str:
    """Moves the clock into the next month; returns the month just ended."""
    now = clock.now()
    ended = now.strftime("%Y-%m")
    start = (now.replace(day=1) + timedelta(days=32)).replace(day=1, hour=1)
    clock.travel(start - now)
    assert previous_period(clock.now()) == ended
    return ended


async def test_a_month_sets_ranks_with_history_and_pays_each_rank_reached_once(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    # top <- mid <- buyer. The buyer's 1,200.00 is his own volume and in the group volume
    # of both above him; mid has one active direct (the buyer), top one (mid, who buys 300).
    chain = await make_chain(resources, levels=2)
    _, mid = chain.partners
    big = await make_product(resources, price="1200.00", commission="10", points="0")
    small = await make_product(resources, price="300.00", commission="10", points="0")
    await paid_order(resources, chain.buyer, big)
    await paid_order(resources, chain.users[1], small)
    month = await _next_month()

    report = await qualify_ranks(resources)

    assert report.period == month
    assert report.already_done is False
    assert (report.partners, report.promoted, report.demoted) == (3, 2, 0)
    # buyer: PV 1200, GV 1200, 0 directs -> BRONZE (SILVER needs 2 directs).
    # mid: PV 300, GV 1500, 1 direct -> BRONZE. top: PV 0 -> nothing.
    await fresh(db)
    history = {
        r.partner_id: r
        for r in await db.scalars(select(RankChange).where(RankChange.period == month))
    }
    assert set(history) == {chain.buyer_partner.id, mid.id}
    got = history[mid.id]
    assert (got.previous_rank, got.rank, got.plan_version) == (None, "BRONZE", "2026.1")
    assert (got.personal_volume_minor, got.group_volume_minor, got.active_directs) == (
        30000,
        150000,
        1,
    )
    rank_bonuses = await _bonuses(db, SourceType.RANK_BONUS)
    assert {(b.partner_id, b.rule, b.gross_minor, b.status) for b in rank_bonuses} == {
        (chain.buyer_partner.id, "RANK:BRONZE", 2500, CommissionStatus.PENDING),
        (mid.id, "RANK:BRONZE", 2500, CommissionStatus.PENDING),
    }
    assert {b.plan_version for b in rank_bonuses} == {"ranks:2026.1"}
    assert {b.source_id for b in rank_bonuses} == {r.id for r in history.values()}
    assert (await _partner(db, mid)).rank_id is not None

    # The admin sees the rank, the bonus and its explanation.
    _, headers = await admin(client, resources)
    detail = (await client.get(f"{API}/partners/{mid.id}", headers=headers)).json()["data"]
    assert detail["rank"]["code"] == "BRONZE"
    assert detail["highestRank"]["code"] == "BRONZE"
    listed = await client.get(
        f"{API}/commissions",
        params={"sourceType": "RANK_BONUS", "partnerId": str(mid.id)},
        headers=headers,
    )
    (row,) = listed.json()["data"]["commissions"]
    assert row["netAmount"] == 25
    assert row["explanation"] == {
        "planVersion": "ranks:2026.1",
        "rule": "RANK:BRONZE",
        "level": None,
        "rate": 100,
        "baseAmount": 25,
        "planAmount": 25,
    }

    # Run again (the job, a retry): nothing changes.
    again = await qualify_ranks(resources, month)
    assert again.already_done is True
    assert len(await _bonuses(db, SourceType.RANK_BONUS)) == 2
    assert await db.scalar(select(func.count()).select_from(RankChange)) == 2
    audits = await db.scalar(
        select(func.count()).select_from(AuditLog).where(AuditLog.action == "RANKS_QUALIFIED")
    )
    assert audits == 1

    # A month without volume: the rank goes, the highest rank stays, no bonus.
    quiet = await _next_month()
    report = await qualify_ranks(resources)
    assert (report.period, report.promoted, report.demoted) == (quiet, 0, 2)
    after = await _partner(db, mid)
    assert after.rank_id is None
    assert after.highest_rank_id is not None
    # Back to BRONZE a month later: no second BRONZE bonus.
    await paid_order(resources, chain.users[1], small)
    await _next_month()
    report = await qualify_ranks(resources)
    assert (report.promoted, report.rank_bonuses) == (1, 0)
    assert len(await _bonuses(db, SourceType.RANK_BONUS)) == 2
    assert await balances(db, mid.id) == await _ledger(db, mid.id)


async def _ledger(db: AsyncSession, partner_id: object) -> object:
    from iwm.modules.ledger.service import LedgerService

    await fresh(db)
    return await LedgerService(db).sums(partner_id)  # type: ignore[arg-type]


async def test_suspended_partners_are_not_judged_and_open_months_are_refused(
    resources: Resources, db: AsyncSession
) -> None:
    chain = await make_chain(resources, levels=1)
    product = await make_product(resources, price="500.00")
    await paid_order(resources, chain.buyer, product)
    boss = await make_user(resources, Role.SUPER_ADMIN)
    async with resources.sessionmaker.begin() as session:
        await NetworkService(session, resources.settings).set_status(
            principal_of(boss), chain.buyer_partner.id, PartnerStatus.SUSPENDED, "review"
        )
    from iwm.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        await qualify_ranks(resources, clock.now().strftime("%Y-%m"))
    assert refused.value.details == {"period": ["the month has not ended yet"]}
    with pytest.raises(ValidationFailed):
        await qualify_ranks(resources, "2026-13")
    assert await db.scalar(select(func.count()).select_from(RankPeriod)) == 0

    await _next_month()
    report = await qualify_ranks(resources)
    assert report.partners == 1  # the sponsor only
    assert await _bonuses(db, SourceType.RANK_BONUS) == []


async def test_fast_start_bonus_on_a_direct_partners_first_paid_order_only(
    resources: Resources, db: AsyncSession, fast_start: None
) -> None:
    chain = await make_chain(resources, levels=2)
    sponsor = chain.partners[1]
    product = await make_product(resources, price="80.00", commission="10", points="0")

    first = await paid_order(resources, chain.buyer, product)
    await paid_order(resources, chain.buyer, product)

    (bonus,) = await _bonuses(db, SourceType.BONUS)
    # 5% of 80.00 to the direct sponsor, for the first order only.
    assert (bonus.partner_id, bonus.source_id, bonus.source_partner_id) == (
        sponsor.id,
        first.id,
        chain.buyer_partner.id,
    )
    assert (bonus.gross_minor, bonus.base_minor, bonus.rate_bp, bonus.rule) == (
        400,
        8000,
        500,
        "FAST_START",
    )
    assert bonus.plan_version == "ranks:test-5"
    # Level 1 of each order (50% of 8.00) and the bonus.
    assert (await balances(db, sponsor.id)).pending == 400 + 400 + 400

    # The first order refunded: its bonus is reversed with it, and not earned again.
    await cancel_order(resources, first)
    (bonus,) = await _bonuses(db, SourceType.BONUS)
    assert bonus.status == CommissionStatus.REVERSED
    await paid_order(resources, chain.buyer, product)
    assert len(await _bonuses(db, SourceType.BONUS)) == 1
    assert await balances(db, sponsor.id) == await _ledger(db, sponsor.id)


async def test_no_fast_start_bonus_without_a_rate_or_for_an_inactive_sponsor(
    resources: Resources, db: AsyncSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chain = await make_chain(resources, levels=1)
    await paid_order(resources, chain.buyer, await make_product(resources))
    assert await _bonuses(db, SourceType.BONUS) == []  # the built-in plan pays none

    plan = DEFAULT_PLAN.model_copy(update={"version": "test-5", "fast_start_percent": Decimal(5)})
    path = tmp_path / "plan.json"
    path.write_text(plan.model_dump_json(by_alias=True), encoding="utf-8")
    monkeypatch.setattr(resources.settings, "rank_plan_file", str(path))
    chain = await make_chain(resources, levels=2)
    boss = await make_user(resources, Role.SUPER_ADMIN)
    async with resources.sessionmaker.begin() as session:
        await NetworkService(session, resources.settings).set_status(
            principal_of(boss), chain.partners[1].id, PartnerStatus.TERMINATED, "left"
        )
    await paid_order(resources, chain.buyer, await make_product(resources))
    # Compression gives the level to the partner above; the fast start is the sponsor's own.
    assert await _bonuses(db, SourceType.BONUS) == []


async def test_two_qualifications_at_once_make_one_set(
    resources: Resources, db: AsyncSession, production_only: None
) -> None:
    chain = await make_chain(resources, levels=1)
    await paid_order(resources, chain.buyer, await make_product(resources, price="150.00"))
    month = await _next_month()

    reports = await asyncio.gather(*(qualify_ranks(resources, month) for _ in range(4)))

    assert sorted(r.already_done for r in reports) == [False, True, True, True]
    assert len(await _bonuses(db, SourceType.RANK_BONUS)) == 1
    await fresh(db)
    assert await db.scalar(select(func.count()).select_from(RankChange)) == 1
    entries = await db.scalar(
        select(func.count())
        .select_from(LedgerEntry)
        .join(Commission, Commission.id == LedgerEntry.commission_id)
        .where(Commission.source_type == SourceType.RANK_BONUS)
    )
    assert entries == 1
