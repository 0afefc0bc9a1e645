"""`make nlu`: the understanding layer measured on the labelled corpus.

Prints the accuracy per intent, the confusion table (what each mistake was taken for), the
"wrong flow started" count on the negatives (lines labelled NONE), and the time per message.
`python -m tools.nlu [corpus.tsv] [--lexicon data/intents.toml] [--show]` (--show lists every
mistake with its normalised text and candidates).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from core.understanding import Understander, load_lexicon

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "nlu_corpus.tsv"
NONE = "NONE"


def read_corpus(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, _, expected = line.rpartition("\t")
        rows.append((text, expected.strip()))
    return rows


def evaluate(u: Understander, rows: list[tuple[str, str]]) -> dict:
    """Per-row results and the figures `make nlu` prints (tests/test_nlu.py uses them too)."""
    results = []
    for text, expected in rows:
        got = u.understand(text)
        results.append((text, expected, got))
    right = sum(1 for _, e, g in results if (g.intent or NONE) == e)
    negatives = [(t, g) for t, e, g in results if e == NONE]
    wrong_flow = [(t, g) for t, g in negatives if g.intent is not None]
    offered = sum(
        1
        for _, e, g in results
        if e != NONE and g.intent is None and e in [c for c, _ in g.candidates]
    )
    return {
        "results": results,
        "total": len(results),
        "right": right,
        "accuracy": right / len(results) if results else 0.0,
        "negatives": len(negatives),
        "wrong_flow": wrong_flow,
        "offered": offered,
    }


def timing(u: Understander, rows: list[tuple[str, str]], rounds: int = 5) -> tuple[float, float]:
    """(mean, p99) microseconds per message; the texts get a counter so no cache helps."""
    times = []
    for r in range(rounds):
        for text, _ in rows:
            t0 = time.perf_counter()
            u.understand(f"{text} {r}")
            times.append((time.perf_counter() - t0) * 1e6)
    times.sort()
    return statistics.fmean(times), times[int(len(times) * 0.99) - 1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.nlu")
    ap.add_argument("corpus", nargs="?", type=Path, default=CORPUS)
    ap.add_argument("--lexicon", type=Path, default=None)
    ap.add_argument("--show", action="store_true", help="list every mistake")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    u = Understander(load_lexicon(args.lexicon))
    load_ms = (time.perf_counter() - t0) * 1000
    rows = read_corpus(args.corpus)
    ev = evaluate(u, rows)
    per: dict[str, Counter] = defaultdict(Counter)
    confusion: Counter = Counter()
    for _text, e, g in ev["results"]:
        got = g.intent or NONE
        per[e]["n"] += 1
        per[e]["ok"] += got == e
        if got != e:
            confusion[(e, got)] += 1
    print(f"corpus {args.corpus.name}: {ev['total']} messages, lexicon loaded in {load_ms:.0f} ms")
    print(f"\n{'intent':<12} {'n':>4} {'right':>6} {'acc':>7}")
    for intent in sorted(per):
        c = per[intent]
        print(f"{intent:<12} {c['n']:>4} {c['ok']:>6} {c['ok'] / c['n']:>7.1%}")
    print(f"{'ALL':<12} {ev['total']:>4} {ev['right']:>6} {ev['accuracy']:>7.1%}")
    print("\nconfusion (expected -> got: count)")
    for (e, g), n in confusion.most_common():
        print(f"  {e:<12} -> {g:<12} {n}")
    if not confusion:
        print("  none")
    print(
        f"\nnegatives: {ev['negatives']}, wrong flow started: {len(ev['wrong_flow'])}"
        + "".join(f"\n  {t!r} -> {g.intent}" for t, g in ev["wrong_flow"])
    )
    print(f"missed but offered among the 'Did you mean' buttons: {ev['offered']}")
    mean, p99 = timing(u, rows)
    print(f"time per message: mean {mean:.0f} µs, p99 {p99:.0f} µs")
    if args.show:
        print("\nmistakes")
        for text, e, g in ev["results"]:
            if (g.intent or NONE) != e:
                print(f"  {text!r} [{e}] -> {g.intent} {g.candidates} | {g.normalized}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
