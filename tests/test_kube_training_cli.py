"""Staff commands: `training add|import|list|participants`, `kube list|show|approve|reject`,
`uep list|show|approve|reject` through bot.main, on the test database."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

import bot
from db.schema import kube_groups, outbound_messages, training_sessions
from tests.kubekit import PEOPLE, add_session, matched, world

ADD = [
    "training",
    "add",
    "--title",
    "Menjahit dasar",
    "--sector",
    "menjahit",
    "--organiser",
    "LPK Maju",
    "--kecamatan",
    "Bogor Utara",
    "--place",
    "Aula Kelurahan",
    "--start",
    "2027-01-10 08:00",
    "--days",
    "3",
    "--quota",
    "20",
    "--deadline",
    "2027-01-05",
    "--desil-max",
    "5",
    "--age",
    "18-60",
]


@pytest.fixture
def cli(db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)

    def run(*argv):
        rc = bot.main(list(argv))
        out = capsys.readouterr()
        return rc, out.out, out.err

    return run


async def _count(db_url, table):
    from db.database import Database

    db = Database(db_url)
    try:
        async with db.tx(write=False) as c:
            return await c.scalar(sa.select(sa.func.count()).select_from(table))
    finally:
        await db.dispose()


def test_training_add_list_and_bad_flags(cli, db_url):
    rc, out, _ = cli(*ADD, "--priority", "--notes", "Bawa KTP")
    assert rc == 0 and "Sesi 1 ditambahkan" in out and "2027-01-10 08:00 WIB" in out
    rc, _, err = cli(*[a if a != "menjahit" else "sulap" for a in ADD])
    assert rc == 1 and "sector: 'sulap' tidak dikenal" in err
    rc, out, _ = cli("training", "list")
    assert rc == 0 and "Menjahit dasar" in out and "prioritas DTSEN" in out
    assert asyncio.run(_count(db_url, training_sessions)) == 1


def test_training_import_all_or_nothing_with_row_numbers(cli, db_url, tmp_path):
    header = "title,sector,organiser,kecamatan,place,start,days,quota,deadline,desil_max,age,priority,notes\n"
    good = "Menjahit,menjahit,LPK,Bogor Utara,Aula,2027-01-10 08:00,3,20,2027-01-05,5,18-60,0,\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        header
        + good
        + "Barista,barista,LPK,Bogor Utara,Aula,2027-13-01 08:00,3,x,2027-01-05,5,18-60,1,\n",
        encoding="utf-8",
    )
    rc, _, err = cli("training", "import", str(bad))
    assert rc == 1 and "baris 3: start" in err and "baris 3: quota" in err
    assert "Tidak ada yang diimpor" in err and "baris 2" not in err
    assert asyncio.run(_count(db_url, training_sessions)) == 0
    ok = tmp_path / "ok.csv"
    ok.write_text(
        header + good + good.replace("Menjahit,menjahit", "Barista,barista"), encoding="utf-8"
    )
    rc, out, _ = cli("training", "import", str(ok))
    assert rc == 0 and "2 sesi" in out
    rc, _, err = cli("training", "import", str(tmp_path / "none.csv"))
    assert rc == 1 and "tidak bisa dibaca" in err


def test_participants_csv_and_kube_uep_decisions(cli, db_url):
    async def setup():
        async with world(db_url) as rt:
            sid = await add_session(rt, quota=1)
            for who in ("siti", "budi"):
                c = await matched(rt, who, "m:training")
                await c.tap(f"t:{sid}")
                await c.tap("t:reg")
            ketua = await matched(rt, "siti")
            await ketua.tap("q:create")
            await ketua.send("KUBE Melati")
            await ketua.tap("b:ternak")
            await ketua.tap("q:ok")
            async with rt.db.tx(write=False) as c:
                code = await c.scalar(sa.select(kube_groups.c.code))
            for who in ("budi", "dewi", "agus", "rina"):
                m = await matched(rt, who)
                await m.tap("q:join")
                await m.send(code)
                await m.tap("q:ok")
            await ketua.tap("g:menu")
            await ketua.tap("m:kube")
            await ketua.tap("q:sek")
            await ketua.tap(ketua.choices[0])
            await ketua.tap("q:ben")
            await ketua.tap(ketua.choices[1])
            await ketua.tap("q:submit")
            u = await matched(rt, "joko", "m:uep")
            await u.send("Warung kelontong")
            await u.tap("d:gt3")
            await u.send("Etalase dan stok awal")
            await u.tap("u:ok")

    asyncio.run(setup())
    rc, out, _ = cli("training", "participants", "1", "--csv")
    lines = out.strip().splitlines()
    assert rc == 0 and lines[0].startswith("kode,status,nama,nik")
    assert "DITERIMA" in lines[1] and "Siti Rahmawati" in lines[1] and "CADANGAN" in lines[2]
    assert PEOPLE["siti"][0] not in out and "3271 05•• •••• 0011" in out
    rc, out, _ = cli("training", "participants", "1")
    assert rc == 0 and "Budi Santoso" in out
    assert cli("training", "participants", "99")[0] == 1

    rc, out, _ = cli("kube", "list", "--status", "diajukan")
    assert rc == 0 and "Melati" in out and "Tegal Gundil" in out
    rc, out, _ = cli("kube", "show", "1")
    assert rc == 0 and "sekretaris" in out and "bendahara" in out and "diajukan" in out
    assert PEOPLE["siti"][0] not in out
    before = asyncio.run(_count(db_url, outbound_messages))
    rc, out, _ = cli("kube", "reject", "1", "--reason", "  ")
    assert rc == 1
    rc, out, _ = cli("kube", "approve", "1")
    assert rc == 0 and "DISETUJUI" in out and "5 anggota" in out
    assert asyncio.run(_count(db_url, outbound_messages)) == before + 5
    rc, _, err = cli("kube", "reject", "1", "--reason", "x")
    assert rc == 1 and "tidak berstatus DIAJUKAN" in err
    assert cli("kube", "show", "9")[0] == 1

    rc, out, _ = cli("uep", "list")
    assert rc == 0 and "Joko Susilo" in out and "Warung kelontong" in out
    rc, out, _ = cli("uep", "show", "1")
    assert rc == 0 and "lebih dari 3 tahun" in out
    rc, out, _ = cli("uep", "reject", "1", "--reason", "Kuota tahun ini habis")
    assert rc == 0 and "DITOLAK" in out
    assert cli("uep", "approve", "1")[0] == 1


async def test_seed_demo_sample_trainings_once(db):
    from datetime import date

    from core.reference import load_reference
    from db.training_store import all_sessions, seed_samples
    from tests.chatkit import settings_for

    settings = settings_for(db.url)
    programs, region = load_reference(settings.jaring_programs, settings.jaring_region)
    assert await seed_samples(db, programs, region, date(2026, 11, 23)) == 3
    assert await seed_samples(db, programs, region, date(2026, 11, 23)) == 0
    async with db.tx(write=False) as c:
        rows = await all_sessions(c)
    assert [r.title for r in rows] == ["Menjahit dasar", "Barista pemula", "Servis motor"]
    assert [r.priority for r in rows] == [False, True, False]
