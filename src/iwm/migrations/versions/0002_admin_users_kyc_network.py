"""admin: user profiles and suspension, KYC, network partners and sponsor tree, mail outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:34:02.254476
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TRIGRAM_INDEXES = [
    ('ix_users_email_trgm', 'users USING gin (email gin_trgm_ops)'),
    ('ix_users_phone_trgm', 'users USING gin (phone gin_trgm_ops)'),
    (
        'ix_users_full_name_trgm',
        "users USING gin (lower((first_name || ' ') || last_name) gin_trgm_ops)",
    ),
    ('ix_network_partners_referral_code_trgm', 'network_partners USING gin (referral_code gin_trgm_ops)'),
]


def upgrade() -> None:
    op.create_table('mail_outbox',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_outbox'))
    )
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_outbox_recipient'), ['recipient'], unique=False)

    op.create_table('partner_ranks',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_ranks')),
    sa.UniqueConstraint('code', name=op.f('uq_partner_ranks_code')),
    sa.UniqueConstraint('level', name=op.f('uq_partner_ranks_level'))
    )
    op.create_table('kyc_verifications',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('middle_name', sa.String(length=100), nullable=True),
    sa.Column('date_of_birth', sa.Date(), nullable=False),
    sa.Column('nationality', sa.String(length=2), nullable=False),
    sa.Column('document_type', sa.String(length=32), nullable=False),
    sa.Column('document_number', sa.String(length=64), nullable=False),
    sa.Column('document_issue_date', sa.Date(), nullable=False),
    sa.Column('document_expiry_date', sa.Date(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('region', sa.String(length=100), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('street', sa.String(length=200), nullable=False),
    sa.Column('building', sa.String(length=32), nullable=False),
    sa.Column('apartment', sa.String(length=32), nullable=True),
    sa.Column('postal_code', sa.String(length=16), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('assigned_to', sa.Uuid(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by', sa.Uuid(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rejection_reason', sa.String(length=1000), nullable=True),
    sa.Column('can_resubmit', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assigned_to'], ['users.id'], name=op.f('fk_kyc_verifications_assigned_to_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reviewed_by'], ['users.id'], name=op.f('fk_kyc_verifications_reviewed_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_kyc_verifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kyc_verifications'))
    )
    with op.batch_alter_table('kyc_verifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kyc_verifications_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_kyc_verifications_status_submitted', ['status', 'submitted_at'], unique=False)
        batch_op.create_index('ix_kyc_verifications_user_submitted', ['user_id', 'submitted_at'], unique=False)

    op.create_table('network_partners',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('referral_code', sa.String(length=8), nullable=False),
    sa.Column('sponsor_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rank_id', sa.Uuid(), nullable=True),
    sa.Column('highest_rank_id', sa.Uuid(), nullable=True),
    sa.Column('highest_rank_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('direct_referrals', sa.Integer(), nullable=False),
    sa.Column('network_size', sa.Integer(), nullable=False),
    sa.Column('available_minor', sa.BigInteger(), nullable=False),
    sa.Column('pending_minor', sa.BigInteger(), nullable=False),
    sa.Column('total_earned_minor', sa.BigInteger(), nullable=False),
    sa.Column('total_withdrawn_minor', sa.BigInteger(), nullable=False),
    sa.Column('career_points_total', sa.BigInteger(), nullable=False),
    sa.Column('career_points_period', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['highest_rank_id'], ['partner_ranks.id'], name=op.f('fk_network_partners_highest_rank_id_partner_ranks'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rank_id'], ['partner_ranks.id'], name=op.f('fk_network_partners_rank_id_partner_ranks'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sponsor_id'], ['network_partners.id'], name=op.f('fk_network_partners_sponsor_id_network_partners')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_network_partners_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_network_partners')),
    sa.UniqueConstraint('referral_code', name=op.f('uq_network_partners_referral_code')),
    sa.UniqueConstraint('user_id', name=op.f('uq_network_partners_user_id'))
    )
    with op.batch_alter_table('network_partners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_partners_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_network_partners_network_size', ['network_size'], unique=False)
        batch_op.create_index(batch_op.f('ix_network_partners_rank_id'), ['rank_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_network_partners_sponsor_id'), ['sponsor_id'], unique=False)
        batch_op.create_index('ix_network_partners_status_created', ['status', 'created_at'], unique=False)
        batch_op.create_index('ix_network_partners_total_earned', ['total_earned_minor'], unique=False)

    op.create_table('user_addresses',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('region', sa.String(length=100), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('street', sa.String(length=200), nullable=False),
    sa.Column('building', sa.String(length=32), nullable=False),
    sa.Column('apartment', sa.String(length=32), nullable=True),
    sa.Column('postal_code', sa.String(length=16), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_addresses_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_addresses'))
    )
    with op.batch_alter_table('user_addresses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_addresses_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_user_addresses_user_id'), ['user_id'], unique=False)

    op.create_table('user_notes',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_user_notes_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_notes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_notes'))
    )
    with op.batch_alter_table('user_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_notes_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_user_notes_user_id'), ['user_id'], unique=False)

    op.create_table('kyc_documents',
    sa.Column('verification_id', sa.Uuid(), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('storage_key', sa.String(length=300), nullable=False),
    sa.Column('thumbnail_key', sa.String(length=300), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rejection_reason', sa.String(length=500), nullable=True),
    sa.Column('ocr_data', sa.JSON(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['verification_id'], ['kyc_verifications.id'], name=op.f('fk_kyc_documents_verification_id_kyc_verifications'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kyc_documents'))
    )
    with op.batch_alter_table('kyc_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kyc_documents_verification_id'), ['verification_id'], unique=False)

    op.create_table('kyc_history',
    sa.Column('verification_id', sa.Uuid(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('performed_by', sa.Uuid(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['performed_by'], ['users.id'], name=op.f('fk_kyc_history_performed_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['verification_id'], ['kyc_verifications.id'], name=op.f('fk_kyc_history_verification_id_kyc_verifications'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kyc_history'))
    )
    with op.batch_alter_table('kyc_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kyc_history_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_kyc_history_verification_id'), ['verification_id'], unique=False)

    op.create_table('network_tree',
    sa.Column('descendant_id', sa.Uuid(), nullable=False),
    sa.Column('ancestor_id', sa.Uuid(), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('descendant_joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ancestor_id'], ['network_partners.id'], name=op.f('fk_network_tree_ancestor_id_network_partners'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['descendant_id'], ['network_partners.id'], name=op.f('fk_network_tree_descendant_id_network_partners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('descendant_id', 'ancestor_id', name=op.f('pk_network_tree'))
    )
    with op.batch_alter_table('network_tree', schema=None) as batch_op:
        batch_op.create_index('ix_network_tree_ancestor_depth', ['ancestor_id', 'depth', 'descendant_joined_at', 'descendant_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('middle_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('date_of_birth', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('avatar_url', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=False, server_default=sa.text("'en'")))
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=False, server_default=sa.text("'UTC'")))
        batch_op.add_column(sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('suspended_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('suspension_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('suspended_by', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('two_factor_enabled', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('two_factor_method', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('phone_verified_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('kyc_status', sa.String(length=16), nullable=False, server_default=sa.text("'NOT_SUBMITTED'")))
        batch_op.add_column(sa.Column('kyc_level', sa.String(length=16), nullable=False, server_default=sa.text("'NONE'")))
        batch_op.create_index(batch_op.f('ix_users_kyc_status'), ['kyc_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_last_login_at'), ['last_login_at'], unique=False)

    # Substring search over a million users: trigram indexes, PostgreSQL only. The name
    # expression must stay identical to the one the users repository queries.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        for name, expr in TRIGRAM_INDEXES:
            op.execute(f'CREATE INDEX {name} ON {expr}')



def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for name, _ in TRIGRAM_INDEXES:
            op.execute(f'DROP INDEX IF EXISTS {name}')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_last_login_at'))
        batch_op.drop_index(batch_op.f('ix_users_kyc_status'))
        batch_op.drop_column('kyc_level')
        batch_op.drop_column('kyc_status')
        batch_op.drop_column('password_changed_at')
        batch_op.drop_column('phone_verified_at')
        batch_op.drop_column('email_verified_at')
        batch_op.drop_column('two_factor_method')
        batch_op.drop_column('two_factor_enabled')
        batch_op.drop_column('suspended_by')
        batch_op.drop_column('suspension_reason')
        batch_op.drop_column('suspended_until')
        batch_op.drop_column('suspended_at')
        batch_op.drop_column('timezone')
        batch_op.drop_column('language')
        batch_op.drop_column('avatar_url')
        batch_op.drop_column('date_of_birth')
        batch_op.drop_column('middle_name')

    with op.batch_alter_table('network_tree', schema=None) as batch_op:
        batch_op.drop_index('ix_network_tree_ancestor_depth')

    op.drop_table('network_tree')
    with op.batch_alter_table('kyc_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kyc_history_verification_id'))
        batch_op.drop_index(batch_op.f('ix_kyc_history_created_at'))

    op.drop_table('kyc_history')
    with op.batch_alter_table('kyc_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kyc_documents_verification_id'))

    op.drop_table('kyc_documents')
    with op.batch_alter_table('user_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_notes_user_id'))
        batch_op.drop_index(batch_op.f('ix_user_notes_created_at'))

    op.drop_table('user_notes')
    with op.batch_alter_table('user_addresses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_addresses_user_id'))
        batch_op.drop_index(batch_op.f('ix_user_addresses_created_at'))

    op.drop_table('user_addresses')
    with op.batch_alter_table('network_partners', schema=None) as batch_op:
        batch_op.drop_index('ix_network_partners_total_earned')
        batch_op.drop_index('ix_network_partners_status_created')
        batch_op.drop_index(batch_op.f('ix_network_partners_sponsor_id'))
        batch_op.drop_index(batch_op.f('ix_network_partners_rank_id'))
        batch_op.drop_index('ix_network_partners_network_size')
        batch_op.drop_index(batch_op.f('ix_network_partners_created_at'))

    op.drop_table('network_partners')
    with op.batch_alter_table('kyc_verifications', schema=None) as batch_op:
        batch_op.drop_index('ix_kyc_verifications_user_submitted')
        batch_op.drop_index('ix_kyc_verifications_status_submitted')
        batch_op.drop_index(batch_op.f('ix_kyc_verifications_created_at'))

    op.drop_table('kyc_verifications')
    op.drop_table('partner_ranks')
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_outbox_recipient'))

    op.drop_table('mail_outbox')
