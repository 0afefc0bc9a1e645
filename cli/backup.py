"""Operator commands: `backup DIR` and `restore DIR` (services/backup.py, docs/deploy.md).

`backup DIR` writes DIR/jaring-<UTC time>/ (manifest.json, the database, the media folder)
while the service runs; with --keep-daily/--keep-weekly/--keep-monthly it then deletes the older
backups in DIR that the policy does not keep. `restore DIR` (a backup directory) checks every
checksum, refuses a database that holds rows unless --force, restores the database and the
media, and checks each table's row count. Output names files, tables and counts only.
"""

from __future__ import annotations

import os
from pathlib import Path

from cli import CommandError


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "backup", help="back up the database and the media folder (safe while running)"
    )
    p.add_argument("dir", type=Path, help="folder the backup is made in (jaring-<time>/)")
    for period, unit, example in (
        ("daily", "days", 7),
        ("weekly", "weeks", 4),
        ("monthly", "months", 12),
    ):
        p.add_argument(
            f"--keep-{period}",
            type=int,
            default=None,
            metavar="N",
            help=f"then prune DIR: keep the newest backup of each of the last N {unit} "
            f"(e.g. {example}); the others not kept by another --keep-* are deleted",
        )
    p.set_defaults(handler=cmd_backup)
    p = sub.add_parser(
        "restore", help="restore a backup into an empty database (stop the service first)"
    )
    p.add_argument("dir", type=Path, help="the backup (a jaring-<time>/ folder)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace a database that already holds data (everything in it is lost)",
    )
    p.set_defaults(handler=cmd_restore)


async def cmd_backup(settings, args) -> int:
    from db.backup import DumpError
    from domain.clock import utcnow
    from services import backup

    os.umask(0o077)  # nothing this command makes is readable by others
    keep = (args.keep_daily, args.keep_weekly, args.keep_monthly)
    if any(k is not None and k < 0 for k in keep):
        raise CommandError("--keep-* must be 0 or more")
    try:
        made = await backup.create(
            args.dir, settings.database_url, settings.jaring_media_dir, utcnow()
        )
    except (backup.BackupError, DumpError) as e:
        raise CommandError(f"Backup failed: {e}") from None
    db = made.manifest["database"]
    print(
        f"Backup written: {made.path} ({db['kind']}, revision {db['alembic_revision']}, "
        f"{sum(db['rows'].values())} rows in {len(db['rows'])} tables, "
        f"{made.media_files} media files, {made.total_bytes / 1e6:.1f} MB)"
    )
    if any(k is not None for k in keep):
        gone = backup.prune(
            args.dir,
            daily=args.keep_daily or 0,
            weekly=args.keep_weekly or 0,
            monthly=args.keep_monthly or 0,
        )
        print(f"Old backups deleted: {len(gone)}" + "".join(f"\n  {g}" for g in gone))
    return 0


async def cmd_restore(settings, args) -> int:
    from db.backup import DumpError
    from services import backup

    os.umask(0o077)
    try:
        done = await backup.restore(
            args.dir, settings.database_url, settings.jaring_media_dir, force=args.force
        )
    except (backup.BackupError, DumpError) as e:
        raise CommandError(f"Restore failed: {e}") from None
    print(
        f"Restored {args.dir}: {done.kind} database at revision {done.revision}, "
        f"{sum(done.rows.values())} rows in {len(done.rows)} tables (each table's count "
        f"checked), {done.media_files} media files ({done.media_written} written)."
    )
    if done.migrate_needed:
        print("The backup's schema is older than this Jaring: run `python bot.py migrate` next.")
    return 0
