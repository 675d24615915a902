"""Keeps the analytics rollups in step with the domain, in the writer's transaction.

The handlers of the analytics projection (`projections.py`): a shop order paid or
refunded, a commission created or changed, an account created. Counter rows are locked in
one fixed order (sorted keys), so concurrent writers never deadlock on them; `rebuild`
recomputes every rollup from the raw tables.
"""

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Date, Uuid, case, delete, distinct, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from iwm.core import counters
from iwm.core.upsert import upsert_rows
from iwm.modules.analytics.models import (
    ALL_CATEGORIES,
    NO_CATEGORY,
    CommissionDaily,
    CustomerSales,
    PartnerCommissions,
    ProductSalesDaily,
    SaleFact,
    SalesDaily,
    UsersDaily,
)
from iwm.modules.commissions.events import CommissionChanged, CommissionEvent
from iwm.modules.commissions.models import Commission
from iwm.modules.products.models import Product
from iwm.modules.shop_orders.events import (
    DEFAULT_PAYMENT_METHOD,
    ShopOrderPaid,
    ShopOrderRefunded,
)
from iwm.modules.shop_orders.models import PaymentStatus, ShopOrder, ShopOrderItem
from iwm.modules.users.events import UserCreated
from iwm.modules.users.models import User, UserAddress

SHARDS = 4
UNKNOWN_REGION = "UNKNOWN"

Key = tuple[Any, ...]


async def _add(
    session: AsyncSession,
    model: type[DeclarativeBase],
    rows: dict[Key, tuple[int, ...]],
    key_names: tuple[str, ...],
    value_names: tuple[str, ...],
) -> None:
    """Adds each row's values to its counter row: one statement, one random shard per
    call, keys in a fixed order so that concurrent writers lock rows in the same order."""
    await counters.add_many(
        session,
        model,
        key_names,
        {key: dict(zip(value_names, values, strict=True)) for key, values in rows.items()},
        shard=counters.pick_shard(SHARDS),
    )


async def _region_of(session: AsyncSession, user_id: uuid.UUID) -> str:
    """The buyer's default (else first) address: its region, else its country."""
    row = (
        await session.execute(
            select(UserAddress.region, UserAddress.country)
            .where(UserAddress.user_id == user_id)
            .order_by(UserAddress.is_default.desc(), UserAddress.created_at, UserAddress.id)
            .limit(1)
        )
    ).first()
    if row is None:
        return UNKNOWN_REGION
    region, country = row
    return str(region or country or UNKNOWN_REGION)


async def _apply_facts(session: AsyncSession, facts: list[SaleFact], sign: int) -> None:
    by_category: dict[uuid.UUID, int] = defaultdict(int)
    products: dict[Key, tuple[int, ...]] = {}
    for f in facts:
        by_category[f.category_id] += f.revenue_minor
        products[(f.paid_at.date(), f.product_id, f.category_id)] = (
            sign * f.quantity,
            sign * f.revenue_minor,
        )
    first = facts[0]
    day = first.paid_at.date()
    by_category[ALL_CATEGORIES] = sum(f.revenue_minor for f in facts)
    sales: dict[Key, tuple[int, ...]] = {}
    for category, revenue in by_category.items():
        for dimension, value in (
            ("ALL", ""),
            ("METHOD", first.payment_method),
            ("REGION", first.region),
        ):
            sales[(day, category, dimension, value)] = (sign, sign * revenue)
    await _add(
        session,
        SalesDaily,
        sales,
        ("day", "category_id", "dimension", "value"),
        ("orders", "revenue_minor"),
    )
    await _add(
        session,
        ProductSalesDaily,
        products,
        ("day", "product_id", "category_id"),
        ("quantity", "revenue_minor"),
    )
    if sign > 0:
        await _count_customer_order(session, facts)
    else:
        await _recount_customer(session, first.user_id)


