"""Bad input (docs/security.md, "Bad input"): property-based tests (Hypothesis) over the engine's
input and over the webhooks, plus the explicit cases of the attack campaign on every database.

- Engine: arbitrary text (Unicode digits such as "²", "①", "٣", control characters, NUL, lone
  surrogates, 10 000 characters) and arbitrary button ids, at the menu, a button step, the NIK
  step, a free-text step and the rating step: no exception escapes (no event fails, no apology)
  and every input gets at least one reply.
- Webhooks: arbitrary JSON and mutated real updates (Telegram, signed WhatsApp): 200 or 400,
  never 500; nesting 100 000 deep is a 400.
- Dashboard: ids beyond 64 bits are a 404; NUL typed by staff never reaches the database.

The Hypothesis tests run on SQLite with a fixed seed (derandomize) and a few dozen examples
each; the explicit cases run on SQLite and PostgreSQL (JARING_TEST_PG_URL).
"""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import Settings
from db.schema import conversations, inbound_events, ticket_messages
from domain.cleaning import clean_text, decimal_number, scrub_json
from handlers.telegram import TelegramChannel
from services import tickets as ticket_ops
from tests.chatkit import NIK_1, Chat, running
from tests.fakes.telegram_api import BOT_TOKEN, callback_update, photo_update, text_update
from tests.test_web_auth import PASSWORD, hidden, login
from web.auth import add_staff

FUZZ = settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SECRET = "fuzz-Secret_1"
APOLOGY = "Maaf, ada gangguan di sistem kami"

# Characters that isdigit() calls digits though int() refuses them, and digits of other scripts.
ODD_DIGITS = "²³¹⁴①②⑤⑩⑴⒈０１２３٣۴१৪๗၄០𐩀𝟙🄁᧚"
CONTROL = "".join(map(chr, range(0x20))) + "\x7f\x85\x9f\u200b\u200d\ufeff\u2028"

texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=ODD_DIGITS + "0123456789 .", min_size=1, max_size=4),
    st.text(alphabet=CONTROL + "ab1", min_size=1, max_size=12),
    st.builds(lambda c, n: c * n, st.sampled_from("a1²\x00 é🙂"), st.integers(1000, 10_000)),
    st.sampled_from(
        [
            "\x00",
            "menu\x00",
            "\ud800",
            "a\udfffb",
            "1\x00",
            "３２７１０５１２０３７８０００２",  # a NIK in full-width digits
            NIK_1 + "\x00",
            "9" * 40,
            "-1",
            "0",
            "99999999999999999999999",
            "/start \x00",
            "/",
        ]
    ),
)
CHOICE_PREFIXES = ["", "r:", "m:", "m:myreports:", "m:lpr:", "rt:yes:", "t:r:", "n:", "g:", "c:"]
choice_ids = st.builds(
    lambda p, tail: p + tail,
    st.sampled_from(CHOICE_PREFIXES),
    st.one_of(
        st.text(max_size=20),
        st.text(alphabet=ODD_DIGITS + "0123456789", min_size=1, max_size=25),
    ),
)
inputs = st.one_of(
    st.tuples(st.just("text"), texts),
    st.tuples(st.just("choice"), choice_ids),
)


# --------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    "word, number",
    [("2", 2), ("²", 2), ("①", 1), ("３", 3), ("٣", 3), ("⑴", None), ("𐩀", None), ("", None)],
)
def test_decimal_number_takes_any_script_and_never_raises(word, number):
    assert decimal_number(word) == number


@given(st.text())
@FUZZ
def test_clean_text_leaves_nothing_postgresql_refuses(s):
    out = clean_text(s)
    assert "\x00" not in out
    out.encode("utf-8")  # no lone surrogate
    assert clean_text(out) == out


