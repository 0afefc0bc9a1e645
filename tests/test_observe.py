"""Observing a running service (docs/observe.md): /metrics moves with traffic and reads the
backlog, tickets and locks from the database; /metrics is closed to strangers; /readyz says 503
with the reason when Telegram's receiver or sender is broken and 200 when it is fine; the JSON
log lines carry the event and conversation ids and no NIK or No. KK; several workers add up in
prometheus-client's multiprocess mode."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot import Runtime
from config import Settings
from core.logcontext import ContextFilter, JsonFormatter, TextFormatter
from core.model import SendHeld, SendRetry
from db.schema import conversations, inbound_events
from tests.chatkit import KK_1, NIK_1, Chat, Clock, running
from tests.fakes.telegram_api import BOT_TOKEN, FakeTelegramAPI, callback_update, text_update
from web.observe import FIGURES

ROOT = Path(__file__).resolve().parent.parent
WRONG_KK = "3271052301150009"  # a well-formed No. KK of no household
LOCKED = "pengecekan dihentikan sementara"
USER = 5550777


# --- helpers -------------------------------------------------------------------------------


def parse_metrics(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} from the Prometheus text format."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def val(m: dict, name: str, **labels: str) -> float:
    return m.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: TestClient, **headers: str) -> dict:
    r = await client.get("/metrics", headers=headers)
    text = await r.text()
    assert r.status == 200, text
    assert r.headers["Content-Type"].startswith("text/plain")
    return parse_metrics(text)


@asynccontextmanager
async def web_client(rt):
    client = TestClient(TestServer(rt.web))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def wait_until(probe: Callable, timeout: float = 20.0, every: float = 0.05):
    """Until `await probe()` returns something truthy (returned), or fail with the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met in {timeout} s; last: {last!r}")


@dataclass
class Answer:
    status: int | None  # None: not the status waited for (or no answer)
    text: str

    def __bool__(self) -> bool:
        return self.status is not None


class Flaky:
    """Wraps a transport's send: the errors queued in `errors` are raised first, in order."""

    def __init__(self, transport):
        self.real = transport.send
        self.errors: list[Exception] = []
        transport.send = self.send

    async def send(self, address: str, payload: dict) -> str | None:
        if self.errors:
            raise self.errors.pop(0)
        return await self.real(address, payload)


async def fail_check(chat: Chat) -> None:
    await chat.tap("g:menu")
    await chat.tap("m:check")
    await chat.send(NIK_1)
    if LOCKED in chat.text:
        return
    await chat.tap("k:yes")
    await chat.send(WRONG_KK)


# --- /metrics --------------------------------------------------------------------------------


