"""kiosk rounds paid online: the kiosk's price, payment sessions, the cash ledger's value

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kiosks") as batch:
        batch.add_column(sa.Column("price_minor", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
    with op.batch_alter_table("kiosk_cash_ledger") as batch:
        batch.add_column(
            sa.Column("amount_minor", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
        batch.add_column(sa.Column("settled_by_user_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_kiosk_cash_ledger_settled_by_user_id_users"),
            "users",
            ["settled_by_user_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "kiosk_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kiosk_id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payment_url", sa.String(length=500), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refund_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["kiosk_id"],
            ["kiosks.id"],
            name=op.f("fk_kiosk_sessions_kiosk_id_kiosks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_kiosk_sessions_payment_id_payments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_sessions")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_kiosk_sessions_payment_id")),
    )
    op.create_index(op.f("ix_kiosk_sessions_created_at"), "kiosk_sessions", ["created_at"])
    op.create_index("ix_kiosk_sessions_kiosk_created", "kiosk_sessions", ["kiosk_id", "created_at"])
    op.create_index("ix_kiosk_sessions_kiosk_started", "kiosk_sessions", ["kiosk_id", "started_at"])
    op.create_index(
        "ix_kiosk_sessions_status_refund_due", "kiosk_sessions", ["status", "refund_due_at"]
    )


def downgrade() -> None:
    op.drop_table("kiosk_sessions")
    with op.batch_alter_table("kiosk_cash_ledger") as batch:
        batch.drop_constraint(
            op.f("fk_kiosk_cash_ledger_settled_by_user_id_users"), type_="foreignkey"
        )
        batch.drop_column("settled_by_user_id")
        batch.drop_column("currency")
        batch.drop_column("amount_minor")
    with op.batch_alter_table("kiosks") as batch:
        batch.drop_column("currency")
        batch.drop_column("price_minor")
