"""The WhatsApp load driver: residents walking the eligibility check through `/wa/webhook`.

Each resident is a distinct wa_id (62811xxxxxxxx). A step is one webhook delivery (one message,
built with the payload builders of tests/fakes/whatsapp_api.py and a wamid unique across runs,
since the inbox drops a repeated wamid), signed with X-Hub-Signature-256 and POSTed. The next
step goes only after the step's reply reached the fake Graph API, so every resident has one
message in flight; `concurrency` residents walk at once.

What is measured per step:
  - ack latency: POST sent -> its 200 read (the webhook stores the message in the inbox before
    it answers; processing and sending happen after);
  - reply latency: POST sent -> the step's last outbound message at the fake.

Every step of the check is answered by one reply carrying choices (buttons or a list), so on
WhatsApp its LAST message is an interactive one. A body over 1024 characters is split by the
adapter (handlers/whatsapp/render.py): the leading pieces go first as plain text and the
interactive message carrying the controls comes last. So a step is answered when an interactive
message reaches the fake; text messages before it are the pieces of the same reply (counted as
`split_parts`), and the texts of all pieces are joined to check the final result ("Desil").

The flow, with the same choice ids as on Telegram (tests/test_whatsapp_e2e.py):
  "halo", [Setuju] c:agree (button), [Bahasa Indonesia] l:id (button), [Cek status bansos]
  m:check (list row), NIK (typed), [Ya, benar] k:yes (button), No. KK (typed) -> the result.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp

from bench.driver import BatchResult, Resident, run_batch
from tests.fakes.whatsapp_api import (
    APP_SECRET,
    FakeWhatsAppAPI,
    body_text,
    button_reply,
    delivery,
    encode,
    list_reply,
    sign,
    text_message,
)

STEP_TIMEOUT = 60.0


def wa_flow(nik: str, no_kk: str) -> list[tuple[str, str]]:
    """The messages of one eligibility check: (kind, text or reply id)."""
    return [
        ("text", "halo"),
        ("button", "c:agree"),
        ("button", "l:id"),
        ("list", "m:check"),
        ("text", nik),
        ("button", "k:yes"),
        ("text", no_kk),
    ]


WA_STEPS = len(wa_flow("", ""))


class BenchFakeWhatsAppAPI(FakeWhatsAppAPI):
    """The test fake with a send hook: `on_send(msg)` for every accepted message and
    `on_refused(msg)` for a refused one, called as the fake answers it. It records nothing
    (`record=False`); the hook sees each message once."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(record=False, **kw)
        self.on_send: Callable[[dict[str, Any]], None] | None = None
        self.on_refused: Callable[[dict[str, Any]], None] | None = None

    async def _send(self, request, phone_id):  # type: ignore[override]
        resp = await super()._send(request, phone_id)
        try:
            body = await request.json()  # aiohttp keeps the body read: no second read
        except ValueError:
            body = {}
        if resp.status == 200:
            if self.on_send is not None:
                self.on_send(body)
        elif self.on_refused is not None:
            self.on_refused({**body, "status": resp.status, "answer": resp.text})
        return resp


class WaBatchResult(BatchResult):
    ack_latencies: list[float]
    split_parts: int

    def __init__(self, residents: int, concurrency: int) -> None:
        super().__init__(residents, concurrency)
        self.ack_latencies = []
        self.split_parts = 0  # plain-text pieces that came before a step's interactive message
        self.step_latencies: dict[int, list[float]] = {n: [] for n in range(1, WA_STEPS + 1)}

    def ack_pct(self, q: float) -> float:
        if not self.ack_latencies:
            return float("nan")
        s = sorted(self.ack_latencies)
        k = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
        return s[k] * 1000