async def test_metrics_move_with_traffic_and_read_the_database(db_url):
    clock = Clock()  # Monday 10.00 WIB
    async with running(db_url, clock=clock) as rt:
        rt.web[FIGURES].ttl = 0  # every scrape reads the database (5 s cache otherwise)
        flaky = Flaky(rt.transport)
        async with web_client(rt) as client:
            m0 = await scrape(client)
            chat = Chat(rt)
            await chat.onboard()  # 3 events, 3 replies
            await chat.send("menu", external_id="twice")
            assert await chat.send("menu", external_id="twice") == []  # a redelivery
            m1 = await scrape(client)

            def delta(name: str, **labels: str) -> float:
                return val(m1, name, **labels) - val(m0, name, **labels)

            assert delta("jaring_inbound_events_total", channel="test", result="received") == 4
            assert delta("jaring_inbound_events_total", channel="test", result="duplicate") == 1
            assert delta("jaring_inbound_events_total", channel="test", result="processed") == 4
            assert delta("jaring_outbound_sends_total", channel="test", result="sent") == 4
            assert delta("jaring_event_processing_seconds_count", channel="test") == 4
            assert delta("jaring_event_processing_seconds_sum", channel="test") > 0
            assert val(m1, "jaring_db_figures_ok") == 1
            assert val(m1, "process_resident_memory_bytes") > 0  # the process collector
            for state in ("queued", "sending", "held"):
                assert ("jaring_outbox_messages", (("channel", "test"), ("state", state))) in m1
            assert val(m1, "jaring_inbox_pending_events") == 0
            assert val(m1, "jaring_tickets_open") == 0

            # A bug meets an event: failed, and the resident gets the apology.
            async def boom(ctx):
                raise RuntimeError("a bug")

            rt.service.engine.handle = boom
            try:
                [apology] = await chat.send("halo")
            finally:
                del rt.service.engine.handle
            assert "gangguan di sistem kami" in apology["text"]

            # A reply held (WhatsApp's closed window, here simulated) waits in the outbox, and
            # its age grows with the clock.
            flaky.errors.append(SendHeld("window closed"))
            assert await chat.tap("g:menu") == []
            clock.advance(minutes=10)
            # A network error: retried, then sent.
            flaky.errors.append(SendRetry("ClientConnectorError: Cannot connect"))
            assert len(await chat.tap("g:menu")) == 1

            # Five wrong No. KK lock the check; asking again is refused.
            for _ in range(5):
                await fail_check(chat)
            await chat.tap("g:menu")
            await chat.tap("m:check")
            assert LOCKED in chat.text

            # A question to an officer: an open ticket, overdue a week later.
            await chat.tap("g:contact")
            await chat.send("Bagaimana cara mendaftar PKH?")
            m2 = await scrape(client)
            assert val(m2, "jaring_tickets_open") == 1
            assert val(m2, "jaring_tickets_overdue") == 0
            clock.advance(days=7)
            m3 = await scrape(client)
            page = await (await client.get("/metrics")).text()

        def d(name: str, **labels: str) -> float:
            return val(m3, name, **labels) - val(m1, name, **labels)

        assert d("jaring_inbound_events_total", channel="test", result="failed") == 1
        assert d("jaring_outbound_sends_total", channel="test", result="held") == 1
        assert d("jaring_outbound_sends_total", channel="test", result="retry") == 1
        assert d("jaring_outbound_retries_total", channel="test") == 1
        assert val(m3, "jaring_outbox_messages", channel="test", state="held") == 1
        held_age = val(m3, "jaring_outbox_oldest_age_seconds", channel="test", state="held")
        assert held_age >= 7 * 86400 + 600
        assert val(m3, "jaring_outbox_messages", channel="test", state="queued") == 0
        assert d("jaring_check_locks_total") == 1
        assert d("jaring_check_lock_refusals_total") >= 1
        assert val(m3, "jaring_tickets_open") == 1
        assert val(m3, "jaring_tickets_overdue") == 1
        assert val(m3, "jaring_inbox_dead_letters") == 0
        # every metric the sample Grafana dashboard reads is on the page
        dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        named = {n for e in exprs for n in re.findall(r"\b((?:jaring|process)_[a-z_]+)\b", e)}
        assert len(named) > 15
        families = set(re.findall(r"^# TYPE (\S+) ", page, re.M))
        missing = {
            n
            for n in named
            if n not in families and re.sub(r"_(bucket|sum|count)$", "", n) not in families
        }
        assert not missing, missing


async def test_scheduled_job_runs_are_counted(db_url):
    from core.metrics import JOB_RUNS
    from core.scheduler import Scheduler

    async def fine(conn, now, deps):
        return []

    async def broken(conn, now, deps):
        raise RuntimeError("a bug in a job")

    def runs(job: str, result: str) -> float:
        return JOB_RUNS.labels(job, result)._value.get()

    async with running(db_url, csv=None) as rt:
        before = runs("fine", "ok"), runs("broken", "failed")
        sched = Scheduler(rt.db, rt.deps, rt.outbox, clock=rt.clock, jobs=[broken, fine])
        await sched.run_once()
        await sched.run_once()
        assert (runs("fine", "ok"), runs("broken", "failed")) == (before[0] + 2, before[1] + 2)


async def test_metrics_are_for_loopback_or_the_token_holder(db_url):
    async with running(db_url, csv=None) as rt, web_client(rt) as client:
        assert (await client.get("/metrics")).status == 200  # the test client is 127.0.0.1
        # through a proxy on this machine (Caddy adds the header): someone else, refused
        r = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert r.status == 403
    async with running(db_url, csv=None, jaring_metrics_token="m3trics-t0ken") as rt:
        async with web_client(rt) as client:
            assert (await client.get("/metrics")).status == 401
            bad = {"Authorization": "Bearer wrong"}
            assert (await client.get("/metrics", headers=bad)).status == 401
            good = {"Authorization": "Bearer m3trics-t0ken", "X-Forwarded-For": "203.0.113.9"}
            m = await scrape(client, **good)
            assert val(m, "jaring_db_figures_ok") == 1
            # the page names channels, results and states: no user key, address or number
            text = await (await client.get("/metrics", headers=good)).text()
            assert "test:" not in text and "user_key" not in text
            # /healthz answers without the database, /readyz with it: both public
            assert (await client.get("/healthz")).status == 200
            assert (await client.get("/readyz")).status == 200


