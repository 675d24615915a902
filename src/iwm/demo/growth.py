"""`iwm demo-data`, growth part: two past months of sales under a rank plan that pays the
fast-start bonus (BONUS), a suspended and a terminated partner (compression), both months'
ranks qualified with their history and RANK_BONUS, and both months' investment returns.
Made through the services with the service clock moved back to those months; safe to run
twice: it stops when a month has been qualified."""

import random
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from sqlalchemy import select

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.money import to_minor
from iwm.core.resources import Resources
from iwm.modules.commissions.engine import CommissionEngine
from iwm.modules.network.models import NetworkPartner, PartnerStatus
from iwm.modules.network.service import NetworkService
from iwm.modules.products.models import Product, ProductStatus
from iwm.modules.ranks.models import RankPeriod
from iwm.modules.ranks.schemas import DEFAULT_PLAN
from iwm.modules.shop_orders.service import OrderLine, ShopOrderService
from iwm.modules.strategies.models import Strategy, StrategyStatus
from iwm.modules.strategies.service import ParticipationService, ReturnService
from iwm.modules.users.service import UserService, principal_of

DEMO_PLAN = DEFAULT_PLAN.model_copy(
    update={"version": "2026.1-demo", "fast_start_percent": Decimal(5)}
)
ORDERS_PER_MONTH = 14
MIN_PARTNERS = 8  # a tree deep enough for compression and group volume


def _month_start(moment: datetime, back: int) -> datetime:
    year, month = moment.year, moment.month - back
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1, tzinfo=UTC)


async def load_growth_demo(resources: Resources, console: Console) -> None:
    async with resources.sessionmaker.begin() as db:
        if await db.scalar(select(RankPeriod.period).limit(1)) is not None:
            console.print("growth demo data already loaded; nothing to do")
            return
        root = await UserService(db).by_email("admin@iwm.local")
        partners = [
            (partner_id, user_id)
            for partner_id, user_id in await db.execute(
                select(NetworkPartner.id, NetworkPartner.user_id).order_by(
                    NetworkPartner.created_at, NetworkPartner.id
                )
            )
        ]
        products = list(
            await db.scalars(
                select(Product.id)
                .where(Product.status == ProductStatus.ACTIVE)
                .order_by(Product.price_minor.desc())
            )
        )
        strategy = await db.scalar(
            select(Strategy.id).where(Strategy.status == StrategyStatus.ACTIVE).limit(1)
        )
    if root is None or len(partners) < MIN_PARTNERS or not products or strategy is None:
        console.print("growth demo skipped: the admin and money demos are missing")
        return
    with tempfile.TemporaryDirectory() as folder:
        plan_file = Path(folder) / "rank-plan.json"
        plan_file.write_text(DEMO_PLAN.model_dump_json(by_alias=True), encoding="utf-8")
        settings = resources.settings.model_copy(update={"rank_plan_file": str(plan_file)})
        periods = await _past_months(resources, settings, root.id, partners, products, strategy)
        for period in periods:
            async with resources.sessionmaker.begin() as db:
                report = await CommissionEngine(db, settings).qualify_ranks(period)
            async with resources.sessionmaker.begin() as db:
                returns = await ReturnService(db).distribute(period)
            console.print(
                f"growth demo {period}: {report.promoted} promoted, {report.demoted} demoted, "
                f"{report.rank_bonuses} rank bonuses, {returns.credited} returns credited"
            )


async def _past_months(
    resources: Resources,
    settings: Settings,
    admin_id: uuid.UUID,
    partners: list[tuple[uuid.UUID, uuid.UUID]],
    products: list[uuid.UUID],
    strategy: uuid.UUID,
) -> list[str]:
    """Sales and investments two months and one month ago; in between a partner is
    suspended and one terminated, so the second month's commissions are compressed."""
    rng = random.Random(31)  # noqa: S311 - demo data, not secrets
    now = clock.now()
    periods = []
    try:
        for back in (2, 1):
            start = _month_start(now, back) + timedelta(days=4, hours=10)
            clock.travel(start - clock.now())
            periods.append(start.strftime("%Y-%m"))
            if back == 1:
                await _statuses(resources, settings, admin_id, partners)
            for i in range(ORDERS_PER_MONTH):
                clock.travel(timedelta(hours=rng.randint(10, 40)))
                _, buyer = partners[len(partners) // 3 + rng.randrange(len(partners) * 2 // 3)]
                lines = [OrderLine(products[0], rng.randint(2, 7))]
                async with resources.sessionmaker.begin() as db:
                    shop = ShopOrderService(db, settings)
                    order = await shop.place(buyer, lines)
                    await shop.pay(order.id)
                if i % 5 == 0:
                    async with resources.sessionmaker.begin() as db:
                        await ParticipationService(db, settings).invest(
                            buyer, strategy, to_minor(Decimal(1000 + 500 * i))
                        )
    finally:
        clock.travel(now - clock.now())
    return periods


async def _statuses(
    resources: Resources,
    settings: Settings,
    admin_id: uuid.UUID,
    partners: list[tuple[uuid.UUID, uuid.UUID]],
) -> None:
    async with resources.sessionmaker.begin() as db:
        admin = principal_of(await UserService(db).get(admin_id))
        network = NetworkService(db, settings)
        middle = len(partners) // 2
        await network.set_status(
            admin, partners[middle][0], PartnerStatus.SUSPENDED, "Chargebacks under review"
        )
        await network.set_status(
            admin, partners[middle + 2][0], PartnerStatus.TERMINATED, "Left the programme"
        )
