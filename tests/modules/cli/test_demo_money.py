"""The money part of `iwm demo-data`: every status of products, strategies, orders,
commissions and payouts, made through the services, and nothing more on a second run."""

import io

from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import events
from iwm.core.resources import Resources
from iwm.demo.admin import load_admin_demo
from iwm.demo.growth import load_growth_demo
from iwm.demo.money import load_money_demo
from iwm.modules.commissions.models import Commission, CommissionStatus, SourceType
from iwm.modules.ledger.service import LedgerService
from iwm.modules.network.models import NetworkPartner, PartnerStatus
from iwm.modules.payments.models import Payment, PaymentStatus
from iwm.modules.payouts.models import Payout, PayoutStatus
from iwm.modules.products.models import Product, ProductStatus
from iwm.modules.ranks.models import RankChange, RankPeriod
from iwm.modules.shop_orders.models import PaymentStatus as OrderPayment
from iwm.modules.shop_orders.models import ShopOrder, ShopOrderStatus
from iwm.modules.strategies.models import (
    InvestmentReturn,
    Participation,
    ParticipationStatus,
    Strategy,
    StrategyStatus,
)
from tests.factories.money import fresh


async def _statuses(db: AsyncSession, column: object) -> set[str]:
    return set(await db.scalars(select(column).distinct()))  # type: ignore[call-overload]


async def test_demo_money_holds_every_status_and_runs_once(
    resources: Resources, db: AsyncSession
) -> None:
    console = Console(file=io.StringIO())
    await load_admin_demo(resources, console)
    await load_money_demo(resources, console)
    await fresh(db)
    counts = (
        await db.scalar(select(func.count()).select_from(ShopOrder)),
        await db.scalar(select(func.count()).select_from(Commission)),
        await db.scalar(select(func.count()).select_from(Payout)),
        await db.scalar(select(func.count()).select_from(Participation)),
    )
    assert await _statuses(db, ShopOrder.status) == {s.value for s in ShopOrderStatus}
    assert await _statuses(db, Commission.status) == {s.value for s in CommissionStatus}
    assert await _statuses(db, Payout.status) == {s.value for s in PayoutStatus}
    # Members ask for bank transfers and cards (the member API knows no other method).
    methods = set((await db.execute(select(Payout.method_type))).scalars())
    assert methods == {"BANK_TRANSFER", "CARD"}
    assert await _statuses(db, Product.status) == {s.value for s in ProductStatus}
    assert await _statuses(db, Strategy.status) == {s.value for s in StrategyStatus}
    assert counts[3]
    assert await _statuses(db, Participation.status) == {s.value for s in ParticipationStatus}
    assert await _statuses(db, Payment.status) == {
        s.value for s in PaymentStatus if s is not PaymentStatus.REFUND_PENDING
    }
    assert await _statuses(db, ShopOrder.payment_status) == {s.value for s in OrderPayment}
    # Balances were moved by the services only: each equals its ledger.
    for partner in await db.scalars(select(NetworkPartner)):
        sums = await LedgerService(db).sums(partner.id)
        assert (sums.available, sums.pending, sums.earned, sums.withdrawn) == (
            partner.available_minor,
            partner.pending_minor,
            partner.total_earned_minor,
            partner.total_withdrawn_minor,
        )

    await load_money_demo(resources, console)
    await fresh(db)
    assert "already loaded" in console.file.getvalue()  # type: ignore[attr-defined]
    assert counts == (
        await db.scalar(select(func.count()).select_from(ShopOrder)),
        await db.scalar(select(func.count()).select_from(Commission)),
        await db.scalar(select(func.count()).select_from(Payout)),
        await db.scalar(select(func.count()).select_from(Participation)),
    )


async def test_demo_growth_makes_ranks_bonuses_statuses_and_returns_once(
    resources: Resources, db: AsyncSession
) -> None:
    console = Console(file=io.StringIO())
    await load_admin_demo(resources, console)
    await load_money_demo(resources, console)
    await load_growth_demo(resources, console)
    await fresh(db)
    assert await _statuses(db, NetworkPartner.status) == {s.value for s in PartnerStatus}
    assert {SourceType.BONUS.value, SourceType.RANK_BONUS.value} <= await _statuses(
        db, Commission.source_type
    )
    assert "LEVEL_COMPRESSED" in await _statuses(db, Commission.rule)
    periods = set(await db.scalars(select(RankPeriod.period)))
    assert len(periods) == 2
    assert await _statuses(db, RankChange.period) == periods
    assert await db.scalar(select(func.count()).select_from(InvestmentReturn))
    assert await db.scalar(select(func.sum(Participation.returns_distributed_minor)))
    drifts = await events.check(resources.sessionmaker)
    assert [d for d in drifts if d.differences] == []
    counts = (
        await db.scalar(select(func.count()).select_from(Commission)),
        await db.scalar(select(func.count()).select_from(InvestmentReturn)),
        await db.scalar(select(func.count()).select_from(RankChange)),
    )

    await load_growth_demo(resources, console)
    await fresh(db)
    assert "growth demo data already loaded" in console.file.getvalue()  # type: ignore[attr-defined]
    assert counts == (
        await db.scalar(select(func.count()).select_from(Commission)),
        await db.scalar(select(func.count()).select_from(InvestmentReturn)),
        await db.scalar(select(func.count()).select_from(RankChange)),
    )
