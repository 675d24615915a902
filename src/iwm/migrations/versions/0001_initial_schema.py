"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 12:19:10.391847
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('activity_logs',
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('kiosk_id', sa.Uuid(), nullable=True),
    sa.Column('order_id', sa.Uuid(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_logs'))
    )
    with op.batch_alter_table('activity_logs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activity_logs_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_activity_logs_event'), ['event'], unique=False)
        batch_op.create_index(batch_op.f('ix_activity_logs_kiosk_id'), ['kiosk_id'], unique=False)

    op.create_table('audit_logs',
    sa.Column('admin_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity_type', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('previous_values', sa.JSON(), nullable=True),
    sa.Column('new_values', sa.JSON(), nullable=True),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_logs'))
    )
    with op.batch_alter_table('audit_logs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_logs_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_logs_admin_id'), ['admin_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_logs_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_logs_entity_id'), ['entity_id'], unique=False)

    op.create_table('job_runs',
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('run_date', sa.Date(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('job', 'run_date', name=op.f('pk_job_runs'))
    )
    op.create_table('users',
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_status'), ['status'], unique=False)

    op.create_table('auth_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auth_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_auth_sessions'))
    )
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_sessions_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_auth_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('shops',
    sa.Column('partner_user_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('location', sa.String(length=300), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['partner_user_id'], ['users.id'], name=op.f('fk_shops_partner_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shops'))
    )
    with op.batch_alter_table('shops', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shops_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_shops_partner_user_id'), ['partner_user_id'], unique=False)

    op.create_table('user_roles',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_roles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'role', name=op.f('pk_user_roles'))
    )
    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_roles_role'), ['role'], unique=False)

    op.create_table('kiosks',
    sa.Column('shop_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('location', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('last_error_code', sa.String(length=64), nullable=True),
    sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('default_language', sa.String(length=8), nullable=False),
    sa.Column('device_key_hash', sa.String(length=64), nullable=False),
    sa.Column('last_active_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_kiosks_shop_id_shops'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kiosks')),
    sa.UniqueConstraint('device_key_hash', name=op.f('uq_kiosks_device_key_hash'))
    )
    with op.batch_alter_table('kiosks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kiosks_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_kiosks_shop_id'), ['shop_id'], unique=False)

    op.create_table('free_round_codes',
    sa.Column('kiosk_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=4), nullable=False),
    sa.Column('type', sa.String(length=8), nullable=False),
    sa.Column('issued_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('consumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['issued_by_user_id'], ['users.id'], name=op.f('fk_free_round_codes_issued_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_free_round_codes_kiosk_id_kiosks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_free_round_codes'))
    )
    with op.batch_alter_table('free_round_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_free_round_codes_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_free_round_codes_kiosk_code', ['kiosk_id', 'code'], unique=False)

    op.create_table('kiosk_errors',
    sa.Column('kiosk_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('message', sa.String(length=1000), nullable=False),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_kiosk_errors_kiosk_id_kiosks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kiosk_errors'))
    )
    with op.batch_alter_table('kiosk_errors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kiosk_errors_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_kiosk_errors_kiosk_created', ['kiosk_id', 'created_at'], unique=False)

    op.create_table('orders',
    sa.Column('kiosk_id', sa.Uuid(), nullable=False),
    sa.Column('customer_name', sa.String(length=200), nullable=False),
    sa.Column('customer_email', sa.String(length=320), nullable=False),
    sa.Column('customer_phone', sa.String(length=32), nullable=False),
    sa.Column('image_key', sa.String(length=300), nullable=False),
    sa.Column('image_content_type', sa.String(length=32), nullable=False),
    sa.Column('printed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_orders_kiosk_id_kiosks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('image_key', name=op.f('uq_orders_image_key'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_orders_kiosk_created', ['kiosk_id', 'created_at'], unique=False)
        batch_op.create_index('ix_orders_kiosk_printed', ['kiosk_id', 'printed_at'], unique=False)

    op.create_table('kiosk_cash_ledger',
    sa.Column('kiosk_id', sa.Uuid(), nullable=False),
    sa.Column('code_id', sa.Uuid(), nullable=True),
    sa.Column('entry_type', sa.String(length=32), nullable=False),
    sa.Column('rounds', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['code_id'], ['free_round_codes.id'], name=op.f('fk_kiosk_cash_ledger_code_id_free_round_codes'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_kiosk_cash_ledger_kiosk_id_kiosks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kiosk_cash_ledger')),
    sa.UniqueConstraint('code_id', name=op.f('uq_kiosk_cash_ledger_code_id'))
    )
    with op.batch_alter_table('kiosk_cash_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kiosk_cash_ledger_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_kiosk_cash_ledger_kiosk_id'), ['kiosk_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('kiosk_cash_ledger', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kiosk_cash_ledger_kiosk_id'))
        batch_op.drop_index(batch_op.f('ix_kiosk_cash_ledger_created_at'))

    op.drop_table('kiosk_cash_ledger')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_kiosk_printed')
        batch_op.drop_index('ix_orders_kiosk_created')
        batch_op.drop_index(batch_op.f('ix_orders_created_at'))

    op.drop_table('orders')
    with op.batch_alter_table('kiosk_errors', schema=None) as batch_op:
        batch_op.drop_index('ix_kiosk_errors_kiosk_created')
        batch_op.drop_index(batch_op.f('ix_kiosk_errors_created_at'))

    op.drop_table('kiosk_errors')
    with op.batch_alter_table('free_round_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_free_round_codes_kiosk_code')
        batch_op.drop_index(batch_op.f('ix_free_round_codes_created_at'))

    op.drop_table('free_round_codes')
    with op.batch_alter_table('kiosks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kiosks_shop_id'))
        batch_op.drop_index(batch_op.f('ix_kiosks_created_at'))

    op.drop_table('kiosks')
    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_roles_role'))

    op.drop_table('user_roles')
    with op.batch_alter_table('shops', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shops_partner_user_id'))
        batch_op.drop_index(batch_op.f('ix_shops_created_at'))

    op.drop_table('shops')
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_auth_sessions_expires_at'))

    op.drop_table('auth_sessions')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_status'))
        batch_op.drop_index(batch_op.f('ix_users_created_at'))

    op.drop_table('users')
    op.drop_table('job_runs')
    with op.batch_alter_table('audit_logs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_logs_entity_id'))
        batch_op.drop_index(batch_op.f('ix_audit_logs_created_at'))
        batch_op.drop_index(batch_op.f('ix_audit_logs_admin_id'))
        batch_op.drop_index(batch_op.f('ix_audit_logs_action'))

    op.drop_table('audit_logs')
    with op.batch_alter_table('activity_logs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_logs_kiosk_id'))
        batch_op.drop_index(batch_op.f('ix_activity_logs_event'))
        batch_op.drop_index(batch_op.f('ix_activity_logs_created_at'))

    op.drop_table('activity_logs')