class WaDriver:
    """Posts signed deliveries to one /wa/webhook and matches the fake's sends to residents."""

    def __init__(
        self,
        fake: BenchFakeWhatsAppAPI,
        session: aiohttp.ClientSession,
        url: str,
        wamids: Iterator[int],
        secret: str = APP_SECRET,
    ):
        self.fake = fake
        self.session = session
        self.url = url
        self.secret = secret
        self.wamids = wamids
        self._waiting: dict[str, tuple[asyncio.Future, list[str]]] = {}
        self.unexpected = 0  # messages nobody was waiting for (a bot sending too much)
        self.refused: list[str] = []
        self._split = 0
        fake.on_send = self._on_send
        fake.on_refused = self._on_refused

    def _on_send(self, msg: dict[str, Any]) -> None:
        now = time.perf_counter()
        to = str(msg.get("to") or msg.get("recipient"))
        entry = self._waiting.get(to)
        if entry is None or entry[0].done():
            self.unexpected += 1
            return
        fut, parts = entry
        parts.append(body_text(msg))
        if msg.get("type") in ("interactive", "template"):  # the last message of a reply
            del self._waiting[to]
            fut.set_result((now, "\n\n".join(parts), len(parts) - 1))

    def _on_refused(self, msg: dict[str, Any]) -> None:
        self.refused.append(f"HTTP {msg.get('status')}: {msg.get('answer')}")
        to = str(msg.get("to") or msg.get("recipient"))
        entry = self._waiting.pop(to, None)
        if entry is not None and not entry[0].done():
            entry[0].set_exception(
                RuntimeError(
                    f"the fake refused a send: HTTP {msg.get('status')}: {msg.get('answer')}"
                )
            )

    def _message(self, wa_id: str, kind: str, value: str) -> dict:
        wamid = f"wamid.BENCH{next(self.wamids):016d}"
        if kind == "text":
            return text_message(wa_id, value, wamid=wamid)
        if kind == "button":
            return button_reply(wa_id, value, wamid=wamid)
        return list_reply(wa_id, value, wamid=wamid)

    async def _step(self, wa_id: str, kind: str, value: str):
        body = encode(delivery(self._message(wa_id, kind, value)))
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(body, self.secret),
        }
        fut = asyncio.get_running_loop().create_future()
        self._waiting[wa_id] = (fut, [])  # before the POST: the reply may beat the 200
        t0 = time.perf_counter()
        async with self.session.post(self.url, data=body, headers=headers) as r:
            await r.read()
            t_ack = time.perf_counter()
            if r.status != 200:
                self._waiting.pop(wa_id, None)
                raise RuntimeError(f"webhook answered HTTP {r.status}")
        try:
            t1, text, split = await asyncio.wait_for(fut, STEP_TIMEOUT)
        except TimeoutError:
            self._waiting.pop(wa_id, None)
            raise RuntimeError(f"no interactive reply within {STEP_TIMEOUT:.0f} s") from None
        return t_ack - t0, t1 - t0, text, split

    async def _walk(
        self, res: Resident, out: WaBatchResult, expect_final: Callable[[str], bool]
    ) -> None:
        wa_id = str(res.user_id)
        text = ""
        for n, (kind, value) in enumerate(wa_flow(res.nik, res.no_kk), 1):
            try:
                ack, latency, text, split = await self._step(wa_id, kind, value)
            except Exception as e:  # noqa: BLE001 - reported, and the run is aborted
                out.failures.append(f"wa_id …{wa_id[-4:]}, step {n}/{WA_STEPS}: {e}")
                return
            out.updates += 1
            out.split_parts += split
            out.ack_latencies.append(ack)
            out.latencies.append(latency)
            out.step_latencies[n].append(latency)
        out.completed += 1
        if expect_final(text):
            out.results += 1
        else:
            first_line = text.splitlines()[0][:80] if text else ""
            out.failures.append(f"wa_id …{wa_id[-4:]}: last reply is not a result: {first_line!r}")

    async def run(
        self,
        residents: list[Resident],
        concurrency: int,
        expect_final: Callable[[str], bool],
        bot_pid: int | None = None,
    ) -> WaBatchResult:
        out = WaBatchResult(len(residents), concurrency)
        return await run_batch(self._walk, out, residents, concurrency, expect_final, bot_pid)
