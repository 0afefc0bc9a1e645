"""Every command of `python bot.py`: run and chat (cli/run.py), migrate, import-dtsen and
seed-demo (cli/data.py), backup and restore (cli/backup.py), and the staff commands (`staff ...`, `kube ...`, `training ...`,
`reports ...`, `rt ...`, `nlu ...`).

A module here has `add_parsers(sub)`, which adds its argparse sub-commands and sets
`handler=<fn(settings, args) -> int>` on each with `set_defaults` (async, or plain when it runs
its own event loop, like `migrate`). bot.py calls `parse` with what the commands need from it
(`make_runtime`), loads the settings, and calls `dispatch` (which sets up logging): a `ConfigProblem` or a
`CommandError` becomes a one-line message and exit 2/1. cli imports neither bot, web nor handlers.
Output for staff is in Bahasa Indonesia; NIK is masked unless a command says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import sys
from typing import Any

MODULES: tuple[str, ...] = (
    "cli.run",
    "cli.data",
    "cli.staff",
    "cli.kube",
    "cli.uep",
    "cli.training",
    "cli.reports",
    "cli.rt",
    "cli.nlu",
    "cli.backup",
)  # dotted module names


class CommandError(Exception):
    """A staff mistake (unknown id, wrong state): printed as one line, exit status 1."""


def add_all(sub) -> None:
    import importlib

    for name in MODULES:
        importlib.import_module(name).add_parsers(sub)


def parse(argv: list[str] | None, **context: Any) -> argparse.Namespace:
    """The command line as a namespace; `context` (e.g. make_runtime) is set on it for the
    handlers."""
    parser = argparse.ArgumentParser(prog="bot.py", description="Jaring chat service")
    parser.set_defaults(**context)
    sub = parser.add_subparsers(dest="cmd", required=True)
    add_all(sub)
    return parser.parse_args(argv)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Log to stderr as text or JSON (JARING_LOG_FORMAT, core/logcontext.py: the event and
    conversation ids on each line, long numbers masked)."""
    from core.logcontext import handler

    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        handlers=[handler(sys.stderr, fmt)],
    )
    logging.captureWarnings(True)  # warnings too go through the handler (JSON lines stay JSON)
    # Per-update INFO lines from aiogram and the access log cost throughput and say nothing new.
    # pywa and httpx log recipients and request bodies at DEBUG/INFO: phone numbers stay out.
    for name in (
        "aiogram.event",
        "aiohttp.access",
        "aiogram.dispatcher",
        "alembic",
        "pywa",
        "pywa_async",
        "httpx",
        "httpcore",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)


def dispatch(args: argparse.Namespace, settings) -> int:
    """Set up logging and run the command's handler; the exit status."""
    from core.reference import ConfigProblem

    setup_logging(settings.log_level, settings.jaring_log_format)
    handler = getattr(args, "handler", None)
    if handler is None:
        return 1
    try:
        if inspect.iscoroutinefunction(handler):
            return asyncio.run(handler(settings, args))
        return handler(settings, args)
    except CommandError as e:
        print(str(e), file=sys.stderr)
        return 1
    except ConfigProblem as e:
        print(f"Configuration error:\n{e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
