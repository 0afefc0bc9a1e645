"""Stories and evidence (issue #12): the resident's own words are asked once and kept at any step
that asked for something else (never a command), they reach the dashboard and the SIKS-NG
export's KETERANGAN; the export's reasons are in Indonesian; photo and location are optional;
a ketua RT gives the neighbour's NIK / No. KK if known (masked in the chat, absent from logs);
graduasi only for a household that receives aid; the simulator sends photos and locations."""

from __future__ import annotations

import io
import logging
import re

import sqlalchemy as sa

from db.schema import media, report_photos
from domain import reports as R
from services import reports as ops
from services.exports import export_rows, remarks, write_csv, write_xlsx
from tests.chatkit import DATA, KK_1, NIK_1, Chat, running
from tests.test_reports import all_reports, code_in, invite_head, matched


async def _forward(rt, code: str) -> None:
    """Verified by Dinsos: what the export takes."""
    for to in (R.VERIFIKASI_DINSOS, R.DITERUSKAN):
        async with rt.db.tx() as c:
            await ops.move(c, await ops.by_code(c, code), to, now=rt.outbox.clock(), actor="s:a")


async def test_a_story_typed_at_any_step_is_kept_and_reaches_the_export(db_url, caplog):
    caplog.set_level(logging.DEBUG)
    async with running(db_url) as rt:
        chat = Chat(rt)
        await matched(chat)
        await chat.tap("m:report")
        [kept] = await chat.send("Tolong, suami saya kena PHK dan kami belum makan dengan layak")
        assert "tulisan Anda kami simpan" in kept["text"] and "r:usul" in chat.choices
        await chat.tap("r:usul")
        await chat.tap("r:own")
        [again] = await chat.send("Anak saya dua masih SD dan SMP")  # at the reason buttons
        assert "tulisan Anda kami simpan" in again["text"] and "r:why:income" in chat.choices
        [story] = await chat.tap("r:why:income")
        assert "Tulisan Anda sudah kami simpan" in story["text"]  # asks only for more
        await chat.tap("r:skip")
        # At the photo step: a story, not a photo.
        [photo] = await chat.send("Suami saya di-PHK bulan Agustus, sekarang kerja serabutan")
        assert "tulisan Anda kami simpan" in photo["text"] and photo["request"] == "photo"
        [short] = await chat.send("hmm")  # too short to be a story: the step's hint
        assert "Mohon kirim foto" in short["text"]
        [loc] = await chat.tap("r:skip")
        [loc] = await chat.send("rumahnya di belakang masjid Al Ikhlas")
        assert "tulisan Anda kami simpan" in loc["text"] and loc["request"] == "location"
        [summary] = await chat.tap("r:skip")
        assert "Cerita Anda: Tolong, suami saya kena PHK" in summary["text"]
        [summary] = await chat.send("tolong dibantu ya pak, anak mau masuk sekolah")
        assert "tulisan Anda kami simpan" in summary["text"] and "r:send" in chat.choices
        [done, _phone] = await chat.tap("r:send")  # then: may an officer call?
        code = code_in(done["text"])
        [row] = await all_reports(rt)
        assert row.story.splitlines() == [
            "Tolong, suami saya kena PHK dan kami belum makan dengan layak",
            "Anak saya dua masih SD dan SMP",
            "Suami saya di-PHK bulan Agustus, sekarang kerja serabutan",
            "rumahnya di belakang masjid Al Ikhlas",
            "tolong dibantu ya pak, anak mau masuk sekolah",
        ]
        assert row.reason == "income"
        await _forward(rt, code)
        async with rt.db.tx(write=False) as c:
            [out] = await export_rows(c, rt.region)
        assert out["ALASAN"] == "Penghasilan hilang/turun"  # words, not the code "income"
        assert out["KETERANGAN"].startswith("Cerita pelapor: Tolong, suami saya kena PHK")
        assert "Suami saya di-PHK bulan Agustus" in out["KETERANGAN"]
        assert " / rumahnya di belakang masjid" in out["KETERANGAN"]
        buf = io.StringIO(newline="")
        write_csv([out], buf)
        assert "Penghasilan hilang/turun" in buf.getvalue() and "income" not in buf.getvalue()
        xlsx = io.BytesIO()
        write_xlsx([out], xlsx)
        from openpyxl import load_workbook

        ws = load_workbook(io.BytesIO(xlsx.getvalue())).active
        header = [c.value for c in ws[1]]
        cells = dict(zip(header, [c.value for c in ws[2]], strict=True))
        assert cells["KETERANGAN"] == out["KETERANGAN"] and cells["ALASAN"] == out["ALASAN"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "serabutan" not in logged and "Al Ikhlas" not in logged


async def test_commands_greetings_and_other_services_are_never_stored_as_a_story(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await matched(chat)
        await chat.tap("m:report")
        await chat.tap("r:usul")
        await chat.tap("r:own")
        await chat.tap("r:why:elder")
        await chat.tap("r:skip")
        [hello] = await chat.send("halo")  # a greeting at the photo step: the step again
        assert "kami simpan" not in hello["text"] and "Mohon kirim foto" in hello["text"]
        [go] = await chat.send("sambungkan ke petugas dinsos")  # another service: asked first
        assert "Pindah ke" in go["text"] and chat.choices == ["n:contact", "n:none"]
        [back] = await chat.tap("n:none")
        assert back["request"] == "photo"
        [code] = await chat.send("laporan saya LPR-9KPW-P9X6 bagaimana")  # a ticket code
        assert "tulisan Anda kami simpan" not in code["text"]
        await chat.send("menu")  # the global word leaves; nothing is kept
        await chat.tap("m:report")
        await chat.tap("r:usul")
        await chat.tap("r:own")
        await chat.tap("r:why:elder")
        await chat.tap("r:skip")
        await chat.send("gak punya foto")  # a "no" at an optional step: skipped
        assert chat.last["request"] == "location"
        await chat.send("tidak ada")
        await chat.tap("r:send")
        [row] = await all_reports(rt)
        assert row.story is None
        # A typed value that is wrong is not a story: the step's hint (a kelurahan misspelt).
        await chat.tap("m:report")
        await chat.tap("r:usul")
        await chat.tap("r:other")
        await chat.send("Ibu Onah")
        await chat.send("Jl. Cemara No. 4")
        [rtrw] = await chat.send("rt dua rw lima")
        assert "dengan angka" in rtrw["text"]
        await chat.send("rt 2 rw 5")
        [kel] = await chat.send("Mulya Harjaaa Selatan")
        assert "tidak kami kenal" in kel["text"]
        [kept] = await chat.send("saya tidak tahu nama kelurahannya, dekat pasar Bogor")
        assert "tulisan Anda kami simpan" in kept["text"] and "kelurahan" in kept["text"]
        await chat.send("batal")
        # Cancel in the middle: a kept story goes with the draft.
        await chat.tap("m:report")
        await chat.tap("r:sanggah")
        await chat.send("Haji Mamat punya mobil tiga tapi dapat PKH")  # the name step: 7 words
        assert "Ketik alamat" in chat.text  # a name in letters: taken as the name
        await chat.send("batal")
        assert len(await all_reports(rt)) == 1


async def test_sanggah_without_photo_nor_location_and_evidence_sent_early_is_kept(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await matched(chat)
        await chat.tap("m:report")
        await chat.tap("r:sanggah")
        await chat.send("Haji Mamat")
        await chat.send("Jl. Pandu Raya No. 99")
        await chat.send("RT 3 RW 7")
        [kept] = await chat._event("photo", {"ref": "early-photo"})  # before it was asked
        assert "foto ini kami simpan" in kept["text"] and "r:why:wealthy" in chat.choices
        await chat.tap("r:why:wealthy")
        await chat.send("Rumahnya dua lantai dan punya toko bangunan")
        [loc] = await chat.tap("r:skip")  # no (more) photo
        assert loc["request"] == "location"
        [summary] = await chat.tap("r:skip")
        assert "Foto terlampir" in summary["text"] and "Lokasi terlampir" not in summary["text"]
        await chat.tap("r:send")
        [row] = await all_reports(rt)
        assert (row.category, row.lat, row.story) == (
            "SANGGAH",
            None,
            "Rumahnya dua lantai dan punya toko bangunan",
        )
        async with rt.db.tx(write=False) as c:
            refs = [p.ref for p in await c.execute(sa.select(report_photos))]
        assert refs == ["early-photo"]


async def test_rt_report_for_a_neighbour_with_nik_and_kk_masked_in_chat_and_logs(
    db_url, capsys, caplog
):
    caplog.set_level(logging.DEBUG)
    nik, kk = "3271011505900009", "3271011505200001"
    async with running(db_url) as rt:
        code = await invite_head(rt, capsys)
        head = Chat(rt, "pak-rt")
        await head.onboard()
        await head.send(code)
        await head.tap("t:report")
        await head.tap("r:koreksi")
        await head.send("Ibu Onah")
        await head.send("Gg. Mawar No. 3")
        [bad] = await head.send("1234")
        assert "bukan NIK" in bad["text"] and "Tidak tahu" in bad["text"]
        [kk_ask] = await head.send("waduh saya tidak tahu NIK nya")  # in words: no NIK
        assert "No. KK" in kk_ask["text"]
        await head.tap("g:menu")
        await head.tap("m:rt")
        await head.tap("t:report")
        await head.tap("r:koreksi")
        await head.send("Ibu Onah")
        await head.send("Gg. Mawar No. 3")
        await head.send(nik)
        [part] = await head.send(kk)
        assert "r:part:address" in head.choices  # a koreksi: which part, then what it should be
        await head.tap("r:part:address")
        await head.send("Pindah ke Gg. Melati No. 8, masih RT 3")
        await head.tap("r:skip")  # no story
        [loc] = await head.tap("r:skip")  # no photo; an address koreksi: a location helps
        assert loc["request"] == "location"
        [summary] = await head._event("location", {"lat": -6.57, "lon": 106.8})
        assert "NIK 3271 01•• •••• 0009" in summary["text"] and nik not in summary["text"]
        assert kk not in summary["text"]
        [done, _phone] = await head.tap("r:send")  # then: may an officer call?
        rcode = code_in(done["text"])
        [r] = await all_reports(rt)
        assert (r.target_nik, r.target_kk, r.reason, r.reporter_role) == (nik, kk, "address", "rt")
        await _forward(rt, rcode)
        async with rt.db.tx(write=False) as c:
            [out] = await export_rows(c, rt.region)
        assert (out["NIK"], out["NO_KK"], out["NAMA"], out["ALASAN"]) == (
            nik,
            kk,
            "Ibu Onah",
            "Alamat",
        )
        assert out["KETERANGAN"] == "Data seharusnya: Pindah ke Gg. Melati No. 8, masih RT 3"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert nik not in logged and kk not in logged


async def test_graduasi_only_for_a_household_that_receives_aid(db_url, tmp_path):
    # Household 3 of the small extract, with nobody in a program.
    src = (DATA / "dtsen_small.csv").read_text(encoding="utf-8").splitlines()
    rows = [src[0]] + [ln.replace(",PBI,0", ",,0") for ln in src if "Kedung Badak" in ln]
    csv_path = tmp_path / "no_aid.csv"
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    async with running(db_url, csv=csv_path) as rt:
        chat = Chat(rt)
        await chat.onboard()
        [ask] = await chat.send("saya sudah mampu, tidak perlu bantuan lagi")
        # Not matched: the check first, then the answer for a household without aid.
        if "Maksud Anda" in ask["text"]:
            await chat.tap("n:graduasi")
        assert "Ketik NIK" in chat.text
        await chat.send("3271067112900001")
        await chat.tap("k:yes")
        [told] = await chat.send("3271060203200002")
        assert "tidak menerima program apa pun" in told["text"] and "Laporkan data" in told["text"]
        assert "m:report" in chat.choices and "m:check" in chat.choices  # the menu
        # Matched now: the button is not offered at all.
        await chat.tap("m:report")
        assert "r:graduasi" not in chat.choices and "r:usul" in chat.choices
        assert await all_reports(rt) == []


async def test_graduasi_is_offered_to_a_household_with_a_program(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await matched(chat)  # household 1: PKH, BPNT, PBI
        await chat.tap("m:report")
        assert "r:graduasi" in chat.choices


def test_keterangan_words_and_order():
    assert remarks(R.USUL, "Suaminya meninggal", "Anak tiga\nmasih sekolah") == (
        "Alasan: Suaminya meninggal | Cerita pelapor: Anak tiga / masih sekolah"
    )
    assert remarks(R.KOREKSI, "Alamat baru: Jl. Melati 5", None) == (
        "Data seharusnya: Alamat baru: Jl. Melati 5"
    )
    # Resident text never starts the cell (a spreadsheet would read "=..." as a formula).
    assert remarks(R.USUL, None, "=HYPERLINK(1)").startswith("Cerita pelapor: ")
    assert remarks(R.GRADUASI, None, None) == ""


# --- the dashboard: the story on the report page; the simulator's photo and location ---------


async def test_simulator_sends_a_photo_and_a_location_and_the_page_shows_the_story(
    db_url, tmp_path
):
    from aiohttp.test_utils import TestClient, TestServer

    from services.staff import add_staff
    from tests.test_photos import JPEG_WITH_EXIF
    from tests.test_stats_simulator import _buttons, _post
    from tests.test_web_auth import PASSWORD, hidden

    async with running(db_url, jaring_media_dir=tmp_path / "media") as rt:
        async with rt.db.tx() as c:
            await add_staff(
                c,
                username="budi",
                name="Budi",
                role="verifikator",
                password=PASSWORD,
                kelurahan_code=None,
                now=rt.outbox.clock(),
                actor="test",
            )
        client = TestClient(TestServer(rt.web))
        await client.start_server()
        try:
            await _simulated_sanggah(rt, client, tmp_path, JPEG_WITH_EXIF, _buttons, _post, hidden)
        finally:
            await client.close()


async def _simulated_sanggah(rt, client, tmp_path, jpeg, _buttons, _post, hidden):
    from tests.test_web_auth import login

    if True:
        await login(client, user="budi")
        await _post(client, "/simulator/start", {"lang": "id"})
        for choice in ("c:agree", "l:id", "m:check"):
            await _post(client, "/simulator/send", {"choice": choice, "lang": "id"})
        await _post(client, "/simulator/send", {"text": NIK_1, "lang": "id"})
        await _post(client, "/simulator/send", {"choice": "k:yes", "lang": "id"})
        await _post(client, "/simulator/send", {"text": KK_1, "lang": "id"})
        for step in (
            {"choice": "m:report"},
            {"choice": "r:sanggah"},
            {"text": "Haji Mamat"},
            {"text": "Jl. Pandu Raya No. 99"},
            {"text": "RT 3 RW 7"},
            {"choice": "r:why:wealthy"},
            {"text": "Punya dua mobil dan rumah kos sepuluh kamar"},
        ):
            await _post(client, "/simulator/send", {**step, "lang": "id"})
        html = await (await client.get("/simulator")).text()
        assert "bot meminta foto" in html and 'name="photo"' in html and "<details" in html
        # A file that is not an image is refused, and nothing is sent.
        page = await client.get("/simulator")
        token = hidden(await page.text())
        bad = await client.post(
            "/simulator/send",
            data={"_csrf": token, "lang": "id", "photo": io.BytesIO(b"not an image")},
            allow_redirects=False,
        )
        assert bad.status == 302 and "err=photo" in bad.headers["Location"]
        html = await (await client.get(bad.headers["Location"])).text()
        assert "Foto tidak terkirim" in html and "bot meminta foto" in html
        # A real photo: stored without its EXIF, recorded like a Telegram photo.
        form = {"_csrf": token, "lang": "id", "photo": io.BytesIO(jpeg)}
        r = await client.post("/simulator/send", data=form, allow_redirects=False)
        assert r.status == 302 and "err" not in r.headers["Location"]
        html = await (await client.get("/simulator")).text()
        assert "[Foto]" in html and "bot meminta lokasi" in html
        bad = await _post(client, "/simulator/send", {"lat": "utara", "lon": "106.8", "lang": "id"})
        assert "err=location" in bad.headers["Location"]
        await _post(client, "/simulator/send", {"lat": "-6,5771", "lon": "106.8013", "lang": "id"})
        html = await (await client.get("/simulator")).text()
        assert "[Lokasi -6.577100, 106.801300]" in html and "r:send" in _buttons(html).values()
        await _post(client, "/simulator/send", {"choice": "r:send", "lang": "id"})
        [row] = await all_reports(rt)
        assert row.category == "SANGGAH" and row.lat is not None
        assert row.story == "Punya dua mobil dan rumah kos sepuluh kamar"
        async with rt.db.tx(write=False) as c:
            [p] = (await c.execute(sa.select(report_photos))).all()
            m = (await c.execute(sa.select(media).where(media.c.ref == p.ref))).one()
        assert (p.channel, m.status, m.channel) == ("web", "stored", "web")
        assert m.path.startswith(str(tmp_path / "media"))
        stored = (tmp_path / "media" / m.path.rsplit("/", 1)[1]).read_bytes()
        assert b"Exif" not in stored[:2000] and stored[:2] == b"\xff\xd8"
        # The report page shows the story and serves the photo.
        page = await (await client.get(f"/reports/{row.code}")).text()
        assert "Cerita pelapor" in page and "Punya dua mobil dan rumah kos" in page
        src = re.search(r'src="(/reports/[^"]+/photos/\d+)"', page).group(1)
        assert (await client.get(src)).status == 200


async def test_reports_show_prints_the_story_with_numbers_masked(db_url, capsys):
    from tests.test_reports import run_cli

    async with running(db_url) as rt:
        chat = Chat(rt)
        await matched(chat)
        await chat.tap("m:report")
        await chat.tap("r:usul")
        await chat.tap("r:own")
        await chat.tap("r:why:income")
        await chat.send("Suami di-PHK, HP saya 0812 3456 7890 kalau perlu")
        await chat.tap("r:skip")
        await chat.tap("r:skip")
        [done, _phone] = await chat.tap("r:send")  # then: may an officer call?
        code = code_in(done["text"])
        capsys.readouterr()
        assert await run_cli(rt, "reports", "show", code) == 0
        out = capsys.readouterr().out
        assert "Cerita      : Suami di-PHK" in out and "0812" not in out and "[angka]" in out
        assert await run_cli(rt, "reports", "show", code, "--reveal", "--by", "ani") == 0
        assert "0812 3456 7890" in capsys.readouterr().out
