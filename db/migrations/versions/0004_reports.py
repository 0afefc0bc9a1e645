"""reports: data-error reports, their events and photos, RT heads, Telegram photos

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa
import db.schema


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tg_media',
    sa.Column('file_id', sa.String(length=255), nullable=False),
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('path', sa.String(length=255), nullable=True),
    sa.Column('error', sa.String(length=255), nullable=True),
    sa.Column('created_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('file_id', name=op.f('pk_tg_media'))
    )
    with op.batch_alter_table('tg_media', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tg_media_sha256'), ['sha256'], unique=False)

    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=12), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('reporter_conversation_id', sa.Integer(), nullable=True),
    sa.Column('reporter_person_id', sa.Integer(), nullable=True),
    sa.Column('reporter_role', sa.String(length=8), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('target_key', sa.String(length=128), nullable=False),
    sa.Column('target_name', sa.String(length=120), nullable=True),
    sa.Column('target_address', sa.String(length=255), nullable=True),
    sa.Column('target_nik', sa.String(length=16), nullable=True),
    sa.Column('target_kk', sa.String(length=16), nullable=True),
    sa.Column('kelurahan_code', sa.String(length=10), nullable=False),
    sa.Column('rw', sa.String(length=3), nullable=True),
    sa.Column('rt', sa.String(length=3), nullable=True),
    sa.Column('reason', sa.String(length=16), nullable=True),
    sa.Column('detail', sa.String(length=1000), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('rt_opinion', sa.String(length=16), nullable=True),
    sa.Column('created_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rt_due_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_reports_household_id_households')),
    sa.ForeignKeyConstraint(['reporter_conversation_id'], ['conversations.id'], name=op.f('fk_reports_reporter_conversation_id_conversations')),
    sa.ForeignKeyConstraint(['reporter_person_id'], ['people.id'], name=op.f('fk_reports_reporter_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
    sa.UniqueConstraint('code', name=op.f('uq_reports_code'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index('ix_reports_reporter', ['reporter_conversation_id'], unique=False)
        batch_op.create_index('ix_reports_rt', ['kelurahan_code', 'rw', 'rt', 'state'], unique=False)
        batch_op.create_index('ix_reports_state_due', ['state', 'due_at'], unique=False)
        batch_op.create_index('ix_reports_target', ['category', 'target_key', 'state'], unique=False)

    op.create_table('rt_heads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kelurahan_code', sa.String(length=10), nullable=False),
    sa.Column('rw', sa.String(length=3), nullable=False),
    sa.Column('rt', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('activated_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_rt_heads_conversation_id_conversations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rt_heads')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_rt_heads_code_hash'))
    )
    with op.batch_alter_table('rt_heads', schema=None) as batch_op:
        batch_op.create_index('ix_rt_heads_area', ['kelurahan_code', 'rw', 'rt', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_rt_heads_conversation_id'), ['conversation_id'], unique=False)

    op.create_table('report_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('from_state', sa.String(length=20), nullable=True),
    sa.Column('to_state', sa.String(length=20), nullable=True),
    sa.Column('outcome', sa.String(length=12), nullable=True),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_report_events_conversation_id_conversations')),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_report_events_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_events'))
    )
    with op.batch_alter_table('report_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_events_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_events_report_id'), ['report_id'], unique=False)

    op.create_table('report_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('ref', sa.String(length=160), nullable=False),
    sa.Column('created_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_report_photos_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_photos'))
    )
    with op.batch_alter_table('report_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_photos_report_id'), ['report_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('report_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_photos_report_id'))

    op.drop_table('report_photos')
    with op.batch_alter_table('report_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_events_report_id'))
        batch_op.drop_index(batch_op.f('ix_report_events_conversation_id'))

    op.drop_table('report_events')
    with op.batch_alter_table('rt_heads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rt_heads_conversation_id'))
        batch_op.drop_index('ix_rt_heads_area')

    op.drop_table('rt_heads')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_target')
        batch_op.drop_index('ix_reports_state_due')
        batch_op.drop_index('ix_reports_rt')
        batch_op.drop_index('ix_reports_reporter')

    op.drop_table('reports')
    with op.batch_alter_table('tg_media', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tg_media_sha256'))

    op.drop_table('tg_media')
