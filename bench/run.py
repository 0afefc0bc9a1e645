"""`make bench`: Jaring against a fake Telegram Bot API server, next to a bare aiogram echo bot.

    make bench                                  # the full run (docs/benchmarks.md)
    make bench BENCH_ARGS="--quick"             # smoke run: 100k people, 1 round, fewer residents
    .venv/bin/python -m bench.run --residents 1000 --concurrency 100 --rounds 3 --profile

What it does, in order:

1. Data. The synthetic extract (db/seed.py, 250,000 households, about 1M people) is generated
   once into .cache/bench/ and reused; so is a 2,500-household one (about 10,000 people).
   Every run migrates fresh SQLite databases and imports both with `import_dtsen`, timed.
2. Lookup rate. In this process, K random `match_household` + `household_snapshot` calls (80 %
   real pairs, 10 % a wrong No. KK, 10 % an unknown NIK), one read transaction each, on the
   10k and the 1M database, interleaved; lookups/s and the difference.
3. Chat. A fake Bot API server runs in this process. `python bot.py run` (webhook mode, the
   1M database) and `python -m bench.echo_bot` (bare aiogram) are started in turn as
   subprocesses, echo then service, `--rounds` times. The same driver walks the same number of
   residents through the same seven updates on both (bench/driver.py), after a warm-up batch.
   Figures per bot are the medians over the rounds; a ratio is the median of each service
   round's figure over the echo round's just before it.

4. WhatsApp (`--whatsapp`, or `--only-whatsapp` for just this). `python bot.py run` with
   WHATSAPP_* only (no TELEGRAM_*) against a fake Graph API in this process
   (bench/wa_driver.py): each resident is a distinct wa_id walking the same check, every step a
   signed POST to /wa/webhook; ack latency (POST -> 200), replies/s (steps answered per second)
   and, when the Telegram rounds ran, the ratio to the Telegram service's updates/s, round by
   round (each WhatsApp round runs right after the Telegram service round of the same number).

Modes (issue #14; each prints the same summary, with the targets of its mode):

    --polling            the service and the echo bot in long polling: both fetch updates with
                         getUpdates (offset/timeout) from the fake, where the driver queues them.
    --db postgresql      the service on PostgreSQL (BENCH_PG_SERVER, default
                         postgresql://postgres@127.0.0.1:5432): the extract is imported once into
                         a database of the bench's own, jaring_bench_<size>, then ANALYZEd;
                         --reuse-db reuses it. The lookup-rate step is SQLite's and is skipped.
    --people N           the big extract's size (default 1M; --quick 100k).
    --workers N          N `bot.py run` processes on PostgreSQL, each on its own port, the driver
                         posting round robin per update like a proxy; CPU per update is summed
                         over the workers, peak RSS is the largest.
    --cprofile           one more service round under cProfile (statements executed, hot spots).

Telegram's outbound limits are a policy (30 messages/s, 1/s per chat): here they are set far
above what the service can do, so the bench measures processing cost, not the policy. The
same goes for WhatsApp's (WHATSAPP_RATE_GLOBAL, WHATSAPP_RATE_PER_CHAT).

The exit code is 0 whatever the figures (it is a measurement); it is 1 only when the run is
not valid: a resident did not get a reply to every step or the service's last reply was not the
eligibility result.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench import data
from bench.driver import (
    STEPS,
    BatchResult,
    Driver,
    Resident,
    proc_cpu_seconds,
    proc_status_kib,
)
from bench.wa_driver import WA_STEPS, BenchFakeWhatsAppAPI, WaDriver
from config import ROOT
from tests.fakes import whatsapp_api as wa_fake
from tests.fakes.telegram_api import BOT_TOKEN, FakeTelegramAPI

SECRET = "bench-secret_0123456789"
LOGS = data.CACHE / "logs"
POLLING = "polling"  # BotProcess.webhook_url of a bot in long-polling mode
HIGH_RATE = "100000"  # messages/s: far above what either bot can do (see the module doc)

# Targets (the issue): ratio and limits, and which way is good.
T_UPDATES_RATIO = 0.6  # service updates/s ÷ echo updates/s, at least
T_P99_RATIO = 1.5  # service p99 ÷ echo p99, at most
T_RSS_MIB = 200  # service peak RSS, at most (issue #14; it was < 250)
T_PG_RATIO, T_PG_P99 = 0.5, 2.0  # on PostgreSQL (issue #14)
PEOPLE_PER_HOUSEHOLD = 3.88  # db/seed.py: 250,000 households are 970,918 people
T_IMPORT_S = 120  # 1M rows imported, below
T_LOOKUP_DIFF = 10.0  # % lookup rate difference 10k vs 1M, within
T_WA_ACK_MS = 50.0  # WhatsApp webhook POST -> 200, median, at most (issue #14)
T_WA_RATIO = 0.8  # WhatsApp replies/s ÷ Telegram service updates/s, at least ("within 20 %")


def say(*a) -> None:
    print(*a, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({model}), {mem} RAM, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def py_spy() -> str | None:
    exe = Path(sys.executable).with_name("py-spy")
    return str(exe) if exe.exists() else shutil.which("py-spy")


def code_version() -> str:
    import subprocess

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
    return (head or "?") + (" + uncommitted changes" if dirty else "")


# --- 1. data and import ------------------------------------------------------------------------


@dataclass
class Imported:
    label: str
    url: str
    csv: Path
    rows: int
    households: int
    seconds: float
    pairs: list[data.Pair]


def _marker(name: str) -> Path:
    return data.CACHE / (name + ".imported.json")


async def prepare_db(label: str, name: str, households: int, reuse: bool) -> Imported:
    path, _ = data.ensure_csv(households, log=say)
    pairs = data.heads(path)
    marker = _marker(name)
    if reuse and marker.exists() and (data.CACHE / name).exists():
        m = json.loads(marker.read_text())
        if m.get("csv") == path.name:
            say(
                f"import ({label}): reusing {name} (--reuse-db); last import "
                f"{m['rows']:,} rows in {m['seconds']:.1f} s"
            )
            return Imported(
                label, data.db_url(name), path, m["rows"], m["households"], m["seconds"], pairs
            )
    marker.unlink(missing_ok=True)
    url = await asyncio.to_thread(data.fresh_db, name)  # Alembic runs its own event loop
    report = await data.import_csv(url, path)
    gc.collect()
    say(
        f"import ({label}): {report.rows_imported:,} rows, {report.households:,} households "
        f"in {report.seconds:.1f} s ({report.rows_imported / report.seconds:,.0f} rows/s)"
    )
    _write_marker(marker, path, report)
    return Imported(
        label, url, path, report.rows_imported, report.households, report.seconds, pairs
    )


def _write_marker(marker, path, report) -> None:
    """What was imported from which extract, for --reuse-db."""
    marker.write_text(
        json.dumps(
            {
                "csv": path.name,
                "rows": report.rows_imported,
                "households": report.households,
                "seconds": report.seconds,
            }
        )
    )


async def prepare_pg(label: str, name: str, households: int, reuse: bool) -> Imported:
    """The big extract in a PostgreSQL database of the bench's own (`name`), imported once and
    ANALYZEd; reused with --reuse-db while the extract is the same."""
    path, _ = data.ensure_csv(households, log=say)
    pairs = data.heads(path)
    marker = _marker("pg-" + name)
    if reuse and marker.exists() and await data.pg_exists(name):
        m = json.loads(marker.read_text())
        if m.get("csv") == path.name:
            say(
                f"import ({label}, PostgreSQL): reusing database {name} (--reuse-db); last import "
                f"{m['rows']:,} rows in {m['seconds']:.1f} s"
            )
            return Imported(
                label, data.pg_url(name), path, m["rows"], m["households"], m["seconds"], pairs
            )
    marker.unlink(missing_ok=True)
    url = await data.fresh_pg_db(name)
    report = await data.import_csv(url, path)
    analyze = await data.pg_analyze(name)
    gc.collect()
    say(
        f"import ({label}, PostgreSQL {name}): {report.rows_imported:,} rows, "
        f"{report.households:,} households in {report.seconds:.1f} s "
        f"({report.rows_imported / report.seconds:,.0f} rows/s); then ANALYZE {analyze:.1f} s"
    )
    _write_marker(marker, path, report)
    return Imported(
        label, url, path, report.rows_imported, report.households, report.seconds, pairs
    )


# --- 2. lookup rate ------------------------------------------------------------------------------


def lookup_plan(pairs: list[data.Pair], k: int, seed: int) -> list[tuple[str, str]]:
    """k (nik, no_kk) queries: 80 % real pairs, 10 % a wrong No. KK, 10 % an unknown NIK."""
    rng = random.Random(seed)
    out = []
    for _ in range(k):
        p = rng.choice(pairs)
        r = rng.random()
        if r < 0.8:
            out.append((p.nik, p.no_kk))
        elif r < 0.9:
            out.append((p.nik, rng.choice(pairs).no_kk))
        else:
            out.append(("99" + p.nik[2:], p.no_kk))  # province 99 does not exist
    return out


async def lookups(small: Imported, big: Imported, k: int, rounds: int, chunk: int = 500) -> dict:
    """lookups/s on both databases. Both stay open (warm caches, as in the service); the K
    lookups of a round run in chunks, alternating between the databases, so that a drift of the
    machine's speed (±20 % here) falls on both alike."""
    from db.database import Database
    from db.queries import household_snapshot, match_household

    labels = (small.label, big.label)
    plans = {small.label: lookup_plan(small.pairs, k, 1), big.label: lookup_plan(big.pairs, k, 1)}
    dbs = {small.label: Database(small.url), big.label: Database(big.url)}

    async def run(db, plan) -> int:
        hits = 0
        for nik, kk in plan:
            async with db.tx(write=False) as c:  # one read transaction per lookup, as the service
                hid = await match_household(c, nik, kk)
                if hid is not None:
                    await household_snapshot(c, hid)
                    hits += 1
        return hits

    rates: dict[str, list[float]] = {label: [] for label in labels}
    try:
        for label in labels:  # warm-up: not timed
            await run(dbs[label], plans[label][: min(2000, k)])
        gc.collect()
        gc.freeze()  # the big lists of pairs are not the lookups' garbage to scan
        for r in range(rounds):
            took = dict.fromkeys(labels, 0.0)
            hits = dict.fromkeys(labels, 0)
            for i in range(0, k, chunk):
                order = labels if (i // chunk) % 2 == 0 else labels[::-1]
                for label in order:
                    t0 = time.perf_counter()
                    hits[label] += await run(dbs[label], plans[label][i : i + chunk])
                    took[label] += time.perf_counter() - t0
            for label in labels:
                rates[label].append(k / took[label])
            say(
                f"  lookups round {r + 1}/{rounds}: "
                + ", ".join(
                    f"{label} {k / took[label]:,.0f}/s ({hits[label]:,} of {k:,} matched)"
                    for label in labels
                )
                + f"; difference {100 * (took[labels[1]] - took[labels[0]]) / took[labels[1]]:+.1f} %"
            )
    finally:
        gc.unfreeze()
        for db in dbs.values():
            await db.dispose()
    med = {label: statistics.median(v) for label, v in rates.items()}
    # The difference of each round (both databases measured side by side), then the median.
    diffs = [
        100 * (s_ - b_) / s_ for s_, b_ in zip(rates[small.label], rates[big.label], strict=False)
    ]
    return {"rates": rates, "median": med, "diffs": diffs, "diff_pct": statistics.median(diffs)}


# --- 3. the bots ---------------------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("TELEGRAM_", "WHATSAPP_", "JARING_", "DATABASE_URL", "WEB_", "LOG_LEVEL")
        )
    }
    # Fake servers: the development hash key and placeholder contacts are fine (docs/security.md).
    env.update(PYTHONUNBUFFERED="1", JARING_ALLOW_DEV_DEFAULTS="1", **extra)
    return env


