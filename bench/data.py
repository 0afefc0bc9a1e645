"""Benchmark data: the synthetic DTSEN extracts (generated once, cached) and fresh databases.

Everything lives under `.cache/bench/` (gitignored). A CSV's name carries the number of
households, the seed and a digest of the generator and the reference files, so a change to
`db/seed.py`, `programs.toml` or the region file makes a new one instead of reusing a stale one.
"""

from __future__ import annotations

import csv
import hashlib
import os
import random
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from config import ROOT, load_settings

CACHE = ROOT / ".cache" / "bench"
SEED = 20261101
# A fixed reference date keeps the cached file byte-identical whatever day the bench runs.
TODAY = date(2026, 11, 1)
DATA_DATE = date(2026, 11, 1)


def reference():
    """(programs, region) as the service loads them (same settings, same files)."""
    from core.reference import load_reference

    settings = load_settings()
    return load_reference(settings.jaring_programs, settings.jaring_region)


def _digest() -> str:
    s = load_settings()
    h = hashlib.sha1()
    for p in (ROOT / "db" / "seed.py", Path(s.jaring_programs), Path(s.jaring_region)):
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:10]


def csv_path(households: int) -> Path:
    return CACHE / f"dtsen-{households}hh-s{SEED}-{_digest()}.csv"


def ensure_csv(households: int, log=print) -> tuple[Path, float | None]:
    """The cached CSV for `households` households; generated when missing.
    Returns (path, seconds spent generating or None when it was cached)."""
    from db.seed import write_demo_csv

    path = csv_path(households)
    if path.exists():
        return path, None
    programs, region = reference()
    log(f"generating {path.name} ({households:,} households; once, then cached) ...")
    t0 = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    write_demo_csv(
        tmp, households=households, seed=SEED, region=region, programs=programs, today=TODAY
    )
    os.replace(tmp, path)  # a half-written file is never taken for a finished one
    took = time.perf_counter() - t0
    log(f"generated in {took:.1f} s")
    return path, took


@dataclass(frozen=True, slots=True)
class Pair:
    nik: str
    no_kk: str


def heads(path: Path) -> list[Pair]:
    """NIK + No. KK of every KEPALA_KELUARGA in the file, in file order."""
    out: list[Pair] = []
    with open(path, encoding="utf-8", newline="") as f:
        r = csv.reader(f)
        header = next(r)
        i_kk, i_nik, i_hub = header.index("no_kk"), header.index("nik"), header.index("hubungan")
        for row in r:
            if row[i_hub] == "KEPALA_KELUARGA":
                out.append(Pair(row[i_nik], row[i_kk]))
    return out


def db_url(name: str) -> str:
    return f"sqlite+aiosqlite:///{CACHE / name}"


def fresh_db(name: str) -> str:
    """A migrated, empty SQLite database `.cache/bench/<name>` (any old one removed)."""
    from db.migrate import upgrade

    for suffix in ("", "-wal", "-shm", "-journal"):
        (CACHE / (name + suffix)).unlink(missing_ok=True)
    url = db_url(name)
    upgrade(url)
    return url


async def import_csv(url: str, path: Path):
    """import_dtsen of `path` into `url`; returns the ImportReport (its `seconds` is the
    time of both passes: check every row, then write)."""
    from db.database import Database
    from db.dtsen_import import import_dtsen

    programs, region = reference()
    db = Database(url)
    try:
        report = await import_dtsen(
            db,
            path,
            region=region,
            programs=programs,
            data_date=DATA_DATE,
            today=TODAY,
            actor="bench",
        )
    finally:
        await db.dispose()
    if not report.imported:
        first = "; ".join(str(e) for e in report.errors[:5])
        raise RuntimeError(f"benchmark extract {path.name} did not import: {first}")
    return report


def sample(pairs: list[Pair], n: int, seed: int) -> list[Pair]:
    rng = random.Random(seed)
    return rng.sample(pairs, n) if n <= len(pairs) else [rng.choice(pairs) for _ in range(n)]


# --- PostgreSQL (`python -m bench.run --db postgresql`) -----------------------------------------

PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")


def pg_url(name: str) -> str:
    """The SQLAlchemy URL of database `name` on the bench's PostgreSQL server."""
    return PG_SERVER.replace("postgresql://", "postgresql+asyncpg://", 1) + "/" + name


async def pg_exists(name: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(PG_SERVER + "/postgres")
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def fresh_pg_db(name: str) -> str:
    """A migrated, empty PostgreSQL database `name` (any old one dropped: it is the bench's
    own, never the service's)."""
    import asyncio

    import asyncpg

    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    conn = await asyncpg.connect(PG_SERVER + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    from db.migrate import upgrade

    url = pg_url(name)
    await asyncio.to_thread(upgrade, url)  # Alembic runs its own event loop
    return url


async def pg_analyze(name: str) -> float:
    """ANALYZE the whole database (planner statistics after a bulk load); seconds taken."""
    import asyncpg

    t0 = time.perf_counter()
    conn = await asyncpg.connect(PG_SERVER + "/" + name)
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - t0


async def pg_backend_pids(name: str) -> list[int]:
    """The server processes connected to database `name` (the service's pool)."""
    import asyncpg

    conn = await asyncpg.connect(PG_SERVER + "/postgres")
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await conn.close()
    return [r["pid"] for r in rows]
