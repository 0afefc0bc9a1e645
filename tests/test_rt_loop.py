"""Ketua RT in the loop (docs/rt.md): a report of the RT reaches its head at once, with answer
buttons that work from any step whenever tapped, an optional note, a reminder the day before the
answer is due (sent once), the automatic forward after [sla].rt_answer_days, and the answer in the
report's history (dashboard page and `reports show`). A head's own report asks nobody."""

from __future__ import annotations

import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from db.schema import conversations, report_events, reports
from services.staff import add_staff
from tests.chatkit import KK_1, NIK_1, Chat, Clock, running
from tests.test_reports import (
    KK_2,
    NIK_2,
    all_reports,
    code_in,
    flush,
    invite_head,
    matched,
    run_cli,
    usul_own,
)
from tests.test_web_auth import PASSWORD, login

SECRETS = ("Desil", "desil", "PKH", "BPNT", "PBI", NIK_1, KK_1, "3271 05", "3271051")


async def active_head(rt, capsys, user="pak-rt") -> Chat:
    code = await invite_head(rt, capsys)
    head = Chat(rt, user)
    await head.onboard()
    await head.send(code)
    return head


def sent_to(rt, user: str) -> list[dict]:
    return [p for a, p in rt.transport.sent if a == user]


async def events_of(rt, report_id: int) -> list:
    async with rt.db.tx(write=False) as c:
        return (
            await c.execute(
                sa.select(report_events)
                .where(report_events.c.report_id == report_id)
                .order_by(report_events.c.id)
            )
        ).all()


async def usul_with_words(chat: Chat, words: str) -> str:
    """An usul for the resident's own household, reason "other" with their words."""
    await chat.tap("m:report")
    await chat.tap("r:usul")
    await chat.tap("r:own")
    await chat.tap("r:why:other")
    for _ in range(6):  # the words, then skip what else is asked (photo, location ...)
        if "r:send" in chat.choices:
            break
        if "r:skip" in chat.choices and words is None:
            await chat.tap("r:skip")
        else:
            await chat.send(words)
            words = None
    [done, _phone] = await chat.tap("r:send")  # then: may an officer call?
    return code_in(done["text"])


async def test_head_is_told_at_once_and_answers_from_another_flow(db_url, capsys):
    async with running(db_url) as rt:
        head = await active_head(rt, capsys)
        before = len(sent_to(rt, "pak-rt"))
        resident = Chat(rt, "warga")
        await matched(resident)
        code = await usul_with_words(resident, "Suami saya baru kena PHK bulan lalu")
        [r] = await all_reports(rt)
        assert r.state == "VERIFIKASI_RT"
        # The head got the message at once, in their own chat, in Indonesian.
        [told] = sent_to(rt, "pak-rt")[before:]
        text = told["text"]
        assert "Untuk ketua RT" in text and code in text
        assert "Asep Suryana" in text and "Alasan lain" in text
        assert "Suami saya baru kena PHK bulan lalu" in text
        assert "Tanpa jawaban, laporan diteruskan ke Dinsos" in text
        for secret in SECRETS:
            assert secret not in text, secret
        assert [c[0] for c in told["choices"]] == [
            f"rt:yes:{r.id}",
            f"rt:no:{r.id}",
            f"rt:unk:{r.id}",
        ]
        assert [c[1] for c in told["choices"]] == ["Benar", "Tidak benar", "Tidak tahu"]
        # The head is somewhere else in the bot (the report flow's first question) and taps.
        await head.tap("g:menu")
        await head.tap("m:report")
        assert "r:usul" in head.choices
        [asked] = await head.tap(f"rt:no:{r.id}")
        assert f'Jawaban Anda "Tidak benar" untuk laporan {code} sudah dikirim' in asked["text"]
        assert "Apa yang tidak benar?" in asked["text"] and head.choices == ["t:skip"]
        [back] = await head.send("Pak Asep masih bekerja di pabrik")
        assert "Catatan Anda sudah ditambahkan" in back["text"]
        assert "r:usul" in head.choices  # back where the head was
        [r] = await all_reports(rt)
        assert (r.state, r.rt_opinion) == ("VERIFIKASI_DINSOS", "TIDAK_SETUJU")
        got = [(e.action, e.note) for e in await events_of(rt, r.id)]
        assert ("rt_notify", "Dikirim ke ketua RT") in got
        assert ("rt_dispute", None) in got
        assert got[-1] == ("rt_note", "Pak Asep masih bekerja di pabrik")
        assert any("sedang diperiksa Dinsos" in p["text"] for p in sent_to(rt, "warga"))
        # The button once more: the report no longer waits.
        again, *_ = await head.tap(f"rt:yes:{r.id}")
        assert "tidak lagi menunggu jawaban Anda" in again["text"]
        # The history in `reports show` and on the dashboard page.
        capsys.readouterr()
        assert await run_cli(rt, "reports", "show", code) == 0
        out = capsys.readouterr().out
        assert "rt_dispute" in out and "Pak Asep masih bekerja di pabrik" in out
        assert "TIDAK_SETUJU" in out
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
            await login(client, user="budi")
            html = await (await client.get(f"/reports/{code}")).text()
        finally:
            await client.close()
        for want in (
            "Dikirim ke ketua RT",
            "Ketua RT tidak setuju",
            "Catatan ketua RT",
            "Pak Asep masih bekerja di pabrik",
        ):
            assert want in html, want


