"""whatsapp: contacts (BSUID/wa_id link, 24-hour window), delivery statuses, media; outbox indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa
import db.schema


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('wa_contacts',
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('bsuid', sa.String(length=160), nullable=True),
    sa.Column('wa_id', sa.String(length=32), nullable=True),
    sa.Column('address', sa.String(length=160), nullable=False),
    sa.Column('last_inbound_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('template_sent_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('window_closed_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_key', name=op.f('pk_wa_contacts')),
    sa.UniqueConstraint('bsuid', name=op.f('uq_wa_contacts_bsuid')),
    sa.UniqueConstraint('wa_id', name=op.f('uq_wa_contacts_wa_id'))
    )
    with op.batch_alter_table('wa_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wa_contacts_address'), ['address'], unique=False)

    op.create_table('wa_statuses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wamid', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('error_title', sa.String(length=255), nullable=True),
    sa.Column('received_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wa_statuses')),
    sa.UniqueConstraint('wamid', 'status', name=op.f('uq_wa_statuses_wamid_status'))
    )
    op.create_table('wa_media',
    sa.Column('media_id', sa.String(length=128), nullable=False),
    sa.Column('wamid', sa.String(length=128), nullable=False),
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('ref', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('mime', sa.String(length=64), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('path', sa.String(length=255), nullable=True),
    sa.Column('error', sa.String(length=255), nullable=True),
    sa.Column('attempts', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('created_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('media_id', name=op.f('pk_wa_media'))
    )
    with op.batch_alter_table('wa_media', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wa_media_sha256'), ['sha256'], unique=False)

    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbound_messages_external_id', ['external_id'], unique=False)
        batch_op.create_index('ix_outbound_messages_user_status', ['user_key', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_messages_user_status')
        batch_op.drop_index('ix_outbound_messages_external_id')

    with op.batch_alter_table('wa_media', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wa_media_sha256'))

    op.drop_table('wa_media')
    op.drop_table('wa_statuses')
    with op.batch_alter_table('wa_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wa_contacts_address'))

    op.drop_table('wa_contacts')
