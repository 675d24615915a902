"""shop_orders: the member checkout's payment, payment expiry and shipping address

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-26 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shop_orders") as batch:
        batch.add_column(sa.Column("payment_id", sa.Uuid(), nullable=True))
        batch.add_column(
            sa.Column("payment_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("shipping_address", sa.JSON(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_shop_orders_payment_id_payments"),
            "payments",
            ["payment_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_unique_constraint(op.f("uq_shop_orders_payment_id"), ["payment_id"])
    op.create_index(
        "ix_shop_orders_status_payment_expires",
        "shop_orders",
        ["status", "payment_expires_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_shop_orders_status_payment_expires", table_name="shop_orders")
    with op.batch_alter_table("shop_orders") as batch:
        batch.drop_constraint(op.f("uq_shop_orders_payment_id"), type_="unique")
        batch.drop_constraint(op.f("fk_shop_orders_payment_id_payments"), type_="foreignkey")
        batch.drop_column("shipping_address")
        batch.drop_column("payment_expires_at")
        batch.drop_column("payment_id")
