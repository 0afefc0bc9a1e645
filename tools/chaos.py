"""`make chaos`: the fault suite. The real service (`python bot.py run`, polling a fake Telegram
Bot API server in this process) with simulated residents, and faults injected while they write.

    python -m tools.chaos                       # every scenario, SQLite, full sizes
    python -m tools.chaos --quick               # a smoke run: fewer residents, shorter faults
    python -m tools.chaos --db postgresql       # PostgreSQL (a scratch database jaring_chaos)
    python -m tools.chaos --scenario kill9 --residents 30 --kills 4
    python -m tools.chaos --strict              # exit 1 when a reply or a report code was lost
                                                # or sent twice

Each resident is a distinct Telegram user walking one fixed dialogue (`script`): /start, agree,
Bahasa Indonesia, report, usul, own family, NIK, yes, No. KK, a reason, a story, skip the photo,
skip the location, send -> 15 replies, the report code among them. Half the residents wait for
each reply before the next step, half send every step at once (a resident typing fast).

Scenarios (one line each):
  calm        no fault: the control (every figure should be 0)
  kill9       kill -9 of the service --kills times while residents write; restarted each time
  storm429    every sendMessage answered 429 (retry_after --retry-after) for --storm seconds,
              and two kill -9 during it
  outage5xx   every sendMessage answered 502 for --outage seconds (default 70)
  sigterm     one chat with --queue replies queued (Telegram's 1 message/s per chat), then
              SIGTERM: the time to exit; then a restart, and what is still delivered
  pgkill      PostgreSQL only: every backend of the database terminated --kills times
  sqlitelock  SQLite only: another process holds BEGIN EXCLUSIVE on the file for --lock
              seconds; the largest /healthz and /login latency during the lock, and the bot's

Counting. The fake server records every sendMessage it accepted. Per resident: `sent` is the
number of messages, `twice` the messages whose text the chat had already received (every reply
of the dialogue has a distinct text), `lost` the expected replies whose text never came.
A report is `lost` when no message with its code (a line `Kode: LPR-XXXX-XXXX`) came, `doubled` for every
extra one. In `sigterm` the replies are alike ("Menu utama"), so there sent/lost/twice are
plain counts against the expected number.

The exit code is 0 whatever the figures (a measurement), unless --strict. Never logs NIKs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from core.outbox import BACKOFF_CAP
from tests.fakes.telegram_api import FakeTelegramAPI, callback_update, text_update

ROOT = Path(__file__).resolve().parent.parent
# The report-code message ("Kode: LPR-XXXX-XXXX" on a line of its own); the phone question
# that follows names the code too, inside a sentence.
CODE = re.compile(r"^\w+: LPR-[0-9A-Z]{4}-[0-9A-Z]{4}$", re.M)
PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/"
PG_DB = "jaring_chaos"
DATA_DATE = "2026-11-01"
SCENARIOS = ("calm", "kill9", "storm429", "outage5xx", "sigterm", "pgkill", "sqlitelock")
STORY = "Ibu saya tinggal sendiri sejak bapak wafat dan tidak bekerja lagi"


def script(nik: str, no_kk: str) -> list[tuple[str, str, int]]:
    """One resident's dialogue: (kind, text or callback data, replies expected)."""
    return [
        ("text", "/start", 1),
        ("cb", "c:agree", 1),
        ("cb", "l:id", 1),
        ("cb", "m:report", 1),
        ("cb", "r:usul", 1),
        ("cb", "r:own", 1),
        ("text", nik, 1),
        ("cb", "k:yes", 1),
        ("text", no_kk, 1),
        ("cb", "r:why:elder", 1),
        ("text", STORY, 1),
        ("cb", "r:skip", 1),  # no photo
        ("cb", "r:skip", 1),  # no location
        ("cb", "r:send", 2),  # the code, then the optional phone question
    ]


PER_RESIDENT = sum(k for _, _, k in script("", ""))


# --------------------------------------------------------------------------- the service


