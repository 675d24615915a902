"""ranks: the rank plan versions, qualified months, rank history, monthly personal volume;
the rule behind each commission and once-only bonuses

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 08:51:55
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FAST_START = sa.text("source_type = 'BONUS' AND corrects_id IS NULL")
RANK_BONUS = sa.text("source_type = 'RANK_BONUS' AND corrects_id IS NULL")


def upgrade() -> None:
    op.create_table(
        "rank_plans",
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_rank_plans")),
    )
    op.create_table(
        "rank_periods",
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("plan_version", sa.String(length=32), nullable=False),
        sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("partners", sa.Integer(), nullable=False),
        sa.Column("promoted", sa.Integer(), nullable=False),
        sa.Column("demoted", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_version"],
            ["rank_plans.version"],
            name=op.f("fk_rank_periods_plan_version_rank_plans"),
        ),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_rank_periods")),
    )
    op.create_table(
        "partner_period_volumes",
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("volume_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["network_partners.id"],
            name=op.f("fk_partner_period_volumes_partner_id_network_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("partner_id", "period", name=op.f("pk_partner_period_volumes")),
    )
    op.create_table(
        "partner_rank_history",
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("previous_rank", sa.String(length=32), nullable=True),
        sa.Column("rank", sa.String(length=32), nullable=True),
        sa.Column("plan_version", sa.String(length=32), nullable=False),
        sa.Column("personal_volume_minor", sa.BigInteger(), nullable=False),
        sa.Column("group_volume_minor", sa.BigInteger(), nullable=False),
        sa.Column("active_directs", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["network_partners.id"],
            name=op.f("fk_partner_rank_history_partner_id_network_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_version"],
            ["rank_plans.version"],
            name=op.f("fk_partner_rank_history_plan_version_rank_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_rank_history")),
    )
    op.create_index(
        op.f("ix_partner_rank_history_created_at"), "partner_rank_history", ["created_at"]
    )
    op.create_index(
        "ix_partner_rank_history_partner_period",
        "partner_rank_history",
        ["partner_id", "period"],
        unique=True,
    )
    op.create_index(op.f("ix_partner_rank_history_period"), "partner_rank_history", ["period"])
    with op.batch_alter_table("commissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rule", sa.String(length=40), nullable=True))
    op.create_index(
        "uq_commissions_fast_start",
        "commissions",
        ["partner_id", "source_partner_id"],
        unique=True,
        sqlite_where=FAST_START,
        postgresql_where=FAST_START,
    )
    op.create_index(
        "uq_commissions_rank_bonus",
        "commissions",
        ["partner_id", "rule"],
        unique=True,
        sqlite_where=RANK_BONUS,
        postgresql_where=RANK_BONUS,
    )


def downgrade() -> None:
    op.drop_index("uq_commissions_rank_bonus", table_name="commissions")
    op.drop_index("uq_commissions_fast_start", table_name="commissions")
    with op.batch_alter_table("commissions", schema=None) as batch_op:
        batch_op.drop_column("rule")
    op.drop_index(op.f("ix_partner_rank_history_period"), table_name="partner_rank_history")
    op.drop_index("ix_partner_rank_history_partner_period", table_name="partner_rank_history")
    op.drop_index(op.f("ix_partner_rank_history_created_at"), table_name="partner_rank_history")
    op.drop_table("partner_rank_history")
    op.drop_table("partner_period_volumes")
    op.drop_table("rank_periods")
    op.drop_table("rank_plans")
