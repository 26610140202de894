"""Trend charts as SVG geometry, for a timeline's trend pages (views/trends.py).

One dimension of the value vector over a timeline's steps: the population's value per wave with
its interval (a band where consecutive waves have one, and an error bar at each wave), each
tracker's value per step as a line (with a whisker at each point for the model's own interval, where
the run recorded one; several trackers' whiskers at one step stand a little apart), and, in a second panel under it, the gap (population minus
tracker) per step as bars. Values lie in [0, 1] (ProgressGym's range), so the upper panel's scale is
fixed; the gap panel is symmetric around zero and sized to the largest gap. A missing value (a wave
nobody answered the survey in, a step a tracker has no vector for) breaks the line there.

Plain Python, no Django: the template only draws what this computes.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Value = float | None
COLOURS = 6  # trend-c0 .. trend-c5 in chorus.css; a seventh tracker takes the first colour again
GAP_SCALES = (0.05, 0.1, 0.2, 0.5, 1.0)  # the gap panel's end: the first that holds every gap


@dataclass(frozen=True)
class Size:
    width: int
    values_height: int  # the upper panel: values in [0, 1]
    gaps_height: int  # the lower panel: population minus tracker
    left: int = 34  # room for the y labels
    right: int = 8
    top: int = 8
    between: int = 12
    bottom: int = 20  # room for the step labels
    font: int = 10


SMALL = Size(width=260, values_height=110, gaps_height=44)
LARGE = Size(width=1040, values_height=320, gaps_height=130, left=44, right=12, between=18, bottom=26, font=12)


@dataclass(frozen=True)
class Population:
    mean: Value
    low: Value
    high: Value


@dataclass(frozen=True)
class Series:
    """One tracker: `key` is the caller's (passed through to its line and bars), `values` and `gaps`
    have one entry per step, and so have `lows` and `highs` (the model's interval) when given."""
    key: Any
    values: Sequence[Value]
    gaps: Sequence[Value]
    lows: Sequence[Value] = ()
    highs: Sequence[Value] = ()


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Interval:
    """A wave's population value: its error bar and its dot."""
    x: float
    low: float
    high: float
    mean: float


@dataclass(frozen=True)
class Whisker:
    """A tracker's interval at one step: a vertical line from low to high, with short caps."""
    x: float
    low: float
    high: float
    cap_left: float
    cap_right: float

    @property
    def path(self) -> str:
        """SVG path data: the stem, then a cap at each end."""
        return (f"M{self.x:g},{self.low:g} V{self.high:g} M{self.cap_left:g},{self.low:g} H{self.cap_right:g} "
                f"M{self.cap_left:g},{self.high:g} H{self.cap_right:g}")


@dataclass(frozen=True)
class Line:
    key: Any
    colour: int  # the tracker's place in the legend, modulo COLOURS
    path: str  # SVG path data; "" when the tracker has fewer than two points in a row
    points: tuple[tuple[float, float], ...]
    whiskers: tuple[Whisker, ...] = ()  # steps where the tracker has a value and both ends of its interval


@dataclass(frozen=True)
class GapBar:
    key: Any
    colour: int
    step: int
    x: float
    y: float
    width: float
    height: float
    value: float


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    font: int
    left: float
    right: float
    values_top: float
    values_bottom: float
    gaps_top: float
    gaps_zero: float
    gaps_bottom: float
    gaps_limit: float  # the gap panel spans -limit to +limit
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    bands: tuple[str, ...]  # polygon points, one per run of consecutive waves with an interval
    population_path: str
    intervals: tuple[Interval, ...]
    missing: tuple[Tick, ...]  # waves without a population value, marked on the axis
    lines: tuple[Line, ...]
    gap_bars: tuple[GapBar, ...]

    @property
    def plot_width(self) -> float:
        return self.right - self.left

    @property
    def values_height(self) -> float:
        return self.values_bottom - self.values_top

    @property
    def gaps_height(self) -> float:
        return self.gaps_bottom - self.gaps_top


def trend_chart(*, steps: Sequence[str], population: Sequence[Population | None],
                trackers: Sequence[Series], size: Size) -> TrendChart:
    """`steps` are the x labels; `population` has one entry per step, and so has each tracker's series."""
    n = len(steps)
    left, right = float(size.left), float(size.width - size.right)
    slot = (right - left) / max(n, 1)
    values_top = float(size.top)
    values_bottom = values_top + size.values_height
    gaps_top = values_bottom + size.between
    gaps_bottom = gaps_top + size.gaps_height
    gaps_zero = (gaps_top + gaps_bottom) / 2
    limit = gap_scale([g for series in trackers for g in series.gaps if g is not None])

    def x(t: int) -> float:
        return round(left + (t + 0.5) * slot, 1)

    def y(v: float) -> float:
        return round(values_bottom - min(max(v, 0.0), 1.0) * (values_bottom - values_top), 1)

    present = [p if p is not None and p.mean is not None else None for p in population]
    intervals = tuple(Interval(x(t), y(_or(p.low, p.mean)), y(_or(p.high, p.mean)), y(p.mean))
                      for t, p in enumerate(present) if p is not None and p.mean is not None)
    offsets, cap = _whisker_dodge(trackers, slot)
    lines = []
    for i, series in enumerate(trackers):
        points = [None if v is None else (x(t), y(v)) for t, v in enumerate(series.values)]
        whiskers = tuple(Whisker(round(x(t) + offsets[i], 1), y(low), y(high), round(x(t) + offsets[i] - cap, 1),
                                 round(x(t) + offsets[i] + cap, 1))
                         for t, (v, low, high) in enumerate(zip(series.values, series.lows, series.highs))
                         if v is not None and low is not None and high is not None)
        lines.append(Line(series.key, i % COLOURS, path(points), tuple(p for p in points if p is not None),
                          whiskers))
    return TrendChart(
        width=size.width, height=int(gaps_bottom + size.bottom), font=size.font, left=left, right=right,
        values_top=values_top, values_bottom=values_bottom, gaps_top=gaps_top, gaps_zero=gaps_zero,
        gaps_bottom=gaps_bottom, gaps_limit=limit,
        x_ticks=tuple(Tick(x(t), label) for t, label in enumerate(steps)),
        y_ticks=tuple(Tick(y(v), f"{v:g}") for v in (0.0, 0.5, 1.0)),
        bands=tuple(_band(run, x, y) for run in _runs(present) if len(run) > 1),
        population_path=path([None if p is None or p.mean is None else (x(t), y(p.mean))
                              for t, p in enumerate(present)]),
        intervals=intervals,
        missing=tuple(Tick(x(t), steps[t]) for t, p in enumerate(present) if p is None),
        lines=tuple(lines),
        gap_bars=_gap_bars(trackers, x=x, slot=slot, zero=gaps_zero, half=(gaps_bottom - gaps_top) / 2, limit=limit),
    )


def _whisker_dodge(trackers: Sequence[Series], slot: float) -> tuple[list[float], float]:
    """Each tracker's sideways offset for its whiskers, and half a cap's width. Trackers with intervals
    share a step: their whiskers stand side by side around it, in legend order, a few pixels apart
    (at most 6, and within half the slot), so overlapping intervals stay apart. One tracker
    with intervals stays on the step; its line and dots always do."""
    cap = min(slot * 0.08, 4.0)
    with_intervals = [i for i, series in enumerate(trackers) if series.lows and series.highs]
    offsets = [0.0] * len(trackers)
    if len(with_intervals) < 2:
        return offsets, cap
    apart = min(slot * 0.5 / len(with_intervals), 6.0)
    for place, i in enumerate(with_intervals):
        offsets[i] = (place - (len(with_intervals) - 1) / 2) * apart
    return offsets, min(cap, apart * 0.4)  # caps narrower than the gap between whiskers


def gap_scale(values: Sequence[float]) -> float:
    """The smallest of GAP_SCALES that holds every |value| (values are differences of [0, 1] numbers)."""
    largest = max((abs(v) for v in values), default=0.0)
    return next((s for s in GAP_SCALES if largest <= s), GAP_SCALES[-1])


def path(points: Sequence[tuple[float, float] | None]) -> str:
    """SVG path data through the points in order, lifting the pen at each None; "" when no two
    present points are adjacent (a lone point draws nothing: the template marks points itself)."""
    parts: list[str] = []
    run: list[tuple[float, float]] = []
    for point in [*points, None]:
        if point is not None:
            run.append(point)
            continue
        if len(run) > 1:
            parts.append(" ".join(f"{'M' if k == 0 else 'L'}{px:g},{py:g}" for k, (px, py) in enumerate(run)))
        run = []
    return " ".join(parts)


def _or(value: Value, fallback: float) -> float:
    return fallback if value is None else value


def _runs(present: Sequence[Population | None]) -> list[list[tuple[int, Population]]]:
    """Consecutive steps that have an interval."""
    runs: list[list[tuple[int, Population]]] = [[]]
    for t, p in enumerate(present):
        if p is not None and p.low is not None and p.high is not None:
            runs[-1].append((t, p))
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if r]


def _band(run: list[tuple[int, Population]], x, y) -> str:
    """The polygon along the interval's top, left to right, and back along its bottom."""
    upper = [f"{x(t):g},{y(p.high):g}" for t, p in run]
    lower = [f"{x(t):g},{y(p.low):g}" for t, p in reversed(run)]
    return " ".join(upper + lower)


def _gap_bars(trackers: Sequence[Series], *, x, slot: float, zero: float, half: float,
              limit: float) -> tuple[GapBar, ...]:
    """Side by side at each step, one bar per tracker, up for a population above the tracker."""
    if not trackers:
        return ()
    group = min(slot * 0.6, 16.0 * len(trackers))
    width = group / len(trackers)
    bars = []
    for i, series in enumerate(trackers):
        for t, value in enumerate(series.gaps):
            if value is None:
                continue
            extent = min(abs(value) / limit, 1.0) * half
            top = zero - extent if value > 0 else zero
            bars.append(GapBar(series.key, i % COLOURS, t, x=round(x(t) - group / 2 + i * width, 1), y=round(top, 1),
                               width=round(width, 1), height=round(extent, 1), value=value))
    return tuple(bars)
