"""Console channel: `python bot.py chat` talks to the same core, through the same inbox and
outbox, in the terminal. Choices are printed as a numbered list; typing a number picks one."""

from __future__ import annotations

import asyncio
import sys
import time
from types import SimpleNamespace
from typing import TextIO

from core.health import Health
from core.model import Event
from handlers.plugin import Route, Wiring


class ConsoleTransport:
    channel = "console"
    rate_global = 1e9
    rate_per_chat = 1e9

    def __init__(self, out: TextIO = sys.stdout):
        self.out = out

    async def send(self, address: str, payload: dict) -> str | None:
        lines = [payload["text"]] if payload.get("text") else []
        for n, (_cid, label) in enumerate(payload.get("choices") or [], 1):
            lines.append(f"  {n}. {label}")
        self.out.write("\n" + "\n".join(lines) + "\n")
        self.out.flush()
        return None


def line_to_event(line: str, user: str, seq: int, session: str) -> Event:
    text = line.strip()
    if text.startswith("/") and len(text) > 1:
        cmd, _, args = text[1:].partition(" ")
        kind, payload = "command", {"command": cmd.lower(), "args": args}
    else:
        kind, payload = "text", {"text": text}
    return Event("console", f"console:{user}", f"{session}-{seq}", kind, payload, user, None)


async def run_console(
    service, outbox, *, user: str = "local", inp: TextIO = sys.stdin, out: TextIO = sys.stdout
) -> None:
    session = str(int(time.time() * 1000))
    out.write(
        "Jaring (terminal). Ketik pesan lalu Enter; Ctrl-D untuk keluar. "
        "/ Type a message and press Enter; Ctrl-D to leave.\n"
    )
    loop = asyncio.get_running_loop()
    seq = 0
    first = Event(
        "console",
        f"console:{user}",
        f"{session}-0",
        "command",
        {"command": "start", "args": ""},
        user,
        None,
    )
    await service.receive(first)
    while True:
        await service.idle()
        await outbox.idle()
        out.write("> ")
        out.flush()
        line = await loop.run_in_executor(None, inp.readline)
        if not line:
            out.write("\n")
            break
        if not line.strip():
            continue
        seq += 1
        await service.receive(line_to_event(line, user, seq, session))


class ConsoleChannel:
    """The terminal chat as a channel: `start()` greets and reads lines until end of input."""

    def __init__(self, w: Wiring, inp: TextIO = sys.stdin, out: TextIO = sys.stdout) -> None:
        self.transport = ConsoleTransport(out)
        self._w, self._inp, self._out = w, inp, out
        self._task: asyncio.Task[None] | None = None

    def routes(self) -> list[Route]:
        return []

    def describe(self, web_url: str) -> str:
        return f"terminal, as {self._w.terminal_user}"

    async def start(self) -> None:
        # run_console asks the inbox and the outbox to be idle: Wiring.idle waits for both.
        service = SimpleNamespace(receive=self._w.receive, idle=self._w.idle)
        outbox = SimpleNamespace(idle=self._w.idle)
        self._task = asyncio.create_task(
            run_console(service, outbox, user=self._w.terminal_user, inp=self._inp, out=self._out),
            name="console-chat",
        )

    async def finished(self) -> None:
        """Until the resident ends the chat (Ctrl-D)."""
        if self._task is not None:
            await self._task

    async def stop_receiving(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()  # a pending readline stays in its thread until input ends

    async def stop(self) -> None:
        await self.stop_receiving()

    def health(self) -> Health:
        if self._task is None:
            return Health(False, "terminal chat not started")
        if self._task.done():
            return Health(False, "terminal chat ended")
        return Health(True, "terminal chat reading")
