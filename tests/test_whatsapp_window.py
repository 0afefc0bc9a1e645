"""The 24-hour customer-service window, in-process with a controllable clock: outside it free
text is held and the "reply waiting" template goes out once; the held messages go out, in order
and before the reply to the new message, when the resident writes again."""

from __future__ import annotations

import sqlalchemy as sa

from db.schema import outbound_messages, wa_contacts
from tests.chatkit import Clock
from tests.fakes.whatsapp_api import body_text, delivery, status, summary, text_message
from tests.test_whatsapp_webhook import A, B, K, now_ts, onboard, post, settle, wa_runtime

O = outbound_messages.c


async def queue_later_reply(rt, *texts: str) -> list[int]:
    """Messages queued for the resident later (as a staff answer or a reminder would be)."""
    now = rt.service.clock()
    async with rt.db.tx() as c:
        ids = [
            r[0]
            for r in await c.execute(
                sa.insert(outbound_messages).returning(O.id, sort_by_parameter_order=True),
                [
                    dict(
                        channel="wa",
                        user_key=K,
                        address=A,
                        status="queued",
                        attempts=0,
                        payload={"text": t, "choices": [], "request": None, "locale": "id"},
                        next_attempt_at=now,
                        created_at=now,
                    )
                    for t in texts
                ],
            )
        ]
    rt.outbox.notify(ids)
    await settle(rt)
    return ids


async def statuses(rt, ids):
    async with rt.db.tx(write=False) as c:
        return [
            r[0] for r in await c.execute(sa.select(O.status).where(O.id.in_(ids)).order_by(O.id))
        ]


def sent_since(rt, n):
    return rt.fake.messages_to(A)[n:]


async def test_outside_the_window_a_template_goes_once_and_replies_wait(db_url, tmp_path):
    clock = Clock()
    async with wa_runtime(
        db_url, tmp_path, clock=clock, csv=None, whatsapp_template_name="jaring_balasan_menunggu"
    ) as rt:
        await onboard(rt)
        n = len(rt.fake.messages_to(A))
        clock.advance(hours=25)
        ids = await queue_later_reply(rt, "Balasan petugas 1", "Balasan petugas 2")
        got = sent_since(rt, n)
        assert [m["type"] for m in got] == ["template"], [summary(m) for m in got]
        assert got[0]["template"] == {"name": "jaring_balasan_menunggu", "language": {"code": "id"}}
        assert await statuses(rt, ids) == ["held", "held"]

        more = await queue_later_reply(rt, "Balasan petugas 3")  # still outside: no 2nd template
        assert len(sent_since(rt, n)) == 1 and await statuses(rt, more) == ["held"]

        # The resident writes again: the held messages first, in order, then the answer.
        await post(rt, delivery(text_message(A, "menu", ts=now_ts(rt))))
        got = sent_since(rt, n + 1)
        assert [body_text(m) for m in got[:3]] == [
            "Balasan petugas 1",
            "Balasan petugas 2",
            "Balasan petugas 3",
        ]
        assert "Menu utama" in body_text(got[3]) and len(got) == 4
        assert await statuses(rt, ids + more) == ["sent"] * 3

        # Another gap: the template is sent again, once.
        clock.advance(hours=30)
        await queue_later_reply(rt, "Balasan petugas 4")
        assert [m["type"] for m in sent_since(rt, n + 5)] == ["template"]


async def test_a_message_delivered_after_its_window_closed_gets_the_template(db_url, tmp_path):
    """Meta redelivers for days: the window follows the message's own timestamp."""
    clock = Clock()
    async with wa_runtime(db_url, tmp_path, clock=clock, csv=None) as rt:
        # A first message that reaches us 25 hours after it was written: no notice, a template.
        old = now_ts(rt) - 25 * 3600
        await post(rt, delivery(text_message(B, "halo", ts=old)))
        assert [m["type"] for m in rt.fake.messages_to(B)] == ["template"]
        await post(rt, delivery(text_message(B, "halo lagi", ts=now_ts(rt))))
        got = rt.fake.messages_to(B)[1:]
        assert "GRATIS" in body_text(got[0])  # the held notice first, then the answer
        assert len(got) == 2

        # A resident who wrote yesterday; a message of theirs from 24.5 hours ago arrives late.
        await onboard(rt)
        n = len(rt.fake.messages_to(A))
        written = now_ts(rt) + 3600
        clock.advance(hours=25, minutes=30)
        await post(rt, delivery(text_message(A, "menu", ts=written)))
        assert [m["type"] for m in sent_since(rt, n)] == ["template"]
        await post(rt, delivery(text_message(A, "bantuan", ts=now_ts(rt))))
        got = sent_since(rt, n + 1)
        assert "Menu utama" in body_text(got[0])  # the held answer to "menu" first
        assert "Bantuan" in body_text(got[1])


