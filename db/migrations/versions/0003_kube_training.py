"""kube_training: KUBE groups, members and history; UEP applications; training sessions and registrations

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa
import db.schema


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('training_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('sector', sa.String(length=32), nullable=False),
    sa.Column('organiser', sa.String(length=120), nullable=False),
    sa.Column('kecamatan_code', sa.String(length=6), nullable=False),
    sa.Column('place', sa.String(length=160), nullable=False),
    sa.Column('starts_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('days', sa.SmallInteger(), nullable=False),
    sa.Column('quota', sa.SmallInteger(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('desil_max', sa.SmallInteger(), nullable=False),
    sa.Column('age_min', sa.SmallInteger(), nullable=False),
    sa.Column('age_max', sa.SmallInteger(), nullable=False),
    sa.Column('priority', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.String(length=255), nullable=True),
    sa.Column('seats_taken', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('allocated_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_sessions'))
    )
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_sessions_kecamatan_code'), ['kecamatan_code'], unique=False)

    op.create_table('kube_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('business_type', sa.String(length=32), nullable=False),
    sa.Column('kelurahan_code', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='DRAFT', nullable=False),
    sa.Column('member_count', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['people.id'], name=op.f('fk_kube_groups_created_by_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kube_groups')),
    sa.UniqueConstraint('code', name=op.f('uq_kube_groups_code'))
    )
    with op.batch_alter_table('kube_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kube_groups_kelurahan_code'), ['kelurahan_code'], unique=False)

    op.create_table('training_registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('desil', sa.SmallInteger(), nullable=False),
    sa.Column('registered_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reminded_3d_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminded_1d_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_training_registrations_conversation_id_conversations')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_training_registrations_person_id_people')),
    sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], name=op.f('fk_training_registrations_session_id_training_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_registrations')),
    sa.UniqueConstraint('code', name=op.f('uq_training_registrations_code')),
    sa.UniqueConstraint('session_id', 'person_id', name=op.f('uq_training_registrations_session_id_person_id'))
    )
    with op.batch_alter_table('training_registrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_registrations_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_training_registrations_session_status', ['session_id', 'status', 'id'], unique=False)

    op.create_table('uep_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('business', sa.String(length=160), nullable=False),
    sa.Column('duration', sa.String(length=8), nullable=False),
    sa.Column('needs', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='DIAJUKAN', nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('created_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_uep_applications_conversation_id_conversations')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_uep_applications_household_id_households')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_uep_applications_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_uep_applications'))
    )
    with op.batch_alter_table('uep_applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_uep_applications_person_id'), ['person_id'], unique=False)

    op.create_table('kube_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['kube_groups.id'], name=op.f('fk_kube_events_group_id_kube_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_kube_events_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kube_events'))
    )
    with op.batch_alter_table('kube_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kube_events_group_id'), ['group_id'], unique=False)

    op.create_table('kube_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('joined_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_kube_members_conversation_id_conversations')),
    sa.ForeignKeyConstraint(['group_id'], ['kube_groups.id'], name=op.f('fk_kube_members_group_id_kube_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_kube_members_household_id_households')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_kube_members_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kube_members')),
    sa.UniqueConstraint('group_id', 'person_id', name=op.f('uq_kube_members_group_id_person_id'))
    )
    with op.batch_alter_table('kube_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kube_members_person_id'), ['person_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('kube_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kube_members_person_id'))

    op.drop_table('kube_members')
    with op.batch_alter_table('kube_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kube_events_group_id'))

    op.drop_table('kube_events')
    with op.batch_alter_table('uep_applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_uep_applications_person_id'))

    op.drop_table('uep_applications')
    with op.batch_alter_table('training_registrations', schema=None) as batch_op:
        batch_op.drop_index('ix_training_registrations_session_status')
        batch_op.drop_index(batch_op.f('ix_training_registrations_person_id'))

    op.drop_table('training_registrations')
    with op.batch_alter_table('kube_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kube_groups_kelurahan_code'))

    op.drop_table('kube_groups')
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_sessions_kecamatan_code'))

    op.drop_table('training_sessions')
