"""Daily rollups behind the admin analytics, kept in the writers' own transactions
(see `rollups.py`), so that a year of figures reads a few thousand rows instead of
millions. Days are UTC calendar days; amounts are integer minor units. Counter rows carry a
`shard` (chosen at random per write, as in core/counters) so that concurrent writers of
the same day rarely wait on one row; readers sum over the shards."""

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core.db import Base

ALL_CATEGORIES = uuid.UUID(int=0)
"""The category key of whole orders (every line, each order counted once)."""
NO_CATEGORY = uuid.UUID(int=1)
"""The category key of lines whose product had no category."""
UNKNOWN_CATEGORY = uuid.UUID(int=2)
"""A key no rollup row carries (categories have random, version 4 ids): what a request
naming one of the keys above is read as."""


class SalesDaily(Base):
    """Paid, not refunded shop orders by the day they were paid. `dimension` is `ALL`
    (value ''), `METHOD` (payment method) or `REGION` (the buyer's region); `orders`
    counts orders with at least one line in the category, `revenue_minor` their lines'
    totals in the category (whole order totals under ALL_CATEGORIES)."""

    __tablename__ = "analytics_sales_daily"

    # Key order: one category's one dimension over a range of days is one index range.
    category_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    dimension: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[str] = mapped_column(String(100), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    orders: Mapped[int] = mapped_column(BigInteger, default=0)
    revenue_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class ProductSalesDaily(Base):
    """Quantity and revenue of each product by the day its orders were paid; the
    category is the product's at the time of the sale."""

    __tablename__ = "analytics_product_sales_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    category_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    revenue_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class SaleFact(Base):
    """One row per product of each paid, not refunded order: what the order added to the
    rollups (day, method, region, category at the time), so that a refund takes away
    exactly the same whatever changed since, and a buyer's figures can be recounted."""

    __tablename__ = "analytics_sale_facts"
    __table_args__ = (Index("ix_analytics_sale_facts_user", "user_id"),)

    order_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID]
    category_id: Mapped[uuid.UUID]
    paid_at: Mapped[datetime]
    payment_method: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(BigInteger)
    revenue_minor: Mapped[int] = mapped_column(BigInteger)


class CustomerSales(Base):
    """A buyer's paid, not refunded orders (overall and per category): first and last
    payment and how many. Periods end now, so "bought in the period" is
    `last_paid_at >= start`."""

    __tablename__ = "analytics_customers"
    __table_args__ = (
        Index("ix_analytics_customers_last", "category_id", "last_paid_at", "paid_orders"),
        Index("ix_analytics_customers_first", "category_id", "first_paid_at"),
    )

    category_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    first_paid_at: Mapped[datetime]
    last_paid_at: Mapped[datetime]
    paid_orders: Mapped[int] = mapped_column(Integer)


class CommissionDaily(Base):
    """Commissions by the day they were created, source type, level (0: none) and
    current status: count and net sum."""

    __tablename__ = "analytics_commissions_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class PartnerCommissions(Base):
    """Per partner: when the latest commission was created and how many there are."""

    __tablename__ = "analytics_partner_commissions"
    __table_args__ = (Index("ix_analytics_partner_commissions_last", "last_created_at"),)

    partner_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    last_created_at: Mapped[datetime]
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)


class UsersDaily(Base):
    """Accounts registered per day."""

    __tablename__ = "analytics_users_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    registered: Mapped[int] = mapped_column(BigInteger, default=0)