def service_env(db_url: str, api_url: str, **extra: str) -> dict[str, str]:
    from tests.test_telegram_e2e import service_env as e2e_env

    env = e2e_env(db_url, api_url)
    env["LOG_LEVEL"] = "INFO"
    env.update(extra)
    return env


class Service:
    """`python bot.py run` as a subprocess; its output goes to `log_path` (appended)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def port(self) -> str:
        return self.env["WEB_PORT"]

    async def start(self, timeout: float = 90.0) -> None:
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start {self.starts} ===\n".encode())
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "bot.py",
                "run",
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        url = f"http://127.0.0.1:{self.port}/healthz"
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as s:
            while time.monotonic() < deadline:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"the service exited at start-up; see {self.log_path}")
                try:
                    async with s.get(url) as r:
                        if r.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"the service did not become healthy; see {self.log_path}")

    async def kill9(self) -> None:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def term(self, cap: float = 120.0) -> tuple[float, int | None]:
        """SIGTERM; (seconds to exit, return code or None when it had to be killed)."""
        assert self.proc is not None
        if self.proc.returncode is not None:
            return 0.0, self.proc.returncode
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc: int | None = await asyncio.wait_for(self.proc.wait(), cap)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            rc = None
        return time.monotonic() - t0, rc

    def tracebacks(self) -> int:
        return self.log_path.read_bytes().count(b"Traceback") if self.log_path.exists() else 0


# --------------------------------------------------------------------------- databases


@dataclass
class Pair:
    nik: str
    no_kk: str


def _run(argv: list[str], db_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_URL"))}
    env["DATABASE_URL"] = db_url
    env["JARING_ALLOW_DEV_DEFAULTS"] = "1"
    res = subprocess.run(
        [sys.executable, "bot.py", *argv], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if res.returncode != 0:
        raise RuntimeError(f"bot.py {argv[0]} failed:\n{res.stdout}\n{res.stderr}")


def make_extract(workdir: Path, households: int) -> tuple[Path, list[Pair]]:
    """A small synthetic DTSEN extract (db/seed.py) and the head of each household."""
    from bench.data import TODAY, heads, reference
    from db.seed import write_demo_csv

    programs, region = reference()
    path = workdir / "dtsen.csv"
    write_demo_csv(
        path, households=households, seed=1311, region=region, programs=programs, today=TODAY
    )
    return path, [Pair(p.nik, p.no_kk) for p in heads(path)]


class Databases:
    """A fresh, migrated, imported database per scenario: a copied SQLite template, or the
    scratch PostgreSQL database dropped and made again."""

    def __init__(self, kind: str, workdir: Path, csv: Path, pg_url: str) -> None:
        self.kind, self.workdir, self.csv, self.pg_url = kind, workdir, csv, pg_url
        self._template: Path | None = None
        self.path: Path | None = None  # the SQLite file of the current scenario

    async def fresh(self, name: str) -> str:
        if self.kind == "sqlite":
            if self._template is None:
                self._template = self.workdir / "template.db"
                url = f"sqlite+aiosqlite:///{self._template}"
                await asyncio.to_thread(_run, ["migrate"], url)
                await asyncio.to_thread(
                    _run, ["import-dtsen", str(self.csv), "--data-date", DATA_DATE], url
                )
            self.path = self.workdir / f"{name}.db"
            shutil.copyfile(self._template, self.path)
            return f"sqlite+aiosqlite:///{self.path}"
        await self._pg(
            f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)', f'CREATE DATABASE "{PG_DB}"'
        )
        url = self.url
        await asyncio.to_thread(_run, ["migrate"], url)
        await asyncio.to_thread(
            _run, ["import-dtsen", str(self.csv), "--data-date", DATA_DATE], url
        )
        return url

    @property
    def url(self) -> str:
        return self.pg_url.rstrip("/") + "/" + PG_DB

    async def drop(self) -> None:
        if self.kind == "postgresql":
            await self._pg(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')

    async def _pg(self, *statements: str, database: str = "postgres") -> list[Any]:
        import asyncpg

        dsn = self.pg_url.replace("postgresql+asyncpg://", "postgresql://").rstrip("/")
        conn = await asyncpg.connect(dsn + "/" + database)
        out: list[Any] = []
        try:
            for st in statements:
                out.append(await conn.fetch(st))
        finally:
            await conn.close()
        return out

    async def kill_connections(self) -> int:
        """pg_terminate_backend on every other connection to the scratch database."""
        [rows] = await self._pg(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{PG_DB}' AND pid <> pg_backend_pid()"
        )
        return sum(1 for r in rows if r[0])


# --------------------------------------------------------------------------- residents


@dataclass
class Result:
    scenario: str
    db: str
    expected: int = 0
    sent: int = 0
    twice: int = 0
    lost: int = 0
    reports: int = 0
    reports_lost: int = 0
    reports_doubled: int = 0
    special: str = ""
    tracebacks: int = 0
    skipped: str = ""

    def line(self) -> str:
        head = f"{self.scenario:<11} {self.db:<10}"
        if self.skipped:
            return f"{head} skipped ({self.skipped})"
        return (
            f"{head} replies expected {self.expected} sent {self.sent} twice {self.twice} "
            f"lost {self.lost} | reports {self.reports} lost {self.reports_lost} "
            f"doubled {self.reports_doubled} | {self.special or '-'}"
            + (f" | tracebacks {self.tracebacks}" if self.tracebacks else "")
        )

    @property
    def bad(self) -> bool:
        return bool(self.lost or self.twice or self.reports_lost or self.reports_doubled)


@dataclass
class Crowd:
    """N residents walking `script` against the fake server; user ids from `base`."""

    fake: FakeTelegramAPI
    pairs: list[Pair]
    n: int
    base: int = 7_700_000
    step_timeout: float = 20.0

    @property
    def users(self) -> list[int]:
        return [self.base + i for i in range(self.n)]

    def _update(self, uid: int, kind: str, value: str) -> dict[str, Any]:
        uid_ = self.fake._last_update_id + 1  # pushed at once: push_update records it
        if kind == "text":
            return text_update(uid_, uid, value)
        return callback_update(uid_, uid, value)

    async def walk(self, i: int, wait: bool) -> None:
        uid, pair = self.base + i, self.pairs[i % len(self.pairs)]
        got = 0
        for kind, value, replies in script(pair.nik, pair.no_kk):
            self.fake.push_update(self._update(uid, kind, value))
            got += replies
            if wait:
                try:
                    await self.fake.wait_for_messages(uid, got, timeout=self.step_timeout)
                except TimeoutError:
                    wait = False  # no answer: the resident types the rest without waiting
            else:
                await asyncio.sleep(0.01)

    async def run(self) -> None:
        """Half wait for each reply, half don't; started 50 ms apart."""
        tasks = []
        for i in range(self.n):
            tasks.append(asyncio.create_task(self.walk(i, wait=i % 2 == 0)))
            await asyncio.sleep(0.05)
        await asyncio.gather(*tasks)

    def complete(self) -> bool:
        return all(
            len({m["text"] for m in self.fake.messages_to(u)}) >= PER_RESIDENT for u in self.users
        )

    async def settle(self, idle: float, cap: float) -> None:
        """Wait until every reply came, or nothing new came for `idle` s, or `cap` s passed."""
        t0 = last_t = time.monotonic()
        last = len(self.fake.sent)
        while time.monotonic() - t0 < cap and not self.complete():
            await asyncio.sleep(0.5)
            if len(self.fake.sent) != last:
                last, last_t = len(self.fake.sent), time.monotonic()
            elif time.monotonic() - last_t > idle:
                break

    def tally(self, r: Result) -> Result:
        for u in self.users:
            texts = [m["text"] for m in self.fake.messages_to(u)]
            seen = Counter(texts)
            r.expected += PER_RESIDENT
            r.sent += len(texts)
            r.twice += len(texts) - len(seen)
            r.lost += max(0, PER_RESIDENT - len(seen))
            codes = sum(n for t, n in seen.items() if CODE.search(t))
            r.reports += 1
            if codes == 0:
                r.reports_lost += 1
            elif codes > 1:
                r.reports_doubled += codes - 1
        return r


