"""network partners: personal sales volume, filled from paid orders and investments

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("network_partners", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sales_volume_minor", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.execute(
        """
        UPDATE network_partners SET sales_volume_minor =
            COALESCE((SELECT SUM(o.total_minor) FROM shop_orders o
                      WHERE o.user_id = network_partners.user_id
                        AND o.payment_status = 'PAID'), 0)
          + COALESCE((SELECT SUM(p.amount_minor) FROM strategy_participations p
                      WHERE p.user_id = network_partners.user_id), 0)
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("network_partners", schema=None) as batch_op:
        batch_op.drop_column("sales_volume_minor")
