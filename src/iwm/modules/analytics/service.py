"""Admin analytics: every figure from stored data, the large tables through the daily
rollups (see models.py and docs/analytics.md for the definitions). Reads only."""

import uuid
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.money import from_minor
from iwm.modules.analytics.models import (
    ALL_CATEGORIES,
    NO_CATEGORY,
    UNKNOWN_CATEGORY,
    CommissionDaily,
    CustomerSales,
    PartnerCommissions,
    ProductSalesDaily,
    SalesDaily,
    UsersDaily,
)
from iwm.modules.analytics.periods import (
    Granularity,
    Window,
    average_minor,
    bucket,
    buckets,
    growth,
    percent,
    ratio,
)
from iwm.modules.analytics.schemas import (
    CategorySales,
    CommissionAnalyticsResponse,
    CommissionPoint,
    CommissionsBlock,
    CommissionSummaryBlock,
    DashboardResponse,
    EarnerBlock,
    InvestmentsBlock,
    LevelBlock,
    MethodSales,
    OrdersBlock,
    PartnersBlock,
    PayoutsBlock,
    PayoutStatsBlock,
    ProductSales,
    QuickStats,
    RankBlock,
    RegionSales,
    SalesPoint,
    SalesResponse,
    SalesSummary,
    SourceBlock,
    UsersBlock,
)
from iwm.modules.categories.models import Category
from iwm.modules.commissions.models import CommissionStatus
from iwm.modules.network.models import NetworkPartner, PartnerRank, PartnerStatus
from iwm.modules.payouts.models import Payout, PayoutStatus
from iwm.modules.products.models import Product
from iwm.modules.strategies.models import Participation, ParticipationStatus, invested
from iwm.modules.users.models import User, UserStatus

TOP = 10
REPEAT_ORDERS = 2  # a repeat customer has at least this many paid orders
PENDING_COMMISSION = (CommissionStatus.PENDING.value, CommissionStatus.HELD.value)
OPEN_PAYOUT = (PayoutStatus.PENDING, PayoutStatus.APPROVED, PayoutStatus.PROCESSING)


def _money(minor: int) -> Decimal:
    return from_minor(int(minor))