# --------------------------------------------------------------------------- scenarios


@dataclass
class Run:
    args: argparse.Namespace
    fake: FakeTelegramAPI
    svc: Service
    dbs: Databases
    pairs: list[Pair]
    result: Result

    def crowd(self, n: int | None = None) -> Crowd:
        return Crowd(self.fake, self.pairs, n or self.args.residents)


async def sc_calm(run: Run) -> None:
    crowd = run.crowd()
    await crowd.run()
    await crowd.settle(run.args.settle, run.args.settle * 4)
    crowd.tally(run.result)


async def _kills(run: Run, times: int, gap: float) -> float:
    """kill -9 and restart `times` times, `gap` s apart; returns the longest restart."""
    longest = 0.0
    for _ in range(times):
        await asyncio.sleep(gap)
        await run.svc.kill9()
        t0 = time.monotonic()
        await run.svc.start()
        longest = max(longest, time.monotonic() - t0)
    return longest


async def sc_kill9(run: Run) -> None:
    crowd = run.crowd()
    walking = asyncio.create_task(crowd.run())
    longest = await _kills(run, run.args.kills, run.args.kill_gap)
    await walking
    await crowd.settle(run.args.settle, run.args.settle * 4)
    crowd.tally(run.result)
    run.result.special = f"kill -9 x{run.args.kills}, longest restart {longest:.1f} s"


