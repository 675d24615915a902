"""The analytics rollups (`models.py`) as one projection: sales by day, dimension and
category, product sales, the sale facts, the buyers' figures, commissions by day, the
partners' commission counts and the accounts created per day. Kept by the events of the
shop orders, the commissions and the users (`rollups.py`); `rollups.rebuild` recomputes
them from the raw tables."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.events import Projection, Snapshot, Subscriptions, rows_of, summed
from iwm.modules.analytics import rollups
from iwm.modules.analytics.models import (
    CommissionDaily,
    CustomerSales,
    PartnerCommissions,
    ProductSalesDaily,
    SaleFact,
    SalesDaily,
    UsersDaily,
)
from iwm.modules.commissions.events import CommissionEvent
from iwm.modules.shop_orders.events import ShopOrderPaid, ShopOrderRefunded
from iwm.modules.users.events import UserCreated


def _subscribe(bus: Subscriptions) -> None:
    bus.on(ShopOrderPaid, rollups.order_paid)
    bus.on(ShopOrderRefunded, rollups.order_refunded)
    bus.on_many(CommissionEvent, rollups.commissions_moved)
    bus.on(UserCreated, rollups.user_registered)


async def _snapshot(session: AsyncSession) -> Snapshot:
    sales, products, commissions = SalesDaily, ProductSalesDaily, CommissionDaily
    fact, customer, partner = SaleFact, CustomerSales, PartnerCommissions
    return {
        "analytics_sales_daily": await summed(
            session,
            (sales.day, sales.category_id, sales.dimension, sales.value),
            (sales.orders, sales.revenue_minor),
        ),
        "analytics_product_sales_daily": await summed(
            session,
            (products.day, products.product_id, products.category_id),
            (products.quantity, products.revenue_minor),
        ),
        "analytics_sale_facts": await rows_of(
            session,
            select(
                fact.order_id,
                fact.product_id,
                fact.user_id,
                fact.category_id,
                fact.paid_at,
                fact.payment_method,
                fact.region,
                fact.quantity,
                fact.revenue_minor,
            ),
            2,
        ),
        "analytics_customers": await rows_of(
            session,
            select(
                customer.category_id,
                customer.user_id,
                customer.first_paid_at,
                customer.last_paid_at,
                customer.paid_orders,
            ),
            2,
        ),
        "analytics_commissions_daily": await summed(
            session,
            (commissions.day, commissions.source_type, commissions.level, commissions.status),
            (commissions.row_count, commissions.amount_minor),
        ),
        "analytics_partner_commissions": await rows_of(
            session,
            select(partner.partner_id, partner.last_created_at, partner.row_count),
            1,
        ),
        "analytics_users_daily": await summed(session, (UsersDaily.day,), (UsersDaily.registered,)),
    }


ROLLUPS = Projection(
    name="analytics_rollups",
    owner="analytics",
    subscribe=_subscribe,
    rebuild=rollups.rebuild,
    snapshot=_snapshot,
)
