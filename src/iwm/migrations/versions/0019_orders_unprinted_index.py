"""orders: a partial index of each kiosk's unprinted orders by age

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-26 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_orders_kiosk_unprinted",
        "orders",
        ["kiosk_id", "created_at"],
        postgresql_where=sa.text("printed_at IS NULL"),
        sqlite_where=sa.text("printed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_kiosk_unprinted", table_name="orders")
