"""commissions explain themselves (plan version, plan amount, who changed the amount);
amount changes waiting for a second admin

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 06:10:00
"""

import uuid
from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("commissions", sa.Column("plan_version", sa.String(length=64), nullable=True))
    op.add_column("commissions", sa.Column("plan_amount_minor", sa.BigInteger(), nullable=True))
    op.add_column("commissions", sa.Column("amount_adjusted_by", sa.Uuid(), nullable=True))
    op.create_table(
        "commission_changes",
        sa.Column("commission_id", sa.Uuid(), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("previous_gross_minor", sa.BigInteger(), nullable=False),
        sa.Column("new_gross_minor", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=1000), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["commission_id"],
            ["commissions.id"],
            name=op.f("fk_commission_changes_commission_id_commissions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_changes")),
    )
    op.create_index(
        op.f("ix_commission_changes_commission_id"), "commission_changes", ["commission_id"]
    )
    op.create_index(op.f("ix_commission_changes_created_at"), "commission_changes", ["created_at"])
    op.create_index(
        "ix_commission_changes_status_created", "commission_changes", ["status", "created_at"]
    )
    _backfill()


def _half_up(base_minor: int, rate_bp: int) -> int:
    sign = -1 if base_minor < 0 else 1
    return sign * ((abs(base_minor) * rate_bp + 5000) // 10000)


def _backfill() -> None:
    """The plan amount is the recorded base x rate (ROUND_HALF_UP, as the engine rounds), or
    the amount the engine gave when that was a cent more (the engine rounds the unrounded
    volume); who changed an amount, and the amount before the first change, come from the
    audit log. The plan version of old rows is not known: it stays null."""
    op.execute(
        "UPDATE commissions SET plan_amount_minor = CASE WHEN base_minor >= 0 "
        "THEN (base_minor * rate_bp + 5000) / 10000 "
        "ELSE -((-base_minor * rate_bp + 5000) / 10000) END"
    )
    op.execute(
        "UPDATE commissions SET plan_amount_minor = gross_minor "
        "WHERE gross_minor > plan_amount_minor AND gross_minor >= 0"
    )
    bind = op.get_bind()
    audit = sa.table(
        "audit_logs",
        sa.column("entity_id", sa.String()),
        sa.column("admin_id", sa.Uuid()),
        sa.column("action", sa.String()),
        sa.column("previous_values", sa.JSON()),
        sa.column("new_values", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    rows = bind.execute(
        sa.select(audit.c.entity_id, audit.c.admin_id, audit.c.previous_values, audit.c.new_values)
        .where(audit.c.action == "COMMISSION_ADJUSTED")
        .order_by(audit.c.created_at)
    ).all()
    original: dict[str, int | None] = {}
    adjusted_by: dict[str, uuid.UUID | None] = {}
    for entity_id, admin_id, previous, new in rows:
        if (new or {}).get("action") != "ADJUST_AMOUNT":
            continue
        if entity_id not in original:
            gross = (previous or {}).get("grossAmount")
            original[entity_id] = None if gross is None else int(Decimal(gross) * 100)
        adjusted_by[entity_id] = admin_id
    table = sa.table(
        "commissions",
        sa.column("id", sa.Uuid()),
        sa.column("base_minor", sa.BigInteger()),
        sa.column("rate_bp", sa.Integer()),
        sa.column("plan_amount_minor", sa.BigInteger()),
        sa.column("amount_adjusted_by", sa.Uuid()),
    )
    for entity_id, admin_id in adjusted_by.items():
        key = uuid.UUID(entity_id)
        found = bind.execute(
            sa.select(table.c.base_minor, table.c.rate_bp).where(table.c.id == key)
        ).first()
        if found is None:
            continue
        # A raised amount is not the engine's: the ceiling is what the plan gave.
        plan = _half_up(int(found[0]), int(found[1]))
        first = original.get(entity_id)
        if first is not None:
            plan = max(plan, first)
        bind.execute(
            sa.update(table)
            .where(table.c.id == key)
            .values(plan_amount_minor=plan, amount_adjusted_by=admin_id)
        )


def downgrade() -> None:
    op.drop_index("ix_commission_changes_status_created", table_name="commission_changes")
    op.drop_index(op.f("ix_commission_changes_created_at"), table_name="commission_changes")
    op.drop_index(op.f("ix_commission_changes_commission_id"), table_name="commission_changes")
    op.drop_table("commission_changes")
    op.drop_column("commissions", "amount_adjusted_by")
    op.drop_column("commissions", "plan_amount_minor")
    op.drop_column("commissions", "plan_version")
