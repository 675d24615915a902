"""categories: a deleted parent leaves its children at the top level (SET NULL)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 13:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = 'fk_categories_parent_id_categories'


def _set(ondelete: str) -> None:
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.drop_constraint(FK, type_='foreignkey')
        batch_op.create_foreign_key(FK, 'categories', ['parent_id'], ['id'], ondelete=ondelete)


def upgrade() -> None:
    _set('SET NULL')


def downgrade() -> None:
    _set('RESTRICT')