async def sc_storm429(run: Run) -> None:
    a = run.args
    crowd = run.crowd()
    walking = asyncio.create_task(crowd.run())
    await asyncio.sleep(1.0)
    run.fake.outage_for(a.storm, 429, retry_after=a.retry_after)
    await _kills(run, 2, a.storm / 3)
    await walking
    await asyncio.sleep(max(0.0, a.storm - 2 * a.storm / 3))
    await crowd.settle(a.settle + a.retry_after, (a.settle + a.retry_after) * 4)
    crowd.tally(run.result)
    run.result.special = (
        f"429 (retry_after {a.retry_after} s) for {a.storm:.0f} s, "
        f"{run.fake.outage_answers} answered 429, kill -9 x2"
    )


async def sc_outage5xx(run: Run) -> None:
    a = run.args
    crowd = run.crowd()
    walking = asyncio.create_task(crowd.run())
    await asyncio.sleep(1.0)
    t0 = time.monotonic()
    run.fake.outage_for(a.outage, 502)
    await walking
    await asyncio.sleep(max(0.0, a.outage - (time.monotonic() - t0)))
    # After the outage a chat's next retry may be up to the outbox's backoff cap away: waiting
    # less would count replies still queued as lost.
    idle = max(a.settle, BACKOFF_CAP + 5)
    await crowd.settle(idle, idle * 4)
    crowd.tally(run.result)
    run.result.special = f"502 for {a.outage:.0f} s, {run.fake.outage_answers} answered 502"


async def sc_sigterm(run: Run) -> None:
    a, fake = run.args, run.fake
    crowd = Crowd(fake, run.pairs, 1, base=7_900_000)
    uid = crowd.users[0]
    for kind, value in (("text", "/start"), ("cb", "c:agree"), ("cb", "l:id")):
        fake.push_update(crowd._update(uid, kind, value))
        try:
            await fake.wait_for_messages(uid, len(fake.messages_to(uid)) + 1, timeout=20)
        except TimeoutError:
            pass
    last = 0
    for _ in range(a.queue):
        last = fake.push_update(crowd._update(uid, "cb", "g:menu"))["update_id"]
    # Every update taken (acknowledged by the next getUpdates), and a moment to process them.
    deadline = time.monotonic() + 60
    while fake.confirmed_offset <= last and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)
    before = len(fake.messages_to(uid))
    took, rc = await run.svc.term(cap=a.term_cap)
    at_exit = len(fake.messages_to(uid))
    await run.svc.start()
    t_settle = time.monotonic()
    expected = 3 + a.queue
    while time.monotonic() - t_settle < max(a.settle, a.queue * 1.5):
        if len(fake.messages_to(uid)) >= expected:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(2.0)  # anything sent twice after the last expected one
    sent = len(fake.messages_to(uid))
    r = run.result
    r.expected, r.sent = expected, sent
    r.twice, r.lost = max(0, sent - expected), max(0, expected - sent)
    exit_s = f"{took:.1f} s (rc {rc})" if rc is not None else f">{a.term_cap:.0f} s, killed"
    r.special = (
        f"SIGTERM with {expected - before} replies queued in one chat: exit {exit_s}; "
        f"{at_exit - before} sent while stopping"
    )


