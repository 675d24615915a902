"""strategy_participations: a member's investment waits for its payment (no dates yet)

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-26 12:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("strategy_participations") as batch:
        batch.alter_column("started_at", existing_type=sa.DateTime(timezone=True), nullable=True)
        batch.alter_column("ends_at", existing_type=sa.DateTime(timezone=True), nullable=True)
        batch.add_column(sa.Column("payment_id", sa.Uuid(), nullable=True))
        batch.add_column(
            sa.Column("payment_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.create_foreign_key(
            op.f("fk_strategy_participations_payment_id_payments"),
            "payments",
            ["payment_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_unique_constraint(
            op.f("uq_strategy_participations_payment_id"), ["payment_id"]
        )
    op.create_index(
        "ix_strategy_participations_status_payment_expires",
        "strategy_participations",
        ["status", "payment_expires_at"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_strategy_participations_status_payment_expires", table_name="strategy_participations"
    )
    op.execute(
        "DELETE FROM strategy_participations WHERE started_at IS NULL OR ends_at IS NULL"
    )
    with op.batch_alter_table("strategy_participations") as batch:
        batch.drop_constraint(op.f("uq_strategy_participations_payment_id"), type_="unique")
        batch.drop_constraint(
            op.f("fk_strategy_participations_payment_id_payments"), type_="foreignkey"
        )
        batch.drop_column("payment_expires_at")
        batch.drop_column("payment_id")
        batch.alter_column("ends_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.alter_column("started_at", existing_type=sa.DateTime(timezone=True), nullable=False)