async def test_a_button_tapped_a_day_later_still_works(db_url, capsys):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        head = await active_head(rt, capsys)
        resident = Chat(rt, "warga")
        await matched(resident)
        await usul_own(resident)
        [r] = await all_reports(rt)
        await head.tap("g:menu")
        await head.tap("m:check")  # left in the middle of a check
        clock.advance(days=1)
        [asked] = await head.tap(f"rt:unk:{r.id}")
        assert '"Tidak tahu"' in asked["text"] and "Bila perlu" in asked["text"]
        [done] = await head.tap("t:skip")  # idle before: the RT list, not the old step
        assert "Tidak ada laporan yang menunggu" in done["text"]
        [r] = await all_reports(rt)
        assert (r.state, r.rt_opinion) == ("VERIFIKASI_DINSOS", "TIDAK_TAHU")
        assert "rt_note" not in [e.action for e in await events_of(rt, r.id)]


async def test_waiting_list_uses_the_same_buttons(db_url, capsys):
    async with running(db_url) as rt:
        head = await active_head(rt, capsys)
        resident = Chat(rt, "warga")
        await matched(resident)
        await usul_own(resident)
        [r] = await all_reports(rt)
        await head.tap("g:menu")
        await head.tap("m:rt")
        await head.tap("t:wait")
        await head.tap(f"t:r:{r.id}")
        assert head.choices == [f"rt:yes:{r.id}", f"rt:no:{r.id}", f"rt:unk:{r.id}", "t:wait"]
        await head.tap(f"rt:yes:{r.id}")
        [done] = await head.send("lewati")
        assert "Tidak ada laporan yang menunggu" in done["text"]  # back to the RT list
        [r] = await all_reports(rt)
        assert r.rt_opinion == "SETUJU"


async def test_only_the_head_of_that_rt_can_answer(db_url, capsys):
    async with running(db_url) as rt:
        head = await active_head(rt, capsys)
        before = len(sent_to(rt, "pak-rt"))
        far = Chat(rt, "far")  # another kelurahan: this head is not told
        await matched(far, NIK_2, KK_2)
        await usul_own(far)
        assert sent_to(rt, "pak-rt")[before:] == []
        [r] = await all_reports(rt)
        refused, *_ = await head.tap(f"rt:yes:{r.id}")  # a made-up button
        assert "Tombol itu sudah tidak berlaku" in refused["text"]
        stranger = Chat(rt, "stranger")
        await stranger.onboard()
        refused, *_ = await stranger.tap(f"rt:yes:{r.id}")
        assert "Tombol itu sudah tidak berlaku" in refused["text"]
        [r] = await all_reports(rt)
        assert r.rt_opinion is None and r.state == "DITERIMA"


async def test_reminder_the_day_before_once_then_the_forward(db_url, capsys):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        head = await active_head(rt, capsys)
        resident = Chat(rt, "warga")
        await matched(resident)
        await usul_own(resident)
        [r] = await all_reports(rt)
        told = len(sent_to(rt, "pak-rt"))
        clock.advance(days=1, hours=23)
        assert await rt.scheduler.run_once() == 0  # not yet the day before
        clock.advance(hours=2)
        assert await rt.scheduler.run_once() == 1
        assert await rt.scheduler.run_once() == 0  # once
        await rt.outbox.idle()
        [reminder] = sent_to(rt, "pak-rt")[told:]
        assert reminder["text"].startswith("Pengingat: laporan dari RT Anda")
        assert [c[0] for c in reminder["choices"]][0] == f"rt:yes:{r.id}"
        for secret in SECRETS:
            assert secret not in reminder["text"], secret
        async with rt.db.tx(write=False) as c:
            reminded = await c.scalar(sa.select(reports.c.rt_reminded_at))
        assert reminded == clock()
        assert "rt_remind" in [e.action for e in await events_of(rt, r.id)]
        # Nobody answers: forwarded after rt_answer_days, the head's button is then stale.
        clock.advance(days=1)
        assert await rt.scheduler.run_once() == 1  # the reporter is told
        [r] = await all_reports(rt)
        assert (r.state, r.rt_opinion) == ("VERIFIKASI_DINSOS", "TANPA_JAWABAN")
        late, *_ = await head.tap(f"rt:yes:{r.id}")
        assert "tidak lagi menunggu jawaban Anda" in late["text"]


