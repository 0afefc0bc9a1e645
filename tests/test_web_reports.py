"""The verification queue in the dashboard (web/reports.py): the list with filters and paging,
the report page, moves through services/reports.py with the reporter told, two officers at once, the NIK
reveal and the SIKS-NG export (both audited), photos behind the login, operator scoping."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from contextlib import asynccontextmanager

import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from db.schema import audit_log, report_events
from db.schema import media as media_table
from services import reports as ops
from services.exports import EXPORT_COLUMNS
from services.staff import add_staff
from tests.chatkit import KK_1, NIK_1, Chat, Clock, running
from tests.test_reports import KK_2, NIK_2, matched, usul_own
from tests.test_web_auth import PASSWORD, hidden, login
from web import reports as web_reports

TEGAL_GUNDIL, MULYAHARJA = "3271051002", "3271011007"
OTHER_NIK, OTHER_KK = "3271011505900009", "3271011505200001"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


@asynccontextmanager
async def queue(db_url, tmp_path, clock=None):
    """Two residents' usul (household 1 in Tegal Gundil, household 2 in Mulyaharja), a third
    about another family in Tegal Gundil with NIK, photo and location; four staff accounts."""
    clock = clock or Clock()
    media = tmp_path / "media"
    media.mkdir()
    async with running(db_url, clock=clock, jaring_media_dir=media) as rt:
        async with rt.db.tx() as c:
            for user, role, kel in (
                ("ani", "admin", None),
                ("budi", "verifikator", None),
                ("citra", "operator", TEGAL_GUNDIL),
                ("dedi", "operator", MULYAHARJA),
            ):
                await add_staff(
                    c,
                    username=user,
                    name=user.title(),
                    role=role,
                    password=PASSWORD,
                    kelurahan_code=kel,
                    now=clock(),
                    actor="test",
                )
        warga = Chat(rt, "warga")
        await matched(warga)
        own = await usul_own(warga)
        clock.advance(minutes=5)
        tetangga = Chat(rt, "tetangga")
        await matched(tetangga, NIK_2, KK_2)
        far = await usul_own(tetangga)
        clock.advance(minutes=5)
        (media / ("a" * 64 + ".jpg")).write_bytes(JPEG)
        async with rt.db.tx() as c:
            made = await ops.create_report(
                c,
                ops.NewReport(
                    category="USUL",
                    kelurahan_code=TEGAL_GUNDIL,
                    rw="007",
                    rt="004",
                    target_name="Ibu Onah",
                    target_address="Jl. Cemara No. 4",
                    target_nik=OTHER_NIK,
                    target_kk=OTHER_KK,
                    reason="other",
                    detail="Suaminya meninggal bulan lalu",
                    lat=-6.5771,
                    lon=106.8013,
                    photos=(("house", "wa", "ref-rumah"), ("house", "wa", "ref-hilang")),
                ),
                now=clock(),
                verification_days=14,
                rt_answer_days=3,
            )
            await c.execute(
                sa.insert(media_table).values(
                    channel="wa",
                    media_id="m1",
                    message_id="w1",
                    user_key="wa:1",
                    ref="ref-rumah",
                    status="stored",
                    mime="image/jpeg",
                    size=len(JPEG),
                    sha256="a" * 64,
                    path=str(media / ("a" * 64 + ".jpg")),
                    created_at=clock(),
                )
            )
        client = TestClient(TestServer(rt.web))
        await client.start_server()
        try:
            yield rt, client, clock, {"own": own, "far": far, "named": made.code}, warga
        finally:
            await client.close()


async def page(client, url):
    r = await client.get(url)
    return r.status, await r.text()


async def audits(rt, action):
    async with rt.db.tx(write=False) as c:
        return (
            await c.execute(
                sa.select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
            )
        ).all()


async def report(rt, code):
    async with rt.db.tx(write=False) as c:
        return await ops.by_code(c, code)


async def test_routes_need_a_login(db_url, tmp_path):
    async with queue(db_url, tmp_path) as (_rt, client, _clock, codes, _w):
        for url in ("/reports", f"/reports/{codes['own']}", f"/reports/{codes['named']}/photos/1"):
            r = await client.get(url, allow_redirects=False)
            assert r.status == 302 and r.headers["Location"].startswith("/login"), url
        for url in (
            "/reports/export",
            f"/reports/{codes['own']}/move",
            f"/reports/{codes['own']}/reveal",
        ):
            r = await client.post(url, data={"format": "csv"}, allow_redirects=False)
            assert r.status == 403, url


async def test_queue_filters_sorting_paging_and_detail(db_url, tmp_path, monkeypatch):
    async with queue(db_url, tmp_path) as (rt, client, clock, codes, _w):
        await login(client, user="budi")
        status, html = await page(client, "/reports")
        assert status == 200 and "3 laporan" in html
        assert 'aria-current="page">Laporan</a>' in html  # the nav link
        # Sorted by due date: the first report is the first due.
        assert html.index(codes["own"]) < html.index(codes["far"]) < html.index(codes["named"])
        assert "Tegal Gundil" in html and "Mulya Harja" in html and "Ibu Onah" in html
        _, html = await page(client, f"/reports?kelurahan={MULYAHARJA}")
        assert codes["far"] in html and codes["own"] not in html and "1 laporan" in html
        _, html = await page(client, "/reports?kecamatan=327105")  # Bogor Utara
        assert codes["own"] in html and codes["named"] in html and codes["far"] not in html
        _, html = await page(client, "/reports?state=VERIFIKASI_DINSOS")
        assert "0 laporan" in html and "Tidak ada laporan" in html
        _, html = await page(client, "/reports?category=SANGGAH")
        assert "0 laporan" in html
        _, html = await page(client, "/reports?due=overdue")
        assert "0 laporan" in html
        _, html = await page(client, "/reports?state=bogus&category=x&due=y&page=-3")
        assert "3 laporan" in html  # nonsense in the address bar is ignored, not an error
        clock.advance(days=12)
        await login(client, user="budi")  # the session ended meanwhile
        _, html = await page(client, "/reports?due=soon")
        assert "3 laporan" in html
        clock.advance(days=3)
        await login(client, user="budi")
        _, html = await page(client, "/reports?due=overdue")
        assert "3 laporan" in html and "terlambat" in html
        monkeypatch.setattr(web_reports, "PAGE_SIZE", 2)
        _, html = await page(client, "/reports")
        assert "Halaman 1 dari 2" in html and codes["named"] not in html
        nxt = re.search(r'href="(/reports\?[^"]*page=2)"', html).group(1)
        _, html = await page(client, nxt.replace("&amp;", "&"))
        assert codes["named"] in html and codes["own"] not in html

        # The detail page: masked NIK, reporter for a verifikator, map link, photos.
        status, html = await page(client, f"/reports/{codes['named']}")
        assert status == 200
        assert OTHER_NIK not in html and "3271 01•• •••• 0009" in html
        assert "Suaminya meninggal bulan lalu" in html and "Lainnya" in html
        assert "https://www.openstreetmap.org/?mlat=-6.577100&amp;mlon=106.801300" in html
        assert "terlambat" in html and "Warga" in html
        photo_url = re.search(r'src="(/reports/[^"]+/photos/\d+)"', html).group(1)
        assert html.count("/photos/") == 2  # link + img of the stored one; the missing one has none
        assert "berkas belum tersimpan" in html
        r = await client.get(photo_url)
        assert r.status == 200 and await r.read() == JPEG
        assert (
            r.headers["Content-Type"] == "image/jpeg" and "no-store" in r.headers["Cache-Control"]
        )
        # A photo id of another report, or one not stored, is a 404.
        pid = int(photo_url.rsplit("/", 1)[1])
        assert (await client.get(f"/reports/{codes['own']}/photos/{pid}")).status == 404
        assert (await client.get(f"/reports/{codes['named']}/photos/{pid + 1}")).status == 404
        status, html = await page(client, f"/reports/{codes['own']}")
        assert "Asep Suryana" in html and NIK_1 not in html and KK_1 not in html
        assert (
            "3271 05•• •••• 0002" in html and "Telegram" not in html
        )  # reporter on the test channel
        assert "lewat Uji" in html
        # Only the allowed next states are offered: DITERIMA -> no DISETUJUI, no CEK_LAPANGAN.
        offered = re.findall(r'<option value="([A-Z_:]+)"', html)
        assert offered == [
            "VERIFIKASI_DINSOS",
            "SELESAI:DITOLAK",
            "SELESAI:DUPLIKAT",
            "SELESAI:DIBATALKAN",
        ]
        assert (await client.get("/reports/LPR-AAAA-AAAA")).status == 404
        assert (await client.get(f"/reports/{codes['own'].lower()}")).status == 200


async def test_operator_sees_only_their_kelurahan(db_url, tmp_path):
    async with queue(db_url, tmp_path) as (rt, client, _clock, codes, _w):
        await login(client, user="dedi")  # Mulyaharja
        _, html = await page(client, f"/reports?kelurahan={TEGAL_GUNDIL}&kecamatan=327105")
        assert codes["far"] in html and codes["own"] not in html and "1 laporan" in html
        assert "Ekspor untuk SIKS-NG" not in html
        for code in (codes["own"], codes["named"]):
            assert (await client.get(f"/reports/{code}")).status == 404
            assert (await client.get(f"/reports/{code}/photos/1")).status == 404
        status, html = await page(client, f"/reports/{codes['far']}")
        assert status == 200 and "hanya untuk verifikator dan admin" in html
        assert "Tampilkan NIK" not in html and "lewat Uji" not in html
        token = hidden(html)
        # Moving another kelurahan's report is a 404 too, and nothing changes.
        r = await client.post(
            f"/reports/{codes['own']}/move",
            data={"_csrf": token, "to": "VERIFIKASI_DINSOS", "version": "1"},
        )
        assert r.status == 404 and (await report(rt, codes["own"])).state == "DITERIMA"
        # Reveal and export are for verifikator and admin.
        r = await client.post(f"/reports/{codes['far']}/reveal", data={"_csrf": token})
        assert r.status == 403 and NIK_2 not in await r.text()
        r = await client.post("/reports/export", data={"_csrf": token, "format": "csv"})
        assert r.status == 403
        # But an operator works their own kelurahan's queue.
        r = await client.post(
            f"/reports/{codes['far']}/move",
            data={"_csrf": token, "to": "VERIFIKASI_DINSOS", "version": "1"},
            allow_redirects=False,
        )
        assert r.status == 302
        assert (await report(rt, codes["far"])).state == "VERIFIKASI_DINSOS"
        assert await audits(rt, "reports.reveal") == [] and await audits(rt, "reports.export") == []


async def test_moves_tell_the_reporter_and_are_audited(db_url, tmp_path):
    async with queue(db_url, tmp_path) as (rt, client, _clock, codes, warga):
        code = codes["own"]
        await login(client, user="budi")
        _, html = await page(client, f"/reports/{code}")
        token = hidden(html)
        url = f"/reports/{code}/move"
        # No CSRF token: refused, nothing moves.
        r = await client.post(
            url, data={"to": "VERIFIKASI_DINSOS", "version": "1"}, allow_redirects=False
        )
        assert r.status == 403 and (await report(rt, code)).state == "DITERIMA"
        # DITOLAK needs a reason; the chosen move stays selected.
        r = await client.post(
            url, data={"_csrf": token, "to": "SELESAI:DITOLAK", "version": "1", "note": "   "}
        )
        html = await r.text()
        assert r.status == 409 and "perlu alasan" in html
        assert '<option value="SELESAI:DITOLAK" selected>' in html
        # A move the lifecycle refuses (not offered, but posted anyway) keeps the note.
        r = await client.post(
            url,
            data={
                "_csrf": token,
                "to": "SELESAI:DISETUJUI",
                "version": "1",
                "note": "langsung setuju",
            },
        )
        assert r.status == 409 and "tidak diizinkan" in (html := await r.text())
        assert "langsung setuju" in html
        r = await client.post(url, data={"_csrf": token, "to": "VERIFIKASI_RT", "version": "1"})
        assert r.status == 409 and "Belum ada ketua RT aktif" in await r.text()
        assert (await report(rt, code)).version == 1
        before = len(rt.transport.sent)
        r = await client.post(
            url,
            data={
                "_csrf": token,
                "to": "VERIFIKASI_DINSOS",
                "version": "1",
                "note": "Data lengkap",
            },
            allow_redirects=False,
        )
        assert r.status == 302 and r.headers["Location"] == f"/reports/{code}?ok=move"
        await rt.outbox.idle()
        assert (
            rt.transport.sent[before][1]["text"]
            == f"Laporan Anda {code} sekarang sedang diperiksa Dinsos."
        )
        _, html = await page(client, f"/reports/{code}?ok=move")
        assert "pelapor diberi tahu" in html and "Petugas budi" in html and "Data lengkap" in html
        offered = re.findall(r'<option value="([A-Z_:]+)"', html)
        assert "SELESAI:DISETUJUI" in offered and "CEK_LAPANGAN" in offered
        r = await client.post(
            url,
            data={
                "_csrf": token,
                "to": "SELESAI:DITOLAK",
                "version": "2",
                "note": "Penghasilan masih di atas batas",
            },
            allow_redirects=False,
        )
        assert r.status == 302
        await rt.outbox.idle()
        told = warga.rt.transport.sent[-1][1]["text"]
        assert "tidak diterima" in told and "Penghasilan masih di atas batas" in told
        _, html = await page(client, f"/reports/{code}")
        assert "statusnya tidak dapat diubah lagi" in html and 'name="to"' not in html
        async with rt.db.tx(write=False) as c:
            events = (
                await c.execute(
                    sa.select(report_events)
                    .where(report_events.c.action == "move")
                    .order_by(report_events.c.id)
                )
            ).all()
        assert [(e.actor, e.to_state, e.outcome) for e in events] == [
            ("staff:budi", "VERIFIKASI_DINSOS", None),
            ("staff:budi", "SELESAI", "DITOLAK"),
        ]
        assert [(a.actor, a.subject, a.detail["to"]) for a in await audits(rt, "reports.move")] == [
            ("staff:budi", code, "VERIFIKASI_DINSOS"),
            ("staff:budi", code, "SELESAI"),
        ]


async def test_two_officers_at_once_one_wins_the_other_keeps_the_note(db_url, tmp_path):
    async with queue(db_url, tmp_path) as (rt, budi, _clock, codes, _w):
        ani = TestClient(TestServer(rt.web))
        await ani.start_server()
        try:
            await login(budi, user="budi")
            await login(ani, user="ani")
            code = codes["own"]
            tb = hidden((await page(budi, f"/reports/{code}"))[1])
            ta = hidden((await page(ani, f"/reports/{code}"))[1])  # both read version 1
            r = await budi.post(
                f"/reports/{code}/move",
                data={"_csrf": tb, "to": "VERIFIKASI_DINSOS", "version": "1"},
                allow_redirects=False,
            )
            assert r.status == 302
            r = await ani.post(
                f"/reports/{code}/move",
                data={
                    "_csrf": ta,
                    "to": "SELESAI:DUPLIKAT",
                    "version": "1",
                    "note": "Sama dengan laporan tetangga",
                },
            )
            html = await r.text()
            assert r.status == 409 and "baru saja diubah petugas lain" in html
            assert "Sama dengan laporan tetangga" in html  # nothing typed is lost
            assert "Verifikasi Dinsos" in html  # and the page shows the state that won
            # Truly at once: both post the same version; one moves it, the other is refused.
            results = await asyncio.gather(
                budi.post(
                    f"/reports/{code}/move",
                    data={"_csrf": tb, "to": "CEK_LAPANGAN", "version": "2"},
                    allow_redirects=False,
                ),
                ani.post(
                    f"/reports/{code}/move",
                    data={
                        "_csrf": ta,
                        "to": "SELESAI:DITOLAK",
                        "version": "2",
                        "note": "bukan warga",
                    },
                    allow_redirects=False,
                ),
            )
            assert sorted(r.status for r in results) == [302, 409]
            row = await report(rt, code)
            assert row.version == 3 and row.state in ("CEK_LAPANGAN", "SELESAI")
            async with rt.db.tx(write=False) as c:
                moves = await c.scalar(
                    sa.select(sa.func.count())
                    .select_from(report_events)
                    .where(report_events.c.action == "move")
                )
            assert moves == 2
        finally:
            await ani.close()


async def test_reveal_is_a_logged_post_for_verifikator_and_admin(db_url, tmp_path):
    async with queue(db_url, tmp_path) as (rt, client, _clock, codes, _w):
        await login(client, user="ani")
        code = codes["named"]
        _, html = await page(client, f"/reports/{code}")
        assert OTHER_NIK not in html and OTHER_KK not in html and "Tampilkan NIK" in html
        r = await client.post(f"/reports/{code}/reveal", data={}, allow_redirects=False)
        assert r.status == 403 and await audits(rt, "reports.reveal") == []
        r = await client.post(f"/reports/{code}/reveal", data={"_csrf": hidden(html)})
        html = await r.text()
        assert r.status == 200 and OTHER_NIK in html and OTHER_KK in html
        assert "tercatat di log audit" in html and r.headers["Cache-Control"] == "no-store"
        [a] = await audits(rt, "reports.reveal")
        assert (a.actor, a.subject) == ("staff:ani", code)
        _, html = await page(client, f"/reports/{code}")  # the next view is masked again
        assert OTHER_NIK not in html
        # The reporter's own NIK is revealed to a verifikator as well.
        await client.post("/logout", data={"_csrf": hidden(html)})
        await login(client, user="budi")
        _, html = await page(client, f"/reports/{codes['own']}")
        html = await (
            await client.post(f"/reports/{codes['own']}/reveal", data={"_csrf": hidden(html)})
        ).text()
        assert NIK_1 in html and KK_1 in html
        assert [a.actor for a in await audits(rt, "reports.reveal")] == ["staff:ani", "staff:budi"]


async def test_export_csv_and_xlsx_from_the_page_is_audited(db_url, tmp_path):
    async with queue(db_url, tmp_path) as (rt, client, clock, codes, _w):
        now = clock()
        async with rt.db.tx() as c:
            for to in ("VERIFIKASI_DINSOS", "DITERUSKAN"):
                await ops.move(c, await ops.by_code(c, codes["own"]), to, now=now, actor="test")
        await login(client, user="budi")
        _, html = await page(client, "/reports")
        assert "Ekspor untuk SIKS-NG" in html
        token = hidden(html)
        r = await client.post("/reports/export", data={"format": "csv"})
        assert r.status == 403
        r = await client.post("/reports/export", data={"_csrf": token, "format": "csv"})
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in r.headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO((await r.read()).decode("utf-8"))))
        assert len(rows) == 1 and tuple(rows[0]) == EXPORT_COLUMNS
        assert (rows[0]["KODE_LAPORAN"], rows[0]["NIK"], rows[0]["NO_KK"], rows[0]["RT"]) == (
            codes["own"],
            NIK_1,
            KK_1,
            "003",
        )
        r = await client.post("/reports/export", data={"_csrf": token, "format": "xlsx"})
        assert r.status == 200 and ".xlsx" in r.headers["Content-Disposition"]
        from openpyxl import load_workbook

        ws = load_workbook(io.BytesIO(await r.read())).active
        assert [c.value for c in ws[1]] == list(EXPORT_COLUMNS)
        assert ws["D2"].value == NIK_1 and ws["D2"].number_format == "@"
        assert [
            (a.actor, a.subject, a.detail["codes"]) for a in await audits(rt, "reports.export")
        ] == [("staff:budi", "csv", [codes["own"]]), ("staff:budi", "xlsx", [codes["own"]])]


async def test_reports_from_the_simulator_are_labelled(db_url, tmp_path):
    from db.schema import conversations

    async with queue(db_url, tmp_path) as (rt, client, _clock, codes, _w):
        await login(client, user="budi")
        _, html = await page(client, "/reports")
        assert 'class="pill done">Simulator</span>' not in html
        async with rt.db.tx() as c:  # the resident "tetangga" was, in fact, a staff test
            await c.execute(
                sa.update(conversations)
                .where(conversations.c.user_key == "test:tetangga")
                .values(channel="web")
            )
        _, html = await page(client, "/reports")
        assert html.count('class="pill done">Simulator</span>') == 1
        row = html.split(codes["far"], 1)[1].split("</td>", 1)[0]
        assert "Simulator" in row
