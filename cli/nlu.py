"""Staff commands for the understanding layer's lexicon (data/intents.toml):

  python bot.py nlu misses [--days 30] [--limit 50]   what residents typed that was not understood
  python bot.py nlu check [--file PATH]                check the lexicon (exit 1 with its mistakes)
  python bot.py nlu reload [--file PATH]               check it, then mark it changed

A running service re-reads the lexicon a few seconds after its file changes (its modification
time; core/understanding.py `LiveLexicon`), so saving the file is enough; `nlu reload` checks the
file first and then touches it. A file with mistakes is never taken: the service keeps the
lexicon it has. The misses were masked before they were stored (long numbers, e-mail addresses).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli.common import wib
from db import nlu_store
from db.database import Database


def add_parsers(sub) -> None:
    p = sub.add_parser("nlu", help="kamus pemahaman pesan: pesan tak dikenali, periksa, muat ulang")
    nsub = p.add_subparsers(dest="nlu_cmd", required=True)
    ms = nsub.add_parser("misses", help="pesan warga yang tidak dipahami, dikelompokkan")
    ms.add_argument("--days", type=int, default=30, help="berapa hari ke belakang (default 30)")
    ms.add_argument("--limit", type=int, default=50, help="paling banyak kelompok (default 50)")
    ms.set_defaults(handler=cmd_misses)
    ck = nsub.add_parser("check", help="periksa data/intents.toml")
    ck.add_argument(
        "--file", type=Path, default=None, help="berkas kamus (default: JARING_INTENTS)"
    )
    ck.set_defaults(handler=cmd_check)
    rl = nsub.add_parser("reload", help="periksa kamus lalu minta layanan memuatnya ulang")
    rl.add_argument("--file", type=Path, default=None)
    rl.set_defaults(handler=cmd_reload)


async def cmd_misses(settings, args) -> int:
    days = max(1, min(args.days, 3660))
    limit = max(1, min(args.limit, 1000))
    since = datetime.now(UTC) - timedelta(days=days)
    db = Database(settings.database_url)
    try:
        async with db.tx(write=False) as c:
            groups = await nlu_store.groups(c, since=since, limit=limit)
            total = await nlu_store.count_since(c, since)
    finally:
        await db.dispose()
    print(f"Pesan tak dikenali, {days} hari terakhir: {total} pesan, {len(groups)} kelompok.")
    for g in groups:
        where = ", ".join(f"{p} ({n})" if n > 1 else p for p, n in g.places)
        print(f"{g.count:>5}  {g.text}")
        print(f"       baku: {g.normalized}")
        print(f"       di: {where}; terakhir {wib(g.at)}")
    return 0


def _path(settings, args) -> Path:
    return Path(args.file or settings.jaring_intents)


def _check(path: Path) -> str | None:
    from core.reference import ConfigProblem
    from core.understanding import load_lexicon

    try:
        load_lexicon(path)
    except ConfigProblem as e:
        return str(e)
    return None


def cmd_check(settings, args) -> int:
    path = _path(settings, args)
    problem = _check(path)
    if problem:
        print(f"Kamus {path} berisi kesalahan:\n{problem}")
        return 1
    print(f"Kamus {path} baik.")
    return 0


def cmd_reload(settings, args) -> int:
    path = _path(settings, args)
    problem = _check(path)
    if problem:
        print(f"Kamus {path} berisi kesalahan; layanan tetap memakai kamus lama:\n{problem}")
        return 1
    os.utime(path)
    print(f"Kamus {path} baik; layanan yang berjalan memuatnya ulang dalam beberapa detik.")
    return 0