async def test_no_reminder_for_a_report_already_answered(db_url, capsys):
    clock = Clock()
    async with running(db_url, clock=clock) as rt:
        head = await active_head(rt, capsys)
        resident = Chat(rt, "warga")
        await matched(resident)
        await usul_own(resident)
        [r] = await all_reports(rt)
        await head.tap(f"rt:yes:{r.id}")
        await head.tap("t:skip")
        told = len(sent_to(rt, "pak-rt"))
        clock.advance(days=2, hours=1)
        assert await rt.scheduler.run_once() == 0
        clock.advance(days=1)
        assert await rt.scheduler.run_once() == 0
        assert sent_to(rt, "pak-rt")[told:] == []


async def test_a_head_reporting_is_not_asked_to_confirm_their_own_report(db_url, capsys):
    async with running(db_url) as rt:
        head = await active_head(rt, capsys)
        # As ketua RT, for a neighbour: starts at DITERIMA, no RT step, no message to themself.
        await head.tap("t:report")
        await head.tap("r:sanggah")
        await head.send("Haji Mamat")
        await head.send("Jl. Pandu Raya No. 99")
        await head.tap("r:skip")  # the neighbour's NIK: not known
        await head.tap("r:skip")  # nor the No. KK
        await head.tap("r:why:civil_servant")
        await head.tap("r:skip")  # no story
        await head._event("photo", {"ref": "c" * 64})
        await head._event("location", {"lat": -6.57, "lon": 106.8})
        await head.tap("r:send")
        # As a resident of the same RT (the head's own household), from the resident menu.
        await head.tap("g:menu")
        await head.tap("m:check")
        await head.send(NIK_1)
        await head.tap("k:yes")
        await head.send(KK_1)
        await usul_own(head)
        rows = await all_reports(rt)
        assert [(r.reporter_role, r.state) for r in rows] == [
            ("rt", "DITERIMA"),
            ("warga", "DITERIMA"),
        ]
        assert not any(
            c[0].startswith("rt:") for p in sent_to(rt, "pak-rt") for c in p.get("choices") or []
        )
        for r in rows:
            assert "rt_notify" not in [e.action for e in await events_of(rt, r.id)]


async def test_staff_sending_a_report_to_the_rt_tells_the_head(db_url, capsys):
    async with running(db_url) as rt:
        far = Chat(rt, "warga")
        await matched(far)
        code = await usul_own(far)  # no head yet: DITERIMA
        head = await active_head(rt, capsys)
        before = len(sent_to(rt, "pak-rt"))
        assert await run_cli(rt, "reports", "move", code, "VERIFIKASI_RT", "--by", "ani") == 0
        await flush(rt)  # the CLI's messages go out with the service's next outbox poll
        [told] = sent_to(rt, "pak-rt")[before:]
        assert code in told["text"] and told["choices"][0][0].startswith("rt:yes:")
        await head.tap(told["choices"][0][0])
        [r] = await all_reports(rt)
        assert r.rt_opinion == "SETUJU"


async def test_a_head_talking_with_an_officer_can_still_answer(db_url, capsys):
    async with running(db_url) as rt:
        head = await active_head(rt, capsys)
        resident = Chat(rt, "warga")
        await matched(resident)
        await usul_own(resident)
        [r] = await all_reports(rt)
        await head.tap("g:contact")
        await head.send("Bagaimana cara mengganti ketua RT di wilayah kami?")
        [thanks] = await head.tap(f"rt:yes:{r.id}")
        assert "sudah dikirim ke Dinsos" in thanks["text"] and not thanks["choices"]
        async with rt.db.tx(write=False) as c:
            owner = await c.scalar(
                sa.select(conversations.c.owner).where(conversations.c.user_key == "test:pak-rt")
            )
        assert owner == "staff"  # still with the officer
        [r] = await all_reports(rt)
        assert r.rt_opinion == "SETUJU"


async def test_the_head_is_told_in_their_own_language_and_a_duplicate_is_not_resent(db_url, capsys):
    async with running(db_url) as rt:
        code = await invite_head(rt, capsys)
        head = Chat(rt, "pak-rt", locale_hint="en")
        await head.onboard("en")
        await head.send(code)
        resident = Chat(rt, "warga")
        await matched(resident)
        await usul_own(resident)
        [told] = sent_to(rt, "pak-rt")[-1:]
        assert told["text"].startswith("As ketua RT: a new report from your RT")
        assert [c[1] for c in told["choices"]] == ["Right", "Not right", "I don't know"]
        n = len(sent_to(rt, "pak-rt"))
        again = Chat(rt, "warga2")  # the same family reported again: merged, no second message
        await matched(again)
        await usul_own(again)
        assert len(await all_reports(rt)) == 1
        assert sent_to(rt, "pak-rt")[n:] == []
