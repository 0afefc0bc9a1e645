"""The load driver: residents walking the eligibility check through a bot's webhook or polling.

Each resident is a distinct Telegram user. It POSTs one update to the bot's webhook (or, in
polling mode, queues it at the fake Bot API server for the bot's getUpdates), waits until
the bot's reply (a sendMessage) reaches the fake Bot API server, then sends the next update, so
every resident has exactly one update in flight. `concurrency` residents walk at once; when one
finishes, the next starts. Latency is the time from the POST being sent to the reply's
sendMessage arriving at the fake.

The flow (what a resident does in Jaring; every step gets exactly one reply):
  /start, [Setuju] c:agree, [Bahasa Indonesia] l:id, [Cek status bansos] m:check,
  NIK (typed), [Ya, benar] k:yes, No. KK (typed) -> the result, which names the "Desil".
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.fakes.telegram_api import FakeTelegramAPI, callback_update, text_update

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
STEP_TIMEOUT = 60.0
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def flow(nik: str, no_kk: str) -> list[tuple[str, str]]:
    """The updates of one eligibility check: (kind, text or callback data)."""
    return [
        ("text", "/start"),
        ("cb", "c:agree"),
        ("cb", "l:id"),
        ("cb", "m:check"),
        ("text", nik),
        ("cb", "k:yes"),
        ("text", no_kk),
    ]


STEPS = len(flow("", ""))


@dataclass
class Resident:
    user_id: int
    nik: str
    no_kk: str


@dataclass
class BatchResult:
    residents: int
    concurrency: int
    wall: float = 0.0
    updates: int = 0  # updates answered
    completed: int = 0  # residents who got a reply to every step
    results: int = 0  # residents whose last reply is what `expect_final` accepts
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # one line per failed resident (no NIKs)
    bot_cpu: float = 0.0  # seconds of CPU the bot process used during the batch
    driver_cpu: float = 0.0  # seconds of CPU this process (driver + fake server) used
    machine_cpu: float = 0.0  # seconds of CPU the whole machine used (all processes)
    db_cpu: float = 0.0  # seconds of CPU the database server's backends used for the bot

    @property
    def other_cpu(self) -> float:
        """CPU seconds used by processes other than the bot and the driver: a busy machine."""
        return max(0.0, self.machine_cpu - self.bot_cpu - self.driver_cpu - self.db_cpu)

    @property
    def updates_per_s(self) -> float:
        return self.updates / self.wall if self.wall else 0.0

    @property
    def checks_per_s(self) -> float:
        return self.results / self.wall if self.wall else 0.0

    def pct(self, q: float) -> float:
        """The q-th percentile latency in ms (nearest rank)."""
        if not self.latencies:
            return float("nan")
        s = sorted(self.latencies)
        k = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
        return s[k] * 1000


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (from /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def machine_cpu_seconds() -> float:
    """Busy CPU time of the whole machine so far (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    return (sum(v[:8]) - idle) / _CLK_TCK  # guest time is already counted in user


def proc_status_kib(pid: int, key: str) -> int | None:
    """A `VmHWM` / `VmRSS` line of /proc/<pid>/status, in KiB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


class Driver:
    """Posts updates to one webhook and matches the fake's sendMessage calls to residents."""

    def __init__(
        self,
        fake: FakeTelegramAPI,
        session: aiohttp.ClientSession | None,
        url: str | list[str] | None,
        secret: str,
        update_ids: itertools.count,
    ):
        """url: the bot's webhook; several (workers behind a proxy): one after the other, round
        robin per update; None: long polling, the update is queued at the fake for getUpdates."""
        self.fake = fake
        self.session = session
        self.urls = [url] if isinstance(url, str) else list(url or [])
        self._next_url = itertools.cycle(self.urls) if self.urls else None
        self.headers = {SECRET_HEADER: secret, "Content-Type": "application/json"}
        self.update_ids = update_ids
        self._waiting: dict[int, asyncio.Future] = {}
        self.unexpected = 0  # replies nobody was waiting for (a bot sending too much)
        fake.on_send = self._on_send

    def _on_send(self, record: dict[str, Any]) -> None:
        now = time.perf_counter()
        fut = self._waiting.pop(record["chat_id"], None)
        if fut is None or fut.done():
            self.unexpected += 1
            return
        fut.set_result((now, record["text"], record["message_id"]))

    async def _step(self, user_id: int, kind: str, value: str, message_id: int):
        uid = next(self.update_ids)
        update = (
            text_update(uid, user_id, value)
            if kind == "text"
            else callback_update(uid, user_id, value, message_id)
        )
        body = json.dumps(update).encode()
        fut = asyncio.get_running_loop().create_future()
        self._waiting[user_id] = fut  # before the POST: the reply may beat the POST's answer
        t0 = time.perf_counter()
        if self._next_url is None:  # polling: the bot fetches it with getUpdates
            self.fake.push_update(update)
        else:
            assert self.session is not None
            async with self.session.post(
                next(self._next_url), data=body, headers=self.headers
            ) as r:
                await r.read()
                if r.status != 200:
                    self._waiting.pop(user_id, None)
                    raise RuntimeError(f"webhook answered HTTP {r.status}")
        try:
            t1, text, reply_id = await asyncio.wait_for(fut, STEP_TIMEOUT)
        except TimeoutError:
            self._waiting.pop(user_id, None)
            raise RuntimeError(f"no reply within {STEP_TIMEOUT:.0f} s") from None
        return t1 - t0, text, reply_id

    async def _walk(
        self, res: Resident, out: BatchResult, expect_final: Callable[[str], bool]
    ) -> None:
        message_id = 1
        text = ""
        for n, (kind, value) in enumerate(flow(res.nik, res.no_kk), 1):
            try:
                latency, text, message_id = await self._step(res.user_id, kind, value, message_id)
            except Exception as e:  # noqa: BLE001 - reported, and the run is aborted
                out.failures.append(f"user {res.user_id}, step {n}/{STEPS}: {e}")
                return
            out.updates += 1
            out.latencies.append(latency)
        out.completed += 1
        if expect_final(text):
            out.results += 1
        else:
            first_line = text.splitlines()[0][:80] if text else ""
            out.failures.append(f"user {res.user_id}: last reply is not a result: {first_line!r}")

    async def run(
        self,
        residents: list[Resident],
        concurrency: int,
        expect_final: Callable[[str], bool],
        bot_pid: int | list[int] | None = None,
    ) -> BatchResult:
        out = BatchResult(len(residents), concurrency)
        return await run_batch(self._walk, out, residents, concurrency, expect_final, bot_pid)


async def run_batch(
    walk,
    out,
    residents: list[Resident],
    concurrency: int,
    expect_final: Callable[[str], bool],
    bot_pid: int | list[int] | None,
):
    """Walk `residents`, `concurrency` at a time, with `walk(resident, out, expect_final)`, and
    fill `out` with wall time and the CPU of the bot (all its processes: workers), the driver
    and the machine."""
    pids = [bot_pid] if isinstance(bot_pid, int) else list(bot_pid or [])
    queue = iter(residents)

    async def worker() -> None:
        for res in queue:
            await walk(res, out, expect_final)

    cpu0 = sum(proc_cpu_seconds(p) for p in pids)
    m0 = machine_cpu_seconds()
    d0 = time.process_time()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(residents)))))
    out.wall = time.perf_counter() - t0
    out.driver_cpu = time.process_time() - d0
    out.machine_cpu = machine_cpu_seconds() - m0
    if pids:
        out.bot_cpu = sum(proc_cpu_seconds(p) for p in pids) - cpu0
    return out
