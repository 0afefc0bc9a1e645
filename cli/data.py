"""Data commands: `migrate`, `import-dtsen FILE.csv ...`, `seed-demo ...`."""

from __future__ import annotations

import secrets
import sys
from datetime import date
from pathlib import Path

from config import ROOT
from core.reference import load_reference


def add_parsers(sub) -> None:
    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    p.set_defaults(handler=cmd_migrate)
    p = sub.add_parser("import-dtsen", help="import a DTSEN extract (CSV)")
    p.add_argument("file")
    p.add_argument("--data-date", type=date.fromisoformat, default=None)
    p.add_argument("--skip-invalid", action="store_true")
    p.add_argument("--reject", default=None, help="where to write rejected rows")
    p.set_defaults(handler=cmd_import)
    p = sub.add_parser("seed-demo", help="import a synthetic Kota Bogor extract")
    p.add_argument("--households", type=int, default=500)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--if-empty", action="store_true")
    p.set_defaults(handler=cmd_seed)


def cmd_migrate(settings, args) -> int:
    """Synchronous: Alembic runs its own event loop."""
    from db.migrate import upgrade

    upgrade(settings.database_url)
    print("Database is up to date.")
    return 0


async def cmd_import(settings, args) -> int:
    from db.database import Database
    from db.dtsen_import import import_dtsen

    programs, region = load_reference(settings.jaring_programs, settings.jaring_region)
    db = Database(settings.database_url)
    try:
        report = await import_dtsen(
            db,
            Path(args.file),
            region=region,
            programs=programs,
            data_date=args.data_date or date.today(),
            skip_invalid=args.skip_invalid,
            reject_path=Path(args.reject) if args.reject else None,
            progress=sys.stderr.isatty(),
        )
    finally:
        await db.dispose()
    for err in report.errors:
        print(err, file=sys.stderr)
    if not report.imported:
        print(
            f"\nTidak ada yang diimpor: {len(report.errors)} kesalahan pada "
            f"{report.rows_rejected} baris. Perbaiki lalu ulangi, atau pakai --skip-invalid.",
            file=sys.stderr,
        )
        return 1
    print(
        f"Impor selesai: {report.rows_imported} baris, {report.households} KK "
        f"({report.people_new} orang baru, {report.people_updated} diperbarui), "
        f"{report.rows_rejected} baris ditolak, {report.seconds:.1f} detik."
    )
    if report.reject_path and report.rows_rejected:
        print(f"Baris yang ditolak ditulis ke {report.reject_path}")
    return 0


async def cmd_seed(settings, args) -> int:
    from db.database import Database
    from db.seed import database_is_empty, seed_demo
    from db.training_store import seed_samples

    programs, region = load_reference(settings.jaring_programs, settings.jaring_region)
    db = Database(settings.database_url)
    try:
        if args.if_empty and not await database_is_empty(db):
            print("The database already holds DTSEN data; demo data not added.")
            return 0
        report, cases = await seed_demo(
            db,
            households=args.households,
            seed=args.seed,
            region=region,
            programs=programs,
            today=date.today(),
            data_dir=ROOT / "data" / "demo",
        )
        trainings = await seed_samples(db, programs, region, date.today())
    finally:
        await db.dispose()
    login = await seed_demo_admin(settings)
    print(
        f"Demo data: {report.households} households, {report.rows_imported} people "
        f"(synthetic, seed {args.seed}). Try these in the chat:"
    )
    for c in cases:
        # Synthetic numbers, printed in full on purpose so a newcomer can type them.
        print(f"  {c.label:<32} NIK {c.nik}  No. KK {c.no_kk}  (desil {c.desil})")
    if trainings:
        print(f"Sample trainings: {trainings} sessions (python bot.py training list).")
    if login:
        print(f"Staff dashboard demo login (change it before real use): {login[0]} / {login[1]}")
    return 0


async def seed_demo_admin(settings) -> tuple[str, str] | None:
    """A demo admin account for the dashboard, only when there is no staff account at all."""
    from db.database import Database
    from db.seed import has_staff
    from domain.clock import utcnow
    from services.staff import add_staff

    db = Database(settings.database_url)
    try:
        async with db.tx() as c:
            if await has_staff(c):
                return None
            password = "demo-" + secrets.token_urlsafe(9)
            await add_staff(
                c,
                username="admin.demo",
                name="Admin demo",
                role="admin",
                password=password,
                kelurahan_code=None,
                now=utcnow(),
                actor="cli:seed-demo",
            )
    finally:
        await db.dispose()
    return "admin.demo", password
