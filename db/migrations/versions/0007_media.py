"""media: one table for the images of every channel (was tg_media and wa_media)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import db.schema


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_COMMON = ('user_key', 'status', 'size', 'sha256', 'path', 'error', 'created_at', 'done_at')


def _media():
    return sa.table('media', *(sa.column(n) for n in (
        'channel', 'media_id', 'ref', 'message_id', 'mime', 'attempts') + _COMMON))


def _tg_media():
    return sa.table('tg_media', sa.column('file_id'), *(sa.column(n) for n in _COMMON))


def _wa_media():
    return sa.table('wa_media', *(sa.column(n) for n in (
        'media_id', 'wamid', 'ref', 'mime', 'attempts') + _COMMON))


def upgrade() -> None:
    op.create_table('media',
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('media_id', sa.String(length=255), nullable=False),
    sa.Column('ref', sa.String(length=255), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=True),
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('mime', sa.String(length=64), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('path', sa.String(length=255), nullable=True),
    sa.Column('error', sa.String(length=255), nullable=True),
    sa.Column('attempts', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('created_at', db.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', db.schema.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('channel', 'media_id', name=op.f('pk_media'))
    )
    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_ref'), ['ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_sha256'), ['sha256'], unique=False)

    media, tg, wa = _media(), _tg_media(), _wa_media()
    # Telegram: the file_id is both the handle and the event's ref; one attempt, not counted.
    op.execute(media.insert().from_select(
        ['channel', 'media_id', 'ref', 'message_id', 'mime', 'attempts', *_COMMON],
        sa.select(sa.literal('tg'), tg.c.file_id, tg.c.file_id, sa.null(), sa.null(),
                  sa.literal(0), *(tg.c[n] for n in _COMMON))))
    op.execute(media.insert().from_select(
        ['channel', 'media_id', 'ref', 'message_id', 'mime', 'attempts', *_COMMON],
        sa.select(sa.literal('wa'), wa.c.media_id, wa.c.ref, wa.c.wamid, wa.c.mime,
                  wa.c.attempts, *(wa.c[n] for n in _COMMON))))

    with op.batch_alter_table('tg_media', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tg_media_sha256'))
    op.drop_table('tg_media')
    with op.batch_alter_table('wa_media', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wa_media_sha256'))
    op.drop_table('wa_media')


def downgrade() -> None:
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

    media, tg, wa = _media(), _tg_media(), _wa_media()
    op.execute(tg.insert().from_select(
        ['file_id', *_COMMON],
        sa.select(media.c.media_id, *(media.c[n] for n in _COMMON))
        .where(media.c.channel == 'tg')))
    op.execute(wa.insert().from_select(
        ['media_id', 'wamid', 'ref', 'mime', 'attempts', *_COMMON],
        sa.select(media.c.media_id, sa.func.coalesce(media.c.message_id, ''), media.c.ref,
                  media.c.mime, media.c.attempts, *(media.c[n] for n in _COMMON))
        .where(media.c.channel == 'wa')))

    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_sha256'))
        batch_op.drop_index(batch_op.f('ix_media_ref'))
    op.drop_table('media')
