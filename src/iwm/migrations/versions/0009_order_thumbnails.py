"""orders: the dashboard's thumbnail of each photo, made at upload

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("thumbnail_key", sa.String(length=300), nullable=True))
    op.create_index(op.f("ix_orders_thumbnail_key"), "orders", ["thumbnail_key"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_orders_thumbnail_key"), table_name="orders")
    op.drop_column("orders", "thumbnail_key")
