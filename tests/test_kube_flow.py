"""KUBE on the core: create, join by code, refusals with reasons, roles, remove, leave, submit,
staff decision with notifications, "KUBE saya", and the race for the last place. UEP too."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import sqlalchemy as sa

from db.schema import kube_groups, kube_members, uep_applications
from services.kube import decide
from services.uep import decide as decide_uep
from tests.kubekit import PEOPLE, matched, world


async def _group(rt):
    async with rt.db.tx(write=False) as c:
        return (await c.execute(sa.select(kube_groups))).first()


async def _create(rt, who="siti", name="KUBE Mawar"):
    ketua = await matched(rt, who)
    assert ketua.choices == ["q:create", "q:join", "g:menu"]
    await ketua.tap("q:create")
    await ketua.send("ab")  # too short: told why, the step stays
    assert "3–60" in ketua.text
    await ketua.send(name)
    await ketua.tap("b:warung")
    await ketua.tap("q:ok")
    g = await _group(rt)
    assert g.code in ketua.text and g.status == "DRAFT" and g.member_count == 1
    return ketua, g


async def _join(rt, who, code):
    chat = await matched(rt, who)
    await chat.tap("q:join")
    await chat.send(code.lower())
    await chat.tap("q:ok")
    return chat


async def test_form_join_roles_submit_and_approve(db_url):
    async with world(db_url) as rt:
        ketua, g = await _create(rt)
        members = {}
        for who in ("budi", "dewi", "agus", "rina"):
            members[who] = await _join(rt, who, g.code)
            assert "KUBE Mawar" in members[who].text
        told = [p["text"] for a, p in rt.transport.sent if a == "siti"][-1]
        assert told == "Rina M. bergabung dengan KUBE Mawar. Sekarang ada 5 anggota."
        # Submitting without secretary and treasurer is refused with the reason.
        await ketua.tap("g:menu")
        await ketua.tap("m:kube")
        assert "q:submit" in ketua.choices
        await ketua.tap("q:submit")
        assert (await _group(rt)).status == "DRAFT"
        await ketua.tap("q:sek")
        await ketua.tap(ketua.choices[0])  # Budi
        # what was done, not a bare "Selesai."
        assert ketua.text.startswith("Budi S. sekarang menjadi sekretaris KUBE Mawar.")
        await ketua.tap("q:ben")
        await ketua.tap(ketua.choices[1])  # Dewi
        text = ketua.text
        assert "Budi S." in text and "Siti R." in text and "3271 05•• •••• 0011" in text
        assert PEOPLE["siti"][0] not in text
        await ketua.tap("q:submit")
        assert (await _group(rt)).status == "DIAJUKAN"
        # Members can no longer leave.
        agus = members["agus"]
        await agus.tap("g:menu")
        await agus.tap("m:kube")
        assert "q:leave" not in agus.choices
        # Staff approve: every member is told.
        before = len(rt.transport.sent)
        async with rt.db.tx() as c:
            problem, ids = await decide(
                c, rt.deps, group_id=g.id, approve=True, reason=None, now=rt.service.clock()
            )
        assert problem is None and len(ids) == 5
        rt.outbox.notify(ids)
        await rt.outbox.idle()
        told = {a for a, _ in rt.transport.sent[before:]}
        assert told == {"siti", "budi", "dewi", "agus", "rina"}
        async with rt.db.tx() as c:
            assert (
                await decide(
                    c, rt.deps, group_id=g.id, approve=False, reason="x", now=rt.service.clock()
                )
            )[0] == "not_submitted"


async def test_join_refusals_say_why_and_offer_an_officer(db_url):
    async with world(db_url) as rt:
        _ketua, g = await _create(rt)
        for who, words in (
            ("hendra", "desil 6"),
            ("ujang", "66"),
            ("putri", "16"),
            ("wawan", "Tegal Gundil"),
        ):
            chat = await _join(rt, who, g.code)
            assert words in chat.text, (who, chat.text)
            assert "g:contact" in chat.choices
        # An unknown code: a specific message, the step stays.
        chat = await matched(rt, "budi")
        await chat.tap("q:join")
        await chat.send("0000")
        assert "0, O, 1" in chat.text
        await chat.send("ZZZZZZ")
        assert "ZZZZZZ" in chat.text
        await chat.send(g.code)
        await chat.tap("q:ok")
        # Already a member: cannot start another group.
        await chat.tap("g:menu")
        await chat.tap("m:kube")
        assert "q:create" not in chat.choices and "q:leave" in chat.choices
        assert (await _group(rt)).member_count == 2


async def test_remove_leave_and_reject_frees_members(db_url):
    async with world(db_url) as rt:
        ketua, g = await _create(rt)
        budi = await _join(rt, "budi", g.code)
        dewi = await _join(rt, "dewi", g.code)
        await dewi.tap("q:leave")
        await dewi.tap("q:yes")
        await ketua.tap("g:menu")
        await ketua.tap("m:kube")
        await ketua.tap("q:rm")
        await ketua.tap(ketua.choices[0])
        assert (
            "Ketua mengeluarkan Anda dari KUBE Mawar"
            in [p["text"] for a, p in rt.transport.sent if a == "budi"][-1]
        )
        async with rt.db.tx(write=False) as c:
            assert [r.role for r in await c.execute(sa.select(kube_members))] == ["ketua"]
        assert (await _group(rt)).member_count == 1
        # Rejected group: members are free again.
        for who in ("budi", "dewi", "agus", "rina"):
            await _join(rt, who, g.code)
        await ketua.tap("g:menu")
        await ketua.tap("m:kube")
        await ketua.tap("q:sek")
        await ketua.tap(ketua.choices[0])
        await ketua.tap("q:ben")
        await ketua.tap(ketua.choices[1])
        await ketua.tap("q:submit")
        async with rt.db.tx() as c:
            problem, ids = await decide(
                c,
                rt.deps,
                group_id=g.id,
                approve=False,
                reason="Usaha sejenis sudah ada",
                now=rt.service.clock(),
            )
        rt.outbox.notify(ids)
        await rt.outbox.idle()
        assert (
            "Usaha sejenis sudah ada"
            in [p["text"] for a, p in rt.transport.sent if a == "budi"][-1]
        )
        await budi.tap("g:menu")
        await budi.tap("m:kube")
        assert "q:create" in budi.choices
        assert "KUBE Mawar, tidak disetujui. Alasan: Usaha sejenis sudah ada" in budi.text


async def test_two_residents_race_for_the_last_place(db_url):
    async with world(db_url) as rt:
        rt.service.deps = replace(rt.deps, programs=replace(rt.programs, kube_max_members=3))
        _ketua, g = await _create(rt)
        await _join(rt, "budi", g.code)
        a = await matched(rt, "dewi")
        b = await matched(rt, "agus")
        for c in (a, b):
            await c.tap("q:join")
            await c.send(g.code)
        await asyncio.gather(a.tap("q:ok"), b.tap("q:ok"))
        g = await _group(rt)
        async with rt.db.tx(write=False) as c:
            n = await c.scalar(sa.select(sa.func.count()).select_from(kube_members))
        assert g.member_count == 3 and n == 3


async def test_uep_application_and_decision(db_url):
    async with world(db_url) as rt:
        siti = await matched(rt, "siti", "m:uep")
        await siti.send("abc")
        assert "5–160" in siti.text
        await siti.send("Jualan gorengan di rumah")
        await siti.send("lama")  # not a choice: the step stays
        assert "d:1to3" in siti.choices
        await siti.tap("d:1to3")
        await siti.send("Wajan besar dan kompor gas")
        assert "Jualan gorengan" in siti.text
        await siti.tap("u:ok")
        assert "UEP-00001" in siti.text
        await siti.tap("m:uep")
        assert "UEP-00001" in siti.text  # one open application at a time
        hendra = await matched(rt, "hendra", "m:uep")  # desil 6
        assert "desil 6" in hendra.text and "g:contact" in hendra.choices
        async with rt.db.tx() as c:
            problem, ids = await decide_uep(
                c, rt.deps, app_id=1, approve=True, reason=None, now=rt.service.clock()
            )
            assert problem is None and ids
            status = await c.scalar(sa.select(uep_applications.c.status))
        assert status == "DISETUJUI"


async def test_english_conversation_through_kube_uep_and_training(db_url):
    """Every placeholder is filled in the other catalog too."""
    from tests.kubekit import add_session

    async with world(db_url) as rt:
        sid = await add_session(rt, quota=1, priority=1)
        ketua = await matched(rt, "siti", locale="en")
        assert "Start a new KUBE" in ketua.labels
        await ketua.tap("q:create")
        await ketua.send("KUBE Anggrek")
        await ketua.tap("b:jasa")
        await ketua.tap("q:ok")
        assert "KUBE Anggrek is formed" in ketua.text and "chair (ketua)" in ketua.text
        await ketua.tap("q:submit")
        assert "at least 5 members" in ketua.text
        hendra = await matched(rt, "hendra", locale="en")
        await hendra.tap("q:join")
        await hendra.send((await _group(rt)).code)
        await hendra.tap("q:ok")
        assert "desil 6" in hendra.text and "Contact an officer" in hendra.labels
        await ketua.tap("g:menu")
        await ketua.tap("m:training")
        assert "Open trainings" in ketua.text
        await ketua.tap(f"t:{sid}")
        assert "DTSEN priority" in ketua.text
        await ketua.tap("t:reg")
        assert "Seats are given after the deadline" in ketua.text
        await ketua.tap("t:mine")
        assert "waiting for the seat allocation" in ketua.text
        await ketua.tap("g:menu")
        await ketua.tap("m:uep")
        assert "What is your business?" in ketua.text


async def test_take_place_in_two_transactions_at_once(db_url):
    from db import kube_store

    async with world(db_url) as rt:
        _ketua, g = await _create(rt)

        async def take():
            async with rt.db.tx() as c:
                ok = await kube_store.take_place(c, g.id, 2)
                await asyncio.sleep(0)  # the other transaction runs before this one commits
                return ok

        assert sorted(await asyncio.gather(take(), take())) == [False, True]
        assert (await _group(rt)).member_count == 2


async def test_batal_menu_and_bad_input_at_the_new_steps(db_url):
    async with world(db_url) as rt:
        siti = await matched(rt, "siti")
        await siti.tap("q:create")
        await siti.send("Mawar")
        await siti.send("apa ini")  # not a business type: told, the name is kept
        assert "jenis usaha" in siti.text and "b:warung" in siti.choices
        await siti.tap("b:warung")
        await siti.send("mungkin")
        assert siti.text == "Pilih Ya, bentuk, atau Ubah nama." and "q:ok" in siti.choices
        await siti.tap("q:ok")
        assert "Mawar" in siti.text
        budi = await matched(rt, "budi", "m:uep")
        await budi.send("Warung kopi")
        await budi.send("batal")
        assert "Dibatalkan" in budi.replies[-2]["text"] and "m:uep" in budi.choices
        await budi.tap("m:training")
        await budi.send("menu")
        assert "m:kube" in budi.choices
