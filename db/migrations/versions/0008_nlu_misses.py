"""nlu_misses: the messages the understanding layer could not place (masked), for staff

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import db.schema


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('nlu_misses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=True),
    sa.Column('flow', sa.String(length=32), nullable=False),
    sa.Column('step', sa.String(length=32), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('normalized', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nlu_misses'))
    )
    with op.batch_alter_table('nlu_misses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nlu_misses_at'), ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('nlu_misses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nlu_misses_at'))
    op.drop_table('nlu_misses')
