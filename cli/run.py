"""Service commands: `run` (every configured channel and the web app) and `chat` (the terminal).

They get the service from bot.py: `args.make_runtime(settings, channels=...)` builds the
Runtime (database, core, outbox, scheduler, web app, the channels of handlers/); cli imports
neither bot nor web nor handlers."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

log = logging.getLogger("jaring")

# SIGTERM: systemd and Docker kill after 10 s (their defaults); the stop takes at most this.
STOP_DEADLINE = 8.5


def add_parsers(sub) -> None:
    p = sub.add_parser("run", help="start every configured channel and the web app")
    p.add_argument(
        "--console-fallback",
        action="store_true",
        help="without a Telegram token, also start the terminal chat",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="N worker processes serving one port (PostgreSQL only): docs/scaling.md",
    )
    p.set_defaults(handler=cmd_run)
    p = sub.add_parser(
        "dead-letters", help="inbound messages that could not be processed after retries"
    )
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(handler=cmd_dead_letters)
    p = sub.add_parser("chat", help="talk to the bot in the terminal")
    p.add_argument("--user", default="local")
    p.set_defaults(handler=cmd_chat)


def launch_refusal(settings) -> str | None:
    """Why `run` must not start, or None. With a live channel (a Telegram token, the WhatsApp
    settings) the development JARING_HASH_KEY and programs.toml's placeholder office contacts
    are refused, each named with what to set; the terminal demo starts with both."""
    if not settings.live_channels:
        return None
    from core.reference import load_reference  # a broken file: ConfigProblem, one line each

    programs, _ = load_reference(settings.jaring_programs, settings.jaring_region)
    problems = settings.launch_problems(programs.placeholders())
    if not problems:
        return None
    if settings.jaring_allow_dev_defaults:
        log.warning(
            "JARING_ALLOW_DEV_DEFAULTS is on (tests only): starting despite: %s", " ".join(problems)
        )
        return None
    live = settings.live_channels
    channels = " and ".join(live) + (" are" if len(live) > 1 else " is")
    return (
        f"Jaring will not start: {channels} configured (residents would reach this "
        "service), but:\n" + "\n".join(f"- {p}" for p in problems)
    )


def workers_refusal(settings, args) -> str | None:
    """Why `run --workers N` must not start, or None."""
    if args.workers < 1:
        return "--workers must be 1 or more."
    if args.workers == 1:
        return None
    if settings.database_url.startswith("sqlite"):
        return (
            f"--workers {args.workers} needs PostgreSQL: SQLite serves one process at a time "
            "(its single writer would make the workers wait for each other). Set DATABASE_URL="
            "postgresql+asyncpg://USER:PASSWORD@HOST/DB and run `python bot.py migrate` "
            "(docs/scaling.md), or start one worker."
        )
    if args.console_fallback:
        return "--console-fallback runs the terminal chat in one process: not with --workers."
    return None


async def cmd_run(settings, args) -> int:
    refusal = launch_refusal(settings) or workers_refusal(settings, args)
    if refusal:
        print(refusal, file=sys.stderr, flush=True)
        return 2
    if args.workers > 1:
        return await supervise(settings, args.workers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    rt = args.make_runtime(settings)
    if rt.programs.placeholders():
        log.warning(
            "programs.toml still has placeholders to replace before launch: %s",
            ", ".join(rt.programs.placeholders()),
        )
    # A main channel is off (it says so below): the terminal chat stands in, when asked to.
    terminal = rt.add_terminal("local") if args.console_fallback and rt.off_notices else None
    await rt.start()
    where = f"http://{settings.web_host}:{settings.web_port}"
    for key, channel in rt.channels.items():
        if channel is not terminal and (how := channel.describe(where)):
            log.info("%s is on: %s", rt.labels[key], how)
    if rt.off_notices:
        print(
            "; ".join(rt.off_notices)
            + f"; web app at {where}"
            + ("; starting the terminal chat." if terminal else "."),
            flush=True,
        )
    else:
        log.info("Jaring is running: web app at %s", where)
    print(
        f"Staff dashboard: {where}/ (accounts: python bot.py staff add ...; the demo seed "
        f"prints a demo admin login); chat as a resident at {where}/simulator",
        flush=True,
    )
    try:
        if terminal is not None:
            await asyncio.wait(
                [asyncio.create_task(terminal.finished()), asyncio.create_task(stop.wait())],
                return_when=asyncio.FIRST_COMPLETED,
            )
        else:
            await stop.wait()
    finally:
        await _bounded_stop(rt)
    return 0


# A worker that ends by itself (a crash, a kill) is started again after this pause.
RESTART_PAUSE = 1.0


async def supervise(settings, n: int) -> int:
    """`run --workers N`: N `bot.py run` processes with JARING_WORKERS=N, all serving
    WEB_HOST:WEB_PORT (SO_REUSEPORT: the kernel spreads connections over them). A worker that
    dies is started again; SIGTERM/SIGINT stop them all within STOP_DEADLINE (each stops itself
    as a single `run` does). Exit status 2 from a worker (a configuration refusal) stops all."""
    bot_py = Path(__file__).resolve().parent.parent / "bot.py"
    env = {**os.environ, "JARING_WORKERS": str(n)}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    procs: dict[int, asyncio.subprocess.Process] = {}
    waits: dict[int, asyncio.Task] = {}

    async def spawn(i: int) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(bot_py), "run", env={**env, "JARING_WORKER_INDEX": str(i)}
        )
        procs[i], waits[i] = proc, asyncio.create_task(proc.wait())
        print(f"worker {i} started (pid {proc.pid})", flush=True)

    for i in range(1, n + 1):
        await spawn(i)
    print(
        f"Jaring: {n} workers serving http://{settings.web_host}:{settings.web_port}",
        flush=True,
    )
    status = 0
    stopping = asyncio.create_task(stop.wait())
    while not stop.is_set():
        done, _ = await asyncio.wait(
            [stopping, *waits.values()], return_when=asyncio.FIRST_COMPLETED
        )
        for i, task in list(waits.items()):
            if task not in done or stop.is_set():
                continue
            code = task.result()
            if code == 2:
                log.error("worker %d refused to start (exit 2); stopping all workers", i)
                status = 2
                stop.set()
                break
            log.warning("worker %d (pid %d) ended (%s); starting it again", i, procs[i].pid, code)
            await asyncio.sleep(RESTART_PAUSE)
            if not stop.is_set():
                await spawn(i)
    for proc in procs.values():
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
    left = [t for t in waits.values() if not t.done()]
    if left:
        _, pending = await asyncio.wait(left, timeout=STOP_DEADLINE + 1)
        for i, proc in procs.items():
            if proc.returncode is None:
                log.warning("worker %d did not stop in time; killed", i)
                proc.kill()
        if pending:
            await asyncio.wait(pending, timeout=2)
    stopping.cancel()
    return status


async def _bounded_stop(rt) -> None:
    """Stop intake, let the requests in flight finish, leave the rest queued; never longer than
    STOP_DEADLINE (what is cut short is resent at most once at the next start)."""
    started = asyncio.get_running_loop().time()
    try:
        await asyncio.wait_for(rt.stop(), timeout=STOP_DEADLINE)
    except TimeoutError:
        log.warning("stop took longer than %.1f s; exiting (the rest stays queued)", STOP_DEADLINE)
    log.info("stopped in %.1f s", asyncio.get_running_loop().time() - started)


async def cmd_chat(settings, args) -> int:
    rt = args.make_runtime(settings, channels=False)
    terminal = rt.add_terminal(args.user)
    await rt.start(web=False)
    try:
        await terminal.finished()
    finally:
        await rt.stop()
    return 0


async def cmd_dead_letters(settings, args) -> int:
    """One line per dead-lettered inbound event, newest first (no message text: it may hold a
    NIK). The dashboard's home counts them."""
    from db import inbox_store

    rt = args.make_runtime(settings, channels=False)
    try:
        async with rt.db.tx(write=False) as c:
            total = await inbox_store.count_dead(c)
            rows = await inbox_store.dead_events(c, args.limit)
    finally:
        await rt.db.dispose()
    print(f"{total} dead-lettered inbound event(s)")
    for r in rows:
        print(
            f"#{r.id} {r.channel} {r.kind} received {r.received_at:%Y-%m-%d %H:%M} "
            f"attempts {r.attempts}: {r.error or '-'}"
        )
    return 0