# --- /readyz ---------------------------------------------------------------------------------


@asynccontextmanager
async def telegram_runtime(db_url: str, api_url: str):
    """The real Runtime with Telegram polling the fake Bot API (short long polls)."""
    settings = Settings(
        _env_file=None,
        database_url=db_url,
        telegram_bot_token=BOT_TOKEN,
        telegram_api_url=api_url,
        telegram_rate_per_chat=50.0,
    )
    rt = Runtime(settings, clock=Clock())
    rt.channels["tg"].polling_timeout = 1
    await rt.start(web=False)
    try:
        async with web_client(rt) as client:
            yield rt, client
    finally:
        await rt.stop()


async def readyz(client) -> tuple[int, dict]:
    r = await client.get("/readyz")
    return r.status, await r.json()


async def test_readyz_names_a_broken_sender_and_a_stopped_bot_api(db_url):
    fake = FakeTelegramAPI(BOT_TOKEN)
    await fake.start()
    try:
        async with telegram_runtime(db_url, fake.base_url) as (rt, client):
            status, body = await readyz(client)
            assert status == 200, body
            assert body["channels"]["tg"]["receiver"]["ok"]
            assert body["channels"]["tg"]["sender"] == {"ok": True, "detail": "nothing sent yet"}
            assert body["database"]["ok"] and body["scheduler"]["leader"] is True
            assert body["channels"]["web"]["receiver"]["ok"]  # the simulator

            fake.push_update(text_update(1, USER, "/start"))
            await fake.wait_for_messages(USER, 1, timeout=15)
            await wait_until(lambda: _ready(client, 200))

            # Telegram answers 502 to every send: the sender is failing, the reason says so.
            fake.outage_for(60, 502, methods=("sendMessage",))
            fake.push_update(callback_update(2, USER, "c:agree"))
            body = await wait_until(lambda: _ready(client, 503))
            assert body["failing"] == ["channels.tg.sender"], body
            assert "502" in body["channels"]["tg"]["sender"]["detail"]
            assert body["channels"]["tg"]["receiver"]["ok"]
            fake.end_outage()
            await fake.wait_for_messages(USER, 2, timeout=30)  # the retry went out
            await wait_until(lambda: _ready(client, 200))

            # The Bot API goes away: getUpdates fails, the receiver is not ready.
            await fake.close()
            body = await wait_until(lambda: _ready(client, 503))
            assert "channels.tg.receiver" in body["failing"], body
            assert "getUpdates failing" in body["channels"]["tg"]["receiver"]["detail"]
    finally:
        await fake.close()


async def test_readyz_fails_when_the_poller_task_is_dead(db_url):
    async with FakeTelegramAPI(BOT_TOKEN) as fake:
        async with telegram_runtime(db_url, fake.base_url) as (rt, client):
            await wait_until(lambda: _ready(client, 200))
            poller = rt.channels["tg"]._polling
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
            status, body = await readyz(client)
            assert status == 503 and body["failing"] == ["channels.tg.receiver"], body
            assert body["channels"]["tg"]["receiver"]["detail"] == "polling ended (stopped)"


async def test_readyz_fails_without_the_database_and_says_so(db_url):
    async with running(db_url, csv=None) as rt, web_client(rt) as client:
        assert (await readyz(client))[0] == 200

        async def down():
            raise ConnectionRefusedError("database down")

        rt.db.ping = down
        try:
            status, body = await readyz(client)
            assert status == 503 and body["failing"] == ["database"]
            assert body["database"] == {
                "ok": False,
                "detail": "unreachable (ConnectionRefusedError)",
            }
            assert (await client.get("/healthz")).status == 200  # alive all the same
        finally:
            del rt.db.ping
        rt.scheduler._task.cancel()  # the scheduler's loop dies
        await asyncio.gather(rt.scheduler._task, return_exceptions=True)
        status, body = await readyz(client)
        assert status == 503 and body["failing"] == ["scheduler"], body
        rt.scheduler._task = None


