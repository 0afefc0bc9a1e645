"""Small server-side SVG charts for the dashboard (no JavaScript, no chart library, no CDN).

Each helper returns inline SVG markup (`markupsafe.Markup`) sized by a viewBox so it scales to
the card's width on a phone and at 1366x768. Labels are escaped. The SVG is decorative for
assistive technology (`aria-hidden`): every chart on a page is followed by a table with the same
numbers, which is what screen readers and printouts use.
"""

from __future__ import annotations

from markupsafe import Markup, escape

# Colour-blind-safe palette (Okabe-Ito), readable on white and in greyscale print order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _short(label: str, n: int = 22) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def hbar(
    rows: list[tuple[str, list[float]]], series: list[str] | None = None, *, unit: str = ""
) -> Markup:
    """Horizontal (stacked, when several series) bars: rows = [(label, [v per series]), ...]."""
    label_w, bar_w, row_h, top = 170, 330, 24, 4
    width = label_w + bar_w + 60
    legend = []  # (x, line) of each series' key; wraps onto more lines when needed
    x, line = 8, 0
    for name in (series or []) if series and len(series) > 1 else []:
        w = 14 + 6 * min(len(name), 18) + 14
        if x + w > width and x > 8:
            x, line = 8, line + 1
        legend.append((x, line, name))
        x += w
    legend_h = 18 * (line + 1) + 4 if legend else 0
    height = top + legend_h + row_h * len(rows) + 4
    biggest = max((sum(v) for _, v in rows), default=0) or 1
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-hidden="true" focusable="false" preserveAspectRatio="xMinYMin meet">'
    ]
    for i, (lx, ln, name) in enumerate(legend):
        y = top + 18 * ln
        out.append(
            f'<rect x="{lx}" y="{y + 4}" width="10" height="10" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{lx + 14}" y="{y + 13}" class="lg">{escape(_short(name, 18))}</text>'
        )
    for r, (label, values) in enumerate(rows):
        y = top + legend_h + r * row_h
        out.append(
            f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(_short(label))}</text>"
        )
        x = float(label_w)
        for i, v in enumerate(values):
            w = bar_w * v / biggest
            if w > 0:
                out.append(
                    f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" '
                    f'fill="{PALETTE[i % len(PALETTE)]}"/>'
                )
            x += w
        out.append(f'<text x="{x + 4:.1f}" y="{y + 16}">{_fmt(sum(values))}{escape(unit)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def columns(
    rows: list[tuple[str, float | None]],
    *,
    unit: str = "",
    max_value: float | None = None,
    line: bool = False,
) -> Markup:
    """Vertical columns (or a line with points when `line`): rows = [(label, value|None)].
    None is a gap (no data for that label), not a zero."""
    left, col_w, plot_h, top, bottom = 34, 44, 140, 16, 22
    width = left + col_w * len(rows) + 8
    biggest = max_value or max((v or 0 for _, v in rows), default=0) or 1
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {top + plot_h + bottom}" role="img" '
        f'aria-hidden="true" focusable="false" preserveAspectRatio="xMinYMin meet">'
    ]
    for frac in (0, 0.5, 1):
        y = top + plot_h * (1 - frac)
        out.append(
            f'<line x1="{left}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" class="ax">'
            f"{_fmt(biggest * frac)}</text>"
        )
    points = []
    for i, (label, v) in enumerate(rows):
        cx = left + col_w * i + col_w / 2
        out.append(
            f'<text x="{cx:.1f}" y="{top + plot_h + 16}" text-anchor="middle" class="ax">'
            f"{escape(_short(label, 7))}</text>"
        )
        if v is None:
            continue
        h = plot_h * v / biggest
        y = top + plot_h - h
        if line:
            points.append((cx, y))
        else:
            out.append(
                f'<rect x="{cx - col_w * 0.35:.1f}" y="{y:.1f}" width="{col_w * 0.7:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[0]}"/>'
            )
        out.append(
            f'<text x="{cx:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
            f"{_fmt(v)}{escape(unit)}</text>"
        )
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>'
        )
        out.extend(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{PALETTE[0]}"/>' for x, y in points
        )
    out.append("</svg>")
    return Markup("".join(out))