async def _count_customer_order(session: AsyncSession, facts: list[SaleFact]) -> None:
    """One more paid order of its buyer, overall and in each of its categories: an upsert
    (a refund recounts the buyer from the facts left instead)."""
    first = facts[0]
    categories = sorted({ALL_CATEGORIES, *(f.category_id for f in facts)}, key=str)
    await upsert_rows(
        session,
        CustomerSales,
        [
            {
                "category_id": category,
                "user_id": first.user_id,
                "first_paid_at": first.paid_at,
                "last_paid_at": first.paid_at,
                "paid_orders": 1,
            }
            for category in categories
        ],
        key=["category_id", "user_id"],
        add=["paid_orders"],
        set_=_widen_paid_span,
    )


def _widen_paid_span(new: Any) -> dict[str, Any]:
    table: Any = CustomerSales.__table__
    return {
        "first_paid_at": case(
            (new.first_paid_at < table.c.first_paid_at, new.first_paid_at),
            else_=table.c.first_paid_at,
        ),
        "last_paid_at": case(
            (new.last_paid_at > table.c.last_paid_at, new.last_paid_at),
            else_=table.c.last_paid_at,
        ),
    }


async def _recount_customer(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Recounts one buyer's rows of `analytics_customers` from the sale facts."""
    await session.execute(delete(CustomerSales).where(CustomerSales.user_id == user_id))
    per_category = (
        await session.execute(
            select(
                SaleFact.category_id,
                func.min(SaleFact.paid_at),
                func.max(SaleFact.paid_at),
                func.count(distinct(SaleFact.order_id)),
            )
            .where(SaleFact.user_id == user_id)
            .group_by(SaleFact.category_id)
        )
    ).all()
    overall = (
        await session.execute(
            select(
                func.min(SaleFact.paid_at),
                func.max(SaleFact.paid_at),
                func.count(distinct(SaleFact.order_id)),
            ).where(SaleFact.user_id == user_id)
        )
    ).one()
    rows: list[tuple[Any, ...]] = [(ALL_CATEGORIES, *overall)] if overall[2] else []
    rows += [tuple(r) for r in per_category]
    for category, first_at, last_at, n in rows:
        session.add(
            CustomerSales(
                category_id=category,
                user_id=user_id,
                first_paid_at=_aware(first_at),
                last_paid_at=_aware(last_at),
                paid_orders=int(n),
            )
        )
    await session.flush()


def _aware(value: datetime | str) -> datetime:
    # Aggregates over SQLite's text timestamps may come back as naive text or datetimes.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def order_paid(session: AsyncSession, order: ShopOrderPaid) -> None:
    """An order was paid: its lines join the sales rollups on the day of `paid_at`."""
    if not order.lines:
        return
    sold: dict[tuple[uuid.UUID, uuid.UUID], tuple[int, int]] = {}
    for line in order.lines:
        key = (line.product_id, line.category_id or NO_CATEGORY)
        quantity, revenue = sold.get(key, (0, 0))
        sold[key] = (quantity + line.quantity, revenue + line.amount_minor)
    region = await _region_of(session, order.user_id)
    facts = [
        SaleFact(
            order_id=order.order_id,
            product_id=product_id,
            user_id=order.user_id,
            category_id=category_id,
            paid_at=order.paid_at,
            payment_method=order.payment_method,
            region=region,
            quantity=quantity,
            revenue_minor=revenue,
        )
        for (product_id, category_id), (quantity, revenue) in sold.items()
    ]
    session.add_all(facts)
    await session.flush()
    await _apply_facts(session, facts, 1)


async def order_refunded(session: AsyncSession, order: ShopOrderRefunded) -> None:
    """A paid order was refunded: exactly what it added is taken away again."""
    facts = list(await session.scalars(select(SaleFact).where(SaleFact.order_id == order.order_id)))
    if not facts:
        return
    await session.execute(delete(SaleFact).where(SaleFact.order_id == order.order_id))
    await _apply_facts(session, facts, -1)


async def commissions_moved(session: AsyncSession, events: list[CommissionEvent]) -> None:
    """Commissions were created or changed status or net amount: one statement per rollup
    for all of them."""
    changes: dict[Key, tuple[int, ...]] = defaultdict(lambda: (0, 0))
    created: dict[uuid.UUID, tuple[datetime, int]] = {}
    for row in events:
        key = (row.created_at.date(), row.source_type, row.level)
        if isinstance(row, CommissionChanged):
            count, amount = changes[(*key, row.before_status)]
            changes[(*key, row.before_status)] = (count - 1, amount - row.before_net_minor)
        else:
            last, made = created.get(row.partner_id, (row.created_at, 0))
            created[row.partner_id] = (max(last, row.created_at), made + 1)
        count, amount = changes[(*key, row.status)]
        changes[(*key, row.status)] = (count + 1, amount + row.net_minor)
    await _add(
        session,
        CommissionDaily,
        changes,
        ("day", "source_type", "level", "status"),
        ("row_count", "amount_minor"),
    )
    if not created:
        return
    await upsert_rows(
        session,
        PartnerCommissions,
        [
            {"partner_id": partner, "last_created_at": last, "row_count": made}
            for partner, (last, made) in sorted(created.items())
        ],
        key=["partner_id"],
        add=["row_count"],
        set_=_keep_latest_created,
    )


def _keep_latest_created(new: Any) -> dict[str, Any]:
    table: Any = PartnerCommissions.__table__
    return {
        "last_created_at": case(
            (new.last_created_at > table.c.last_created_at, new.last_created_at),
            else_=table.c.last_created_at,
        )
    }


async def user_registered(session: AsyncSession, user: UserCreated) -> None:
    await _add(session, UsersDaily, {(user.created_at.date(),): (1,)}, ("day",), ("registered",))


def _day(session: AsyncSession, column: Any) -> Any:
    """The UTC calendar day of a timestamp column, in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.cast(func.timezone("UTC", column), Date)
    return func.date(column)


async def rebuild(session: AsyncSession) -> None:
    """Recomputes every rollup from the raw tables (after a bulk load, or to repair).
    Sale facts are kept for orders that have them (they hold the payment method) and
    made for paid orders that have none (card, region from the buyer's address)."""
    # NOT EXISTS rather than NOT IN: an anti-join, where NOT IN over a million orders is
    # a nested scan once the facts exist (a second rebuild took minutes).
    still_paid = (
        select(ShopOrder.id)
        .where(ShopOrder.id == SaleFact.order_id, ShopOrder.payment_status == PaymentStatus.PAID)
        .exists()
    )
    await session.execute(delete(SaleFact).where(~still_paid))
    address = (
        select(func.coalesce(func.nullif(UserAddress.region, ""), UserAddress.country))
        .where(UserAddress.user_id == ShopOrder.user_id)
        .order_by(UserAddress.is_default.desc(), UserAddress.created_at, UserAddress.id)
        .limit(1)
        .scalar_subquery()
    )
    missing = (
        select(
            ShopOrderItem.order_id,
            ShopOrderItem.product_id,
            ShopOrder.user_id,
            func.coalesce(Product.category_id, literal(NO_CATEGORY, Uuid)),
            ShopOrder.paid_at,
            literal(DEFAULT_PAYMENT_METHOD),
            func.coalesce(address, UNKNOWN_REGION),
            func.sum(ShopOrderItem.quantity),
            func.sum(ShopOrderItem.line_total_minor),
        )
        .join(ShopOrder, ShopOrder.id == ShopOrderItem.order_id)
        .join(Product, Product.id == ShopOrderItem.product_id)
        .where(
            ShopOrder.payment_status == PaymentStatus.PAID,
            ~select(SaleFact.order_id).where(SaleFact.order_id == ShopOrder.id).exists(),
        )
        .group_by(
            ShopOrderItem.order_id,
            ShopOrderItem.product_id,
            ShopOrder.user_id,
            Product.category_id,
            ShopOrder.paid_at,
        )
    )
    await session.execute(
        insert(SaleFact).from_select(
            [
                "order_id",
                "product_id",
                "user_id",
                "category_id",
                "paid_at",
                "payment_method",
                "region",
                "quantity",
                "revenue_minor",
            ],
            missing,
        )
    )
    for model in (
        SalesDaily,
        ProductSalesDaily,
        CustomerSales,
        CommissionDaily,
        PartnerCommissions,
        UsersDaily,
    ):
        await session.execute(delete(model))
    day = _day(session, SaleFact.paid_at).label("day")
    # Whole orders first (ALL_CATEGORIES), then per category, for each dimension.
    orders = (
        select(
            day,
            SaleFact.order_id,
            SaleFact.payment_method,
            SaleFact.region,
            func.sum(SaleFact.revenue_minor).label("revenue"),
        )
        .group_by(day, SaleFact.order_id, SaleFact.payment_method, SaleFact.region)
        .subquery()
    )
    per_category = (
        select(
            day,
            SaleFact.order_id,
            SaleFact.category_id,
            SaleFact.payment_method,
            SaleFact.region,
            func.sum(SaleFact.revenue_minor).label("revenue"),
        )
        .group_by(
            day, SaleFact.order_id, SaleFact.category_id, SaleFact.payment_method, SaleFact.region
        )
        .subquery()
    )
    columns = ["day", "category_id", "dimension", "value", "shard", "orders", "revenue_minor"]
    for source, category in ((orders, literal(ALL_CATEGORIES)), (per_category, None)):
        cat = category if category is not None else source.c.category_id
        for dimension, value in (
            ("ALL", literal("")),
            ("METHOD", source.c.payment_method),
            ("REGION", source.c.region),
        ):
            await session.execute(
                insert(SalesDaily).from_select(
                    columns,
                    select(
                        source.c.day,
                        cat,
                        literal(dimension),
                        value,
                        literal(0),
                        func.count(),
                        func.sum(source.c.revenue),
                    ).group_by(source.c.day, cat, value),
                )
            )
    await session.execute(
        insert(ProductSalesDaily).from_select(
            ["day", "product_id", "category_id", "shard", "quantity", "revenue_minor"],
            select(
                day,
                SaleFact.product_id,
                SaleFact.category_id,
                literal(0),
                func.sum(SaleFact.quantity),
                func.sum(SaleFact.revenue_minor),
            ).group_by(day, SaleFact.product_id, SaleFact.category_id),
        )
    )
    customer_columns = ["category_id", "user_id", "first_paid_at", "last_paid_at", "paid_orders"]
    await session.execute(
        insert(CustomerSales).from_select(
            customer_columns,
            select(
                literal(ALL_CATEGORIES),
                SaleFact.user_id,
                func.min(SaleFact.paid_at),
                func.max(SaleFact.paid_at),
                func.count(distinct(SaleFact.order_id)),
            ).group_by(SaleFact.user_id),
        )
    )
    await session.execute(
        insert(CustomerSales).from_select(
            customer_columns,
            select(
                SaleFact.category_id,
                SaleFact.user_id,
                func.min(SaleFact.paid_at),
                func.max(SaleFact.paid_at),
                func.count(distinct(SaleFact.order_id)),
            ).group_by(SaleFact.category_id, SaleFact.user_id),
        )
    )
    cday = _day(session, Commission.created_at)
    level = func.coalesce(Commission.level_depth, 0)
    await session.execute(
        insert(CommissionDaily).from_select(
            ["day", "source_type", "level", "status", "shard", "row_count", "amount_minor"],
            select(
                cday,
                Commission.source_type,
                level,
                Commission.status,
                literal(0),
                func.count(),
                func.sum(Commission.net_minor),
            ).group_by(cday, Commission.source_type, level, Commission.status),
        )
    )
    await session.execute(
        insert(PartnerCommissions).from_select(
            ["partner_id", "last_created_at", "row_count"],
            select(Commission.partner_id, func.max(Commission.created_at), func.count()).group_by(
                Commission.partner_id
            ),
        )
    )
    uday = _day(session, User.created_at)
    await session.execute(
        insert(UsersDaily).from_select(
            ["day", "shard", "registered"],
            select(uday, literal(0), func.count()).group_by(uday),
        )
    )