def test_scrub_json_refuses_depth_and_never_recurses():
    deep: list = []
    node = deep
    for _ in range(100_000):
        node.append([])
        node = node[0]
    with pytest.raises(ValueError):
        scrub_json(deep)
    assert scrub_json({"a\x00": ["b\x00", 1, {"c": "\ud800d"}]}) == {"a": ["b", 1, {"c": "d"}]}


# --------------------------------------------------------------------- the engine


@pytest.fixture
def lite_url(tmp_path, sqlite_template) -> str:
    path = tmp_path / "fuzz.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


class World:
    """A running service on its own event loop, for Hypothesis's synchronous examples."""

    def __init__(self, db_url: str):
        self.loop = asyncio.new_event_loop()
        self._cm = running(db_url)
        self.rt = self.run(self._cm.__aenter__())

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.run(self._cm.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture
def world(lite_url):
    w = World(lite_url)
    yield w
    w.close()


async def snapshot(rt, user: str) -> dict:
    async with rt.db.tx(write=False) as c:
        row = (
            await c.execute(sa.select(conversations).where(conversations.c.user_key == user))
        ).one()
    return {k: v for k, v in row._mapping.items() if k not in ("id", "user_key")}


async def restore(rt, user: str, snap: dict) -> None:
    async with rt.db.tx() as c:
        await c.execute(
            sa.update(conversations).where(conversations.c.user_key == user).values(**snap)
        )


async def failures(rt) -> int:
    async with rt.db.tx(write=False) as c:
        return await c.scalar(sa.select(sa.func.count()).where(inbound_events.c.status != "done"))


async def at_step(rt, step: str) -> tuple[Chat, dict]:
    """A resident resting at `step`, and the conversation row to go back to."""
    chat = Chat(rt, user=f"fuzz-{step}")
    await chat.onboard()
    if step == "button":
        await chat.tap("m:report")
        assert chat.choices[0] == "r:usul"
    elif step == "nik":
        await chat.tap("m:check")
        assert "NIK" in chat.text
    elif step == "free_text":
        await chat.tap("m:report")
        await chat.tap("r:usul")
        await chat.tap("r:other")
        await chat.send("Budi Santoso")  # the name; now the address, in the resident's words
    elif step == "rating":
        await chat.tap("g:contact")
        await chat.send("Bagaimana cara mendaftar PKH?")
        async with rt.db.tx() as c:
            ids = await ticket_ops.close(c, 1, staff_id=None, actor="test", now=rt.clock())
        rt.outbox.notify(ids)
        await rt.outbox.idle()
        assert [c[0] for c in rt.transport.sent[-1][1]["choices"]][0] == "r:1"
    return chat, await snapshot(rt, f"test:{chat.user}")


@pytest.mark.parametrize("step", ["menu", "button", "nik", "free_text", "rating"])
def test_any_input_at_any_step_gets_an_answer_and_no_exception(world, step):
    rt = world.rt
    chat, snap = world.run(at_step(rt, step))
    user = f"test:{chat.user}"

    @given(inputs)
    @settings(FUZZ, max_examples=60)
    def one(inp):
        kind, value = inp
        world.run(restore(rt, user, snap))
        if kind == "text":
            got = world.run(chat.send(value))
        else:
            got = world.run(chat.tap(value))
        assert got, f"no reply to {inp!r} at {step}"
        assert not any(APOLOGY in p["text"] for p in got), f"{inp!r} at {step}"
        assert world.run(failures(rt)) == 0

    one()


@pytest.mark.parametrize("word, picked", [("²", "r:sanggah"), ("①", "r:usul"), ("٣", "r:koreksi")])
async def test_unicode_digits_pick_the_button_they_name(db_url, word, picked):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("m:report")
        shown = chat.choices
        [reply] = await chat.send(word)
        assert shown.index(picked) == decimal_number(word) - 1
        assert APOLOGY not in reply["text"] and reply["choices"] != shown


async def test_nul_and_surrogates_are_stored_clean_on_every_database(db_url):
    """U+0000 in a question made PostgreSQL fail the event (DBAPIError); it is dropped at the
    inbox, and the question reaches staff."""
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("g:contact")
        got = await chat.send("Kapan\x00 bantuan\ud800 cair?\r\nTerima kasih" + "!" * 10_000)
        assert got and APOLOGY not in got[0]["text"]
        assert await failures(rt) == 0
        async with rt.db.tx(write=False) as c:
            body = await c.scalar(
                sa.select(ticket_messages.c.body).where(ticket_messages.c.kind == "resident")
            )
            stored = [r.payload for r in await c.execute(sa.select(inbound_events.c.payload))]
        assert body.startswith("Kapan bantuan cair?\nTerima kasih")
        assert all("\x00" not in json.dumps(p) for p in stored)
        assert max(len(p.get("text", "")) for p in stored) <= 4096


async def test_rating_typed_in_other_digits(db_url):
    async with running(db_url) as rt:
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("g:contact")
        await chat.send("Halo")
        async with rt.db.tx() as c:
            ids = await ticket_ops.close(c, 1, staff_id=None, actor="test", now=rt.clock())
        rt.outbox.notify(ids)
        await rt.outbox.idle()
        [thanks] = await chat.send("④")
        assert thanks["text"].startswith("Terima kasih atas penilaian Anda.")
        async with rt.db.tx(write=False) as c:
            assert await c.scalar(sa.text("SELECT rating FROM tickets")) == 4


# --------------------------------------------------------------------- Telegram webhook


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
TG_PATHS = [
    ("update_id",),
    ("message",),
    ("message", "text"),
    ("message", "from", "id"),
    ("message", "chat", "id"),
    ("message", "chat", "type"),
    ("message", "from", "language_code"),
    ("message", "date"),
    ("callback_query", "data"),
    ("callback_query", "from", "id"),
    ("callback_query", "message", "chat", "id"),
]


def _mutated(base: dict, path: tuple, value) -> dict:
    body = json.loads(json.dumps(base))
    node = body
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            return body
        node = node[key]
    node[path[-1]] = value
    return body


class TgWorld(World):
    def __init__(self, db_url: str):
        super().__init__(db_url)
        self.channel, self.client = self.run(_tg_client(self.rt))

    async def post(self, body: bytes) -> int:
        async with self.client.post(
            "/tg/webhook", data=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        ) as r:
            assert "Traceback" not in await r.text()
            status = r.status
        await self.rt.service.idle()
        return status

    def close(self) -> None:
        self.run(self.client.close())
        self.run(self.channel.api.close())
        super().close()


def test_telegram_webhook_arbitrary_json_is_200_or_400(lite_url):
    w = TgWorld(lite_url)
    try:
        bases = [text_update(1, 1001, "halo"), callback_update(2, 1001, "m:check")]

        @given(
            st.one_of(
                json_values,
                st.builds(_mutated, st.sampled_from(bases), st.sampled_from(TG_PATHS), json_values),
            )
        )
        @FUZZ
        def one(body):
            status = w.run(w.post(json.dumps(body).encode()))
            assert status in (200, 400), body
            assert w.run(failures(w.rt)) == 0

        one()
    finally:
        w.close()


async def _tg_client(rt) -> tuple[TelegramChannel, TestClient]:
    """A webhook-mode Telegram channel storing into the running service's inbox."""
    ch = TelegramChannel(
        Settings(
            _env_file=None,
            telegram_bot_token=BOT_TOKEN,
            telegram_webhook_url="https://jaring.example.id/tg/webhook",
            telegram_webhook_secret=SECRET,
        ),
        rt.service.receive,
    )
    app = web.Application()
    ch.register_routes(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    return ch, client


@pytest.mark.parametrize(
    "body, status",
    [
        (b"[" * 100_000 + b"]" * 100_000, 400),  # json.loads: RecursionError, was a 500
        (b'{"a":' * 50 + b"1" + b"}" * 50, 400),  # deeper than any update
        (b'{"update_id": NaN}', 400),
        (json.dumps(text_update(2**64, 1001, "halo")).encode(), 400),  # ids beyond 64 bits
        (json.dumps(text_update(5, 2**70, "halo")).encode(), 400),
        (json.dumps(text_update(6, 1001, "Kapan\x00 cair?\ud800")).encode(), 200),
        (json.dumps(text_update(7, 1001, "²" * 10_000)).encode(), 200),
        (json.dumps(photo_update(8, 1001, "A" * 5000)).encode(), 200),  # an "other" message
    ],
)
async def test_telegram_webhook_bad_bodies(db_url, body, status):
    async with running(db_url) as rt:
        ch, client = await _tg_client(rt)
        try:
            r = await client.post(
                "/tg/webhook", data=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            )
            assert r.status == status and "Traceback" not in await r.text()
            await rt.service.idle()
            assert await failures(rt) == 0
        finally:
            await client.close()
            await ch.api.close()


# --------------------------------------------------------------------- WhatsApp webhook


WA_PATHS = [
    ("entry",),
    ("entry", 0, "changes"),
    ("entry", 0, "changes", 0, "value"),
    ("entry", 0, "changes", 0, "value", "messages"),
    ("entry", 0, "changes", 0, "value", "messages", 0, "id"),
    ("entry", 0, "changes", 0, "value", "messages", 0, "from"),
    ("entry", 0, "changes", 0, "value", "messages", 0, "type"),
    ("entry", 0, "changes", 0, "value", "messages", 0, "text"),
    ("entry", 0, "changes", 0, "value", "messages", 0, "text", "body"),
    ("entry", 0, "changes", 0, "value", "messages", 0, "timestamp"),
    ("entry", 0, "changes", 0, "value", "messages", 0, "location"),
    ("entry", 0, "changes", 0, "value", "messages", 0, "interactive"),
    ("entry", 0, "changes", 0, "value", "contacts", 0, "wa_id"),
    ("entry", 0, "changes", 0, "value", "contacts", 0, "user_id"),
    ("entry", 0, "changes", 0, "value", "statuses"),
]


def _wa_mutated(base: dict, path: tuple, value) -> dict:
    body = json.loads(json.dumps(base))
    node = body
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return body
    try:
        node[path[-1]] = value
    except (IndexError, TypeError):
        pass
    return body


def _wa_bases() -> list[dict]:
    from tests.fakes.whatsapp_api import button_reply, delivery, status, text_message

    wa = "6281200000009"
    return [
        delivery(text_message(wa, "halo")),
        delivery(button_reply(wa, "m:check", "Cek")),
        delivery(
            {
                **text_message(wa, "x"),
                "type": "location",
                "location": {"latitude": 1.0, "longitude": 2.0},
            }
        ),
        delivery(statuses=[status("wamid.X", "failed", wa, error_code=131047)]),
    ]


def test_whatsapp_webhook_arbitrary_signed_json_is_200_or_400(lite_url, tmp_path):
    from tests.fakes.whatsapp_api import sign
    from tests.test_whatsapp_webhook import settle, wa_runtime

    loop = asyncio.new_event_loop()
    cm = wa_runtime(lite_url, tmp_path)
    rt = loop.run_until_complete(cm.__aenter__())
    try:
        bases = _wa_bases()

        async def post(raw: bytes) -> int:
            async with rt.http.post(
                rt.url,
                data=raw,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)},
            ) as r:
                text, code = await r.text(), r.status
            assert "Traceback" not in text
            await settle(rt)
            return code

        @given(
            st.one_of(
                json_values,
                st.builds(
                    _wa_mutated, st.sampled_from(bases), st.sampled_from(WA_PATHS), json_values
                ),
            )
        )
        @FUZZ
        def one(body):
            code = loop.run_until_complete(post(json.dumps(body).encode()))
            assert code in (200, 400), body
            assert loop.run_until_complete(failures(rt)) == 0

        one()
        deep = b"[" * 100_000 + b"]" * 100_000
        assert loop.run_until_complete(post(deep)) == 400
    finally:
        loop.run_until_complete(cm.__aexit__(None, None, None))
        loop.close()


