"""Following a report (issue #12): a ticket code typed anywhere shows the report to its reporter
(or the ketua RT who filed it) and to nobody else; "Laporan saya" lists the reports with a
detail view; what the detail never shows."""

from __future__ import annotations

import sqlalchemy as sa

from conversations.guesses import CODE_LIMIT
from db import rt_store
from db.schema import conversations, households, reports
from domain import reports as R
from services import reports as ops
from services.rt import invite
from tests.chatkit import KK_1, NIK_1, Chat, Clock, running

TEGAL_GUNDIL = "3271051005"  # tests/data/dtsen_small.csv: household 1, RW 7 RT 3
NEIGHBOUR_NIK, NEIGHBOUR_KK = "3271051505900009", "3271051505200001"


# --- helpers ---------------------------------------------------------------------------------


async def conversation_id(rt, chat: Chat) -> int:
    async with rt.db.tx(write=False) as c:
        return await c.scalar(
            sa.select(conversations.c.id).where(conversations.c.user_key == f"test:{chat.user}")
        )


async def household_1(rt) -> int:
    async with rt.db.tx(write=False) as c:
        return await c.scalar(sa.select(households.c.id).where(households.c.no_kk == KK_1))


async def file_report(rt, conv: int | None, **kw) -> str:
    """A report as the flows make it (services.reports.create_report), by conversation `conv`."""
    fields = dict(
        category=R.USUL,
        kelurahan_code=TEGAL_GUNDIL,
        rw="007",
        rt="003",
        reporter_conversation_id=conv,
        target_name="Ibu Onah",
        target_address="Jl. Cemara No. 4",
        reason="income",
    )
    fields.update(kw)
    async with rt.db.tx() as c:
        made = await ops.create_report(
            c,
            ops.NewReport(**fields),
            now=rt.outbox.clock(),
            verification_days=14,
            rt_answer_days=3,
        )
    # as the flows do: the message to the ketua RT is sent now, not by a poll in a later reply
    rt.outbox.notify(list(made.notified))
    await rt.outbox.idle()
    return made.code


async def move(rt, code: str, to: str, **kw) -> None:
    """A staff move, as the dashboard makes it: the reporters' notifications are sent (and
    collected by the chats) before the test goes on, not mixed into the next reply."""
    async with rt.db.tx() as c:
        r = await ops.by_code(c, code)
        ids = await ops.move(c, r, to, now=rt.outbox.clock(), actor="staff:ani", **kw)
    rt.outbox.notify(ids)
    await rt.outbox.idle()


async def onboarded(rt, user: str, locale: str = "id") -> tuple[Chat, int]:
    chat = Chat(rt, user, locale_hint=locale)
    await chat.onboard(locale)
    return chat, await conversation_id(rt, chat)


def unknown_code(code: str) -> str:
    """Another valid code, surely not in the database."""
    other = "LPR-" + ("WXYQ" if code[4:8] != "WXYQ" else "QYXW") + code[8:]
    assert R.normalize_code(other) == other
    return other


# --- a code typed at the menu ----------------------------------------------------------------


async def test_the_reporter_types_the_code_any_way_and_sees_state_history_and_next_step(db_url):
    clock = Clock()  # 23 November 2026, 10.00 WIB
    async with running(db_url, clock=clock) as rt:
        chat, me = await onboarded(rt, "warga")
        code = await file_report(rt, me)
        clock.advance(days=2, hours=4, minutes=30)
        await move(rt, code, R.VERIFIKASI_DINSOS)
        variants = [
            code,
            code.lower(),
            code.replace("-", " "),
            code.replace("-", ""),
            f"lpr {code[4:8].lower()}-{code[9:]}",
            f"bagaimana laporan saya {code.lower()}?",
        ]
        for typed in variants:
            [detail] = await chat.send(typed)
            text = detail["text"]
            assert f"Laporan {code}" in text, typed
            assert "Jenis: Usulan" in text and "Status: diperiksa Dinsos" in text
            assert "Tentang: Ibu Onah" in text
            # history in WIB, oldest first
            assert "• 23 November 2026 pukul 10.00 WIB: diterima" in text
            assert "• 25 November 2026 pukul 14.30 WIB: diperiksa Dinsos" in text
            assert text.index("pukul 10.00") < text.index("pukul 14.30")
            # the next step and its date: created + [sla].verification_days (14)
            assert "Berikutnya: Dinsos memeriksa laporan Anda paling lambat 7 Desember 2026" in text
            assert [c[0] for c in detail["choices"]] == ["m:myreports", "g:menu"]
        # the conversation rests at the menu: the next text is the menu's again
        [menu] = await chat.send("menu")
        assert "m:check" in [c[0] for c in menu["choices"]]


