"""Backups: the database (db/backup.py) and the media folder in one directory with a manifest.

A backup is a directory `jaring-<UTC time>` (e.g. `jaring-20261129T020000Z`) inside the folder
given to `bot.py backup`:

    manifest.json        format, version, created_at, the database's kind, Alembic revision and
                         rows per table, and every file with its sha256 and size
    database.sqlite3     (SQLite) or database.pgdump (PostgreSQL, pg_dump's custom format)
    media/<sha256>.jpg   the photos residents sent, as they are in JARING_MEDIA_DIR

It is built under `.jaring-<time>.partial` and renamed when complete, so a backup that names
itself `jaring-...` is whole. Directories are 0700 and files 0600: the copy holds residents'
data. The database is copied first, then the media: a photo is written before the row that
names it commits, so every photo the copied database names is in the backup (unless the
retention job deleted it in between, which it may).

Restore checks every file's size and sha256 against the manifest before it writes anything,
refuses a database that holds rows unless forced, and checks afterwards that each table has
the rows the manifest says. No message here carries a NIK, a No. KK or a phone number: only
file names (content hashes), table names and counts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from db import backup as dump

FORMAT = "jaring-backup"
VERSION = 1
MANIFEST = "manifest.json"
PREFIX = "jaring-"
STAMP = "%Y%m%dT%H%M%SZ"
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore could not be made; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Made:
    path: Path
    manifest: dict[str, Any]
    media_files: int
    total_bytes: int


@dataclass(frozen=True, slots=True)
class Restored:
    kind: str
    revision: str | None
    rows: dict[str, int]
    media_files: int
    media_written: int
    migrate_needed: bool


def _sha256(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _copy(src: Path, dst: Path) -> tuple[str, int]:
    """Copy, hashing what was written; the new file is 0600."""
    h, size = hashlib.sha256(), 0
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with src.open("rb") as fin, os.fdopen(fd, "wb") as fout:
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return h.hexdigest(), size


def media_files(media_dir: Path) -> list[Path]:
    """The files of the media folder, relative to it; temporary files of a write in progress
    (core/media.write_atomic's `*.tmp`) and hidden files are not part of it."""
    if not media_dir.is_dir():
        return []
    out = []
    for p in sorted(media_dir.rglob("*")):
        rel = p.relative_to(media_dir)
        if (
            p.is_file()
            and not p.name.endswith(".tmp")
            and not any(part.startswith(".") for part in rel.parts)
        ):
            out.append(rel)
    return out


async def create(root: Path, database_url: str, media_dir: Path, now: datetime) -> Made:
    """Make a backup under `root` (created 0700 when missing); `now` names it."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = PREFIX + now.astimezone(UTC).strftime(STAMP)
    final, partial = root / name, root / f".{name}.partial"
    if final.exists():
        raise BackupError(f"{final} already exists; wait a second and run the backup again")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(mode=0o700)
    try:
        kind = dump.kind_of(database_url)
        db_file = dump.dump_name(kind)
        snap = await dump.snapshot(database_url, partial / db_file)
        os.chmod(partial / db_file, 0o600)
        sha, size = _sha256(partial / db_file)
        files = [{"path": db_file, "sha256": sha, "size": size}]
        media = media_files(media_dir)
        if media:
            (partial / "media").mkdir(mode=0o700)
        for rel in media:
            dst = partial / "media" / rel
            dst.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                sha, size = _copy(media_dir / rel, dst)
            except FileNotFoundError:  # deleted since it was listed (the retention job)
                continue
            files.append(
                {"path": str(PurePosixPath("media", *rel.parts)), "sha256": sha, "size": size}
            )
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "database": {
                "kind": snap.kind,
                "file": db_file,
                "alembic_revision": snap.revision,
                "rows": snap.rows,
            },
            "files": files,
        }
        fd = os.open(partial / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.rename(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return Made(final, manifest, len(files) - 1, sum(int(f["size"]) for f in files))


def _inside(base: Path, rel: str) -> Path:
    """`rel` (a manifest path) under `base`; a path that would leave it is refused."""
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise BackupError(f"the manifest names a file outside the backup: {rel!r}")
    return base.joinpath(*p.parts)


def verify(path: Path) -> dict[str, Any]:
    """The manifest of the backup at `path`, after checking every file it lists (size and
    sha256). BackupError names each damaged or missing file."""
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{path} is not a Jaring backup: it has no {MANIFEST}") from None
    except (OSError, ValueError) as e:
        raise BackupError(f"{path / MANIFEST} cannot be read: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path / MANIFEST} is not a Jaring backup manifest")
    if manifest.get("version") != VERSION:
        raise BackupError(
            f"backup format version {manifest.get('version')!r}; this Jaring reads version {VERSION}"
        )
    problems = []
    for entry in manifest.get("files", []):
        f = _inside(path, entry["path"])
        if not f.is_file():
            problems.append(f"{entry['path']}: missing")
            continue
        sha, size = _sha256(f)
        if size != entry["size"]:
            problems.append(f"{entry['path']}: {size} bytes, the manifest says {entry['size']}")
        elif sha != entry["sha256"]:
            problems.append(
                f"{entry['path']}: sha256 {sha[:16]}…, the manifest says {entry['sha256'][:16]}…"
            )
    db_file = manifest.get("database", {}).get("file")
    if db_file not in {e["path"] for e in manifest.get("files", [])}:
        problems.append(f"the database file {db_file!r} is not among the manifest's files")
    if problems:
        raise BackupError(
            f"checksum check failed, the backup at {path} is damaged; nothing was restored:\n"
            + "\n".join(f"- {p}" for p in problems)
        )
    return manifest


async def restore(path: Path, database_url: str, media_dir: Path, *, force: bool) -> Restored:
    """Restore the backup at `path` into the database at `database_url` and `media_dir`."""
    manifest = verify(path)
    db = manifest["database"]
    kind = dump.kind_of(database_url)
    if db["kind"] != kind:
        raise BackupError(
            f"this backup holds a {db['kind']} database and DATABASE_URL is {kind}: restore "
            f"into a {db['kind']} database (then move the data with your own tools if needed)"
        )
    revision = db.get("alembic_revision")
    if revision is not None and revision not in set(dump.known_revisions()):
        raise BackupError(
            f"the backup's schema revision {revision} is newer than this Jaring knows: restore "
            "with the Jaring version that made it (or a newer one)"
        )
    state = await dump.state(database_url)
    if state == "data" and not force:
        raise BackupError(
            "the target database already holds data; restore only into an empty database "
            "(a new SQLite path, or a new PostgreSQL database: createdb), or pass --force to "
            "replace everything in it"
        )
    await dump.restore(_inside(path, db["file"]), database_url, replace=state != "empty")
    got_revision, rows = await dump.facts(database_url)
    wrong = [
        f"{t}: {rows.get(t)} rows, the backup has {n}"
        for t, n in db["rows"].items()
        if rows.get(t) != n
    ]
    if got_revision != revision:
        wrong.append(f"schema revision {got_revision}, the backup has {revision}")
    if wrong:
        raise BackupError("the restored database differs from the backup:\n- " + "\n- ".join(wrong))
    written = _restore_media(path, manifest, media_dir)
    media = [e for e in manifest["files"] if e["path"].startswith("media/")]
    return Restored(
        kind,
        revision,
        rows,
        len(media),
        written,
        migrate_needed=revision != dump.head_revision(),
    )


def _restore_media(path: Path, manifest: dict[str, Any], media_dir: Path) -> int:
    """Copy the backup's media into `media_dir` (file by file, temporary name then rename, each
    checked again after the copy). Files are named by their content, so one already there with
    the same hash is kept; files the backup does not have are left alone."""
    written = 0
    for entry in manifest["files"]:
        if not entry["path"].startswith("media/"):
            continue
        rel = PurePosixPath(entry["path"]).relative_to("media")
        dst = _inside(media_dir, str(rel))
        if dst.is_file() and _sha256(dst) == (entry["sha256"], entry["size"]):
            continue
        dst.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.restoring")
        tmp.unlink(missing_ok=True)
        try:
            sha, size = _copy(_inside(path, entry["path"]), tmp)
            if (sha, size) != (entry["sha256"], entry["size"]):
                raise BackupError(f"{entry['path']}: changed while it was being restored")
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)
        written += 1
    return written


# --- retention ------------------------------------------------------------------------------------


def backups_in(root: Path) -> dict[datetime, Path]:
    """The complete backups under `root` by their time (partial ones and others are skipped)."""
    out = {}
    if root.is_dir():
        for p in root.iterdir():
            if p.is_dir() and p.name.startswith(PREFIX) and (p / MANIFEST).is_file():
                try:
                    when = datetime.strptime(p.name[len(PREFIX) :], STAMP).replace(tzinfo=UTC)
                except ValueError:
                    continue
                out[when] = p
    return out


def to_keep(times: Iterable[datetime], *, daily: int, weekly: int, monthly: int) -> set[datetime]:
    """The backups a "daily/weekly/monthly" policy keeps: the newest backup of each of the
    `daily` latest days that have one, of the `weekly` latest ISO weeks, of the `monthly` latest
    months (the same backup may count for all three). The newest backup is always kept."""
    ordered = sorted(times, reverse=True)
    keep: set[datetime] = set(ordered[:1])
    for count, period in (
        (daily, lambda t: t.date()),
        (weekly, lambda t: tuple(t.isocalendar())[:2]),
        (monthly, lambda t: (t.year, t.month)),
    ):
        seen: set[object] = set()
        for t in ordered:
            key = period(t)
            if key in seen:
                continue
            if len(seen) >= count:
                break
            seen.add(key)
            keep.add(t)
    return keep


def prune(root: Path, *, daily: int, weekly: int, monthly: int) -> list[Path]:
    """Delete the backups under `root` that the policy does not keep; the ones deleted."""
    found = backups_in(root)
    keep = to_keep(found, daily=daily, weekly=weekly, monthly=monthly)
    gone = []
    for when in sorted(found):
        if when not in keep:
            shutil.rmtree(found[when])
            gone.append(found[when])
    return gone
