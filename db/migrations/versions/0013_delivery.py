"""delivery: inbound_events.attempts (the inbox sweeper's retries, then `dead`) and
outbound_messages.interrupted (a row caught mid-request at start-up is resent at most once)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.SmallInteger(), server_default='0', nullable=False))
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('interrupted', sa.SmallInteger(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_column('interrupted')
    with op.batch_alter_table('inbound_events', schema=None) as batch_op:
        batch_op.drop_column('attempts')
