"""outbox leases and the scheduler's job table (issue #14, several workers on one database):
outbound_messages.lease_owner / lease_until, and scheduled_jobs

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

import db.schema


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('lease_until', db.schema.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        'scheduled_jobs',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('runs', sa.Integer(), server_default='0', nullable=False),
        sa.Column('first_tick', sa.BigInteger(), nullable=False),
        sa.Column('last_tick', sa.BigInteger(), nullable=False),
        sa.Column('last_run_at', db.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_worker', sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('scheduled_jobs')
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
        batch_op.drop_column('lease_owner')