async def test_readyz_whatsapp_configured_and_a_wrong_signature_told_not_failed(db_url, tmp_path):
    from tests.test_whatsapp_webhook import fixture, post, sign, wa_runtime

    async with wa_runtime(db_url, tmp_path, csv=None) as rt, web_client(rt) as client:
        status, body = await readyz(client)
        assert status == 200, body
        assert body["channels"]["wa"]["receiver"] == {
            "ok": True,
            "detail": "configured; no delivery yet",
        }
        raw = fixture("text.json")
        assert (await post(rt, raw, signature=sign(raw, "not-the-secret")))[0] == 403
        status, body = await readyz(client)
        detail = body["channels"]["wa"]["receiver"]["detail"]
        assert status == 200 and "wrong signature" in detail, body
        assert (await post(rt, raw))[0] == 200
        status, body = await readyz(client)
        detail = body["channels"]["wa"]["receiver"]["detail"]
        assert detail.startswith("configured; last delivery") and "wrong" not in detail
        assert body["channels"]["wa"]["sender"]["detail"].startswith("last sent "), body


async def test_telegram_webhook_mode_is_ready_once_registered(db_url):
    async with FakeTelegramAPI(BOT_TOKEN) as fake:
        settings = Settings(
            _env_file=None,
            database_url=db_url,
            telegram_bot_token=BOT_TOKEN,
            telegram_api_url=fake.base_url,
            telegram_webhook_url="https://jaring.example.go.id/tg/webhook",
            telegram_webhook_secret="s3cret-token",
        )
        rt = Runtime(settings, clock=Clock())
        async with web_client(rt) as client:
            status, body = await readyz(client)  # not started yet
            assert status == 503 and "channels.tg.receiver" in body["failing"], body
            assert body["channels"]["tg"]["receiver"]["detail"] == "webhook not registered"
            await rt.start(web=False)
            try:
                status, body = await readyz(client)
                assert status == 200, body
                assert body["channels"]["tg"]["receiver"]["detail"] == "webhook registered"
                assert fake.webhook["url"] == "https://jaring.example.go.id/tg/webhook"
            finally:
                await rt.stop()


async def _ready(client, want: int):
    status, body = await readyz(client)
    return body if status == want else None


# --- logs ------------------------------------------------------------------------------------


