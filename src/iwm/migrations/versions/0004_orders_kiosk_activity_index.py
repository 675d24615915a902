"""orders: index on (kiosk_id, coalesce(printed_at, created_at)) for the new-orders screen

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # "New orders" (unprinted of the last 3 hours, printed of the last 15 minutes) reads
    # only the rows of each kiosk whose last event (printing, else creation) is recent.
    op.create_index(
        'ix_orders_kiosk_activity',
        'orders',
        ['kiosk_id', sa.text('coalesce(printed_at, created_at)')],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_orders_kiosk_activity', table_name='orders')