async def sc_pgkill(run: Run) -> None:
    a = run.args
    crowd = run.crowd()
    walking = asyncio.create_task(crowd.run())
    killed = 0
    for _ in range(a.kills):
        await asyncio.sleep(a.kill_gap / 2)
        killed += await run.dbs.kill_connections()
    await walking
    await crowd.settle(a.settle, a.settle * 4)
    crowd.tally(run.result)
    run.result.special = f"{killed} connections terminated in {a.kills} rounds"


async def sc_sqlitelock(run: Run) -> None:
    a = run.args
    assert run.dbs.path is not None
    crowd = run.crowd()
    held = threading.Event()
    released = threading.Event()

    def lock() -> None:
        con = sqlite3.connect(str(run.dbs.path), timeout=60, isolation_level=None)
        try:
            con.execute("BEGIN EXCLUSIVE")
            held.set()
            time.sleep(a.lock)
            con.execute("COMMIT")
        finally:
            con.close()
            released.set()

    worst: dict[str, float] = {"healthz": 0.0, "login": 0.0}
    failures = Counter[str]()

    async def probe(path: str) -> None:
        url = f"http://127.0.0.1:{run.svc.port}/{path}"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as s:
            while not released.is_set():
                t0 = time.monotonic()
                try:
                    async with s.get(url, allow_redirects=False) as resp:
                        await resp.read()
                        ok = resp.status < 500
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                took = time.monotonic() - t0
                if held.is_set():
                    worst[path] = max(worst[path], took)
                    failures[path] += not ok
                await asyncio.sleep(0.1)

    # The bot: a probe chat taps "Main menu" every second during the lock; the slowest reply.
    probe_chat = Crowd(run.fake, run.pairs, 1, base=7_950_000)
    bot_worst = 0.0

    async def bot_probe() -> None:
        nonlocal bot_worst
        uid = probe_chat.users[0]
        for kind, value in (("text", "/start"), ("cb", "c:agree"), ("cb", "l:id")):
            n = len(run.fake.messages_to(uid)) + 1
            run.fake.push_update(probe_chat._update(uid, kind, value))
            await run.fake.wait_for_messages(uid, n, timeout=30)
        while not held.is_set():
            await asyncio.sleep(0.05)
        while not released.is_set():
            n = len(run.fake.messages_to(uid)) + 1
            t0 = time.monotonic()
            run.fake.push_update(probe_chat._update(uid, "cb", "g:menu"))
            try:
                await run.fake.wait_for_messages(uid, n, timeout=a.lock + 30)
            except TimeoutError:
                pass
            bot_worst = max(bot_worst, time.monotonic() - t0)
            await asyncio.sleep(1.0)

    bot_task = asyncio.create_task(bot_probe())
    await asyncio.sleep(3.0)
    walking = asyncio.create_task(crowd.run())
    probes = [asyncio.create_task(probe("healthz")), asyncio.create_task(probe("login"))]
    locker = asyncio.create_task(asyncio.to_thread(lock))
    await locker
    await asyncio.gather(*probes, bot_task, walking)
    await crowd.settle(a.settle, a.settle * 4)
    crowd.tally(run.result)
    run.result.special = (
        f"file locked {a.lock:.0f} s: max latency /healthz {worst['healthz']:.2f} s, "
        f"/login {worst['login']:.2f} s, bot reply {bot_worst:.2f} s; "
        f"failed probes {sum(failures.values())}"
    )


RUNNERS: dict[str, Callable[[Run], Awaitable[None]]] = {
    "calm": sc_calm,
    "kill9": sc_kill9,
    "storm429": sc_storm429,
    "outage5xx": sc_outage5xx,
    "sigterm": sc_sigterm,
    "pgkill": sc_pgkill,
    "sqlitelock": sc_sqlitelock,
}


