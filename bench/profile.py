"""Summarise a py-spy `--format raw` profile (collapsed stacks: "frame;frame;... count").

    python -m bench.profile .cache/bench/profile-service.txt [--top 25]

Prints where the samples went: self time by package, self time by function, and inclusive
time (the share of samples with the function anywhere on the stack) for the heaviest
functions. Frames look like "name (path/to/file.py:line)"; lines are dropped so that one
function is one row.
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
    """A short owner for a source file: 'sqlalchemy', 'aiogram', 'jaring:conversations', ..."""
    f = file.replace("\\", "/")
    if "site-packages/" in f:
        return f.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/lib/python3" in f:
        rest = f.split("/lib/python3", 1)[1].split("/", 1)[-1]
        return "stdlib:" + rest.split("/", 1)[0].removesuffix(".py")
    for top in ("conversations", "db", "domain", "handlers", "web", "config", "bot"):
        if f"/{top}/" in f or f.endswith(f"/{top}.py") or f.startswith(f"{top}/") or f == f"{top}.py":
            return "jaring:" + top
    return f or "?"


def short(name: str, file: str) -> str:
    f = file.replace("\\", "/")
    if "site-packages/" in f:
        f = f.split("site-packages/", 1)[1]
    elif "/lib/python3" in f:
        f = "stdlib/" + f.split("/lib/python3", 1)[1].split("/", 1)[-1]
    elif "/work/" in f:
        f = f.split("/", 3)[-1] if f.count("/") >= 3 else f
    return f"{name} ({f})"


def summarise(path: Path, top: int = 25) -> str:
    stacks: list[tuple[list[tuple[str, str]], int]] = []
    total = 0
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

    lines = [f"{total} samples"]
    lines += block("self time by package:", self_pkg, 15)
    lines += block("inclusive time by package (on the stack):", incl_pkg, 15)
    lines += block("self time by function:", self_fn, top)
    lines += block("inclusive time by function:", incl_fn, top)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="summarise a py-spy raw profile")
    p.add_argument("file", type=Path)
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args(argv)
    print(summarise(args.file, args.top), end="")


if __name__ == "__main__":
    main()
