"""contact_numbers: phone numbers residents give, with their purpose, so an officer can call

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import db.schema


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('contact_numbers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('purpose', sa.String(length=8), nullable=False),
    sa.Column('ref', sa.String(length=32), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('created_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_contact_numbers_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_contact_numbers_household_id_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_numbers')),
    sa.UniqueConstraint('conversation_id', 'purpose', 'ref', name=op.f('uq_contact_numbers_conversation_id_purpose_ref'))
    )
    with op.batch_alter_table('contact_numbers', schema=None) as batch_op:
        batch_op.create_index('ix_contact_numbers_purpose_ref', ['purpose', 'ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_numbers_updated_at'), ['updated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('contact_numbers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_numbers_updated_at'))
        batch_op.drop_index('ix_contact_numbers_purpose_ref')
    op.drop_table('contact_numbers')
