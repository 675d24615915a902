"""pending_sales: paid sales whose commissions are booked after the payment's transaction;
shop order numbers from a sequence on PostgreSQL (no counter row locked until the commit)

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-26 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_sales",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_type", sa.String(16), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("buyer_user_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_sales")),
        sa.UniqueConstraint(
            "source_type", "source_id", name=op.f("uq_pending_sales_source_type")
        ),
    )
    op.create_index("ix_pending_sales_created_at", "pending_sales", ["created_at"])
    if op.get_bind().dialect.name == "postgresql":
        # Past every number a counter row gave, whatever its year: no number is reused.
        op.execute("CREATE SEQUENCE shop_order_number_seq")
        op.execute(
            "SELECT setval('shop_order_number_seq', "
            "(SELECT coalesce(max(last_value), 0) + 1 FROM shop_order_counters), false)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE shop_order_number_seq")
    op.drop_index("ix_pending_sales_created_at", table_name="pending_sales")
    op.drop_table("pending_sales")
