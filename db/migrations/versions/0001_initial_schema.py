"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa
import db.schema


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_table('consent_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('notice_version', sa.String(length=16), nullable=False),
    sa.Column('decision', sa.String(length=8), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_log'))
    )
    with op.batch_alter_table('consent_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_log_user_key'), ['user_key'], unique=False)

    op.create_table('data_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('data_date', sa.Date(), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_imported', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('households', sa.Integer(), nullable=False),
    sa.Column('imported_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_imports'))
    )
    op.create_table('households',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('no_kk', sa.String(length=16), nullable=False),
    sa.Column('alamat', sa.String(length=255), server_default='', nullable=False),
    sa.Column('rt', sa.String(length=3), nullable=False),
    sa.Column('rw', sa.String(length=3), nullable=False),
    sa.Column('kelurahan_code', sa.String(length=10), nullable=False),
    sa.Column('kecamatan_code', sa.String(length=6), nullable=False),
    sa.Column('desil', sa.SmallInteger(), nullable=False),
    sa.Column('data_date', sa.Date(), nullable=False),
    sa.Column('updated_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_households')),
    sa.UniqueConstraint('no_kk', name=op.f('uq_households_no_kk'))
    )
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_households_kelurahan_code'), ['kelurahan_code'], unique=False)

    op.create_table('inbound_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('address', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('locale_hint', sa.String(length=8), nullable=True),
    sa.Column('status', sa.String(length=8), server_default='pending', nullable=False),
    sa.Column('received_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('processed_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_events')),
    sa.UniqueConstraint('channel', 'external_id', name=op.f('uq_inbound_events_channel_external_id'))
    )
    with op.batch_alter_table('inbound_events', schema=None) as batch_op:
        batch_op.create_index('ix_inbound_events_status', ['status'], unique=False)
        batch_op.create_index('ix_inbound_events_user_status', ['user_key', 'status', 'id'], unique=False)

    op.create_table('conversations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=128), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=True),
    sa.Column('flow', sa.String(length=32), server_default='start', nullable=False),
    sa.Column('step', sa.String(length=32), server_default='start', nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('owner', sa.String(length=8), server_default='bot', nullable=False),
    sa.Column('role', sa.String(length=16), server_default='warga', nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('consent_version', sa.String(length=16), nullable=True),
    sa.Column('misunderstood', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('last_activity_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_conversations_household_id_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversations')),
    sa.UniqueConstraint('user_key', name=op.f('uq_conversations_user_key'))
    )
    op.create_table('outbound_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('address', sa.String(length=128), nullable=False),
    sa.Column('inbound_event_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=8), server_default='queued', nullable=False),
    sa.Column('attempts', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=255), nullable=True),
    sa.Column('external_id', sa.String(length=128), nullable=True),
    sa.Column('created_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['inbound_event_id'], ['inbound_events.id'], name=op.f('fk_outbound_messages_inbound_event_id_inbound_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_messages'))
    )
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbound_messages_status_next', ['status', 'next_attempt_at'], unique=False)

    op.create_table('people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nik', sa.String(length=16), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('nama', sa.String(length=120), nullable=False),
    sa.Column('jenis_kelamin', sa.String(length=1), nullable=False),
    sa.Column('tanggal_lahir', sa.Date(), nullable=False),
    sa.Column('hubungan', sa.String(length=16), nullable=False),
    sa.Column('disabilitas', sa.Boolean(), nullable=False),
    sa.Column('updated_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_people_household_id_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people')),
    sa.UniqueConstraint('nik', name=op.f('uq_people_nik'))
    )
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_people_household_id'), ['household_id'], unique=False)

    op.create_table('check_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('nik_hash', sa.String(length=64), nullable=False),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.Column('at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_check_attempts_conversation_id_conversations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_attempts'))
    )
    with op.batch_alter_table('check_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_check_attempts_conv_at', ['conversation_id', 'at'], unique=False)
        batch_op.create_index('ix_check_attempts_nik_at', ['nik_hash', 'at'], unique=False)

    op.create_table('program_memberships',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('program_code', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_program_memberships_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', 'program_code', name=op.f('pk_program_memberships'))
    )


def downgrade() -> None:
    op.drop_table('program_memberships')
    with op.batch_alter_table('check_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_check_attempts_nik_at')
        batch_op.drop_index('ix_check_attempts_conv_at')

    op.drop_table('check_attempts')
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_people_household_id'))

    op.drop_table('people')
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_messages_status_next')

    op.drop_table('outbound_messages')
    op.drop_table('conversations')
    with op.batch_alter_table('inbound_events', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_events_user_status')
        batch_op.drop_index('ix_inbound_events_status')

    op.drop_table('inbound_events')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_households_kelurahan_code'))

    op.drop_table('households')
    op.drop_table('data_imports')
    with op.batch_alter_table('consent_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_log_user_key'))

    op.drop_table('consent_log')
    op.drop_table('audit_log')
