"""`bot.py backup` / `bot.py restore` (services/backup.py, db/backup.py, docs/deploy.md).

The main test runs the real core with residents writing (reports, "Tanya petugas" tickets and
their messages, photos in the media folder), takes a backup with `python bot.py backup` in
another process while they keep writing, restores it with `python bot.py restore` into a
fresh database (a new SQLite file; a new PostgreSQL database of its own when
JARING_TEST_PG_URL is set) and finds every report, ticket and message committed before the
backup started. A damaged file fails the checksum check, naming the file, before anything is
written.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from core.media import write_atomic
from db.database import Database
from db.migrate import alembic_config
from db.schema import inbound_events, outbound_messages, reports, ticket_messages, tickets
from services import backup
from tests.chatkit import KK_1, NIK_1, Chat, running
from tests.conftest import PG_URL
from tests.test_reports import matched, usul_own

ROOT = Path(__file__).resolve().parent.parent
# The households of tests/data/dtsen_small.csv: (NIK of a member, No. KK).
HOUSEHOLDS = [
    (NIK_1, KK_1),
    ("3271011402600004", "3271011008090007"),
    ("3271067112900001", "3271060203200002"),
]
LONG_NUMBER = re.compile(r"(?<![0-9a-f])\d{12,}(?![0-9a-f])")

# The newest migration: what a backup of a migrated database records.
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def bot_env(db_url: str, media_dir: Path) -> dict[str, str]:
    """The environment `bot.py` runs in: this database and media folder, no channel."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JARING_", "TELEGRAM_", "WHATSAPP_", "DATABASE_URL"))
    }
    env.update(DATABASE_URL=db_url, JARING_MEDIA_DIR=str(media_dir), PYTHONUNBUFFERED="1")
    return env


