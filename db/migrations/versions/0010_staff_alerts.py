"""staff alerts and passwords: link codes, linked chats, sent alerts, forced password change

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import db.schema


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(), nullable=False))

    op.create_table('staff_link_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_staff_link_codes_user_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_link_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_staff_link_codes_code_hash'))
    )
    with op.batch_alter_table('staff_link_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_link_codes_user_id'), ['user_id'], unique=False)

    op.create_table('staff_chats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('linked_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_staff_chats_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_staff_chats_user_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_chats')),
    sa.UniqueConstraint('conversation_id', name=op.f('uq_staff_chats_conversation_id'))
    )
    with op.batch_alter_table('staff_chats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_chats_user_id'), ['user_id'], unique=False)

    op.create_table('staff_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('ref', sa.String(length=32), nullable=False),
    sa.Column('at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_alerts')),
    sa.UniqueConstraint('kind', 'ref', name=op.f('uq_staff_alerts_kind_ref'))
    )


def downgrade() -> None:
    op.drop_table('staff_alerts')
    with op.batch_alter_table('staff_chats', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_chats_user_id'))
    op.drop_table('staff_chats')
    with op.batch_alter_table('staff_link_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_link_codes_user_id'))
    op.drop_table('staff_link_codes')
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
