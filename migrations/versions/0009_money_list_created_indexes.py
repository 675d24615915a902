"""commissions, shop orders: (created_at, id) indexes for the newest-first admin lists

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 16:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_commissions_created_id', 'commissions', ['created_at', 'id'])
    op.create_index('ix_shop_orders_created_id', 'shop_orders', ['created_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_shop_orders_created_id', table_name='shop_orders')
    op.drop_index('ix_commissions_created_id', table_name='commissions')
