"""Step charts of limits over time as inline SVG, drawn on the server (no JavaScript)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from html import escape

WIDTH, HEIGHT = 640, 190
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 22, 28
TICK_STEPS = (60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)


def step_chart(
    steps: Sequence[tuple[int, Decimal | float | None]],
    *,
    total: int,
    unit: str,
    title: str = "",
    start: datetime | None = None,
) -> str:
    """`steps`: (start second, limit or None for "no limit") in ascending order, each lasting until
    the next one or `total` seconds. `start` labels the time axis in UTC clock time."""
    total = max(int(total), 1)
    segments = [
        (offset, (steps[i + 1][0] if i + 1 < len(steps) else total), None if limit is None else float(limit))
        for i, (offset, limit) in enumerate(steps)
        if offset < total
    ]
    limits = [limit for _, _, limit in segments if limit is not None]
    top_value = _nice_ceiling(max(limits) * 1.1) if limits and max(limits) > 0 else 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(seconds: float) -> float:
        return LEFT + plot_w * min(seconds, total) / total

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top_value)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title or "step chart")}" '
        'style="background:#fff;border:1px solid #ddd;font:11px sans-serif">',
        f'<text x="{LEFT + 4}" y="14" font-weight="bold">{escape(title)}</text>',
    ]
    parts += _axes(x, y, top_value, total, unit, start, plot_h)
    for begin, end, limit in segments:
        if limit is None:
            parts.append(
                f'<rect x="{x(begin):.1f}" y="{TOP}" width="{max(x(end) - x(begin), 0.5):.1f}" height="{plot_h}" '
                'fill="#f3f3f3" stroke="none"><title>no limit</title></rect>'
                f'<text x="{(x(begin) + x(end)) / 2:.1f}" y="{TOP + 14}" text-anchor="middle" fill="#888">no limit</text>'
            )
    parts.append(_step_path(segments, x, y))
    for begin, end, limit in segments:
        if limit is not None and x(end) - x(begin) > 34:
            parts.append(
                f'<text x="{x(begin) + 3:.1f}" y="{y(limit) - 3:.1f}" fill="#205493">{_fmt(limit)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _step_path(segments, x, y) -> str:
    path = []
    for begin, end, limit in segments:
        if limit is None:
            continue
        move = "M" if not path or path[-1][1] != begin else "L"
        path.append((f"{move}{x(begin):.1f},{y(limit):.1f} L{x(end):.1f},{y(limit):.1f}", end))
    if not path:
        return ""
    d = " ".join(piece for piece, _ in path)
    return f'<path d="{d}" fill="none" stroke="#205493" stroke-width="2"/>'


def _axes(x, y, top_value, total, unit, start, plot_h) -> list[str]:
    parts = [
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#999"/>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#999"/>',
        f'<text x="{LEFT - 4}" y="{TOP - 8}" text-anchor="end" fill="#555">{escape(unit)}</text>',
    ]
    for fraction in (0, 0.5, 1):
        value = top_value * fraction
        parts.append(f'<text x="{LEFT - 4}" y="{y(value) + 4:.1f}" text-anchor="end" fill="#555">{_fmt(value)}</text>')
        parts.append(f'<line x1="{LEFT}" y1="{y(value):.1f}" x2="{WIDTH - RIGHT}" y2="{y(value):.1f}" stroke="#eee"/>')
    step = next((s for s in TICK_STEPS if total / s <= 8), TICK_STEPS[-1])
    for seconds in range(0, total + 1, step):
        parts.append(f'<line x1="{x(seconds):.1f}" y1="{TOP + plot_h}" x2="{x(seconds):.1f}" y2="{TOP + plot_h + 4}" stroke="#999"/>')
        parts.append(
            f'<text x="{x(seconds):.1f}" y="{HEIGHT - 8}" text-anchor="middle" fill="#555">'
            f"{escape(_time_label(seconds, start, total))}</text>"
        )
    return parts


def _time_label(seconds: int, start: datetime | None, total: int) -> str:
    if start is not None:
        moment = start + timedelta(seconds=seconds)
        return moment.strftime("%a %H:%M" if total > 86400 else "%H:%M")
    if seconds % 86400 == 0 and seconds:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m"


def _nice_ceiling(value: float) -> float:
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1
    for factor in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if factor * magnitude >= value:
            return factor * magnitude
    return value


def _fmt(value: float) -> str:
    return f"{value:g}" if value < 1e6 else f"{value:.3g}"
