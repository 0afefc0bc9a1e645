"""Time one DTSEN import of the cached synthetic extract into a fresh database.

    python -m bench.import_bench --households 250000 --db sqlite
    python -m bench.import_bench --households 250000 --db postgresql+asyncpg://postgres@127.0.0.1/x

Prints rows, seconds (both passes, ImportReport.seconds) and the import process's peak RSS
(resource.getrusage). PostgreSQL: the database is dropped and created again first.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import resource
import sys

from bench import data


async def _recreate_pg(url: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    base, name = url.rsplit("/", 1)
    eng = create_async_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    async with eng.connect() as c:
        await c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    await eng.dispose()


async def _import(module: str, url: str, path):
    from db.database import Database

    import_dtsen = importlib.import_module(module).import_dtsen
    programs, region = data.reference()
    db = Database(url)
    try:
        report = await import_dtsen(
            db,
            path,
            region=region,
            programs=programs,
            data_date=data.DATA_DATE,
            today=data.TODAY,
            actor="bench",
        )
    finally:
        await db.dispose()
    if not report.imported:
        raise RuntimeError("; ".join(str(e) for e in report.errors[:5]))
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=250_000)
    ap.add_argument("--db", default="sqlite", help="sqlite or a postgresql+asyncpg:// URL")
    ap.add_argument("--twice", action="store_true", help="import the file again (an update)")
    ap.add_argument(
        "--module",
        default="db.dtsen_import",
        help="the module whose import_dtsen runs (A/B: an older copy of db/dtsen_import.py)",
    )
    args = ap.parse_args(argv)
    path, _ = data.ensure_csv(args.households)
    if args.db == "sqlite":
        url = data.fresh_db("import-bench.db")
    else:
        from db.migrate import upgrade

        url = args.db
        asyncio.run(_recreate_pg(url))
        upgrade(url)
    for round_ in range(2 if args.twice else 1):
        report = asyncio.run(_import(args.module, url, path))
        print(
            f"round {round_ + 1}: {report.rows_imported:,} rows, {report.households:,} KK, "
            f"{report.people_new:,} new, {report.seconds:.1f} s ("
            + ", ".join(f"{k} {v:.1f}" for k, v in getattr(report, "timings", {}).items())
            + ")"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
