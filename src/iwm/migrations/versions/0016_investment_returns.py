"""investment returns: the investors' returns ledger, one entry per participation and month

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "investment_returns",
        sa.Column("participation_id", sa.Uuid(), nullable=False),
        sa.Column("strategy_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("base_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participation_id"],
            ["strategy_participations.id"],
            name=op.f("fk_investment_returns_participation_id_strategy_participations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["strategy_id"],
            ["strategies.id"],
            name=op.f("fk_investment_returns_strategy_id_strategies"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_investment_returns_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_investment_returns")),
    )
    op.create_index(op.f("ix_investment_returns_created_at"), "investment_returns", ["created_at"])
    op.create_index(
        "uq_investment_returns_participation_period",
        "investment_returns",
        ["participation_id", "period"],
        unique=True,
    )
    op.create_index(
        "ix_investment_returns_user_created", "investment_returns", ["user_id", "created_at"]
    )
    op.create_index(
        "ix_investment_returns_strategy_status", "investment_returns", ["strategy_id", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_investment_returns_strategy_status", table_name="investment_returns")
    op.drop_index("ix_investment_returns_user_created", table_name="investment_returns")
    op.drop_index("uq_investment_returns_participation_period", table_name="investment_returns")
    op.drop_index(op.f("ix_investment_returns_created_at"), table_name="investment_returns")
    op.drop_table("investment_returns")