async def test_a_stranger_gets_exactly_the_answer_of_an_unknown_code(db_url):
    async with running(db_url) as rt:
        owner, me = await onboarded(rt, "owner")
        code = await file_report(rt, me, target_nik=NEIGHBOUR_NIK)
        stranger, _ = await onboarded(rt, "stranger")
        [theirs] = await stranger.send(code)
        other = unknown_code(code)
        [unknown] = await stranger.send(other)
        assert theirs["text"] == unknown["text"].replace(other, code)
        assert theirs["choices"] == unknown["choices"]
        assert "tidak ditemukan" in theirs["text"]
        for word in ("Ibu Onah", "Usulan", "diterima", "Berikutnya", NEIGHBOUR_NIK):
            assert word not in theirs["text"]
        # the same question, one statement: the lookup by code is a single query either way,
        # and neither answer reads the history (timing)
        seen: list[str] = []

        def record(conn, cursor, statement, *a):
            seen.append(statement)

        eng = rt.db.engine or rt.db.aengine.sync_engine
        for typed in (code, other):
            seen.clear()
            sa.event.listen(eng, "before_cursor_execute", record)
            try:
                await stranger.send(typed)
            finally:
                sa.event.remove(eng, "before_cursor_execute", record)
            assert len([s for s in seen if "reports.code =" in s]) == 1
            assert not [s for s in seen if "ORDER BY report_events.at" in s]
        # the owner still sees it
        [mine] = await owner.send(code)
        assert f"Laporan {code}" in mine["text"]