async def test_whatsapp_nul_and_big_numbers_on_every_database(db_url, tmp_path):
    from tests.fakes.whatsapp_api import delivery, encode, sign, status, text_message
    from tests.test_whatsapp_webhook import settle, wa_runtime

    async with wa_runtime(db_url, tmp_path) as rt:
        st_failed = status("wamid.Y", "failed", "6281200000009")
        st_failed["errors"] = [{"code": 2**70, "title": "x\x00y"}]
        for body, code in [
            (delivery(text_message("6281200000009", "Kapan\x00 cair?\ud800")), 200),
            (delivery(text_message("62812\x000000009", "halo")), 200),
            (delivery(text_message("6281200000009", "x", wamid="wamid.\x00" + "A" * 300)), 200),
            (delivery(statuses=[st_failed]), 200),
        ]:
            raw = encode(body)
            async with rt.http.post(
                rt.url,
                data=raw,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)},
            ) as r:
                assert r.status == code, (body, await r.text())
            await settle(rt)
        assert await failures(rt) == 0


# --------------------------------------------------------------------- dashboard


BIG = [str(2**63), str(2**64 + 5), "9" * 40, "0"]


async def test_dashboard_ids_beyond_64_bits_are_404_and_staff_nul_is_dropped(db_url):
    async with running(db_url) as rt:
        async with rt.db.tx() as c:
            await add_staff(
                c,
                username="ani",
                name="Ani",
                role="admin",
                password=PASSWORD,
                kelurahan_code=None,
                now=rt.clock(),
                actor="test",
            )
        chat = Chat(rt)
        await chat.onboard()
        await chat.tap("g:contact")
        await chat.send("Halo")
        client = TestClient(TestServer(rt.web))
        await client.start_server()
        try:
            assert (await login(client)).status == 302
            page = await (await client.get("/inbox/1")).text()
            token = hidden(page)
            for big in BIG:
                for path in (
                    f"/inbox/{big}",
                    f"/kube/{big}",
                    f"/uep/{big}",
                    f"/trainings/{big}/edit",
                    f"/trainings/{big}/participants",
                    f"/trainings/{big}/participants.csv",
                ):
                    r = await client.get(path, allow_redirects=False)
                    assert r.status == 404, (path, r.status)
                for path in (
                    f"/inbox/{big}/note",
                    f"/kube/{big}/reject",
                    f"/uep/{big}/approve",
                    f"/rt/{big}/revoke",
                    f"/account/chats/{big}/unlink",
                    f"/trainings/{big}/edit",
                ):
                    r = await client.post(
                        path, data={"_csrf": token, "reason": "x"}, allow_redirects=False
                    )
                    assert r.status == 404, (path, r.status)
            # NUL and CR LF typed by an officer: stored clean, the ticket page still works.
            r = await client.post(
                "/inbox/1/note",
                data={"_csrf": token, "text": "Sudah\x00 dicek.\r\nOK"},
                allow_redirects=False,
            )
            assert r.status in (302, 303)
            r = await client.post(
                "/inbox/1/assign",
                data={"_csrf": token, "staff_id": str(2**70)},
                allow_redirects=False,
            )
            assert r.status < 500
            r = await client.get("/audit?actor=a%00b&action=%00")
            assert r.status == 200
            async with rt.db.tx(write=False) as c:
                notes = (
                    await c.execute(
                        sa.select(ticket_messages.c.body).where(ticket_messages.c.kind == "note")
                    )
                ).scalars()
                assert list(notes) == ["Sudah dicek.\nOK"]
        finally:
            await client.close()
