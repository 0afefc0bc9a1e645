"""import_jobs: dashboard DTSEN imports run as background jobs (one at a time: a unique
partial index on kind over the queued/running rows)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

import db.schema


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

ACTIVE = "state IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table(
        'import_jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('phase', sa.String(length=16), server_default='', nullable=False),
        sa.Column('file_name', sa.String(length=255), nullable=False),
        sa.Column('data_date', sa.Date(), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('owner', sa.String(length=64), nullable=False),
        sa.Column('created_at', db.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column('started_at', db.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', db.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column('heartbeat_at', db.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column('rows_done', sa.Integer(), server_default='0', nullable=False),
        sa.Column('rows_total', sa.Integer(), server_default='0', nullable=False),
        sa.Column('rows_imported', sa.Integer(), server_default='0', nullable=False),
        sa.Column('rows_rejected', sa.Integer(), server_default='0', nullable=False),
        sa.Column('households', sa.Integer(), server_default='0', nullable=False),
        sa.Column('people_new', sa.Integer(), server_default='0', nullable=False),
        sa.Column('people_updated', sa.Integer(), server_default='0', nullable=False),
        sa.Column('import_id', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('errors', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_jobs')),
    )
    op.create_index(
        'uq_import_jobs_active',
        'import_jobs',
        ['kind'],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index('uq_import_jobs_active', table_name='import_jobs')
    op.drop_table('import_jobs')
