"""Summarise a py-spy `--format raw` profile (collapsed stacks: "frame;frame;... count").

    python -m bench.profile .cache/bench/profile-service.txt [--top 25] [--all]

Prints where the samples went: self time by package, self time by function, and inclusive
time (the share of samples with the function anywhere on the stack) for the heaviest
functions. Frames look like "name (path/to/file.py:line)"; lines are dropped so that one
function is one row.

py-spy here can only launch the service (attaching to a running process fails on this
machine), so the profile covers start-up and shutdown too: stacks through the start-up and
shutdown code (imports, `Runtime.__init__`, `Runtime.start`, `Runtime.stop`) are left out
unless `--all` is given. The warm-up batch stays in (a few % of the updates).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>.*?)(?::\d+)?\)$")


def _parse(frame: str) -> tuple[str, str]:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip(), ""
    return m.group("name"), m.group("file")


def package(file: str) -> str:
    """A short owner for a source file: 'sqlalchemy', 'aiogram', 'jaring:conversations', ...
    py-spy prints paths relative to sys.path entries ("sqlalchemy/engine/base.py",
    "asyncio/events.py", "core/inbox.py"), sometimes absolute ones."""
    f = file.replace("\\", "/")
    if "site-packages/" in f:
        f = f.split("site-packages/", 1)[1]
    elif "/lib/python3" in f:
        f = f.split("/lib/python3", 1)[1].split("/", 1)[-1]
    elif "/work/" in f or f.startswith("/"):
        f = f.rsplit("/", 2)[-2] + "/" + f.rsplit("/", 1)[-1] if f.count("/") >= 2 else f
    top = f.split("/", 1)[0].removesuffix(".py")
    if top in (
        "conversations",
        "services",
        "core",
        "db",
        "domain",
        "handlers",
        "web",
        "cli",
        "config",
        "bot",
    ):
        return "jaring:" + top
    return top or "?"


def short(name: str, file: str) -> str:
    f = file.replace("\\", "/")
    if "site-packages/" in f:
        f = f.split("site-packages/", 1)[1]
    elif "/lib/python3" in f:
        f = "stdlib/" + f.split("/lib/python3", 1)[1].split("/", 1)[-1]
    elif "/work/" in f:
        f = f.split("/", 3)[-1] if f.count("/") >= 3 else f
    return f"{name} ({f})"


# Function names whose presence on a stack marks start-up or shutdown, not serving.
STARTUP = frozenset(
    {
        "_find_and_load",
        "Runtime.__init__",
        "Runtime.start",
        "Runtime.stop",
        "load_reference",
        "setup_logging",
        "load_settings",
    }
)


# Jaring's hot path, step by step: inclusive share of each (a stack counts once per name), and
# inside some of them (parent > child) the share spent in a part of interest.
FOCUS = (
    "TelegramChannel.handle_webhook",
    "TelegramChannel.handle_webhook > BaseModel.model_validate",
    "Service.receive",
    "Service._process_one",
    "Service._process_one > SyncConn.execute",
    "Service._process_one > ValuesBase.values",
    "Service._process_one > TransactionalContext.__exit__",
    "Engine.handle",
    "Engine.handle > SyncConn.execute",
    "Service._queue_replies",
    "failed_attempts",
    "match_household",
    "household_snapshot",
    "Outbox._dispatch",
    "Outbox._send",
    "TelegramTransport.send",
    "TelegramTransport.send > BaseModel.__class_getitem__",
    "TelegramTransport.send > BaseModel.model_validate",
    "TelegramTransport.send > BaseSession.prepare_value",
    "TelegramTransport.send > ClientSession._request",
    "Outbox._mark",
    "Database.tx",
    "TransactionalContext.__exit__",
    "ValuesBase.values",
    "HasCacheKey._generate_cache_key",
)


def summarise(path: Path, top: int = 25, everything: bool = False) -> str:
    stacks: list[tuple[list[tuple[str, str]], int]] = []
    total = excluded = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        try:
            n = int(count)
        except ValueError:
            continue
        frames = [_parse(f) for f in stack.split(";") if f]
        # py-spy puts the thread as the first frame, e.g. "process 123:\"python\"" / "thread ..."
        frames = [fr for fr in frames if fr[1]]
        if not frames:
            continue
        if not everything and any(name in STARTUP for name, _ in frames):
            excluded += n
            continue
        stacks.append((frames, n))
        total += n
    if not total:
        return "no samples\n"

    self_pkg: Counter[str] = Counter()
    self_fn: Counter[str] = Counter()
    incl_fn: Counter[str] = Counter()
    incl_pkg: Counter[str] = Counter()
    for frames, n in stacks:
        name, file = frames[-1]
        self_pkg[package(file)] += n
        self_fn[short(name, file)] += n
        for key in {short(nm, fl) for nm, fl in frames}:
            incl_fn[key] += n
        for key in {package(fl) for _, fl in frames}:
            incl_pkg[key] += n

    def block(title: str, counter: Counter[str], k: int) -> list[str]:
        out = [title]
        for key, n in counter.most_common(k):
            out.append(f"  {100 * n / total:5.1f} %  {key}")
        return out

    lines = [
        f"{total} samples"
        + (f" ({excluded} start-up/shutdown samples left out)" if excluded else "")
    ]
    lines += block("self time by package:", self_pkg, 15)
    lines += block("inclusive time by package (on the stack):", incl_pkg, 15)
    names_per_stack = [
        ({nm for nm, _ in frames}, [nm for nm, _ in frames], n) for frames, n in stacks
    ]
    lines.append("Jaring's hot path (inclusive; 'a > b': time in b called from a):")
    for item in FOCUS:
        parent, _, child = item.partition(" > ")
        n = 0
        for names, seq, c in names_per_stack:
            if parent not in names:
                continue
            if not child:
                n += c
            elif child in seq[seq.index(parent) + 1 :]:
                n += c
        lines.append(f"  {100 * n / total:5.1f} %  {item}")
    lines += block("self time by function:", self_fn, top)
    lines += block("inclusive time by function:", incl_fn, top)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="summarise a py-spy raw profile")
    p.add_argument("file", type=Path)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--all", action="store_true", help="keep start-up and shutdown samples")
    args = p.parse_args(argv)
    print(summarise(args.file, args.top, args.all), end="")


if __name__ == "__main__":
    main()