@asynccontextmanager
async def captured(fmt: logging.Formatter):
    """Every log line (DEBUG and up) of the process, formatted, while the block runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(fmt)
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_json_logs_carry_the_ids_and_no_nik(db_url):
    async with running(db_url) as rt:
        flaky = Flaky(rt.transport)
        chat = Chat(rt)
        await chat.onboard()
        async with captured(JsonFormatter()) as stream:
            await chat.tap("m:check")
            await chat.send(NIK_1)
            await chat.tap("k:yes")
            flaky.errors.append(SendRetry("502: Bad Gateway"))  # the status answer: retried
            await chat.send(KK_1)
            assert "Tegal Gundil" in chat.text

            async def boom(ctx):  # a bug whose message holds what the resident typed
                raise ValueError(f"cannot handle {NIK_1} / {KK_1}")

            rt.service.engine.handle = boom
            try:
                await chat.send(f"NIK saya {NIK_1}")
            finally:
                del rt.service.engine.handle
            logging.getLogger("jaring.test").warning("typed %s and %s", NIK_1, KK_1)
        raw = stream.getvalue()
        async with rt.db.tx(write=False) as c:
            conv_id = await c.scalar(sa.select(conversations.c.id))
            events = list(await c.scalars(sa.select(inbound_events.c.id).order_by("id")))
    # onboarding (3), m:check, the NIK, k:yes, the No. KK (its reply retried), the bug
    assert len(events) == 8
    lines = [json.loads(line) for line in raw.splitlines()]
    assert lines and all({"ts", "level", "logger", "msg"} <= set(x) for x in lines)
    assert NIK_1 not in raw and KK_1 not in raw
    assert NIK_1[:6] not in raw.replace("3271 05", "")  # nor its digits in any shape
    retry = next(x for x in lines if x["msg"].startswith("send retry"))
    assert retry["conversation_id"] == conv_id and retry["event_id"] == events[6]
    assert retry["outbound_id"] > 0
    failed = next(x for x in lines if x["msg"].startswith("event processing failed"))
    assert failed["conversation_id"] == conv_id and failed["event_id"] == events[7]
    assert "ValueError" in failed["exc"] and "3271 05•• •••• 0002" in failed["exc"]
    typed = next(x for x in lines if x["logger"] == "jaring.test")
    assert typed["msg"] == "typed 3271 05•• •••• 0002 and 3271 05•• •••• 0001"
    assert "event_id" not in typed  # outside any event


def test_text_logs_show_the_ids_and_mask_too():
    from core import logcontext

    record = logging.LogRecord("jaring.x", logging.INFO, __file__, 1, "NIK %s", (NIK_1,), None)
    logcontext.set_event(12, 3)
    try:
        ContextFilter().filter(record)
    finally:
        logcontext.set_event()
    line = TextFormatter().format(record)
    assert line.endswith("INFO jaring.x: NIK 3271 05•• •••• 0002 [event_id=12 conversation_id=3]")
    # the time in front is a time, not a number to mask
    assert re.match(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} INFO", line), line
    url = "http://127.0.0.1:8081/bot42:TEST-tok_en/getUpdates"
    record = logging.LogRecord("aiogram", logging.ERROR, __file__, 1, "failed: %s", (url,), None)
    ContextFilter().filter(record)
    assert json.loads(JsonFormatter().format(record))["msg"] == (
        "failed: http://127.0.0.1:8081/bot<token>/getUpdates"
    )


# --- the real service: JSON logs, /metrics, /readyz ---------------------------------------


async def test_bot_py_run_with_json_logs_metrics_and_readyz(db_url, tmp_path):
    """`python bot.py run` against the fake Bot API: its stderr is JSON lines, /metrics counts
    the update, /readyz fails while getUpdates fails and recovers after."""
    from tests.test_telegram_e2e import service_env

    async with FakeTelegramAPI() as fake:
        env = service_env(db_url, fake.base_url, JARING_LOG_FORMAT="json")
        base = f"http://127.0.0.1:{env['WEB_PORT']}"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "bot.py",
            "run",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        err = bytearray()

        async def read():
            while chunk := await proc.stderr.read(65536):
                err.extend(chunk)

        reader = asyncio.create_task(read())
        try:
            async with aiohttp.ClientSession() as s:

                async def get(path: str, want: int):
                    """The body when `path` answers `want`, else None (the last answer in the
                    failure message)."""
                    assert proc.returncode is None, err.decode(errors="replace")
                    try:
                        async with s.get(base + path) as r:
                            text = await r.text()
                    except aiohttp.ClientError as e:
                        return Answer(None, type(e).__name__)
                    return Answer(r.status, text) if r.status == want else Answer(None, text)

                # a loaded 2-core machine imports aiogram in 10-30 s (tests/test_telegram_e2e.py
                # waits up to 90 s as well)
                await wait_until(lambda: get("/readyz", 200), timeout=90, every=0.1)
                fake.push_update(text_update(1, USER, "/start"))
                fake.push_update(text_update(2, USER, f"NIK saya {NIK_1}"))
                await fake.wait_for_messages(USER, 2, timeout=20)
                text = (await wait_until(lambda: get("/metrics", 200))).text
                m = parse_metrics(text)
                assert val(m, "jaring_inbound_events_total", channel="tg", result="processed") >= 2
                assert val(m, "jaring_outbound_sends_total", channel="tg", result="sent") >= 2
                fake.outage_for(60, 502, methods=("getUpdates",))
                fake.push_update(text_update(3, USER, "menu"))  # ends the poll waiting now
                text = (await wait_until(lambda: get("/readyz", 503), timeout=30)).text
                assert "channels.tg.receiver" in json.loads(text)["failing"]
                assert "getUpdates failing (BotApiError 502" in text
                fake.end_outage()
                await wait_until(lambda: get("/readyz", 200), timeout=30)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            await reader
    lines = err.decode().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(r["msg"].startswith("telegram: polling mode") for r in records)
    assert NIK_1 not in err.decode() and BOT_TOKEN not in err.decode()


# --- several workers -------------------------------------------------------------------------

_WORKER = """
from core import metrics
for _ in range({n}):
    metrics.stored("tg", "x", True)
"""
_READ = """
from prometheus_client import CollectorRegistry, generate_latest
from web.observe import process_metrics
r = CollectorRegistry(auto_describe=False)
r.register(process_metrics())
print(generate_latest(r).decode())
"""


def test_multiprocess_mode_adds_the_workers_up(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for n in (3, 4):  # two workers, each counting its own
        subprocess.run([sys.executable, "-c", _WORKER.format(n=n)], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [sys.executable, "-c", _READ], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    m = parse_metrics(out)
    assert val(m, "jaring_inbound_events_total", channel="tg", result="received") == 7
