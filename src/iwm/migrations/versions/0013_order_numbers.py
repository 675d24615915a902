"""orders: a short number per shop, shown by the kiosk and searched at pickup

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_numbers",
        sa.Column("shop_id", sa.Uuid(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_order_numbers_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shop_id", name=op.f("pk_order_numbers")),
    )
    # NOT NULL with a default: SQLite adds such a column in place (no table rebuild).
    op.add_column(
        "orders", sa.Column("number", sa.Integer(), server_default="0", nullable=False)
    )
    # Existing orders are numbered per shop in the order they came in.
    op.execute(
        """
        UPDATE orders SET number = numbered.n
        FROM (
            SELECT o.id AS id,
                   row_number() OVER (PARTITION BY k.shop_id ORDER BY o.created_at, o.id) AS n
            FROM orders o JOIN kiosks k ON k.id = o.kiosk_id
        ) AS numbered
        WHERE orders.id = numbered.id
        """
    )
    op.execute(
        """
        INSERT INTO order_numbers (shop_id, last_number)
        SELECT k.shop_id, max(o.number) FROM orders o JOIN kiosks k ON k.id = o.kiosk_id
        GROUP BY k.shop_id
        """
    )
    op.create_index(op.f("ix_orders_number"), "orders", ["number"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_orders_number"), table_name="orders")
    op.drop_column("orders", "number")
    op.drop_table("order_numbers")