async def bot(*argv: str, db_url: str, media_dir: Path) -> tuple[int, str]:
    """Run `python bot.py ARGV` in its own process; (exit status, stdout + stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "bot.py",
        *argv,
        cwd=ROOT,
        env=bot_env(db_url, media_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def committed(url: str) -> dict[str, dict[int, tuple]]:
    """What the database holds: reports, tickets, their messages and the messages in and out,
    by id (with the columns that do not change once written)."""
    db = Database(url)
    try:
        async with db.tx(write=False) as c:
            return {
                "reports": {
                    r.id: (r.code, r.category)
                    for r in await c.execute(
                        sa.select(reports.c.id, reports.c.code, reports.c.category)
                    )
                },
                "tickets": {
                    r.id: (r.conversation_id, r.reason)
                    for r in await c.execute(
                        sa.select(tickets.c.id, tickets.c.conversation_id, tickets.c.reason)
                    )
                },
                "ticket_messages": {
                    r.id: (r.ticket_id, r.body)
                    for r in await c.execute(
                        sa.select(
                            ticket_messages.c.id,
                            ticket_messages.c.ticket_id,
                            ticket_messages.c.body,
                        )
                    )
                },
                "inbound_events": {
                    r.id: (r.channel, r.external_id)
                    for r in await c.execute(
                        sa.select(
                            inbound_events.c.id,
                            inbound_events.c.channel,
                            inbound_events.c.external_id,
                        )
                    )
                },
                "outbound_messages": {
                    r.id: (r.user_key, r.inbound_event_id, r.payload)
                    for r in await c.execute(
                        sa.select(
                            outbound_messages.c.id,
                            outbound_messages.c.user_key,
                            outbound_messages.c.inbound_event_id,
                            outbound_messages.c.payload,
                        )
                    )
                },
            }
    finally:
        await db.dispose()


async def fresh_target(kind: str, tmp_path: Path, name: str):
    """An empty database to restore into: (url, drop coroutine or None)."""
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / name}.db", None
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    assert PG_URL
    db_name = f"jaring_restore_{os.getpid()}_{name}"

    async def admin(sql: str) -> None:
        eng = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
        async with eng.connect() as c:
            await c.execute(sa.text(sql))
        await eng.dispose()

    await admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    await admin(f'CREATE DATABASE "{db_name}"')
    url = make_url(PG_URL).set(database=db_name).render_as_string(hide_password=False)
    return url, admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def photo(n: int) -> bytes:
    return b"\xff\xd8\xff\xe0" + f"photo {n}".encode() * 50


@pytest.mark.timeout(300)  # three bot.py processes; 20-55 s on a busy 2-core machine
@pytest.mark.serial
async def test_backup_under_load_restores_everything_committed_before_it(db_url, tmp_path):
    kind = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    media = tmp_path / "media"
    media.mkdir()
    out = tmp_path / "backups"
    async with running(db_url, jaring_media_dir=media) as rt:
        # Before: reports (one per household), a ticket with its message, photos.
        codes = []
        for n, (nik, kk) in enumerate(HOUSEHOLDS):
            chat = Chat(rt, user=f"reporter{n}")
            await matched(chat, nik, kk)
            codes.append(await usul_own(chat))
            write_atomic(media / f"before-{n}.jpg", photo(n))
        asker = Chat(rt, user="asker")
        await asker.onboard()
        await asker.tap("g:contact")
        assert await asker.send("Bagaimana cara mendaftar PKH?") != []

        # Load: new residents keep asking staff and writing to their tickets, and photos keep
        # arriving, until the backup has finished.
        stop = asyncio.Event()
        steps = [0]

        async def load() -> None:
            n = 0
            while not stop.is_set():
                chat = Chat(rt, user=f"load{n}")
                await chat.onboard()
                await chat.tap("g:contact")
                await chat.send(f"Pertanyaan nomor {n}: kapan bantuan cair?")
                await chat.send(f"Tambahan untuk pertanyaan {n}.")
                write_atomic(media / f"load-{n}.jpg", photo(1000 + n))
                steps[0] += 5
                n += 1

        task = asyncio.create_task(load())
        try:
            async with asyncio.timeout(30):
                while steps[0] < 10:  # the load is under way before the backup starts
                    await asyncio.sleep(0.01)
            before = await committed(db_url)
            media_before = {p.name: p.read_bytes() for p in media.iterdir()}
            at_start = steps[0]
            rc, output = await bot("backup", str(out), db_url=db_url, media_dir=media)
            during = steps[0] - at_start
        finally:
            stop.set()
            await task
    assert rc == 0, output
    assert during > 0, "nothing was written while the backup ran"
    assert not LONG_NUMBER.search(output), output
    assert set(codes) <= {c for c, _ in before["reports"].values()}
    assert before["tickets"] and before["ticket_messages"]

    [made] = backup.backups_in(out).values()
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    for f in made.rglob("*"):
        assert stat.S_IMODE(f.stat().st_mode) == (0o700 if f.is_dir() else 0o600), f
    manifest = json.loads((made / "manifest.json").read_text())
    assert manifest["version"] == 1 and manifest["database"]["kind"] == kind
    assert manifest["database"]["alembic_revision"] == HEAD
    assert manifest["database"]["rows"]["inbound_events"] >= len(before["inbound_events"])
    text = (made / "manifest.json").read_text()
    for nik, kk in HOUSEHOLDS:
        assert nik not in text and kk not in text

    # Restore into a fresh database and an empty media folder.
    target, drop = await fresh_target(kind, tmp_path, "restored")
    restored_media = tmp_path / "restored-media"
    try:
        rc, output = await bot("restore", str(made), db_url=target, media_dir=restored_media)
        assert rc == 0, output
        assert "each table's count checked" in output
        assert not LONG_NUMBER.search(output), output
        after = await committed(target)
        for table, rows in before.items():
            missing = {i: r for i, r in rows.items() if after[table].get(i) != r}
            assert not missing, f"{table}: {len(missing)} of {len(rows)} committed rows lost"
            assert len(after[table]) == manifest["database"]["rows"][table]
        for name, data in media_before.items():
            assert (restored_media / name).read_bytes() == data, name

        # A database that holds data is refused, and left as it was, unless forced.
        with pytest.raises(backup.BackupError, match="already holds data.*--force"):
            await backup.restore(made, target, restored_media, force=False)
        assert await committed(target) == after
        await backup.restore(made, target, restored_media, force=True)
        assert await committed(target) == after
    finally:
        if drop is not None:
            await drop


async def test_a_damaged_backup_fails_the_checksum_check_and_restores_nothing(db_url, tmp_path):
    kind = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    media = tmp_path / "media"
    media.mkdir()
    write_atomic(media / "a.jpg", photo(1))
    write_atomic(media / "b.jpg", photo(2))
    async with running(db_url, jaring_media_dir=media) as rt:
        chat = Chat(rt)
        await matched(chat)
        await usul_own(chat)
    rc, output = await bot("backup", str(tmp_path / "bk"), db_url=db_url, media_dir=media)
    assert rc == 0, output
    [made] = backup.backups_in(tmp_path / "bk").values()
    db_file = json.loads((made / "manifest.json").read_text())["database"]["file"]

    damaged = tmp_path / "damaged"
    shutil.copytree(made, damaged)
    with (damaged / db_file).open("r+b") as f:  # one byte flipped in the middle
        f.seek((damaged / db_file).stat().st_size // 2)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0xFF]))
    with (damaged / "media" / "b.jpg").open("ab") as f:  # a photo grown by a byte
        f.write(b"x")

    target, drop = await fresh_target(kind, tmp_path, "damaged")
    restored_media = tmp_path / "restored-media"
    try:
        rc, output = await bot("restore", str(damaged), db_url=target, media_dir=restored_media)
        assert rc == 1
        assert "checksum check failed" in output and "nothing was restored" in output
        assert f"{db_file}: sha256" in output
        size = len(photo(2))
        assert f"media/b.jpg: {size + 1} bytes, the manifest says {size}" in output
        assert "Traceback" not in output
        assert not restored_media.exists()
        if kind == "sqlite":
            assert not Path(target.split(":///", 1)[1]).exists()
        else:
            from db.backup import state

            assert await state(target) == "empty"
        # A missing file and a file named outside the backup are refused as well.
        (damaged / "media" / "a.jpg").unlink()
        with pytest.raises(backup.BackupError, match=r"media/a\.jpg: missing"):
            backup.verify(damaged)
        m = json.loads((made / "manifest.json").read_text())
        m["files"][0]["path"] = "../../etc/passwd"
        (damaged / "manifest.json").write_text(json.dumps(m))
        with pytest.raises(backup.BackupError, match="outside the backup"):
            backup.verify(damaged)
        # The untouched backup still restores.
        done = await backup.restore(made, target, restored_media, force=False)
        assert done.media_files == 2 and (restored_media / "b.jpg").read_bytes() == photo(2)
    finally:
        if drop is not None:
            await drop


def test_retention_keeps_7_daily_4_weekly_12_monthly(tmp_path):
    start = datetime(2025, 1, 1, 2, 0, tzinfo=UTC)
    times = [start + timedelta(days=d) for d in range(500)]
    times += [start + timedelta(days=499, hours=6)]  # two on the last day: the newer one counts
    keep = backup.to_keep(times, daily=7, weekly=4, monthly=12)
    newest = max(times)
    days = {t.date() for t in keep}
    assert newest in keep and (start + timedelta(days=499)) not in keep
    assert {newest.date() - timedelta(days=d) for d in range(7)} <= days
    assert len({tuple(t.isocalendar())[:2] for t in keep}) >= 4
    assert len({(t.year, t.month) for t in keep}) == 12
    assert len(keep) <= 7 + 4 + 12
    # Each month kept by its newest backup: the last day of the month (or the newest).
    for t in keep:
        if (t.year, t.month) != (newest.year, newest.month) and newest - t > timedelta(days=35):
            assert (t + timedelta(days=1)).month != t.month

    # prune() deletes exactly the others, and never a partial backup.
    for t in times[-40:]:
        d = tmp_path / f"jaring-{t:%Y%m%dT%H%M%SZ}"
        d.mkdir()
        (d / "manifest.json").write_text("{}")
    (tmp_path / ".jaring-20990101T000000Z.partial").mkdir()
    gone = backup.prune(tmp_path, daily=7, weekly=4, monthly=12)
    left = set(backup.backups_in(tmp_path))
    assert left == backup.to_keep(times[-40:], daily=7, weekly=4, monthly=12)
    assert len(gone) == 40 - len(left) and (tmp_path / ".jaring-20990101T000000Z.partial").exists()


def test_backup_of_a_missing_sqlite_file_says_so(tmp_path):
    env = bot_env(f"sqlite+aiosqlite:///{tmp_path / 'nope.db'}", tmp_path / "media")
    import subprocess

    p = subprocess.run(
        [sys.executable, "bot.py", "backup", str(tmp_path / "bk")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 1
    assert "does not exist" in p.stderr and "Traceback" not in p.stderr
    assert not any((tmp_path / "bk").iterdir())  # no partial backup left behind