async def test_wrong_codes_are_limited_per_conversation(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        chat, me = await onboarded(rt, "guesser")
        code = await file_report(rt, me)
        for _ in range(CODE_LIMIT):
            [no] = await chat.send(unknown_code(code))
            assert "tidak ditemukan" in no["text"]
        [locked] = await chat.send(code)  # even the right code waits now
        assert "Terlalu banyak kode" in locked["text"] and "WIB" in locked["text"]
        assert "Laporan " + code not in locked["text"]
        # the list's buttons still open the own reports (they only carry codes shown here)
        await chat.tap("m:myreports")
        [detail] = await chat.tap(f"m:lpr:{code}")
        assert f"Laporan {code}" in detail["text"]
        other, _ = await onboarded(rt, "other")  # another conversation is not affected
        [no] = await other.send(unknown_code(code))
        assert "tidak ditemukan" in no["text"]
        clock.advance(hours=1, minutes=1)
        [detail] = await chat.send(code)
        assert f"Laporan {code}" in detail["text"]


# --- a code typed mid-flow -------------------------------------------------------------------


async def test_a_code_mid_flow_asks_to_switch_and_is_never_stored_as_an_answer(db_url):
    async with running(db_url) as rt:
        chat, me = await onboarded(rt, "mid")
        code = await file_report(rt, me)
        # a free-text step: the name of the family proposed
        await chat.tap("m:report")
        await chat.tap("r:usul")
        [ask_name] = await chat.tap("r:other")
        [switch] = await chat.send(code.lower())
        assert f"Lihat laporan {code}?" in switch["text"] and "tidak disimpan" in switch["text"]
        assert [c[0] for c in switch["choices"]] == [f"n:lpr:{code}", "n:none"]
        [again] = await chat.tap("n:none")  # continue: the same step is asked again
        assert again["text"] == ask_name["text"]
        await chat.send(code)
        [detail] = await chat.tap(f"n:lpr:{code}")
        assert f"Laporan {code}" in detail["text"]
        async with rt.db.tx(write=False) as c:
            names = [r[0] for r in await c.execute(sa.select(reports.c.target_name))]
        assert names == ["Ibu Onah"]  # nothing new was filed under the code as a name
        # a step that asks for a NIK: the code is not a NIK; the same question
        await chat.tap("m:check")
        [switch] = await chat.send(f"cek {code}")
        assert f"n:lpr:{code}" in [c[0] for c in switch["choices"]]
        # a stranger mid-flow may ask too, and gets the unknown answer
        stranger, _ = await onboarded(rt, "stranger2")
        await stranger.tap("m:check")
        await stranger.send(code)
        [no] = await stranger.tap(f"n:lpr:{code}")
        assert "tidak ditemukan" in no["text"]


async def test_in_a_story_only_a_bare_code_asks_a_code_inside_the_story_is_the_story(db_url):
    from tests.kubekit import matched, world

    async with world(db_url) as rt:
        siti = await matched(rt, "siti", "m:uep")  # UEP asks for the business in own words
        me = await conversation_id(rt, siti)
        code = await file_report(rt, me)
        [switch] = await siti.send(code)
        assert f"n:lpr:{code}" in [c[0] for c in switch["choices"]]
        await siti.tap("n:none")
        await siti.send(f"Jualan gorengan, dulu lapor {code}")
        assert "d:1to3" in siti.choices  # kept as the answer: the next step is asked


# --- "Laporan saya" --------------------------------------------------------------------------


async def test_my_reports_lists_newest_first_with_a_button_each_and_pages(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        chat, me = await onboarded(rt, "many")
        [empty] = await chat.tap("m:myreports")
        assert "belum punya laporan" in empty["text"]
        assert [c[0] for c in empty["choices"]] == ["m:report", "g:menu"]
        codes = []
        for i in range(10):
            codes.append(
                await file_report(
                    rt,
                    me,
                    target_name=f"Keluarga {i}",
                    category=R.SANGGAH if i % 2 else R.USUL,
                    reason="wealthy" if i % 2 else "income",
                )
            )
            clock.advance(hours=1)
        await move(rt, codes[9], R.SELESAI, outcome=R.DITOLAK, note="bukan warga Kota Bogor")
        [page1] = await chat.tap("m:myreports")
        newest = list(reversed(codes))
        lines = [ln for ln in page1["text"].splitlines() if ln.startswith("• ")]
        assert [ln.split(" · ")[0][2:] for ln in lines] == newest[:8]
        assert lines[0] == f"• {codes[9]} · sanggah · selesai: tidak diterima"
        assert lines[1] == f"• {codes[8]} · usul · diterima"
        ids = [c[0] for c in page1["choices"]]
        assert ids == [f"m:lpr:{c}" for c in newest[:8]] + ["m:myreports:8", "g:menu"]
        assert page1["choices"][0][1] == codes[9]  # the label is the code
        [page2] = await chat.tap("m:myreports:8")
        assert [c[0] for c in page2["choices"]] == [f"m:lpr:{c}" for c in newest[8:]] + ["g:menu"]
        [gone] = await chat.tap("m:myreports:80")  # past the end: the first page
        assert gone["text"] == page1["text"]
        # a button opens the detail; its buttons go back to the list and to the menu
        [detail] = await chat.tap(f"m:lpr:{codes[9]}")
        assert f"Laporan {codes[9]}" in detail["text"]
        assert "Alasan: bukan warga Kota Bogor" in detail["text"]
        assert [c[0] for c in detail["choices"]] == ["m:myreports", "g:menu"]
        [back] = await chat.tap("m:myreports")
        assert back["text"] == page1["text"]
        # typing the number of a button picks it, as everywhere
        [by_number] = await chat.send("2")
        assert f"Laporan {codes[8]}" in by_number["text"]
        # a button of an older message still works, from anywhere
        await chat.tap("m:check")
        [old] = await chat.tap(f"m:lpr:{codes[0]}")
        assert f"Laporan {codes[0]}" in old["text"]
        # a made-up button opens nothing of anyone else's
        stranger, _ = await onboarded(rt, "forger")
        [no] = await stranger.tap(f"m:lpr:{codes[0]}")
        assert "tidak ditemukan" in no["text"] and "Keluarga" not in no["text"]


# --- what the detail never shows -------------------------------------------------------------


async def test_the_detail_masks_numbers_and_hides_other_reporters(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        first, me = await onboarded(rt, "first")
        second, them = await onboarded(rt, "second")
        code = await file_report(
            rt,
            me,
            category=R.SANGGAH,
            reason="wealthy",
            target_name="Dadang Hidayat",
            target_nik=NEIGHBOUR_NIK,
            target_kk=NEIGHBOUR_KK,
            detail=f"NIK-nya {NEIGHBOUR_NIK}",
        )
        clock.advance(hours=2)
        merged = await file_report(
            rt,
            them,
            category=R.SANGGAH,
            reason="wealthy",
            target_name="dadang  hidayat",
            detail="Saya Bu Tini, tetangganya",
        )
        assert merged == code
        clock.advance(days=1)
        await move(rt, code, R.VERIFIKASI_DINSOS)
        await move(rt, code, R.SELESAI, outcome=R.DITOLAK, note=f"Data {NEIGHBOUR_NIK} sudah benar")
        [mine] = await first.send(code)
        [theirs] = await second.send(code)
        for text in (mine["text"], theirs["text"]):
            assert NEIGHBOUR_NIK not in text and NEIGHBOUR_KK not in text
            assert "Alasan: Data" in text and "sudah benar" in text  # the reason, masked
            assert "staff" not in text and "ani" not in text  # never who acted
            for hidden in ("Bu Tini", "tetangganya", "Desil", "desil", "PKH", "BPNT"):
                assert hidden not in text
        # the first reporter is not told that someone else reported too
        assert "digabungkan" not in mine["text"] and "Tentang: Dadang Hidayat" in mine["text"]
        # the merged reporter sees their own merge, not the first reporter's words
        assert "laporan Anda digabungkan ke laporan ini" in theirs["text"]
        assert "Dadang" not in theirs["text"] and "Tentang" not in theirs["text"]
        # both list it
        [lst] = await second.tap("m:myreports")
        assert code in lst["text"]


async def test_own_household_report_says_so_and_shows_no_desil_or_programs(db_url):
    async with running(db_url) as rt:
        chat, me = await onboarded(rt, "own")
        hid = await household_1(rt)
        code = await file_report(
            rt, me, category=R.KOREKSI, household_id=hid, target_name=None, reason="born"
        )
        [detail] = await chat.send(code)
        assert "Tentang: keluarga Anda sendiri" in detail["text"]
        for hidden in (NIK_1, KK_1, "Asep", "Desil", "desil", "PKH", "BPNT"):
            assert hidden not in detail["text"]


# --- the ketua RT ----------------------------------------------------------------------------


async def test_the_ketua_rt_who_filed_it_follows_it_and_the_rt_step_shows(db_url):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        head_chat, head_conv = await onboarded(rt, "pakrt")
        async with rt.db.tx() as c:
            head_id, _invite = await invite(
                c, kelurahan_code=TEGAL_GUNDIL, rw="007", rt_no="003", actor="ani", now=clock()
            )
            assert await rt_store.activate(c, head_id, head_conv, clock())
        # filed by the head for a neighbour; the report row names no conversation (as for a
        # report filed from the head's earlier phone): the head follows it by the create event
        code = await file_report(
            rt,
            None,
            reporter_role="rt",
            actor=f"rt:{head_id}",
            rt_head_id=head_id,
            target_name="Mak Icih",
        )
        [detail] = await head_chat.send(code)
        assert f"Laporan {code}" in detail["text"]
        # a resident's report in the same RT waits for the head: the next step names the date
        resident, me = await onboarded(rt, "warga")
        other = await file_report(rt, me, target_name="Pak Ujang")
        [wait] = await resident.send(other)
        assert "Status: menunggu ketua RT" in wait["text"]
        assert (
            "ketua RT diminta memastikan laporan ini paling lambat 26 November 2026" in wait["text"]
        )
        [no] = await head_chat.send(other)  # the head did not file it: unknown to them
        assert "tidak ditemukan" in no["text"]
        clock.advance(days=3, minutes=1)
        async with rt.db.tx() as c:
            ids = await ops.forward_unanswered(c, clock(), rt.deps)
        # as the scheduler does: the job's messages go now (the reply below comes after them)
        rt.outbox.notify(ids)
        await rt.outbox.idle()
        [later] = await resident.send(other)
        assert "ketua RT belum menjawab sampai batas waktu; diperiksa Dinsos" in later["text"]
        # past Dinsos's own date: an apology and a way to an officer
        clock.advance(days=12)
        [late] = await resident.send(other)
        assert "lebih lama dari rencana (7 Desember 2026)" in late["text"]
        assert [c[0] for c in late["choices"]] == ["m:myreports", "g:contact", "g:menu"]


# --- another language ------------------------------------------------------------------------


async def test_english_detail(db_url):
    async with running(db_url) as rt:
        chat, me = await onboarded(rt, "en", "en")
        code = await file_report(rt, me)
        [detail] = await chat.send(code)
        assert f"Report {code}" in detail["text"] and "Kind: Proposal (usul)" in detail["text"]
        assert "• 23 November 2026 at 10:00 WIB: received" in detail["text"]
        [no] = await chat.send(unknown_code(code))
        assert "We found no report" in no["text"]
