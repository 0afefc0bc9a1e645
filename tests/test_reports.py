"""Data-error reports (issue #5): the lifecycle table, every resident flow on the core, ketua RT
permissions, the staff CLI, concurrent moves, and a crash between commit and telling."""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging

import pytest
import sqlalchemy as sa

from cli import CommandError
from cli import reports as cli_reports
from cli import rt as cli_rt
from db import report_store
from db.database import Database
from db.schema import (
    audit_log,
    conversations,
    outbound_messages,
    report_events,
    report_photos,
    reports,
    rt_heads,
)
from domain import reports as R
from services import reports as ops
from services.exports import EXPORT_COLUMNS
from tests.chatkit import KK_1, NIK_1, Chat, Clock, running

# tests/data/dtsen_small.csv: household 1 in Tegal Gundil RW 7 RT 3; household 2 in Mulyaharja.
NIK_2, KK_2 = "3271011402600004", "3271011008090007"
TEGAL_GUNDIL = "Tegal Gundil"


# --- domain: the lifecycle as a table --------------------------------------------------------

ALLOWED = [
    ("DITERIMA", "VERIFIKASI_RT", None, None),
    ("DITERIMA", "VERIFIKASI_DINSOS", None, None),
    ("DITERIMA", "SELESAI", "DUPLIKAT", None),
    ("DITERIMA", "SELESAI", "DITOLAK", "bukan warga Kota Bogor"),
    ("VERIFIKASI_RT", "VERIFIKASI_DINSOS", None, None),
    ("VERIFIKASI_RT", "SELESAI", "DIBATALKAN", None),
    ("VERIFIKASI_DINSOS", "CEK_LAPANGAN", None, None),
    ("VERIFIKASI_DINSOS", "DITERUSKAN", None, None),
    ("VERIFIKASI_DINSOS", "SELESAI", "DISETUJUI", None),
    ("CEK_LAPANGAN", "VERIFIKASI_DINSOS", None, None),
    ("CEK_LAPANGAN", "DITERUSKAN", None, None),
    ("DITERUSKAN", "SELESAI", "DISETUJUI", None),
    ("DITERUSKAN", "SELESAI", "DITOLAK", "tidak lolos musyawarah"),
]
REFUSED = [
    ("DITERIMA", "CEK_LAPANGAN", None, None, "not_allowed"),
    ("DITERIMA", "DITERUSKAN", None, None, "not_allowed"),
    ("VERIFIKASI_RT", "DITERUSKAN", None, None, "not_allowed"),
    ("VERIFIKASI_DINSOS", "VERIFIKASI_RT", None, None, "not_allowed"),
    ("DITERUSKAN", "VERIFIKASI_DINSOS", None, None, "not_allowed"),
    ("SELESAI", "VERIFIKASI_DINSOS", None, None, "not_allowed"),
    ("SELESAI", "SELESAI", "DITOLAK", "x", "not_allowed"),
    ("DITERIMA", "SELESAI", None, None, "outcome_needed"),
    ("DITERIMA", "SELESAI", "DISETUJUI", None, "outcome_not_allowed"),
    ("VERIFIKASI_RT", "SELESAI", "DISETUJUI", None, "outcome_not_allowed"),
    ("DITERUSKAN", "SELESAI", "DITOLAK", "  ", "reason_needed"),
    ("DITERUSKAN", "SELESAI", "LAYAK", None, "unknown_outcome"),
    ("DITERIMA", "VERIFIKASI_DINSOS", "DISETUJUI", None, "outcome_unexpected"),
    ("DITERIMA", "DIPROSES", None, None, "unknown_state"),
]


@pytest.mark.parametrize("current,to,outcome,note", ALLOWED)
def test_allowed_transitions(current, to, outcome, note):
    assert R.check_move(current, to, outcome, note) is None


@pytest.mark.parametrize("current,to,outcome,note,problem", REFUSED)
def test_refused_transitions(current, to, outcome, note, problem):
    got = R.check_move(current, to, outcome, note)
    assert got is not None and got.code == problem


def test_every_state_is_in_the_table_and_selesai_is_final():
    assert set(R.TRANSITIONS) == set(R.STATES)
    assert R.TRANSITIONS[R.SELESAI] == frozenset()
    assert all(R.SELESAI in R.TRANSITIONS[s] for s in R.OPEN_STATES)