class BotProcess:
    """A bot under test as a subprocess: its pid, log file, readiness and peak RSS."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        port: int,
        webhook_url: str,
        profile_to: Path | None = None,
    ):
        self.name = name
        self.port = port
        self.webhook_url = webhook_url
        self.env = env
        self.argv = argv
        self.profile_to = profile_to
        self.log_path = LOGS / f"{name}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.pid: int | None = None  # the Python process under test (py-spy's child if profiling)
        self.peak_rss_kib: int | None = None

    async def start(self, fake, timeout: float = 60.0) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        argv = self.argv
        if self.profile_to is not None and self.profile_to.suffix == ".pstats":
            # cProfile in the service process itself (no py-spy needed); written at its exit.
            argv = [argv[0], "-m", "cProfile", "-o", str(self.profile_to), *argv[1:]]
        elif self.profile_to is not None:
            argv = [
                py_spy() or "py-spy",
                "record",
                "--format",
                "raw",
                "--rate",
                "250",
                "-o",
                str(self.profile_to),
                "--",
                *argv,
            ]
        self._log = open(self.log_path, "wb")
        self.proc = await asyncio.create_subprocess_exec(
            *argv, cwd=ROOT, env=self.env, stdout=self._log, stderr=asyncio.subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/healthz"
        async with aiohttp.ClientSession() as s:
            while True:
                if self.proc.returncode is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.proc.returncode}:\n" + self.log_tail()
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not become healthy:\n" + self.log_tail())
                try:
                    async with s.get(url) as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        if self.webhook_url == POLLING:  # Telegram long polling: its first getUpdates
            await fake.wait_for(
                lambda: fake.call_counts.get("getUpdates", 0) > 0,
                timeout=max(1.0, deadline - time.monotonic()),
            )
        elif self.webhook_url:  # Telegram: the bot's setWebhook seen at the fake
            await fake.wait_for(
                lambda: fake.webhook.get("url") == self.webhook_url,
                timeout=max(1.0, deadline - time.monotonic()),
            )
        self.pid = (
            self.proc.pid
            if self.profile_to is None or self.profile_to.suffix == ".pstats"
            else self._child_pid()
        )

    def _child_pid(self) -> int:
        assert self.proc is not None
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            children = (task / "children").read_text().split()
            if children:
                return int(children[0])
        raise RuntimeError("py-spy's child process not found")

    async def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.pid is not None:
            self.peak_rss_kib = proc_status_kib(self.pid, "VmHWM")  # right before stopping
        if self.proc.returncode is None:
            target = self.pid if self.pid is not None else self.proc.pid
            os.kill(target, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30 if self.profile_to else 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log_tail(self, n: int = 30) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def log_problems(self) -> int:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return 0
        return sum(1 for line in text.splitlines() if " ERROR " in line or "Traceback" in line)


@dataclass
class Round:
    bot: str
    n: int
    batch: BatchResult
    peak_rss_mib: float
    unexpected: int
    log_problems: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def cpu_ms_per_update(self) -> float:
        return 1000 * self.batch.bot_cpu / self.batch.updates if self.batch.updates else 0.0


def _is_result(text: str) -> bool:
    return "Desil" in text


def _any_reply(text: str) -> bool:
    return True


class Bench:
    def __init__(self, args, fake: FakeTelegramAPI, big: Imported):
        self.args = args
        self.fake = fake
        self.big = big
        # Ids unique across runs too: with --reuse-db the inbox still holds the last run's
        # updates, and a repeated update_id is (rightly) dropped as a redelivery.
        run = int(time.time())
        self.update_ids = itertools.count(run * 100_000)
        self.user_ids = itertools.count(run * 10_000)
        # WhatsApp: wa_ids 62811xxxxxxxx and wamids, distinct across runs for the same reason.
        self.wa_ids = itertools.count(6_281_100_000_000 + (run % 49_999) * 2_000)
        self.wamids = itertools.count(run * 100_000)
        self.wa_fake: BenchFakeWhatsAppAPI | None = None
        # Residents' NIK + No. KK: distinct heads of the big extract, in a fixed random order.
        self._pairs = iter(data.sample(big.pairs, min(len(big.pairs), 200_000), seed=2))

    def residents(self, n: int, wa: bool = False) -> list[Resident]:
        out = []
        ids = self.wa_ids if wa else self.user_ids
        for _ in range(n):
            p = next(self._pairs)
            out.append(Resident(next(ids), p.nik, p.no_kk))
        return out

    def wa_service(self, tag: str, profile_to: Path | None = None) -> BotProcess:
        """The service with WhatsApp only (no TELEGRAM_* at all), against the fake Graph API."""
        assert self.wa_fake is not None
        port = free_port()
        env = _env(
            DATABASE_URL=self.big.url,
            WHATSAPP_TOKEN=wa_fake.TOKEN,
            WHATSAPP_PHONE_NUMBER_ID=wa_fake.PHONE_NUMBER_ID,
            WHATSAPP_APP_SECRET=wa_fake.APP_SECRET,
            WHATSAPP_VERIFY_TOKEN=wa_fake.VERIFY_TOKEN,
            WHATSAPP_API_URL=self.wa_fake.base_url,
            WEB_HOST="127.0.0.1",
            WEB_PORT=str(port),
            LOG_LEVEL="WARNING",
            JARING_MEDIA_DIR=str(data.CACHE / "media"),
            WHATSAPP_RATE_GLOBAL=HIGH_RATE,
            WHATSAPP_RATE_PER_CHAT=HIGH_RATE,
        )
        return BotProcess(tag, [sys.executable, "bot.py", "run"], env, port, "", profile_to)

    def wa_echo(self, tag: str) -> BotProcess:
        """The bare aiohttp webhook (bench/wa_echo.py): the ack-latency floor of this machine."""
        assert self.wa_fake is not None
        port = free_port()
        argv = [
            sys.executable,
            "-m",
            "bench.wa_echo",
            "--api",
            self.wa_fake.base_url,
            "--token",
            wa_fake.TOKEN,
            "--phone-id",
            wa_fake.PHONE_NUMBER_ID,
            "--secret",
            wa_fake.APP_SECRET,
            "--port",
            str(port),
        ]
        return BotProcess(tag, argv, _env(), port, "")

    async def wa_round(
        self, n: int, profile_to: Path | None = None, kind: str = "whatsapp"
    ) -> Round:
        """One WhatsApp round: a fresh service (or, kind "wa-echo", the bare aiohttp webhook),
        warm-up, then `--residents` measured at `--wa-concurrency`."""
        a = self.args
        fake = self.wa_fake
        assert fake is not None
        tag = f"{kind}-r{n}" if profile_to is None else f"{kind}-profile"
        bot = self.wa_echo(tag) if kind == "wa-echo" else self.wa_service(tag, profile_to)
        expect = _any_reply if kind == "wa-echo" else _is_result
        fake.reset()
        await bot.start(fake)
        connector = aiohttp.TCPConnector(limit=a.wa_concurrency + 10, force_close=False)
        try:
            async with aiohttp.ClientSession(connector=connector) as session:
                url = f"http://127.0.0.1:{bot.port}/wa/webhook"
                driver = WaDriver(fake, session, url, self.wamids)
                warm = await driver.run(self.residents(a.warmup, wa=True), a.wa_concurrency, expect)
                if warm.failures:
                    raise BenchInvalid(kind, warm.failures, bot)
                batch = await driver.run(
                    self.residents(a.residents, wa=True),
                    a.wa_concurrency,
                    expect,
                    bot_pid=bot.pid,
                )
                await asyncio.sleep(0.3)  # a late, unexpected extra message would show up here
                unexpected = driver.unexpected
        finally:
            fake.on_send = fake.on_refused = None
            rc = await bot.stop()
        if batch.failures or driver.refused:
            raise BenchInvalid(
                kind,
                batch.failures
                + [f"the fake Graph API refused a message: {x}" for x in driver.refused],
                bot,
            )
        r = Round(
            kind,
            n,
            batch,
            (bot.peak_rss_kib or 0) / 1024,
            unexpected,
            bot.log_problems(),
            {"rc": rc, "refused": len(driver.refused)},
        )
        which = f"round {n}" if profile_to is None else "(py-spy)"
        say(
            f"  {kind:>8} {which}: {batch.updates_per_s:7.1f} replies/s, "
            f"{batch.checks_per_s:6.1f} checks/s, ack p50 {batch.ack_pct(50):5.1f} ms, "
            f"ack p99 {batch.ack_pct(99):6.1f} ms, reply p50 {batch.pct(50):6.1f} ms, "
            f"reply p99 {batch.pct(99):6.1f} ms, peak RSS {r.peak_rss_mib:5.1f} MiB, "
            f"CPU {r.cpu_ms_per_update:4.2f} ms/reply "
            f"({100 * batch.bot_cpu / batch.wall:3.0f} % of a core; driver+fake "
            f"{100 * batch.driver_cpu / batch.wall:3.0f} %; other processes "
            f"{100 * batch.other_cpu / batch.wall:3.0f} %)"
            + (f", {batch.split_parts} split text pieces" if batch.split_parts else "")
            + (f", {unexpected} unexpected messages" if unexpected else "")
            + (f", {r.log_problems} ERROR lines in {bot.log_path}" if r.log_problems else "")
            + (f", exit code {rc} on SIGTERM" if rc not in (0, None) else "")
        )
        return r

    def service(self, tag: str, profile_to: Path | None = None) -> BotProcess:
        port = free_port()
        polling = self.args.polling
        # One webhook address for all workers: the proxy in front of them (the driver here).
        hook = POLLING if polling else f"https://bench.example/{tag.split('-w')[0]}/tg/webhook"
        env = _env(
            DATABASE_URL=self.big.url,
            TELEGRAM_BOT_TOKEN=BOT_TOKEN,
            TELEGRAM_API_URL=self.fake.base_url,
            WEB_HOST="127.0.0.1",
            WEB_PORT=str(port),
            LOG_LEVEL="WARNING",
            TELEGRAM_RATE_GLOBAL=HIGH_RATE,
            TELEGRAM_RATE_PER_CHAT=HIGH_RATE,
        )
        if not polling:
            env.update(TELEGRAM_WEBHOOK_URL=hook, TELEGRAM_WEBHOOK_SECRET=SECRET)
        return BotProcess(tag, [sys.executable, "bot.py", "run"], env, port, hook, profile_to)

    def echo(self, tag: str) -> BotProcess:
        port = free_port()
        argv = [
            sys.executable,
            "-m",
            "bench.echo_bot",
            "--api",
            self.fake.base_url,
            "--token",
            BOT_TOKEN,
            "--port",
            str(port),
        ]
        if self.args.polling:
            return BotProcess(tag, [*argv, "--polling"], _env(), port, POLLING)
        hook = f"https://bench.example/{tag}/tg/webhook"
        argv += ["--webhook-url", hook, "--secret", SECRET]
        return BotProcess(tag, argv, _env(), port, hook)

    @staticmethod
    async def _pg_cpu(name: str | None) -> dict[int, float]:
        """CPU seconds so far of each PostgreSQL backend serving database `name`."""
        out = {}
        for pid in await data.pg_backend_pids(name or ""):
            try:
                out[pid] = proc_cpu_seconds(pid)
            except OSError:  # gone meanwhile, or not readable
                pass
        return out

    async def round(self, kind: str, n: int, profile_to: Path | None = None) -> Round:
        a = self.args
        tag = f"{kind}-r{n}" if profile_to is None else f"{kind}-profile"
        workers = a.workers if kind == "service" and profile_to is None else 1
        if kind == "service":
            bots = (
                [self.service(f"{tag}-w{i}") for i in range(1, workers + 1)]
                if workers > 1
                else [self.service(tag, profile_to)]
            )
        else:
            bots = [self.echo(tag)]
        expect = _is_result if kind == "service" else _any_reply
        self.fake.reset()
        self.fake.webhook = {"url": ""}
        try:
            for bot in bots:  # one after the other: each sets the (same) webhook at start-up
                await bot.start(self.fake)
        except BaseException:
            for bot in bots:
                await bot.stop()
            raise
        pids = [b.pid for b in bots if b.pid is not None]
        connector = aiohttp.TCPConnector(limit=a.concurrency + 10, force_close=False)
        try:
            async with aiohttp.ClientSession(connector=connector) as session:
                urls = (
                    None if a.polling else [f"http://127.0.0.1:{b.port}/tg/webhook" for b in bots]
                )
                driver = Driver(self.fake, session, urls, SECRET, self.update_ids)
                warm = await driver.run(self.residents(a.warmup), a.concurrency, expect)
                if warm.failures:
                    raise BenchInvalid(kind, warm.failures, bots[0])
                pg_name = self.big.url.rsplit("/", 1)[1] if a.db == "postgresql" else None
                pg0 = await self._pg_cpu(pg_name) if pg_name and kind == "service" else None
                batch = await driver.run(
                    self.residents(a.residents), a.concurrency, expect, bot_pid=pids
                )
                if pg0 is not None:
                    pg1 = await self._pg_cpu(pg_name)
                    # The server's work for this service: its backends' CPU during the batch.
                    batch.db_cpu = sum(v - pg0.get(pid, 0.0) for pid, v in pg1.items())
                await asyncio.sleep(0.3)  # a late, unexpected extra reply would show up here
                unexpected = driver.unexpected
        finally:
            self.fake.on_send = None
            rcs = [await bot.stop() for bot in bots]
        if batch.failures:
            raise BenchInvalid(kind, batch.failures, bots[0])
        rc = next((x for x in rcs if x not in (0, None)), rcs[0])
        problems = sum(b.log_problems() for b in bots)
        r = Round(
            kind,
            n,
            batch,
            max((b.peak_rss_kib or 0) for b in bots) / 1024,
            unexpected,
            problems,
            {"rc": rc, "workers": len(bots)},
        )
        checks = f"{batch.checks_per_s:6.1f} checks/s, " if kind == "service" else ""
        which = f"round {n}" if profile_to is None else "(py-spy)"
        logs = bots[0].log_path if len(bots) == 1 else LOGS / f"{tag}-w*.log"
        say(
            f"  {kind:>7} {which}: {batch.updates_per_s:7.1f} updates/s, {checks}"
            f"p50 {batch.pct(50):6.1f} ms, "
            f"p99 {batch.pct(99):6.1f} ms, peak RSS {r.peak_rss_mib:5.1f} MiB"
            + (f" (the largest of {len(bots)} workers)" if len(bots) > 1 else "")
            + f", CPU {r.cpu_ms_per_update:4.2f} ms/update "
            + (
                f"(+ PostgreSQL {1000 * batch.db_cpu / batch.updates:4.2f}) "
                if batch.db_cpu and batch.updates
                else ""
            )
            + f"({100 * batch.bot_cpu / batch.wall:3.0f} % of a core; driver+fake "
            f"{100 * batch.driver_cpu / batch.wall:3.0f} %; other processes "
            f"{100 * batch.other_cpu / batch.wall:3.0f} %)"
            + (f", {unexpected} unexpected replies" if unexpected else "")
            + (f", {r.log_problems} ERROR lines in {logs}" if r.log_problems else "")
            + (f", exit code {rc} on SIGTERM" if rc not in (0, None) else "")
        )
        return r


class BenchInvalid(Exception):
    def __init__(self, kind: str, failures: list[str], bot: BotProcess):
        self.kind, self.failures, self.bot = kind, failures, bot
        super().__init__(f"{kind}: {len(failures)} resident(s) failed")


def cprofile_summary(path: Path, top: int = 30) -> str:
    """The heaviest functions of a cProfile dump by own time, and the statements executed
    (SQLAlchemy's `_execute_context` calls) and transactions committed."""
    import io
    import pstats

    if not path.exists():
        return f"(no profile at {path})"
    out = io.StringIO()
    st = pstats.Stats(str(path), stream=out)
    counts = {}
    for (file, _line, name), (_cc, nc, *_rest) in st.stats.items():  # type: ignore[attr-defined]
        if file.endswith("sqlalchemy/engine/base.py") and name in (
            "_execute_context",
            "commit",
        ):
            counts[name] = counts.get(name, 0) + nc
    st.sort_stats("tottime").print_stats(top)
    return (
        f"== service profile (cProfile, {path}) ==\nstatements executed: "
        f"{counts.get('_execute_context', 0):,}; Connection.commit calls: "
        f"{counts.get('commit', 0):,} (warm-up + measured residents)\n" + out.getvalue()
    )


def _people_label(people: int) -> str:
    if people >= 1_000_000 and people % 1_000_000 == 0:
        return f"{people // 1_000_000}M"
    if people >= 1_000:
        return f"{people // 1_000}k"
    return str(people)


def mode_name(args) -> str:
    how = "long polling (getUpdates)" if args.polling else "webhook mode"
    db = "PostgreSQL" if args.db == "postgresql" else "SQLite"
    workers = f", {args.workers} service processes" if args.workers > 1 else ""
    return f"{how}, {db}{workers}"


def targets(args) -> tuple[float, float]:
    """(updates/s ratio at least, p99 ratio at most) for this mode (issue #14)."""
    if args.db == "postgresql":
        return T_PG_RATIO, T_PG_P99
    return T_UPDATES_RATIO, (T_PG_P99 if args.polling else T_P99_RATIO)


def med(rounds: list[Round], fn) -> float:
    return statistics.median(fn(r) for r in rounds)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


async def main_async(args) -> int:
    t_start = time.perf_counter()
    data.CACHE.mkdir(parents=True, exist_ok=True)
    if args.profile and py_spy() is None:
        say(
            "--profile needs py-spy: .venv/bin/pip install py-spy (it is not in "
            "requirements/test.txt). Running without the profile."
        )
        args.profile = False
    say(f"machine: {machine()}")
    say(f"code: {code_version()}")
    say(f"command: {' '.join(['python -m bench.run', *sys.argv[1:]])}")
    people = args.people or (100_000 if args.quick else 1_000_000)
    big_hh = max(100, round(people / PEOPLE_PER_HOUSEHOLD))
    big_label = _people_label(people)
    pg = args.db == "postgresql"

    # 0. the understanding layer on its corpus (make nlu prints the accuracy)
    from core.understanding import default_understander
    from tools.nlu import CORPUS, read_corpus, timing

    mean_us, p99_us = timing(default_understander(), read_corpus(CORPUS))
    say(f"\n== understanding layer ==\nper message: mean {mean_us:.0f} µs, p99 {p99_us:.0f} µs")

    # 1. data + import
    say("\n== data and import ==")
    t = time.perf_counter()
    small = await prepare_db("10k", "bench-10k.db", 2_500, args.reuse_db)
    if pg:
        big = await prepare_pg(
            big_label, f"{args.pg_db}_{big_label.lower()}", big_hh, args.reuse_db
        )
    else:
        big = await prepare_db(big_label, f"bench-{big_label}.db", big_hh, args.reuse_db)
    say(
        f"people: 10k database {small.rows:,}, {big_label} database {big.rows:,}"
        f"{' (PostgreSQL)' if pg else ''}  "
        f"(data step {time.perf_counter() - t:.0f} s)"
    )

    # 2. lookups
    telegram = not args.only_whatsapp
    whatsapp = args.whatsapp or args.only_whatsapp
    lk = None
    if telegram and (pg or args.workers > 1 or args.polling or args.skip_lookups):
        say("\n(lookup rate: not measured in this mode; it is the SQLite webhook run's)")
    elif telegram:
        say(f"\n== lookup rate (match_household + household_snapshot, K={args.lookups:,}) ==")
        lk = await lookups(small, big, args.lookups, args.lookup_rounds)
        say(
            f"lookups/s (median): 10k {lk['median']['10k']:,.0f}, {big_label} "
            f"{lk['median'][big_label]:,.0f}; difference {lk['diff_pct']:+.1f} % (median of the "
            f"rounds' differences: " + ", ".join(f"{d:+.1f}" for d in lk["diffs"]) + ")"
        )

    # 3. bots
    kinds = (["echo", "service"] if telegram else []) + (
        ["wa-echo", "whatsapp"] if whatsapp else []
    )
    if telegram:
        say(
            f"\n== chat: {args.residents} residents × {STEPS} updates per round (+{args.warmup} "
            f"warm-up), {args.concurrency} at a time, {mode_name(args)}, {args.rounds} round(s) =="
        )
    if whatsapp:
        say(
            f"\n== {'then ' if telegram else ''}WhatsApp: {args.residents} residents × {WA_STEPS} "
            f"signed webhook POSTs per round (+{args.warmup} warm-up), {args.wa_concurrency} at a "
            f"time, {args.rounds} round(s){', after the Telegram rounds of the same number' if telegram else ''} =="
        )
    rounds: dict[str, list[Round]] = {k: [] for k in ("echo", "service", "wa-echo", "whatsapp")}
    profile_txt = wa_profile_txt = None
    async with FakeTelegramAPI(record_calls=False) as fake, BenchFakeWhatsAppAPI() as wfake:
        bench = Bench(args, fake, big)
        bench.wa_fake = wfake
        try:
            for n in range(1, args.rounds + 1):
                for kind in kinds:
                    if kind in ("whatsapp", "wa-echo"):
                        rounds[kind].append(await bench.wa_round(n, kind=kind))
                    else:
                        rounds[kind].append(await bench.round(kind, n))
            if args.profile and telegram:
                profile_txt = data.CACHE / "profile-service.txt"
                profile_txt.unlink(missing_ok=True)
                say("  profiling: one more service round under py-spy (not counted)")
                await bench.round("service", 0, profile_to=profile_txt)
            if args.cprofile and telegram:
                pstats_path = data.CACHE / "profile-service.pstats"
                pstats_path.unlink(missing_ok=True)
                say("  profiling: one more service round under cProfile (not counted)")
                await bench.round("service", 0, profile_to=pstats_path)
                say(cprofile_summary(pstats_path))
            if args.profile and whatsapp:
                wa_profile_txt = data.CACHE / "profile-whatsapp.txt"
                wa_profile_txt.unlink(missing_ok=True)
                say("  profiling: one more WhatsApp round under py-spy (not counted)")
                await bench.wa_round(0, profile_to=wa_profile_txt)
        except BenchInvalid as e:
            say(f"\nINVALID RUN: {e}. The figures would be meaningless.")
            for line in e.failures[:10]:
                say(f"  {line}")
            say(f"--- last lines of {e.bot.log_path}:\n{e.bot.log_tail()}")
            return 1

    if telegram:
        summary_telegram(args, rounds, big, big_label, lk, profile_txt)
    if whatsapp:
        summary_whatsapp(args, rounds, wa_profile_txt)
    say(f"bench took {time.perf_counter() - t_start:.0f} s")
    return 0


def summary_telegram(args, rounds, big, big_label, lk, profile_txt) -> None:
    e, s = rounds["echo"], rounds["service"]
    e_ups, s_ups = med(e, lambda r: r.batch.updates_per_s), med(s, lambda r: r.batch.updates_per_s)
    e_p50, s_p50 = med(e, lambda r: r.batch.pct(50)), med(s, lambda r: r.batch.pct(50))
    e_p99, s_p99 = med(e, lambda r: r.batch.pct(99)), med(s, lambda r: r.batch.pct(99))
    e_rss, s_rss = max(r.peak_rss_mib for r in e), max(r.peak_rss_mib for r in s)
    e_cpu, s_cpu = med(e, lambda r: r.cpu_ms_per_update), med(s, lambda r: r.cpu_ms_per_update)
    s_checks = med(s, lambda r: r.batch.checks_per_s)
    results = sum(r.batch.results for r in s)

    def ratio(fn) -> float:
        """The median of the rounds' ratios: each service round against the echo round run just
        before it, so a machine slowing down or speeding up between rounds falls on both."""
        return statistics.median(fn(sr) / fn(er) for sr, er in zip(s, e, strict=False))

    ups_ratio = ratio(lambda r: r.batch.updates_per_s)
    p50_ratio = ratio(lambda r: r.batch.pct(50))
    p99_ratio = ratio(lambda r: r.batch.pct(99))
    cpu_ratio = ratio(lambda r: r.cpu_ms_per_update)

    say(
        f"\n== summary (medians of {args.rounds} round(s); ratio: the median of each round's "
        "service ÷ echo; peak RSS: the highest) =="
    )
    say(f"{'':22}{'service':>12}{'echo':>12}{'ratio':>9}")
    say(f"{'updates/s':22}{s_ups:12.1f}{e_ups:12.1f}{ups_ratio:9.2f}")
    say(f"{'checks/s':22}{s_checks:12.1f}{'':>12}")
    say(f"{'p50 latency ms':22}{s_p50:12.1f}{e_p50:12.1f}{p50_ratio:9.2f}")
    say(f"{'p99 latency ms':22}{s_p99:12.1f}{e_p99:12.1f}{p99_ratio:9.2f}")
    say(f"{'peak RSS MiB':22}{s_rss:12.1f}{e_rss:12.1f}{s_rss / e_rss:9.2f}")
    say(f"{'CPU ms per update':22}{s_cpu:12.2f}{e_cpu:12.2f}{cpu_ratio:9.2f}")
    if any(r.batch.db_cpu for r in s):
        db_cpu = med(s, lambda r: 1000 * r.batch.db_cpu / r.batch.updates)
        say(f"{'+ PostgreSQL CPU ms':22}{db_cpu:12.2f}   (the service's backends, per update)")
    say(f"results checked: {results:,} eligibility results, every one naming the desil")
    other = max(r.batch.other_cpu / r.batch.wall for r in e + s)
    if other > 0.15:
        say(
            f"NOTE: other processes used up to {100 * other:.0f} % of a core during the rounds: "
            "the machine was not quiet, so absolute rates are low and noisy; compare the ratios "
            "and the CPU per update."
        )
    say(f"mode: {mode_name(args)}")
    say(
        f"import {big.rows:,} rows: {big.seconds:.1f} s"
        + (
            f"; lookups/s 10k {lk['median']['10k']:,.0f} vs {big_label} "
            f"{lk['median'][big_label]:,.0f} ({lk['diff_pct']:+.1f} %)"
            if lk
            else ""
        )
    )

    t_ratio, t_p99 = targets(args)
    say("\n== targets ==")
    checks = [
        (f"updates/s ≥ {t_ratio} × echo", ups_ratio >= t_ratio, f"{ups_ratio:.2f}"),
        (f"p99 ≤ {t_p99} × echo", p99_ratio <= t_p99, f"{p99_ratio:.2f}"),
        (f"peak RSS ≤ {T_RSS_MIB} MiB", s_rss <= T_RSS_MIB, f"{s_rss:.1f} MiB"),
        (
            f"import of {big_label} rows < {T_IMPORT_S} s",
            big.seconds < T_IMPORT_S,
            f"{big.seconds:.1f} s",
        ),
    ]
    if lk:
        checks.append(
            (
                f"lookup rate 10k vs {big_label} within {T_LOOKUP_DIFF:.0f} %",
                abs(lk["diff_pct"]) <= T_LOOKUP_DIFF,
                f"{lk['diff_pct']:+.1f} %",
            )
        )
    for name, ok, fig in checks:
        say(f"  {verdict(ok)}  {name:<34} {fig}")
    if args.quick:
        say("  (--quick: 100k people, not the 1M the targets are about)")
    if args.profile and profile_txt is not None and profile_txt.exists():
        from bench.profile import summarise

        say(f"\n== service profile (py-spy, {profile_txt}) ==")
        say(summarise(profile_txt, 25))


def summary_whatsapp(args, rounds, profile_txt) -> None:
    w, s = rounds["whatsapp"], rounds["service"]
    b = [r.batch for r in w]
    rps = statistics.median(x.updates_per_s for x in b)
    checks = statistics.median(x.checks_per_s for x in b)
    ack50 = statistics.median(x.ack_pct(50) for x in b)  # type: ignore[attr-defined]
    ack99 = statistics.median(x.ack_pct(99) for x in b)  # type: ignore[attr-defined]
    rep50 = statistics.median(x.pct(50) for x in b)
    rep99 = statistics.median(x.pct(99) for x in b)
    rss = max(r.peak_rss_mib for r in w)
    cpu = statistics.median(r.cpu_ms_per_update for r in w)
    results = sum(x.results for x in b)
    split = sum(x.split_parts for x in b)  # type: ignore[attr-defined]
    say(
        f"\n== WhatsApp summary (medians of {args.rounds} round(s), concurrency "
        f"{args.wa_concurrency}; peak RSS: the highest) =="
    )
    say(
        f"{'replies/s':26}{rps:10.1f}   (steps answered per second: each step's last message "
        f"at the fake Graph API)"
    )
    say(f"{'checks/s':26}{checks:10.1f}")
    say(f"{'ack latency p50 / p99 ms':26}{ack50:10.1f} / {ack99:.1f}   (POST -> 200)")
    we = rounds.get("wa-echo") or []
    if we:
        e50 = statistics.median(r.batch.ack_pct(50) for r in we)  # type: ignore[attr-defined]
        e99 = statistics.median(r.batch.ack_pct(99) for r in we)  # type: ignore[attr-defined]
        e_rps = statistics.median(r.batch.updates_per_s for r in we)
        say(
            f"{'bare aiohttp webhook':26}{e50:10.1f} / {e99:.1f} ms ack p50 / p99, "
            f"{e_rps:.1f} replies/s (bench/wa_echo.py, the rounds just before)"
        )
        say(
            "ack p50 ÷ bare, per round: "
            + ", ".join(
                f"{wr.batch.ack_pct(50) / er.batch.ack_pct(50):.1f}"  # type: ignore[attr-defined]
                for wr, er in zip(w, we, strict=False)
            )
        )
    say(
        f"{'reply latency p50 / p99 ms':26}{rep50:10.1f} / {rep99:.1f}   (POST -> last message at the fake)"
    )
    say(f"{'peak RSS MiB':26}{rss:10.1f}")
    say(f"{'CPU ms per reply':26}{cpu:10.2f}")
    by_step = []
    for k in range(1, WA_STEPS + 1):
        lat = sorted(x for r in b for x in r.step_latencies[k])  # type: ignore[attr-defined]
        if lat:
            by_step.append(
                f"{k}: {1000 * lat[len(lat) // 2]:.0f}/"
                f"{1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))]:.0f}"
            )
    say("reply latency p50/p99 ms by step (all rounds): " + ", ".join(by_step))
    say(
        f"results checked: {results:,} eligibility results, every one naming the desil"
        + (f"; {split} reply piece(s) split off long bodies" if split else "; no reply was split")
    )
    other = max(r.batch.other_cpu / r.batch.wall for r in w)
    if other > 0.15:
        say(
            f"NOTE: other processes used up to {100 * other:.0f} % of a core during the WhatsApp "
            "rounds: absolute rates are low and noisy; compare the CPU per reply."
        )
    say("\n== WhatsApp target ==")
    say(
        f"  {verdict(ack50 <= T_WA_ACK_MS)}  ack p50 ≤ {T_WA_ACK_MS:.0f} ms (issue #14)   {ack50:.1f} ms"
    )
    if not s:
        say(
            f"  n/a   WhatsApp replies/s ≥ {T_WA_RATIO} × Telegram updates/s: no Telegram rounds "
            f"in this run (--only-whatsapp); WhatsApp {rps:.1f} replies/s, compare with the "
            "Telegram service figure in docs/benchmarks.md"
        )
    else:
        tg = statistics.median(r.batch.updates_per_s for r in s)
        tg_cpu = statistics.median(r.cpu_ms_per_update for r in s)
        # Each WhatsApp round against the Telegram service round of the same number (run just
        # before it), then the median: a drifting machine falls on both alike.
        per_round = [
            wr.batch.updates_per_s / sr.batch.updates_per_s for wr, sr in zip(w, s, strict=False)
        ]
        ratio = statistics.median(per_round)
        say(
            f"  Telegram service (this run): {tg:.1f} updates/s at concurrency {args.concurrency},"
            f" CPU {tg_cpu:.2f} ms/update; WhatsApp {rps:.1f} replies/s, CPU {cpu:.2f} ms/reply"
        )
        say(
            "  ratio per round: "
            + ", ".join(f"{x:.2f}" for x in per_round)
            + f"; CPU per reply ÷ per update {cpu / tg_cpu:.2f}"
        )
        say(
            f"  {verdict(ratio >= T_WA_RATIO)}  WhatsApp replies/s ≥ {T_WA_RATIO} × Telegram "
            f"updates/s (within 20 %)   {ratio:.2f}"
        )
    if args.profile and profile_txt is not None and profile_txt.exists():
        from bench.profile import summarise

        say(f"\n== WhatsApp service profile (py-spy, {profile_txt}) ==")
        say(summarise(profile_txt, 25))


def parse_args(argv: list[str] | None = None):
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--residents",
        type=int,
        default=None,
        help="residents per measured round (default 600; --quick 150)",
    )
    p.add_argument(
        "--concurrency", type=int, default=100, help="residents walking at once (default 100)"
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="warm-up residents per round, not measured (default 5 %% of residents, at least 20)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="echo/service rounds, interleaved (default 3; --quick 1)",
    )
    p.add_argument("--lookups", type=int, default=None, help="K lookups per database (20,000)")
    p.add_argument(
        "--lookup-rounds",
        type=int,
        default=5,
        help="lookup rounds; the difference is the median of theirs (5)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 100k people, 150 residents, 1 round, 5,000 lookups",
    )
    p.add_argument(
        "--reuse-db",
        action="store_true",
        help="reuse the databases the last run imported (skips the import; the "
        "import time printed is the last one measured; after a schema change "
        "run without it once)",
    )
    p.add_argument(
        "--whatsapp",
        action="store_true",
        help="after the Telegram rounds of each round number, a WhatsApp round: the "
        "service with WhatsApp only, signed POSTs to /wa/webhook against the fake "
        "Graph API; prints ack latency, replies/s and the ratio to Telegram",
    )
    p.add_argument(
        "--only-whatsapp",
        action="store_true",
        help="the WhatsApp rounds only (no lookups, no Telegram rounds); with "
        "--reuse-db it starts in seconds",
    )
    p.add_argument(
        "--wa-concurrency",
        type=int,
        default=50,
        help="WhatsApp residents walking at once (default 50)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="after the rounds, one more service round under py-spy (pip install "
        "py-spy into .venv); prints where the service's CPU goes",
    )
    p.add_argument(
        "--db",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the service's database: SQLite (default) or PostgreSQL at BENCH_PG_SERVER "
        "(postgresql://postgres@127.0.0.1:5432); the bench imports the extract once into a "
        "database of its own, jaring_bench_<size> (--pg-db), and ANALYZEs it",
    )
    p.add_argument(
        "--pg-db", default="jaring_bench", help="PostgreSQL database name prefix (jaring_bench)"
    )
    p.add_argument(
        "--people",
        type=int,
        default=None,
        help="people in the big extract (default 1,000,000; --quick 100,000); "
        "the household count is people / 3.88",
    )
    p.add_argument(
        "--polling",
        action="store_true",
        help="long polling: the service and the echo bot fetch updates with getUpdates from "
        "the fake Bot API (the driver queues them there) instead of webhook POSTs",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="service processes (webhook mode; use with --db postgresql): N `bot.py run` "
        "processes on their own ports, the driver posting to them round robin per update "
        "like a proxy; CPU per update is summed over them, peak RSS is the largest",
    )
    p.add_argument(
        "--cprofile",
        action="store_true",
        help="after the rounds, one more service round under cProfile (no py-spy needed); "
        "prints the heaviest functions and the statements executed",
    )
    p.add_argument("--skip-lookups", action="store_true", help="skip the lookup-rate step")
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error("--workers must be at least 1")
    if args.workers > 1 and args.polling:
        p.error("--workers is for webhook mode: long polling runs in one process")
    if args.workers > 1 and args.db != "postgresql":
        p.error("--workers needs --db postgresql (SQLite is one process's database)")
    if args.residents is None:
        args.residents = 150 if args.quick else 600
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.lookups is None:
        args.lookups = 5_000 if args.quick else 20_000
    if args.warmup is None:
        args.warmup = max(20, args.residents // 20)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
