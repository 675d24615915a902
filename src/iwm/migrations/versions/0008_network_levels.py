"""network partners: per-level member counts and sales volume of every upline

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "network_levels",
        sa.Column("ancestor_id", sa.Uuid(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("volume_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ancestor_id"],
            ["network_partners.id"],
            name=op.f("fk_network_levels_ancestor_id_network_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ancestor_id", "depth", name=op.f("pk_network_levels")),
    )
    op.execute(
        """
        INSERT INTO network_levels (ancestor_id, depth, members, volume_minor)
        SELECT t.ancestor_id, t.depth, COUNT(*), COALESCE(SUM(p.sales_volume_minor), 0)
        FROM network_tree t JOIN network_partners p ON p.id = t.descendant_id
        WHERE t.depth >= 1
        GROUP BY t.ancestor_id, t.depth
        """
    )


def downgrade() -> None:
    op.drop_table("network_levels")
