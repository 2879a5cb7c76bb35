"""Time series for charts: drawn from stored meter values, thinned on the server so that a long
transaction or a fleet's day stays a few hundred points in the page."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal

# Points one line of a chart holds at most.
MAX_POINTS = 400


def epoch(moment: datetime) -> float:
    return moment.timestamp()


def downsample(points: list[tuple[float, float]], *, max_points: int = MAX_POINTS,
               combine: Callable[[list[float]], float] | None = None) -> list[tuple[float, float]]:
    """At most `max_points` (time, value) points, in time order: consecutive points share a bucket
    of equal duration, represented by its last time and `combine` of its values (default: the last
    value, right for a register; pass `mean` for a power)."""
    points = sorted(points)
    if len(points) <= max_points:
        return points
    start, end = points[0][0], points[-1][0]
    width = (end - start) / max_points or 1.0
    buckets: dict[int, list[tuple[float, float]]] = {}
    for moment, value in points:
        buckets.setdefault(min(int((moment - start) / width), max_points - 1), []).append((moment, value))
    thinned = []
    for index in sorted(buckets):
        bucket = buckets[index]
        value = combine([v for _, v in bucket]) if combine else bucket[-1][1]
        thinned.append((bucket[-1][0], value))
    return thinned


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def to_watts(value: Decimal | float, unit: str) -> float:
    return float(value) * 1000 if unit == "kW" else float(value)


def to_wh(value: Decimal | float, unit: str) -> float:
    return float(value) * 1000 if unit == "kWh" else float(value)


def power_of_readings(readings: Iterable[tuple[str, float]]) -> float:
    """One instant's power from its samples (phase, W): the total when the station sent one, else the
    sum of its phases."""
    total, phases = None, 0.0
    for phase, watts in readings:
        if not phase:
            total = watts
        else:
            phases += watts
    return total if total is not None else phases