# --------------------------------------------------------------------------- main


async def run_scenario(
    name: str, args: argparse.Namespace, dbs: Databases, pairs: list[Pair], workdir: Path
) -> Result:
    result = Result(name, args.db)
    if name == "pgkill" and args.db != "postgresql":
        result.skipped = "PostgreSQL only"
        return result
    if name == "sqlitelock" and args.db != "sqlite":
        result.skipped = "SQLite only"
        return result
    db_url = await dbs.fresh(name)
    extra = {"TELEGRAM_RATE_PER_CHAT": "1"} if name == "sigterm" else {}
    try:
        async with FakeTelegramAPI(record_calls=False) as fake:
            svc = Service(service_env(db_url, fake.base_url, **extra), workdir / f"{name}.log")
            await svc.start()
            try:
                await RUNNERS[name](Run(args, fake, svc, dbs, pairs, result))
            finally:
                await svc.term(cap=30)
            result.tracebacks = svc.tracebacks()
    finally:
        await dbs.drop()
    return result


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m tools.chaos", description=(__doc__ or "").split("\n\n")[0]
    )
    p.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        help="run only this scenario (repeatable); default: all",
    )
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument(
        "--pg-url",
        default=os.environ.get("JARING_CHAOS_PG_URL", PG_DEFAULT),
        help=f"PostgreSQL server (a scratch database {PG_DB} is made and dropped)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke sizes: 10 residents, 2 kills, 20 s outage, 10 s storm and lock",
    )
    p.add_argument("--residents", type=int)
    p.add_argument("--kills", type=int, help="kill -9 (or connection kills) per scenario")
    p.add_argument("--kill-gap", type=float, help="seconds between two kills")
    p.add_argument("--outage", type=float, help="seconds of the 5xx outage (default 70)")
    p.add_argument("--storm", type=float, help="seconds of the 429 storm")
    p.add_argument("--retry-after", type=int, default=10, help="retry_after of the 429s")
    p.add_argument("--queue", type=int, help="replies queued in one chat before SIGTERM")
    p.add_argument("--lock", type=float, help="seconds the SQLite file stays locked")
    p.add_argument(
        "--settle", type=float, help="seconds without a new reply after which a scenario ends"
    )
    p.add_argument(
        "--term-cap",
        type=float,
        default=120.0,
        help="seconds after SIGTERM before the service is killed",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when any reply or report was lost or sent twice",
    )
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    a = p.parse_args(argv)
    quick = {
        "residents": 10,
        "kills": 2,
        "kill_gap": 4.0,
        "outage": 20.0,
        "storm": 10.0,
        "queue": 30,
        "lock": 10.0,
        "settle": 12.0,
    }
    full = {
        "residents": 60,
        "kills": 4,
        "kill_gap": 6.0,
        "outage": 70.0,
        "storm": 30.0,
        "queue": 80,
        "lock": 15.0,
        "settle": 30.0,
    }
    for k, v in (quick if a.quick else full).items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    return a


async def amain(args: argparse.Namespace) -> int:
    names = args.scenario or list(SCENARIOS)
    workdir = Path(tempfile.mkdtemp(prefix="jaring-chaos-"))
    bad = False
    try:
        csv, pairs = await asyncio.to_thread(make_extract, workdir, args.residents + 20)
        dbs = Databases(args.db, workdir, csv, args.pg_url)
        print(
            f"# chaos: {args.db}, {args.residents} residents x {PER_RESIDENT} replies, "
            f"work dir {workdir}",
            flush=True,
        )
        for name in names:
            t0 = time.monotonic()
            r = await run_scenario(name, args, dbs, pairs, workdir)
            print(
                r.line() + (f" | {time.monotonic() - t0:.0f} s" if not r.skipped else ""),
                flush=True,
            )
            bad = bad or r.bad
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if (args.strict and bad) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # SIGTERM to the driver unwinds like Ctrl-C: every scenario's `finally` stops its service.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
