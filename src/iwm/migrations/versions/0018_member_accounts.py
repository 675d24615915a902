"""member accounts: one-time links, TOTP second factor, sponsor at sign-up, closed
accounts, where a session was opened

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_auth_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_auth_tokens")),
    )
    op.create_index(op.f("ix_auth_tokens_user_id"), "auth_tokens", ["user_id"])
    op.create_index(op.f("ix_auth_tokens_expires_at"), "auth_tokens", ["expires_at"])
    op.create_table(
        "auth_two_factor",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_auth_two_factor_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_auth_two_factor")),
    )
    op.create_table(
        "auth_recovery_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_auth_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_auth_recovery_codes_code_hash")),
    )
    op.create_index(op.f("ix_auth_recovery_codes_user_id"), "auth_recovery_codes", ["user_id"])
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("sponsor_partner_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("auth_sessions") as batch_op:
        batch_op.add_column(sa.Column("ip", sa.String(length=45), nullable=True))
        batch_op.add_column(sa.Column("user_agent", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auth_sessions") as batch_op:
        batch_op.drop_column("user_agent")
        batch_op.drop_column("ip")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("closed_at")
        batch_op.drop_column("sponsor_partner_id")
    op.drop_index(op.f("ix_auth_recovery_codes_user_id"), table_name="auth_recovery_codes")
    op.drop_table("auth_recovery_codes")
    op.drop_table("auth_two_factor")
    op.drop_index(op.f("ix_auth_tokens_expires_at"), table_name="auth_tokens")
    op.drop_index(op.f("ix_auth_tokens_user_id"), table_name="auth_tokens")
    op.drop_table("auth_tokens")
