"""Residents and sessions for the KUBE, UEP and training tests (tests/data/dtsen_kube.csv)."""

from __future__ import annotations

import csv
from contextlib import asynccontextmanager
from datetime import UTC, date

from tests.chatkit import DATA, Chat, running

KUBE_CSV = DATA / "dtsen_kube.csv"
PEOPLE = {
    r["nama"].split()[0].lower(): (r["nik"], r["no_kk"])
    for r in csv.DictReader(KUBE_CSV.open(encoding="utf-8"))
}
PEOPLE["asep"] = ("3271051203780002", "3271052301150001")  # tests/data/dtsen_small.csv
# Tegal Gundil, desil 1-4, head of family aged 18-60: may form and join a KUBE.
ELIGIBLE = ["siti", "budi", "dewi", "agus", "rina", "joko", "yuni", "asep"]


@asynccontextmanager
async def world(db_url: str, **kw):
    async with running(db_url, **kw) as rt:
        from db.dtsen_import import import_dtsen

        report = await import_dtsen(
            rt.db, KUBE_CSV, region=rt.region, programs=rt.programs, data_date=date(2026, 11, 1)
        )
        assert report.imported, report.errors
        yield rt


async def matched(rt, who: str, entry: str = "m:kube", locale: str = "id") -> Chat:
    """A resident who opened `entry` from the menu and matched NIK + No. KK on the way."""
    chat = Chat(rt, who)
    await chat.onboard(locale)
    nik, kk = PEOPLE[who]
    await chat.tap(entry)
    await chat.send(nik)
    await chat.tap("k:yes")
    await chat.send(kk)
    return chat


def session_row(**over) -> dict:
    row = {
        "title": "Menjahit dasar",
        "sector": "menjahit",
        "organiser": "LPK Maju",
        "kecamatan": "Bogor Utara",
        "place": "Aula Kelurahan Tegal Gundil",
        "start": "2026-12-05 08:00",
        "days": "3",
        "quota": "2",
        "deadline": "2026-12-01",
        "desil_max": "5",
        "age": "18-60",
        "priority": "0",
        "notes": "",
    }
    row.update({k: str(v) for k, v in over.items()})
    return row


async def add_session(rt, **over) -> int:
    from datetime import datetime

    from db import training_store
    from domain.training import parse_session

    spec = parse_session(
        session_row(**over),
        sectors=[o.code for o in rt.programs.training_sectors],
        find_kecamatan=lambda t: k.code if (k := rt.region.find_kecamatan(t)) else None,
        today=date(2026, 11, 23),
    )
    assert not isinstance(spec, list), spec
    async with rt.db.tx() as c:
        return await training_store.add_session(c, spec, datetime(2026, 11, 23, tzinfo=UTC))
