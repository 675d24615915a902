"""analytics: daily rollups of sales, commissions and registrations, sale facts, buyers

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _counts(*names: str) -> list[sa.Column]:
    return [sa.Column(n, sa.BigInteger(), nullable=False) for n in names]


def upgrade() -> None:
    op.create_table(
        "analytics_sales_daily",
        sa.Column("category_id", sa.Uuid(), nullable=False),
        sa.Column("dimension", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        *_counts("orders", "revenue_minor"),
        sa.PrimaryKeyConstraint(
            "category_id", "dimension", "day", "value", "shard", name="pk_analytics_sales_daily"
        ),
    )
    op.create_table(
        "analytics_product_sales_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        *_counts("quantity", "revenue_minor"),
        sa.PrimaryKeyConstraint(
            "day", "product_id", "category_id", "shard", name="pk_analytics_product_sales_daily"
        ),
    )
    op.create_table(
        "analytics_sale_facts",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payment_method", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        *_counts("quantity", "revenue_minor"),
        sa.PrimaryKeyConstraint("order_id", "product_id", name="pk_analytics_sale_facts"),
    )
    op.create_index("ix_analytics_sale_facts_user", "analytics_sale_facts", ["user_id"])
    op.create_table(
        "analytics_customers",
        sa.Column("category_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("first_paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_orders", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("category_id", "user_id", name="pk_analytics_customers"),
    )
    op.create_index(
        "ix_analytics_customers_last",
        "analytics_customers",
        ["category_id", "last_paid_at", "paid_orders"],
    )
    op.create_index(
        "ix_analytics_customers_first", "analytics_customers", ["category_id", "first_paid_at"]
    )
    op.create_table(
        "analytics_commissions_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source_type", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        *_counts("row_count", "amount_minor"),
        sa.PrimaryKeyConstraint(
            "day", "source_type", "level", "status", "shard", name="pk_analytics_commissions_daily"
        ),
    )
    op.create_table(
        "analytics_partner_commissions",
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("last_created_at", sa.DateTime(timezone=True), nullable=False),
        *_counts("row_count"),
        sa.PrimaryKeyConstraint("partner_id", name="pk_analytics_partner_commissions"),
    )
    op.create_index(
        "ix_analytics_partner_commissions_last",
        "analytics_partner_commissions",
        ["last_created_at"],
    )
    op.create_table(
        "analytics_users_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        *_counts("registered"),
        sa.PrimaryKeyConstraint("day", "shard", name="pk_analytics_users_daily"),
    )


def downgrade() -> None:
    for table in (
        "analytics_users_daily",
        "analytics_partner_commissions",
        "analytics_commissions_daily",
        "analytics_customers",
        "analytics_sale_facts",
        "analytics_product_sales_daily",
        "analytics_sales_daily",
    ):
        op.drop_table(table)