def test_ticket_codes_are_random_unambiguous_and_typed_back():
    codes = {R.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for c in list(codes)[:50]:
        assert c.startswith("LPR-") and len(c) == 13
        assert not set(c[4:].replace("-", "")) & set("0O1IL5S8B2Z")
        assert R.normalize_code(c.lower().replace("-", " ")) == c
    assert R.normalize_code("LPR-0000-0000") is None


@pytest.mark.parametrize(
    "text,want",
    [
        ("RT 3 RW 7", ("003", "007")),
        ("3/7", ("003", "007")),
        ("rt03 rw 007", ("003", "007")),
        ("RW 7 RT 3", ("003", "007")),
        ("tiga", None),
        ("RT 0 RW 7", None),
    ],
)
def test_rt_rw_as_typed(text, want):
    assert R.parse_rt_rw(text) == want


def test_first_state_needs_an_active_head_and_not_for_graduasi():
    assert R.first_state(R.USUL, rt_head_active=True, by_rt_head=False) == R.VERIFIKASI_RT
    assert R.first_state(R.USUL, rt_head_active=False, by_rt_head=False) == R.DITERIMA
    assert R.first_state(R.SANGGAH, rt_head_active=True, by_rt_head=True) == R.DITERIMA
    assert R.first_state(R.GRADUASI, rt_head_active=True, by_rt_head=False) == R.DITERIMA


# --- helpers ---------------------------------------------------------------------------------


async def matched(chat: Chat, nik=NIK_1, kk=KK_1):
    await chat.onboard()
    await chat.tap("m:check")
    await chat.send(nik)
    await chat.tap("k:yes")
    await chat.send(kk)


async def all_reports(rt):
    async with rt.db.tx(write=False) as c:
        return (await c.execute(sa.select(reports).order_by(reports.c.id))).all()


def parse(*argv):
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd")
    cli_reports.add_parsers(sub)
    cli_rt.add_parsers(sub)
    return p.parse_args(list(argv))


async def run_cli(rt, *argv) -> int:
    """A staff command as `bot.py` runs it, on the runtime's clock."""
    args = parse(*argv)
    saved = cli_reports._now, cli_rt._now
    cli_reports._now = cli_rt._now = rt.outbox.clock
    try:
        return await args.handler(rt.settings, args)
    finally:
        cli_reports._now, cli_rt._now = saved


async def flush(rt) -> None:
    """What the running service's outbox poll does within a second, without waiting for it."""
    await rt.outbox._poll_once()
    await rt.outbox.idle()


def code_in(text: str) -> str:
    import re

    return re.search(r"LPR-[0-9A-Z]{4}-[0-9A-Z]{4}", text).group(0)


async def usul_own(chat: Chat) -> str:
    await chat.tap("m:report")
    await chat.tap("r:usul")
    await chat.tap("r:own")
    await chat.tap("r:why:income")
    await chat.tap("r:skip")  # no story
    await chat.tap("r:skip")  # no photo
    await chat.tap("r:skip")  # no location
    [done, _phone] = await chat.tap("r:send")  # then: may an officer call?
    return code_in(done["text"])


async def invite_head(rt, capsys, kel=TEGAL_GUNDIL, rw="7", rt_no="3") -> str:
    capsys.readouterr()
    assert (
        await run_cli(
            rt, "rt", "invite", "--kelurahan", kel, "--rw", rw, "--rt", rt_no, "--by", "ani"
        )
        == 0
    )
    out = capsys.readouterr().out
    import re

    return re.search(r"RT-[0-9A-Z]{4}-[0-9A-Z]{4}", out).group(0)


# --- resident flows --------------------------------------------------------------------------


async def test_usul_for_own_household_gets_a_code_after_commit_and_shows_in_my_reports(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("m:report")
        assert chat.choices == ["r:usul", "r:sanggah", "r:koreksi", "r:graduasi", "g:cancel"]
        await chat.tap("r:usul")
        [ask] = await chat.tap("r:own")  # not matched yet: the NIK + No. KK check first
        assert "Ketik NIK" in ask["text"]
        await chat.send(NIK_1)
        await chat.tap("k:yes")
        [reason] = await chat.send(KK_1)
        assert "Data Anda cocok" in reason["text"] and "r:why:income" in chat.choices
        [story] = await chat.tap("r:why:illness")
        assert "kata-kata Anda sendiri" in story["text"] and chat.choices == ["r:skip", "g:cancel"]
        await chat.tap("r:skip")  # no story
        [photo] = await chat.tap("r:skip")  # no photo
        assert photo["request"] == "location"
        [summary] = await chat.tap("r:skip")
        assert "Keluarga Anda sendiri" in summary["text"]
        [done, _phone] = await chat.tap("r:send")  # then: may an officer call?
        code = code_in(done["text"])
        assert "Diterima" in done["text"] or "diterima" in done["text"]
        assert "7 Desember 2026" in done["text"]  # verification_days = 14
        [row] = await all_reports(rt)
        assert (row.code, row.category, row.state, row.reason) == (
            code,
            "USUL",
            "DITERIMA",
            "illness",
        )
        assert row.household_id is not None and row.target_nik is None
        [mine] = await chat.tap("m:myreports")
        assert code in mine["text"] and "usul" in mine["text"]


async def test_usul_for_another_household_with_nik_photo_and_location(db_url, caplog):
    caplog.set_level(logging.DEBUG)
    other_nik, other_kk = "3271011505900009", "3271011505200001"
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()  # not matched: an usul for others needs no match
        await chat.tap("m:report")
        await chat.tap("r:usul")
        await chat.tap("r:other")
        await chat.send("Ibu Onah")
        await chat.send("Jl. Cemara No. 4")
        await chat.send("rt 2 rw 5")
        [kel] = await chat.send("Cemara")  # not a kelurahan
        assert "tidak kami kenal" in kel["text"] or "tidak dikenal" in kel["text"]
        await chat.send("Mulyaharja")
        await chat.send(other_nik)
        await chat.send(other_kk)
        await chat.tap("r:why:other")
        await chat.send("Suaminya meninggal bulan lalu")
        await chat.send(f"Anaknya tiga, masih sekolah. KK nya {other_kk}")
        await chat._event("photo", {"ref": "a" * 64})
        await chat._event("location", {"lat": -6.62, "lon": 106.8})
        summary = chat.last
        assert "Ibu Onah" in summary["text"] and other_nik not in summary["text"]
        assert other_kk not in summary["text"] and "Cerita Anda: Anaknya tiga" in summary["text"]
        [done, _phone] = await chat.tap("r:send")  # then: may an officer call?
        assert "LPR-" in done["text"]
        [row] = await all_reports(rt)
        assert (row.target_name, row.rt, row.rw, row.kelurahan_code) == (
            "Ibu Onah",
            "002",
            "005",
            "3271011007",
        )
        assert (row.target_nik, row.target_kk) == (other_nik, other_kk)
        assert row.lat == pytest.approx(-6.62) and row.detail == "Suaminya meninggal bulan lalu"
        assert row.story == f"Anaknya tiga, masih sekolah. KK nya {other_kk}"
        async with rt.db.tx(write=False) as c:
            photos = (await c.execute(sa.select(report_photos))).all()
        assert [(p.kind, p.ref) for p in photos] == [("house", "a" * 64)]
    joined = "\n".join(r.getMessage() for r in caplog.records)
    assert other_nik not in joined and other_kk not in joined


async def test_an_open_report_on_the_same_target_is_merged_not_doubled(db_url):
    async with running(db_url) as rt:
        a, b = Chat(rt, "a"), Chat(rt, "b")
        await matched(a)
        await matched(b)  # same household, another family member's phone
        code = await usul_own(a)
        [merged, _phone] = (  # then: may an officer call?
            await b.tap("m:report"),
            await b.tap("r:usul"),
            await b.tap("r:own"),
            await b.tap("r:why:house"),
            await b.send("Atap dapur bocor sejak bulan lalu"),
            await b.tap("r:skip"),
            await b.tap("r:skip"),
            await b.tap("r:send"),
        )[-1]
        assert code in merged["text"] and "kami gabungkan" in merged["text"]
        [row] = await all_reports(rt)
        assert row.story == "[Pelapor lain] Atap dapur bocor sejak bulan lalu"  # kept, merged
        [mine] = await b.tap("m:myreports")
        assert code in mine["text"]  # the merged reporter follows it too
        # Both are told when the report moves.
        async with rt.db.tx() as c:
            r = await ops.by_code(c, code)
            ids = await ops.move(
                c, r, R.VERIFIKASI_DINSOS, now=rt.outbox.clock(), actor="staff:ani"
            )
        assert len(ids) == 2


async def test_sanggah_needs_a_match_not_a_photo_nor_a_location_and_hides_the_target(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("m:report")
        [ask] = await chat.tap("r:sanggah")
        assert "Ketik NIK" in ask["text"]
        await chat.send(NIK_1)
        await chat.tap("k:yes")
        [name] = await chat.send(KK_1)
        assert "hanya diketahui Dinsos" in name["text"]
        await chat.send("Dadang Hidayat")  # a real name in the data: nothing about it is shown
        await chat.send("Jl. Pandu Raya No. 1")
        [reason] = await chat.send("RT 3 RW 7")
        assert "r:why:wealthy" in chat.choices
        await chat.tap("r:why:wealthy")
        [photo] = await chat.tap("r:skip")  # no story
        assert photo["request"] == "photo" and "r:skip" in chat.choices
        assert "tanpa mengganggu" in photo["text"] and "Jangan memotret orang" in photo["text"]
        [loc] = await chat.send("lewati")  # a photo is optional
        assert loc["request"] == "location" and "r:skip" in chat.choices
        assert "membantu petugas" in loc["text"]
        [summary] = await chat.send("tidak")  # a location too
        assert "Foto terlampir" not in summary["text"] and "Lokasi" not in summary["text"]
        for secret in ("Desil", "desil", "PKH", "BPNT", "3271011402600004"):
            assert all(secret not in r["text"] for r in chat.replies[-8:])
        [done, _phone] = await chat.tap("r:send")  # then: may an officer call?
        assert "LPR-" in done["text"]
        [row] = await all_reports(rt)
        assert (row.category, row.kelurahan_code, row.rt, row.rw) == (
            "SANGGAH",
            "3271051005",
            "003",
            "007",
        ) or row.kelurahan_code == (await _kel_of_household_1(rt))
        assert row.household_id is None and row.target_nik is None
        assert (row.lat, row.story) == (None, None)
        async with rt.db.tx(write=False) as c:
            assert (await c.execute(sa.select(report_photos))).all() == []


async def _kel_of_household_1(rt):
    from db.schema import households

    async with rt.db.tx(write=False) as c:
        return await c.scalar(
            sa.select(households.c.kelurahan_code).where(households.c.no_kk == KK_1)
        )


async def test_koreksi_warns_against_ktp_and_selfie(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await matched(chat)
        await chat.tap("m:report")
        [part] = await chat.tap("r:koreksi")
        assert "r:part:born" in chat.choices and len(chat.choices) == 8
        await chat.tap("r:part:died")
        await chat.send("Ibu mertua saya Enung meninggal 3 Oktober 2026")
        [photo] = await chat.tap("r:skip")  # no story
        assert "KTP" in photo["text"] and "swafoto" in photo["text"] and photo["request"] == "photo"
        [summary] = await chat._event("photo", {"ref": "b" * 64})
        assert "Foto terlampir" in summary["text"]
        await chat.tap("r:send")
        [row] = await all_reports(rt)
        assert (row.category, row.reason) == ("KOREKSI", "died") and row.household_id


async def test_graduasi_mandiri_confirms_then_thanks(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await matched(chat)
        await chat.tap("m:report")
        [story] = await chat.tap("r:graduasi")
        assert "kata-kata Anda sendiri" in story["text"]
        [confirm] = await chat.send("Suami saya sudah kerja tetap di pabrik sejak Oktober")
        assert "Apakah Anda yakin" in confirm["text"] and chat.choices == ["r:send", "g:cancel"]
        [done, _phone] = await chat.tap("r:send")  # then: may an officer call?
        assert "Terima kasih atas kejujuran Anda" in done["text"] and "LPR-" in done["text"]
        [row] = await all_reports(rt)
        assert (row.category, row.state) == ("GRADUASI", "DITERIMA")
        assert row.story == "Suami saya sudah kerja tetap di pabrik sejak Oktober"


async def test_cancel_in_the_middle_saves_nothing(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("m:report")
        await chat.tap("r:usul")
        await chat.tap("r:other")
        await chat.send("Ibu Onah")
        replies = await chat.send("batal")
        assert "Dibatalkan" in replies[0]["text"]
        assert await all_reports(rt) == []


# --- ketua RT --------------------------------------------------------------------------------


async def test_rt_head_activation_menu_and_waiting_list(db_url, capsys):
    async with running(db_url) as rt:
        code = await invite_head(rt, capsys)
        head = Chat(rt, "pak-rt")
        await head.onboard()
        [menu] = await head.send(code.lower())  # typed straight into the main menu
        assert "ketua RT untuk RT 3 RW 7, Kelurahan Tegal Gundil" in menu["text"]
        assert head.choices == ["t:wait", "t:report", "g:menu"]
        async with rt.db.tx(write=False) as c:
            role = await c.scalar(
                sa.select(conversations.c.role).where(conversations.c.user_key == "test:pak-rt")
            )
        assert role == "rt"
        # The code works once.
        other = Chat(rt, "other")
        await other.onboard()
        await other.tap("m:rt")
        [refused] = await other.send(code)
        assert "tidak berlaku" in refused["text"]
        # A resident of RT 3 reports: it waits for the head.
        resident = Chat(rt, "warga")
        await matched(resident)
        rcode = await usul_own(resident)
        assert "menunggu ketua RT" in resident.replies[-2]["text"]  # before the phone question
        # A resident of another kelurahan: not in this head's list.
        far = Chat(rt, "far")
        await matched(far, NIK_2, KK_2)
        fcode = await usul_own(far)
        await head.tap("g:menu")
        [menu] = await head.tap("m:rt")
        assert "Laporan yang menunggu jawaban Anda: 1." in menu["text"]
        [waiting] = await head.tap("t:wait")
        assert rcode in waiting["text"] and fcode not in waiting["text"]
        assert "Asep Suryana" in waiting["text"]
        [item] = await head.tap(f"t:r:{(await all_reports(rt))[0].id}")
        seen = "\n".join(r["text"] for r in head.replies)
        for secret in ("Desil", "desil", "PKH", "BPNT", "PBI", NIK_1, KK_1, "3271 05"):
            assert secret not in seen, secret
        # The other RT's report cannot be opened by a made-up button.
        far_id = (await all_reports(rt))[1].id
        refused, *_ = await head.tap(f"t:r:{far_id}")
        assert "sudah tidak berlaku" in refused["text"]
        [thanks] = await head.tap(f"rt:yes:{(await all_reports(rt))[0].id}")
        assert "Terima kasih" in thanks["text"]
        [noted] = await head.send("Benar, Pak Asep baru kena PHK")
        assert "Catatan Anda sudah ditambahkan" in noted["text"]
        r = (await all_reports(rt))[0]
        assert (r.state, r.rt_opinion) == ("VERIFIKASI_DINSOS", "SETUJU")
        assert "sedang diperiksa Dinsos" in resident.rt.transport.sent[-1][1]["text"] or any(
            "sedang diperiksa Dinsos" in p["text"] for a, p in rt.transport.sent if a == "warga"
        )


async def test_wrong_activation_codes_are_limited_per_conversation(db_url, capsys):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        code = await invite_head(rt, capsys)
        chat = Chat(rt, "tebak")
        await chat.onboard()
        await chat.tap("m:rt")
        for i in range(5):
            await chat.send(f"RT-AAAA-AAA{'34679'[i]}")
        [locked] = await chat.send(code)  # even the right code waits now
        assert "Terlalu banyak kode" in locked["text"] and "11.00 WIB" in locked["text"]
        clock.advance(hours=1)
        await chat.tap("m:rt")
        [ok] = await chat.send(code)
        assert "terdaftar sebagai ketua RT" in ok["text"]


async def test_rt_head_cannot_answer_for_another_rt(db_url, capsys):
    async with running(db_url) as rt:
        code = await invite_head(rt, capsys)
        head = Chat(rt, "pak-rt")
        await head.onboard()
        await head.send(code)
        far = Chat(rt, "far")
        await matched(far, NIK_2, KK_2)
        await usul_own(far)
        [r] = await all_reports(rt)
        async with rt.db.tx() as c:
            h = (await c.execute(sa.select(rt_heads).where(rt_heads.c.status == "AKTIF"))).first()
            with pytest.raises(ops.ReportError) as e:
                await ops.rt_answer(c, h, r.id, True, "", now=rt.outbox.clock())
        assert e.value.code == "not_your_rt"


async def test_rt_head_reports_for_a_neighbour_inside_their_rt(db_url, capsys):
    async with running(db_url) as rt:
        code = await invite_head(rt, capsys)
        head = Chat(rt, "pak-rt")
        await head.onboard()
        await head.send(code)
        await head.tap("t:report")
        assert "r:graduasi" not in head.choices
        await head.tap("r:sanggah")  # no NIK check needed: the RT itself vouches
        await head.send("Haji Mamat")
        [nik] = await head.send("Jl. Pandu Raya No. 99")
        # no RT/RW question: always the head's own RT; the neighbour's NIK if known
        assert "NIK" in nik["text"] and head.labels == ["Tidak tahu", "Batal"]
        [kk] = await head.tap("r:skip")  # the NIK is not known: the No. KK may be
        assert "No. KK" in kk["text"] and head.choices == ["r:skip", "g:cancel"]
        [again] = await head.send("3271 0115")  # too short: not a No. KK
        assert "bukan No. KK" in again["text"]
        [reason] = await head.send("3271011505200001")
        assert "r:why:wealthy" in head.choices
        await head.tap("r:why:civil_servant")
        await head.tap("r:skip")  # no story
        await head._event("photo", {"ref": "c" * 64})
        [summary] = await head._event("location", {"lat": -6.57, "lon": 106.8})
        assert "No. KK 3271 01•• •••• 0001" in summary["text"]
        assert "3271011505200001" not in summary["text"]
        await head.tap("r:send")
        [r] = await all_reports(rt)
        assert (r.reporter_role, r.rt, r.rw, r.state) == ("rt", "003", "007", "DITERIMA")
        assert (r.target_nik, r.target_kk) == (None, "3271011505200001")


async def test_unanswered_rt_step_moves_on_after_rt_answer_days(db_url, capsys):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        code = await invite_head(rt, capsys)
        head = Chat(rt, "pak-rt")
        await head.onboard()
        await head.send(code)
        resident = Chat(rt, "warga")
        await matched(resident)
        await usul_own(resident)
        clock.advance(days=2, hours=23)
        assert await rt.scheduler.run_once() == 1  # the reminder to the head (tests/test_rt_loop)
        clock.advance(hours=2)
        assert await rt.scheduler.run_once() == 1
        assert await rt.scheduler.run_once() == 0  # idempotent
        await rt.outbox.idle()
        [r] = await all_reports(rt)
        assert (r.state, r.rt_opinion) == ("VERIFIKASI_DINSOS", "TANPA_JAWABAN")
        told = [p["text"] for a, p in rt.transport.sent if a == "warga"]
        assert "sedang diperiksa Dinsos" in told[-1]


async def test_revoked_head_loses_the_role(db_url, capsys):
    async with running(db_url) as rt:
        code = await invite_head(rt, capsys)
        head = Chat(rt, "pak-rt")
        await head.onboard()
        await head.send(code)
        async with rt.db.tx(write=False) as c:
            hid = await c.scalar(sa.select(rt_heads.c.id))
        assert await run_cli(rt, "rt", "revoke", str(hid), "--by", "ani") == 0
        assert await run_cli(rt, "rt", "list", "--all") == 0
        assert "DICABUT" in capsys.readouterr().out
        await head.tap("g:menu")
        assert "m:rt" in head.choices and "Saya ketua RT" in head.labels
        [ask] = await head.tap("m:rt")  # back to typing a code
        assert "kode aktivasi" in ask["text"]


# --- staff CLI -------------------------------------------------------------------------------


async def test_staff_list_show_move_and_reveal_is_audited(db_url, capsys):
    async with running(db_url) as rt:
        chat = Chat(rt, "warga")
        await matched(chat)
        code = await usul_own(chat)
        capsys.readouterr()
        assert await run_cli(rt, "reports", "list", "--state", "diterima") == 0
        out = capsys.readouterr().out
        assert code in out and "Tegal Gundil" in out and "1 laporan." in out
        assert await run_cli(rt, "reports", "show", code) == 0
        out = capsys.readouterr().out
        assert "3271 05•• •••• 0002" in out and NIK_1 not in out and "Asep Suryana" in out
        # history in WIB, as kube show and the dashboard (test clock: 03:00 UTC = 10:00 WIB)
        assert "2026-11-23 10:00 WIB" in out and "UTC" not in out
        assert await run_cli(rt, "reports", "show", code, "--reveal", "--by", "ani") == 0
        assert NIK_1 in capsys.readouterr().out
        with pytest.raises(CommandError, match="tidak diizinkan"):
            await run_cli(rt, "reports", "move", code, "DITERUSKAN")
        with pytest.raises(CommandError, match="alasan"):
            await run_cli(rt, "reports", "move", code, "SELESAI", "--outcome", "DITOLAK")
        assert await run_cli(rt, "reports", "move", code, "verifikasi_dinsos", "--by", "ani") == 0
        await flush(rt)
        assert "sedang diperiksa Dinsos" in chat.rt.transport.sent[-1][1]["text"]
        assert (
            await run_cli(
                rt,
                "reports",
                "move",
                code,
                "SELESAI",
                "--outcome",
                "DITOLAK",
                "--reason",
                "Penghasilan masih di atas batas",
                "--by",
                "ani",
            )
            == 0
        )
        await flush(rt)
        told = rt.transport.sent[-1][1]["text"]
        assert "tidak diterima" in told and "Penghasilan masih di atas batas" in told
        async with rt.db.tx(write=False) as c:
            audits = [r.action for r in await c.execute(sa.select(audit_log))]
            events = (await c.execute(sa.select(report_events).order_by(report_events.c.id))).all()
        assert audits.count("reports.reveal") == 1
        assert audits.count("reports.move") == 2  # like a move from the dashboard
        assert [(e.action, e.to_state, e.actor) for e in events][-2:] == [
            ("move", "VERIFIKASI_DINSOS", "staff:ani"),
            ("move", "SELESAI", "staff:ani"),
        ]
        assert await run_cli(rt, "reports", "list", "--overdue") == 0
        assert "Tidak ada laporan." in capsys.readouterr().out
        # a number typed into a staff note is masked in `show` too, unless --reveal
        async with rt.db.tx() as c:
            r = await ops.by_code(c, code)
            await report_store.add_event(
                c, r.id, rt.outbox.clock(), "staff:ani", "note", note=f"KK ibunya {NIK_1}"
            )
        assert await run_cli(rt, "reports", "show", code) == 0
        out = capsys.readouterr().out
        assert "KK ibunya" in out and NIK_1 not in out
        assert await run_cli(rt, "reports", "show", code, "--reveal", "--by", "ani") == 0
        assert f"KK ibunya {NIK_1}" in capsys.readouterr().out


async def test_export_csv_and_xlsx_for_siks_ng_is_audited(db_url, capsys, tmp_path):
    async with running(db_url) as rt:
        chat = Chat(rt, "warga")
        await matched(chat)
        code = await usul_own(chat)
        other = Chat(rt, "other")
        await matched(other, NIK_2, KK_2)
        await usul_own(other)  # stays DITERIMA: not exported
        for to in ("VERIFIKASI_DINSOS", "DITERUSKAN"):
            await run_cli(rt, "reports", "move", code, to)
        out_csv = tmp_path / "usulan.csv"
        assert await run_cli(rt, "reports", "export", "--out", str(out_csv)) == 0
        rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
        assert len(rows) == 1
        row = rows[0]
        assert tuple(row) == EXPORT_COLUMNS
        assert (
            row["KODE_LAPORAN"],
            row["NIK"],
            row["NO_KK"],
            row["NAMA"],
            row["RT"],
            row["RW"],
            row["KELURAHAN"],
            row["KECAMATAN"],
            row["JENIS_USULAN"],
        ) == (
            code,
            NIK_1,
            KK_1,
            "Asep Suryana",
            "003",
            "007",
            "Tegal Gundil",
            "Bogor Utara",
            "USUL",
        )
        out_x = tmp_path / "usulan.xlsx"
        assert await run_cli(rt, "reports", "export", "--format", "xlsx", "--out", str(out_x)) == 0
        from openpyxl import load_workbook

        ws = load_workbook(out_x).active
        assert [c.value for c in ws[1]] == list(EXPORT_COLUMNS)
        assert ws["D2"].value == NIK_1 and ws["B2"].value == code
        async with rt.db.tx(write=False) as c:
            audits = [
                (r.action, r.detail["count"])
                for r in await c.execute(
                    sa.select(audit_log).where(audit_log.c.action == "reports.export")
                )
            ]
        assert audits == [("reports.export", 1), ("reports.export", 1)]


# --- concurrency and crashes -----------------------------------------------------------------


async def test_two_staff_moving_one_report_end_in_one_consistent_state(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        chat = Chat(rt, "warga")
        await matched(chat)
        code = await usul_own(chat)
        # Both officers read the report first (two screens), then both move it.
        async with rt.db.tx(write=False) as c:
            seen_a = await ops.by_code(c, code)
            seen_b = await ops.by_code(c, code)
        async with rt.db.tx() as c:
            await ops.move(c, seen_a, R.VERIFIKASI_DINSOS, now=clock(), actor="staff:ani")
        with pytest.raises(ops.ReportError) as e:
            async with rt.db.tx() as c:
                await ops.move(
                    c, seen_b, R.SELESAI, now=clock(), actor="staff:budi", outcome=R.DUPLIKAT
                )
        assert e.value.code == "changed"
        # Truly at once, from two processes' worth of connections (on SQLite the writer lock
        # serialises them; on PostgreSQL the second UPDATE waits for the first row lock).
        dbs = (
            [Database(db_url), Database(db_url)]
            if not db_url.startswith("sqlite")
            else [rt.db, rt.db]
        )
        results = await asyncio.gather(
            *(
                cli_reports.move_code(
                    d, rt.programs, code, "SELESAI", outcome=out, note=note, actor=who, now=clock()
                )
                for d, (out, note, who) in zip(
                    dbs,
                    [("DUPLIKAT", None, "staff:ani"), ("DITOLAK", "bukan warga", "staff:budi")],
                    strict=False,
                )
            ),
            return_exceptions=True,
        )
        for d in dbs:
            if d is not rt.db:
                await d.dispose()
        ok = [r for r in results if isinstance(r, list)]
        refused = [r for r in results if isinstance(r, CommandError)]
        assert len(ok) == 1 and len(refused) == 1, results
        [row] = await all_reports(rt)
        async with rt.db.tx(write=False) as c:
            events = (
                await c.execute(
                    sa.select(report_events)
                    .where(report_events.c.action == "move")
                    .order_by(report_events.c.id)
                )
            ).all()
        assert (row.version, row.state) == (3, "SELESAI")
        assert [e.to_state for e in events] == ["VERIFIKASI_DINSOS", "SELESAI"]
        assert row.outcome == events[-1].outcome and row.outcome in ("DUPLIKAT", "DITOLAK")


async def test_a_move_committed_while_the_service_is_down_is_told_after_restart_once(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        chat = Chat(rt, "warga")
        await matched(chat)
        code = await usul_own(chat)
    # The service is down (crashed); an officer moves the report from the CLI: committed together
    # with the queued message.
    db = Database(db_url)
    from domain.programs import load_programs

    programs = load_programs(rt.settings.jaring_programs)
    await cli_reports.move_code(
        db,
        programs,
        code,
        "VERIFIKASI_DINSOS",
        outcome=None,
        note=None,
        actor="staff:ani",
        now=clock(),
    )
    await db.dispose()
    async with running(db_url, clock=clock, csv=None) as rt2:
        await flush(rt2)
        told = [p["text"] for a, p in rt2.transport.sent if a == "warga"]
        assert len(told) == 1 and code in told[0]
    async with running(db_url, clock=clock, csv=None) as rt3:
        await flush(rt3)
        assert rt3.transport.sent == []
        async with rt3.db.tx(write=False) as c:
            statuses = [
                r[0]
                for r in await c.execute(
                    sa.select(outbound_messages.c.status).where(
                        outbound_messages.c.inbound_event_id.is_(None)
                    )
                )
            ]
        # the code after the report, the phone question, then the move
        assert statuses == ["sent", "sent", "sent"]


async def test_a_report_survives_a_crash_between_commit_and_telling(db_url):
    """The report and the message with its code commit together (a queued outbox row); a crash
    before the send loses nothing: the restarted service tells the resident, once."""
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        chat = Chat(rt, "warga")
        await matched(chat)
        await chat.tap("m:report")
        await chat.tap("r:graduasi")
        await chat.tap("r:skip")  # no story

        # The sender dies before the report commits (a poll already under way cannot pick the
        # row up either): the row stays queued, as after a crash between commit and send.
        await rt.outbox.stop()
        rt.outbox.notify = lambda ids: None
        assert await chat.tap("r:send") == []
    async with running(db_url, clock=clock, csv=None) as rt2:
        [row] = await all_reports(rt2)
        await flush(rt2)
        told = [p["text"] for a, p in rt2.transport.sent if a == "warga"]
        # the code, then the (optional) phone question queued behind it
        assert len(told) == 2 and row.code in told[0] and "kejujuran" in told[0]
    async with running(db_url, clock=clock, csv=None) as rt3:
        await flush(rt3)
        assert rt3.transport.sent == []
        chat3 = Chat(rt3, "warga")
        [mine] = await chat3.tap("m:myreports")
        assert row.code in mine["text"]


async def test_english_resident_reports_and_is_told_in_english(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt, "en", locale_hint="en")
        await chat.onboard("en")
        await chat.tap("m:check")
        await chat.send(NIK_1)
        await chat.tap("k:yes")
        await chat.send(KK_1)
        [ask] = await chat.tap("m:report")
        assert "What would you like to report?" in ask["text"]
        assert chat.labels[:4] == [
            "Propose a family",
            "Object to recipient",
            "Correct data",
            "No longer need aid",
        ]
        await chat.tap("r:usul")
        await chat.tap("r:own")
        await chat.tap("r:why:income")
        await chat.tap("r:skip")
        await chat.tap("r:skip")
        await chat.tap("r:skip")
        [done, _phone] = await chat.tap("r:send")  # then: may an officer call?
        assert "Your report was received" in done["text"] and "7 December 2026" in done["text"]
        code = code_in(done["text"])
        async with rt.db.tx() as c:
            ids = await ops.move(
                c,
                await ops.by_code(c, code),
                R.VERIFIKASI_DINSOS,
                now=rt.outbox.clock(),
                actor="staff:ani",
            )
        rt.outbox.notify(ids)
        await rt.outbox.idle()
        assert (
            rt.transport.sent[-1][1]["text"]
            == f"Your report {code} is now being checked by Dinsos."
        )
