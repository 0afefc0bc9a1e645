"""Dashboard pages for KUBE / UEP proposals, trainings, ketua RT and the DTSEN import: roles,
CSRF, operator scoping, decisions telling residents through the outbox, audit rows."""

from __future__ import annotations

import asyncio
import re
from contextlib import asynccontextmanager

import sqlalchemy as sa
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from db.schema import audit_log, data_imports, kube_groups, people, rt_heads, training_sessions
from services.staff import add_staff
from tests.chatkit import SMALL_CSV, Clock
from tests.kubekit import PEOPLE, add_session, matched, world
from tests.test_web_auth import PASSWORD, hidden, login

TEGAL_GUNDIL = "3271051002"
OTHER_KEL = "3271031005"


@asynccontextmanager
async def dash(db_url):
    clock = Clock()
    async with world(db_url, clock=clock, csv=None) as rt:
        async with rt.db.tx() as c:
            for user, role, kel in (
                ("ani", "admin", None),
                ("budi", "verifikator", None),
                ("citra", "operator", OTHER_KEL),
                ("dina", "operator", TEGAL_GUNDIL),
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
        client = TestClient(TestServer(rt.web))
        await client.start_server()
        try:
            yield rt, client
        finally:
            await client.close()


async def csrf(client, path="/"):
    return hidden(await (await client.get(path)).text())


async def audits(rt, action_prefix):
    async with rt.db.tx(write=False) as c:
        return [
            (r.actor, r.action, r.subject)
            for r in await c.execute(
                sa.select(audit_log)
                .where(audit_log.c.action.startswith(action_prefix))
                .order_by(audit_log.c.id)
            )
        ]


async def submitted_kube_and_uep(rt):
    """KUBE Melati (5 members, submitted) and one UEP application, through the chat."""
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
    async with rt.db.tx(write=False) as c:
        assert await c.scalar(sa.select(kube_groups.c.status)) == "DIAJUKAN"


async def test_kube_and_uep_scoping_roles_and_decisions(db_url):
    async with dash(db_url) as (rt, client):
        await submitted_kube_and_uep(rt)
        # An operator of another kelurahan sees nothing of it: 404 like a missing id.
        await login(client, "citra")
        html = await (await client.get("/kube?status=DIAJUKAN")).text()
        assert "Melati" not in html and "Tidak ada KUBE" in html
        assert (await client.get("/kube/1")).status == 404
        assert (await client.get("/uep/1")).status == 404
        assert "Joko" not in await (await client.get("/uep")).text()
        # The kelurahan's own operator sees it, names shortened and NIKs masked, no decision.
        await login(client, "dina")
        r = await client.get("/kube/1")
        html = await r.text()
        assert r.status == 200 and "Siti R." in html and "Siti Rahmawati" not in html
        assert PEOPLE["siti"][0] not in html and "3271 05•• •••• 0011" in html
        assert "/kube/1/approve" not in html and "verifikator atau admin" in html
        assert "Joko S." in await (await client.get("/uep")).text()
        r = await client.post("/kube/1/approve", data={"_csrf": hidden(html)})
        assert r.status == 403
        prog = await (await client.get("/program")).text()
        assert "/kube" in prog and "/trainings" in prog
        # The verifikator decides. No token: refused, nothing happens.
        await login(client, "budi")
        html = await (await client.get("/kube/1")).text()
        token = hidden(html)
        assert (await client.post("/kube/1/approve", data={})).status == 403
        r = await client.post("/kube/1/reject", data={"_csrf": token, "reason": "   "})
        assert r.status == 400 and "Alasan penolakan wajib diisi" in await r.text()
        long = "x" * 300
        r = await client.post("/kube/1/reject", data={"_csrf": token, "reason": long})
        assert r.status == 400 and long in await r.text()  # what was typed is kept
        before = len(rt.transport.sent)
        r = await client.post("/kube/1/approve", data={"_csrf": token}, allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == "/kube/1?ok=approve"
        await rt.outbox.idle()
        told = [p["text"] for _a, p in rt.transport.sent[before:]]
        assert len(told) == 5 and all("Dinsos menyetujui KUBE Melati" in t for t in told)
        assert "Disetujui" in await (await client.get("/kube/1?ok=approve")).text()
        r = await client.post("/kube/1/reject", data={"_csrf": token, "reason": "dobel"})
        assert r.status == 409 and "tidak ada yang diubah" in await r.text()
        assert await audits(rt, "kube.") == [("staff:budi", "kube.approve", "kube:1")]
        # UEP: rejected with a reason the applicant reads.
        before = len(rt.transport.sent)
        r = await client.post(
            "/uep/1/reject", data={"_csrf": token, "reason": "Kuota habis"}, allow_redirects=False
        )
        assert r.status == 302
        await rt.outbox.idle()
        [(addr, msg)] = rt.transport.sent[before:]
        assert addr == "joko" and "Kuota habis" in msg["text"]
        assert (await client.post("/uep/1/approve", data={"_csrf": token})).status == 409
        assert await audits(rt, "uep.") == [("staff:budi", "uep.reject", "uep:1")]
        assert (await client.get("/kube/99")).status == 404


async def test_trainings_create_edit_participants_and_csv(db_url):
    async with dash(db_url) as (rt, client):
        sid = await add_session(rt, quota=1)
        for who in ("siti", "budi"):
            c = await matched(rt, who, "m:training")
            await c.tap(f"t:{sid}")
            await c.tap("t:reg")
        # An operator sees the city's trainings and participants but changes nothing.
        await login(client, "citra")
        html = await (await client.get("/trainings")).text()
        assert "Menjahit dasar" in html and "/trainings/new" not in html
        assert (await client.get("/trainings/new")).status == 403
        assert (await client.get(f"/trainings/{sid}/participants.csv")).status == 403
        r = await client.post(
            f"/trainings/{sid}/edit",
            data={"_csrf": hidden(html), "title": "x", "organiser": "x", "place": "x"},
        )
        assert r.status == 403
        # The admin: a bad form keeps what was typed and says what is wrong, in Indonesian.
        await login(client, "ani")
        token = await csrf(client, "/trainings/new")
        form = {
            "_csrf": token,
            "title": "Barista pemula",
            "sector": "barista",
            "organiser": "BLK Bogor",
            "kecamatan": "Bogor Utara",
            "place": "Gedung Pemuda",
            "start": "2026-12-20 09:00",
            "days": "3",
            "quota": "nol",
            "deadline": "2026-12-10",
            "desil_max": "5",
            "age": "18-45",
            "priority": "1",
            "notes": "Bawa KTP",
        }
        r = await client.post("/trainings/new", data=form)
        html = await r.text()
        assert r.status == 400 and "Kuota:" in html and 'value="Barista pemula"' in html
        assert "Bawa KTP" in html
        r = await client.post("/trainings/new", data=dict(form, quota="15"), allow_redirects=False)
        assert r.status == 302
        new_id = int(re.search(r"/trainings/(\d+)/", r.headers["Location"]).group(1))
        async with rt.db.tx(write=False) as c:
            s = await c.scalar(
                sa.select(training_sessions.c.priority).where(training_sessions.c.id == new_id)
            )
        assert s is True
        # Edit: only the safe fields; an empty title is refused, the text kept.
        r = await client.post(
            f"/trainings/{sid}/edit",
            data={
                "_csrf": token,
                "title": "",
                "organiser": "LPK Baru",
                "place": "Aula RW 2",
                "notes": "",
            },
        )
        assert r.status == 400 and "Judul: wajib diisi" in await r.text()
        r = await client.post(
            f"/trainings/{sid}/edit",
            data={
                "_csrf": token,
                "title": "Menjahit lanjutan",
                "organiser": "LPK Maju",
                "place": "Aula RW 2",
                "notes": "",
                "quota": "99",
            },
            allow_redirects=False,
        )
        assert r.status == 302
        async with rt.db.tx(write=False) as c:
            s = (
                await c.execute(sa.select(training_sessions).where(training_sessions.c.id == sid))
            ).one()
        assert (s.title, s.place, s.quota) == ("Menjahit lanjutan", "Aula RW 2", 1)
        html = await (await client.get(f"/trainings/{sid}/participants")).text()
        assert "Siti Rahmawati" in html and "Diterima" in html and "Cadangan #1" in html
        assert PEOPLE["siti"][0] not in html
        r = await client.get(f"/trainings/{sid}/participants.csv")
        body = (await r.read()).decode("utf-8-sig")
        lines = body.strip().splitlines()
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
        assert lines[0].startswith("kode,status,urutan_cadangan,nama,nik")
        assert "DITERIMA" in lines[1] and "Siti Rahmawati" in lines[1]
        assert "CADANGAN,1,Budi Santoso" in lines[2]
        assert PEOPLE["siti"][0] not in body and PEOPLE["budi"][0] not in body
        assert [a[1] for a in await audits(rt, "training.")] == [
            "training.add",
            "training.edit",
            "training.export",
        ]
        assert all(a[0] == "staff:ani" for a in await audits(rt, "training."))
        assert (await client.get("/trainings/99/participants")).status == 404


async def test_rt_invite_shows_code_once_and_revoke_is_scoped(db_url):
    async with dash(db_url) as (rt, client):
        await login(client, "dina")
        html = await (await client.get("/rt")).text()
        token = hidden(html)
        assert "Belum ada ketua RT" in html
        r = await client.post(
            "/rt/invite", data={"_csrf": token, "kelurahan": TEGAL_GUNDIL, "rw": "abc", "rt": "3"}
        )
        html = await r.text()
        assert r.status == 400 and "RW harus angka" in html and 'value="abc"' in html
        r = await client.post(
            "/rt/invite", data={"_csrf": token, "kelurahan": OTHER_KEL, "rw": "1", "rt": "1"}
        )
        assert r.status == 400 and "kelurahan Anda" in await r.text()
        r = await client.post(
            "/rt/invite", data={"_csrf": token, "kelurahan": TEGAL_GUNDIL, "rw": "7", "rt": "3"}
        )
        html = await r.text()
        code = re.search(r"RT-[0-9A-Z]{4}-[0-9A-Z]{4}", html).group(0)
        assert r.status == 200 and "tidak akan ditampilkan lagi" in html
        assert code not in await (await client.get("/rt")).text()  # shown once
        async with rt.db.tx(write=False) as c:
            row = (await c.execute(sa.select(rt_heads))).one()
        assert (row.status, row.rw, row.rt, row.created_by) == (
            "DIUNDANG",
            "007",
            "003",
            "staff:dina",
        )
        assert code not in row.code_hash
        # The head activates it from the chat.
        from tests.chatkit import Chat

        head = Chat(rt, "pakrt")
        await head.onboard()
        await head.send(code)
        async with rt.db.tx(write=False) as c:
            assert await c.scalar(sa.select(rt_heads.c.status)) == "AKTIF"
        # Another kelurahan's operator cannot see or revoke it.
        await login(client, "citra")
        html = await (await client.get("/rt")).text()
        assert "RT 3 RW 7" not in html
        r = await client.post(f"/rt/{row.id}/revoke", data={"_csrf": hidden(html)})
        assert r.status == 404
        await login(client, "budi")
        html = await (await client.get("/rt")).text()
        assert "RT 3 RW 7" in html and "Aktif" in html
        assert (await client.post(f"/rt/{row.id}/revoke", data={})).status == 403
        r = await client.post(
            f"/rt/{row.id}/revoke", data={"_csrf": hidden(html)}, allow_redirects=False
        )
        assert r.status == 302
        r = await client.post(f"/rt/{row.id}/revoke", data={"_csrf": hidden(html)})
        assert r.status == 409
        assert "RT 3 RW 7" not in await (await client.get("/rt")).text()
        assert "RT 3 RW 7" in await (await client.get("/rt?all=1")).text()
        assert await audits(rt, "rt.") == [
            ("staff:dina", "rt.invite", f"rt_heads:{row.id}"),
            (f"conversation:{await _conv_id(rt)}", "rt.activate", f"rt_heads:{row.id}"),
            ("staff:budi", "rt.revoke", f"rt_heads:{row.id}"),
        ]


async def _conv_id(rt):
    from db.schema import conversations

    async with rt.db.tx(write=False) as c:
        return await c.scalar(
            sa.select(conversations.c.id).where(conversations.c.user_key == "test:pakrt")
        )


def _upload(token, content: bytes, name="dtsen.csv", data_date="2026-11-01"):
    form = FormData()
    form.add_field("_csrf", token)
    form.add_field("data_date", data_date)
    form.add_field("file", content, filename=name, content_type="text/csv")
    return form


async def _import_job(rt, client, form) -> str:
    """Upload; the answer is a redirect to the job's page; its page once the job ended."""
    from web.keys import IMPORT_JOBS

    r = await client.post("/imports", data=form, allow_redirects=False)
    assert r.status == 303, await r.text()
    job_id = int(r.headers["Location"].rsplit("/", 1)[1])
    await asyncio.wait_for(rt.web[IMPORT_JOBS].wait(job_id), 60)
    return await (await client.get(r.headers["Location"])).text()


async def test_dtsen_import_admin_only_all_or_nothing(db_url):
    async with dash(db_url) as (rt, client):
        await login(client, "budi")
        assert (await client.get("/imports")).status == 403
        html = await (await client.get("/")).text()
        assert "/imports" not in html
        r = await client.post("/imports", data=_upload(hidden(html), SMALL_CSV.read_bytes()))
        assert r.status == 403
        async with rt.db.tx(write=False) as c:
            people_before = await c.scalar(sa.select(sa.func.count()).select_from(people))
        await login(client, "ani")
        html = await (await client.get("/imports")).text()
        token = hidden(html)
        assert "Impor DTSEN" in html and "Belum ada impor" not in html  # the test world's import
        # Without the token: refused.
        form = FormData()
        form.add_field("file", SMALL_CSV.read_bytes(), filename="dtsen.csv")
        assert (await client.post("/imports", data=form)).status == 403
        # One bad row: nothing imported, the row's error shown, no NIK on the page.
        lines = SMALL_CSV.read_text(encoding="utf-8").splitlines()
        bad = lines[:]
        bad[2] = bad[2].replace(",P,1981-07-05,", ",X,1981-07-05,")
        html = await _import_job(rt, client, _upload(token, "\n".join(bad).encode()))
        assert 'data-state="failed"' in html
        assert "Tidak ada yang diimpor" in html and "baris 3:" in html
        assert "3271014507810003" not in html
        async with rt.db.tx(write=False) as c:
            assert await c.scalar(sa.select(sa.func.count()).select_from(people)) == people_before
            assert await c.scalar(sa.select(sa.func.count()).select_from(data_imports)) == 1
        # Form problems keep the date and say what is wrong.
        r = await client.post("/imports", data=_upload(token, b"", data_date="2026-11-02"))
        html = await r.text()
        assert r.status == 400 and "Berkas kosong" in html and "2026-11-02" in html
        r = await client.post("/imports", data=_upload(token, b"x", data_date="kemarin"))
        assert r.status == 400 and "YYYY-MM-DD" in await r.text()
        # A good file is imported; the history shows it with the officer.
        html = await _import_job(
            rt, client, _upload(token, SMALL_CSV.read_bytes(), name="dtsen-kecil.csv")
        )
        assert "Impor selesai" in html and "staff:ani" in html
        async with rt.db.tx(write=False) as c:
            assert await c.scalar(sa.select(sa.func.count()).select_from(people)) > people_before
            last = (
                await c.execute(sa.select(data_imports).order_by(data_imports.c.id.desc()))
            ).first()
        assert (last.actor, last.file_name) == ("staff:ani", "dtsen-kecil.csv")
        assert [a[1] for a in await audits(rt, "import-dtsen")] == [
            "import-dtsen",
            "import-dtsen.refused",
            "import-dtsen",
        ]


def test_uploaded_file_names_stay_inside_the_work_directory():
    from web.imports import _safe_name

    assert _safe_name("../../etc/passwd") == "passwd"
    assert _safe_name("C:\\data\\dtsen kecil.csv") == "dtsen_kecil.csv"
    assert _safe_name("..") == "dtsen.csv"


async def test_every_page_renders_for_each_role(db_url):
    async with dash(db_url) as (rt, client):
        await add_session(rt)
        pages = [
            "/program",
            "/kube",
            "/kube?status=DRAFT",
            "/kube?status=DITOLAK",
            "/uep",
            "/uep?status=DISETUJUI",
            "/trainings",
            "/trainings?past=1",
            "/trainings/1/participants",
            "/rt",
            "/rt?all=1",
        ]
        for user in ("ani", "budi", "citra"):
            await login(client, user)
            for page in pages:
                r = await client.get(page)
                html = await r.text()
                assert r.status == 200, (user, page, r.status)
                assert "https://" not in html and "http://" not in html
            nav = await (await client.get("/")).text()
            assert ('href="/imports"' in nav) is (user == "ani")
            assert 'href="/program"' in nav and 'href="/rt"' in nav
        await login(client, "ani")
        for page in ("/imports", "/trainings/new", "/trainings/1/edit"):
            assert (await client.get(page)).status == 200, page


async def test_an_upload_over_the_limit_is_a_polite_page(db_url):
    async with dash(db_url) as (rt, client):
        await login(client, "ani")
        token = await csrf(client, "/imports")
        r = await client.post("/imports", data=_upload(token, b"x" * (3 * 1024 * 1024)))
        assert r.status == 413 and "Berkas terlalu besar" in await r.text()
        async with rt.db.tx(write=False) as c:
            assert await c.scalar(sa.select(sa.func.count()).select_from(data_imports)) == 1