class AnalyticsService:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def _scalar(self, stmt: Any) -> int:
        return int(await self._db.scalar(stmt) or 0)

    # Sales -------------------------------------------------------------------------

    async def _sales_by_day(
        self, category: uuid.UUID, first: date | None, last: date | None
    ) -> dict[date, tuple[int, int]]:
        where = [SalesDaily.category_id == category, SalesDaily.dimension == "ALL"]
        if first is not None:
            where.append(SalesDaily.day >= first)
        if last is not None:
            where.append(SalesDaily.day <= last)
        rows = await self._db.execute(
            select(SalesDaily.day, func.sum(SalesDaily.orders), func.sum(SalesDaily.revenue_minor))
            .where(*where)
            .group_by(SalesDaily.day)
        )
        return {d: (int(n or 0), int(r or 0)) for d, n, r in rows}

    async def _sales_total(
        self, category: uuid.UUID, first: date | None, last: date | None
    ) -> tuple[int, int]:
        days = await self._sales_by_day(category, first, last)
        return sum(n for n, _ in days.values()), sum(r for _, r in days.values())

    async def _sales_by(
        self, category: uuid.UUID, dimension: str, w: Window
    ) -> list[tuple[str, int, int]]:
        rows = await self._db.execute(
            select(
                SalesDaily.value, func.sum(SalesDaily.orders), func.sum(SalesDaily.revenue_minor)
            )
            .where(
                SalesDaily.category_id == category,
                SalesDaily.dimension == dimension,
                SalesDaily.day >= w.first_day,
                SalesDaily.day <= w.last_day,
            )
            .group_by(SalesDaily.value)
        )
        result = [(str(v), int(n or 0), int(r or 0)) for v, n, r in rows]
        return [r for r in result if r[1] or r[2]]

    async def _customers(self, category: uuid.UUID, start: datetime) -> tuple[int, int, int]:
        c = CustomerSales
        in_period = and_(c.category_id == category, c.last_paid_at >= start)
        total = await self._scalar(select(func.count()).select_from(c).where(in_period))
        repeat = await self._scalar(
            select(func.count()).select_from(c).where(in_period, c.paid_orders >= REPEAT_ORDERS)
        )
        new = await self._scalar(
            select(func.count())
            .select_from(c)
            .where(c.category_id == category, c.first_paid_at >= start)
        )
        return total, new, repeat

    async def sales(
        self, w: Window, granularity: Granularity, category_id: uuid.UUID | None
    ) -> SalesResponse:
        if category_id in (ALL_CATEGORIES, NO_CATEGORY):
            # The rollups' own keys are no category a client can ask for: unknown, like any
            # other id no category has (zeros).
            category_id = UNKNOWN_CATEGORY
        key = category_id or ALL_CATEGORIES
        days = await self._sales_by_day(key, w.first_day, w.last_day)
        orders = sum(n for n, _ in days.values())
        revenue = sum(r for _, r in days.values())
        points: dict[date, list[int]] = {b: [0, 0] for b in buckets(w, granularity)}
        for d, (n, r) in days.items():
            points[bucket(d, granularity)][0] += n
            points[bucket(d, granularity)][1] += r
        customers, new, repeat = await self._customers(key, w.start)

        # Shares of categories and methods are of the total revenue of the orders shown.
        cat_rows = await self._db.execute(
            select(
                SalesDaily.category_id,
                func.sum(SalesDaily.orders),
                func.sum(SalesDaily.revenue_minor),
            )
            .where(
                SalesDaily.dimension == "ALL",
                SalesDaily.day >= w.first_day,
                SalesDaily.day <= w.last_day,
                SalesDaily.category_id.not_in([ALL_CATEGORIES, NO_CATEGORY])
                if category_id is None
                else SalesDaily.category_id == category_id,
            )
            .group_by(SalesDaily.category_id)
        )
        cats = [(cid, int(n or 0), int(r or 0)) for cid, n, r in cat_rows if n or r]
        names = await self._names(Category, [c for c, _, _ in cats])
        by_category = sorted(
            (
                CategorySales(
                    category_id=cid,
                    category_name=names.get(cid, ""),
                    revenue=_money(r),
                    orders=n,
                    percentage=percent(r, revenue),
                )
                for cid, n, r in cats
            ),
            key=lambda c: (-c.revenue, str(c.category_id)),
        )

        product_where = [ProductSalesDaily.day >= w.first_day, ProductSalesDaily.day <= w.last_day]
        if category_id is not None:
            product_where.append(ProductSalesDaily.category_id == category_id)
        revenue_sum = func.sum(ProductSalesDaily.revenue_minor)
        product_rows = (
            await self._db.execute(
                select(
                    ProductSalesDaily.product_id, revenue_sum, func.sum(ProductSalesDaily.quantity)
                )
                .where(*product_where)
                .group_by(ProductSalesDaily.product_id)
                .having(func.sum(ProductSalesDaily.quantity) != 0)
                .order_by(revenue_sum.desc(), ProductSalesDaily.product_id)
                .limit(TOP)
            )
        ).all()
        product_names = await self._names(Product, [p for p, _, _ in product_rows])
        top_products = [
            ProductSales(
                product_id=pid,
                product_name=product_names.get(pid, ""),
                revenue=_money(r),
                quantity=int(q),
            )
            for pid, r, q in product_rows
        ]

        methods = await self._sales_by(key, "METHOD", w)
        regions = await self._sales_by(key, "REGION", w)
        return SalesResponse(
            period=w.period,
            period_start=w.start,
            period_end=w.end,
            summary=SalesSummary(
                total_revenue=_money(revenue),
                total_orders=orders,
                average_order_value=average_minor(revenue, orders),
                total_customers=customers,
                new_customers=new,
                repeat_customers=repeat,
            ),
            timeline=[
                SalesPoint(
                    date=b,
                    revenue=_money(r),
                    orders=n,
                    average_order_value=average_minor(r, n),
                )
                for b, (n, r) in points.items()
            ],
            by_category=by_category,
            top_products=top_products,
            by_payment_method=[
                MethodSales(method=m, count=n, amount=_money(r), percentage=percent(r, revenue))
                for m, n, r in sorted(methods, key=lambda x: (-x[2], x[0]))
            ],
            by_region=[
                RegionSales(region=g, revenue=_money(r), orders=n)
                for g, n, r in sorted(regions, key=lambda x: (-x[2], x[0]))
            ],
        )

    async def _names(self, model: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not ids:
            return {}
        rows = await self._db.execute(select(model.id, model.name).where(model.id.in_(ids)))
        return {i: str(n) for i, n in rows}

    # Commissions ---------------------------------------------------------------------

    async def _commission_sums(self, w: Window, *keys: Any) -> list[tuple[Any, ...]]:
        """Count and amount of the period's commissions grouped by `keys` (few groups: the
        rollup is summed in SQL, not row by row in Python)."""
        d = CommissionDaily
        rows = await self._db.execute(
            select(*keys, func.sum(d.row_count), func.sum(d.amount_minor))
            .where(d.day >= w.first_day, d.day <= w.last_day)
            .group_by(*keys)
        )
        return [(*r[:-2], int(r[-2] or 0), int(r[-1] or 0)) for r in rows]

    async def commissions(self, w: Window, granularity: Granularity) -> CommissionAnalyticsResponse:
        d = CommissionDaily
        by_kind = await self._commission_sums(w, d.source_type, d.level, d.status)
        by_day = await self._commission_sums(w, d.day, d.status)
        generated = sum(r[4] for r in by_kind)
        count = sum(r[3] for r in by_kind)

        def amount(*statuses: str) -> int:
            return sum(r[4] for r in by_kind if r[2] in statuses)

        points: dict[date, list[int]] = {b: [0, 0, 0] for b in buckets(w, granularity)}
        sources: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        levels: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for day, status, _, a in by_day:
            point = points[bucket(day, granularity)]
            point[0] += a
            if status == CommissionStatus.PAID:
                point[1] += a
            elif status == CommissionStatus.REVERSED:
                point[2] += a
        for source, level, _, n, a in by_kind:
            sources[str(source)][0] += a
            sources[str(source)][1] += n
            if level > 0:
                levels[int(level)][0] += a
                levels[int(level)][1] += n
        earning = await self._scalar(
            select(func.count())
            .select_from(PartnerCommissions)
            .where(PartnerCommissions.last_created_at >= w.start)
        )
        return CommissionAnalyticsResponse(
            period=w.period,
            period_start=w.start,
            period_end=w.end,
            summary=CommissionSummaryBlock(
                total_generated=_money(generated),
                total_paid=_money(amount(CommissionStatus.PAID)),
                total_pending=_money(amount(*PENDING_COMMISSION)),
                total_reversed=_money(amount(CommissionStatus.REVERSED)),
                average_commission=average_minor(generated, count),
                partners_earning=earning,
            ),
            timeline=[
                CommissionPoint(date=b, generated=_money(g), paid=_money(p), reversed=_money(r))
                for b, (g, p, r) in points.items()
            ],
            by_source=[
                SourceBlock(
                    source_type=s, total=_money(a), count=n, percentage=percent(a, generated)
                )
                for s, (a, n) in sorted(sources.items(), key=lambda x: (-x[1][0], x[0]))
                if n
            ],
            by_level=[
                LevelBlock(level=lv, total=_money(a), count=n, average_amount=average_minor(a, n))
                for lv, (a, n) in sorted(levels.items())
                if n
            ],
            by_rank=await self._by_rank(),
            top_earners=await self._top_earners(),
            payout_stats=await self._payout_stats(w),
        )

    async def _by_rank(self) -> list[RankBlock]:
        p = NetworkPartner
        rows = await self._db.execute(
            select(PartnerRank.code, PartnerRank.name, func.count(), func.sum(p.total_earned_minor))
            .join(p, p.rank_id == PartnerRank.id)
            .group_by(PartnerRank.code, PartnerRank.name, PartnerRank.level)
            .order_by(PartnerRank.level)
        )
        return [
            RankBlock(
                rank_code=code,
                rank_name=name,
                partners_count=int(n),
                total_earned=_money(int(e or 0)),
                average_earned=average_minor(int(e or 0), int(n)),
            )
            for code, name, n, e in rows
        ]

    async def _top_earners(self) -> list[EarnerBlock]:
        p = NetworkPartner
        rows = await self._db.execute(
            select(
                p.id,
                User.first_name,
                User.last_name,
                PartnerRank.name,
                p.total_earned_minor,
                func.coalesce(PartnerCommissions.row_count, 0),
            )
            .join(User, User.id == p.user_id)
            .outerjoin(PartnerRank, PartnerRank.id == p.rank_id)
            .outerjoin(PartnerCommissions, PartnerCommissions.partner_id == p.id)
            .where(p.total_earned_minor > 0)
            .order_by(p.total_earned_minor.desc(), p.id)
            .limit(TOP)
        )
        return [
            EarnerBlock(
                partner_id=pid,
                partner_name=f"{first} {last}".strip(),
                rank=rank,
                total_earned=_money(earned),
                commissions_count=int(n),
            )
            for pid, first, last, rank, earned, n in rows
        ]

    async def _payout_stats(self, w: Window) -> PayoutStatsBlock:
        async def total(column: Any) -> int:
            return await self._scalar(
                select(func.coalesce(func.sum(Payout.amount_minor), 0)).where(column >= w.start)
            )

        completed = (Payout.status == PayoutStatus.COMPLETED, Payout.completed_at >= w.start)
        seconds: Any
        if self._db.get_bind().dialect.name == "postgresql":
            # Summed in SQL: exact (microseconds as numeric), one row instead of every payout.
            processed, done, seconds = (
                await self._db.execute(
                    select(
                        func.coalesce(func.sum(Payout.amount_minor), 0),
                        func.count(),
                        func.coalesce(
                            func.sum(
                                func.extract("epoch", Payout.completed_at - Payout.created_at)
                            ),
                            0,
                        ),
                    ).where(*completed)
                )
            ).one()
        else:
            rows = (
                await self._db.execute(
                    select(Payout.amount_minor, Payout.created_at, Payout.completed_at).where(
                        *completed
                    )
                )
            ).all()
            processed, done = sum(a for a, _, _ in rows), len(rows)
            seconds = sum(Decimal((c - r).total_seconds()) for _, r, c in rows if c is not None)
        return PayoutStatsBlock(
            total_requested=_money(await total(Payout.created_at)),
            total_approved=_money(await total(Payout.approved_at)),
            total_processed=_money(int(processed)),
            average_processing_time=ratio(Decimal(seconds), int(done) * 3600),
        )

    # Dashboard -------------------------------------------------------------------------

    async def dashboard(self, w: Window) -> DashboardResponse:
        db_count = self._scalar
        users_days = dict(
            (
                await self._db.execute(
                    select(UsersDaily.day, func.sum(UsersDaily.registered)).group_by(UsersDaily.day)
                )
            ).all()
        )
        users_total = sum(int(n) for n in users_days.values())
        users_new = sum(int(n) for d, n in users_days.items() if d >= w.first_day)
        users_prev = sum(
            int(n) for d, n in users_days.items() if w.previous_first_day <= d < w.first_day
        )
        active = await db_count(
            select(func.count()).select_from(User).where(User.last_login_at >= w.start)
        )
        suspended = await db_count(
            select(func.count())
            .select_from(User)
            .where(User.status_is(UserStatus.SUSPENDED, w.end))
        )

        p = NetworkPartner
        partners_total = await db_count(select(func.count()).select_from(p))
        partners_new = await db_count(
            select(func.count()).select_from(p).where(p.created_at >= w.start)
        )
        partners_prev = await db_count(
            select(func.count())
            .select_from(p)
            .where(p.created_at >= w.previous_start, p.created_at < w.start)
        )
        partners_active = await db_count(
            select(func.count()).select_from(p).where(p.status == PartnerStatus.ACTIVE)
        )
        partners_before = await db_count(
            select(func.count()).select_from(p).where(p.created_at < w.start)
        )
        partners_kept = await db_count(
            select(func.count())
            .select_from(p)
            .where(p.created_at < w.start, p.status == PartnerStatus.ACTIVE)
        )
        earned_all = await db_count(select(func.coalesce(func.sum(p.total_earned_minor), 0)))

        sales_days = await self._sales_by_day(ALL_CATEGORIES, None, None)
        orders_total = sum(n for n, _ in sales_days.values())
        orders_in = sum(n for d, (n, _) in sales_days.items() if d >= w.first_day)
        revenue_in = sum(r for d, (_, r) in sales_days.items() if d >= w.first_day)
        revenue_prev = sum(
            r for d, (_, r) in sales_days.items() if w.previous_first_day <= d < w.first_day
        )
        buyers, _, _ = await self._customers(ALL_CATEGORIES, w.start)

        pp = Participation
        invest_total = await db_count(select(func.count()).select_from(pp).where(invested()))
        invest_in = await db_count(
            select(func.count()).select_from(pp).where(invested()).where(pp.created_at >= w.start)
        )
        invested_all = await db_count(
            select(func.coalesce(func.sum(pp.amount_minor), 0)).where(invested())
        )
        invested_in = await db_count(
            select(func.coalesce(func.sum(pp.amount_minor), 0))
            .where(invested())
            .where(pp.created_at >= w.start)
        )
        invested_prev = await db_count(
            select(func.coalesce(func.sum(pp.amount_minor), 0))
            .where(invested())
            .where(pp.created_at >= w.previous_start, pp.created_at < w.start)
        )
        invest_active = await db_count(
            select(func.count())
            .select_from(pp)
            .where(invested())
            .where(pp.status == ParticipationStatus.ACTIVE)
        )
        invest_before = await db_count(
            select(func.count()).select_from(pp).where(invested()).where(pp.created_at < w.start)
        )
        invest_kept = await db_count(
            select(func.count())
            .select_from(pp)
            .where(pp.created_at < w.start, pp.status != ParticipationStatus.WITHDRAWN)
        )

        d = CommissionDaily
        is_paid = d.status == CommissionStatus.PAID.value
        in_period = d.day >= w.first_day

        def when(condition: Any) -> Any:
            return func.coalesce(func.sum(case((condition, d.amount_minor), else_=0)), 0)

        paid_all, paid_in, pending, generated_in, generated_prev = (
            int(v)
            for v in (
                await self._db.execute(
                    select(
                        when(is_paid),
                        when(and_(is_paid, in_period)),
                        when(d.status.in_(PENDING_COMMISSION)),
                        when(in_period),
                        when(and_(d.day >= w.previous_first_day, d.day < w.first_day)),
                    )
                )
            ).one()
        )

        completed = Payout.status == PayoutStatus.COMPLETED
        processed_all = await db_count(
            select(func.coalesce(func.sum(Payout.amount_minor), 0)).where(completed)
        )
        processed_in = await db_count(
            select(func.coalesce(func.sum(Payout.amount_minor), 0)).where(
                completed, Payout.completed_at >= w.start
            )
        )
        open_payouts = (
            await self._db.execute(
                select(func.count(), func.coalesce(func.sum(Payout.amount_minor), 0)).where(
                    Payout.status.in_(OPEN_PAYOUT)
                )
            )
        ).one()

        return DashboardResponse(
            period=w.period,
            period_start=w.start,
            period_end=w.end,
            users=UsersBlock(
                total=users_total,
                new_in_period=users_new,
                active=active,
                suspended=suspended,
                growth=growth(users_new, users_prev),
            ),
            partners=PartnersBlock(
                total=partners_total,
                new_in_period=partners_new,
                active=partners_active,
                growth=growth(partners_new, partners_prev),
            ),
            orders=OrdersBlock(
                total=orders_total,
                in_period=orders_in,
                revenue=_money(revenue_in),
                average_order_value=average_minor(revenue_in, orders_in),
                growth=growth(revenue_in, revenue_prev),
            ),
            investments=InvestmentsBlock(
                total_participations=invest_total,
                in_period=invest_in,
                total_invested=_money(invested_all),
                active_investments=invest_active,
                growth=growth(invested_in, invested_prev),
            ),
            commissions=CommissionsBlock(
                total_paid=_money(paid_all),
                paid_in_period=_money(paid_in),
                pending=_money(pending),
                growth=growth(generated_in, generated_prev),
            ),
            payouts=PayoutsBlock(
                total_processed=_money(processed_all),
                processed_in_period=_money(processed_in),
                pending=int(open_payouts[0]),
                pending_amount=_money(int(open_payouts[1])),
            ),
            quick_stats=QuickStats(
                conversion_rate=percent(buyers, users_total),
                average_partner_earnings=average_minor(earned_all, partners_total),
                partner_retention_rate=percent(partners_kept, partners_before),
                investment_retention_rate=percent(invest_kept, invest_before),
            ),
        )
