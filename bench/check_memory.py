"""Peak memory of pass 1 (the DTSEN validator) over a CSV: docs/benchmarks.md, issue #14.

    python -m bench.check_memory PATH

Prints rows, households, errors, seconds and the process's peak RSS (ru_maxrss)."""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

from bench.data import TODAY, reference
from db.dtsen_import import _check_file


def main(argv: list[str] | None = None) -> int:
    path = Path((argv or sys.argv[1:])[0])
    programs, region = reference()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    v, _, _, fatal = _check_file(path, region, programs, TODAY, progress=False)
    took = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    assert v is not None, fatal
    print(
        f"rows {v.rows:,} households {v.households:,} errors {len(v.errors):,}"
        f" seconds {took:.1f} peak_rss_kib {peak:,} before_kib {base:,}"
        f" bytes_per_row {(peak - base) * 1024 / max(v.rows, 1):.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