async def test_meta_saying_131047_holds_and_sends_the_template(db_url, tmp_path):
    clock = Clock()
    async with wa_runtime(db_url, tmp_path, clock=clock, csv=None) as rt:
        await onboard(rt)
        n = len(rt.fake.messages_to(A))
        clock.advance(seconds=30)
        rt.fake.fail_next(131047)
        ids = await queue_later_reply(rt, "Balasan A", "Balasan B")
        got = sent_since(rt, n)
        assert [m["type"] for m in got] == ["template"] and await statuses(rt, ids) == ["held"] * 2
        async with rt.db.tx(write=False) as c:
            [(last_in, tpl)] = (
                await c.execute(
                    sa.select(wa_contacts.c.last_inbound_at, wa_contacts.c.template_sent_at)
                )
            ).all()
        assert tpl is not None and tpl > last_in
        clock.advance(seconds=30)
        await post(rt, delivery(text_message(A, "menu", ts=now_ts(rt))))
        assert [body_text(m) for m in sent_since(rt, n + 1)[:2]] == ["Balasan A", "Balasan B"]


async def test_a_failed_status_131047_holds_the_sent_message_again(db_url, tmp_path):
    clock = Clock()
    async with wa_runtime(db_url, tmp_path, clock=clock, csv=None) as rt:
        await onboard(rt)
        clock.advance(seconds=30)
        [row_id] = await queue_later_reply(rt, "Balasan C")
        wamid = rt.fake.messages_to(A)[-1]["wamid"]
        n = len(rt.fake.messages_to(A))
        await post(
            rt, delivery(statuses=[status(wamid, "failed", A, ts=now_ts(rt), error_code=131047)])
        )
        assert await statuses(rt, [row_id]) == ["held"]
        assert [m["type"] for m in sent_since(rt, n)] == ["template"]
        clock.advance(seconds=30)
        await post(rt, delivery(text_message(A, "menu", ts=now_ts(rt))))
        assert body_text(sent_since(rt, n + 1)[0]) == "Balasan C"


async def test_rate_limits_and_server_errors_are_retried_and_bad_requests_fail(db_url, tmp_path):
    async with wa_runtime(db_url, tmp_path, csv=None) as rt:
        await onboard(rt)
        rt.fake.fail_next(130429)
        rt.fake.fail_next(131056)
        rt.fake.fail_next(131000, status=503)
        ids = await queue_later_reply(rt, "Tetap sampai")
        assert await statuses(rt, ids) == ["sent"] and len(rt.fake.refused) == 3
        rt.fake.fail_next(131026)
        ids = await queue_later_reply(rt, "Tidak bisa dikirim")
        async with rt.db.tx(write=False) as c:
            [(st, err)] = (
                await c.execute(sa.select(O.status, O.last_error).where(O.id.in_(ids)))
            ).all()
        assert st == "failed" and "131026" in err and "undeliverable" in err


async def test_messages_in_the_same_second_are_all_answered_and_the_window_holds(db_url, tmp_path):
    """Meta's timestamps are whole seconds: a resident tapping fast sends several in one second.
    Each is answered; the window start is that second; held replies went out with the first."""
    clock = Clock()
    async with wa_runtime(db_url, tmp_path, clock=clock, csv=None) as rt:
        await onboard(rt)
        clock.advance(hours=25)
        ids = await queue_later_reply(rt, "Balasan petugas")
        n = len(rt.fake.messages_to(A))
        ts = now_ts(rt)
        await post(rt, delivery(text_message(A, "menu", ts=ts)))
        await post(rt, delivery(text_message(A, "bantuan", ts=ts)))
        await post(rt, delivery(text_message(A, "menu", ts=ts)))
        await settle(rt)
        got = sent_since(rt, n)
        assert body_text(got[0]) == "Balasan petugas" and await statuses(rt, ids) == ["sent"]
        texts = [body_text(m) for m in got[1:]]
        assert sum("Menu utama" in t for t in texts) == 3  # menu, help (re-asks the menu), menu
        async with rt.db.tx(write=False) as c:
            row = (await c.execute(sa.select(wa_contacts))).one()
        assert int(row.last_inbound_at.timestamp()) == int(ts)
