"""The dashboard's trend of reports and closures (pure): every day or week of the period, and
where each point lies on the SVG chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

CHART_WIDTH, CHART_HEIGHT, CHART_MARGIN = 640, 220, 32


@dataclass(frozen=True)
class TrendPoint:
    """Reports made and cases closed in one day or week (starting at `start`, local time)."""

    start: date
    reports: int
    closures: int


def bucket_start(day: date, step: str) -> date:
    """The first day of the day's bucket: itself, or the Monday of its week (as date_trunc)."""
    return day if step == "day" else day - timedelta(days=day.weekday())


def filled_trend(
    counts: Mapping[date, tuple[int, int]], first: date, last: date, step: str
) -> list[TrendPoint]:
    """Every bucket from the one holding `first` to the one holding `last`, zeros where
    nothing happened (pure)."""
    stride = timedelta(days=1 if step == "day" else 7)
    start, points = bucket_start(first, step), []
    while start <= last:
        reports, closures = counts.get(start, (0, 0))
        points.append(TrendPoint(start, reports, closures))
        start += stride
    return points


@dataclass(frozen=True)
class TrendChart:
    """An SVG line chart's geometry: two polylines, the y scale's top, x labels."""

    width: int
    height: int
    reports_points: str
    closures_points: str
    y_max: int
    baseline_y: int
    top_y: int
    labels: list[tuple[float, str]]  # x, text


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, … that is at least `value` (at least 1)."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def trend_chart(points: Sequence[TrendPoint], *, labels_max: int = 6) -> TrendChart:
    """Where each point of the two series lies on the chart (pure)."""
    y_max = nice_ceiling(max([1, *(p.reports for p in points), *(p.closures for p in points)]))
    inner_width = CHART_WIDTH - 2 * CHART_MARGIN
    inner_height = CHART_HEIGHT - 2 * CHART_MARGIN
    step_x = inner_width / max(1, len(points) - 1)

    def x_of(index: int) -> float:
        return round(CHART_MARGIN + index * step_x, 1)

    def y_of(value: int) -> float:
        return round(CHART_HEIGHT - CHART_MARGIN - value * inner_height / y_max, 1)

    every = max(1, -(-len(points) // labels_max))
    return TrendChart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        reports_points=" ".join(f"{x_of(i)},{y_of(p.reports)}" for i, p in enumerate(points)),
        closures_points=" ".join(f"{x_of(i)},{y_of(p.closures)}" for i, p in enumerate(points)),
        y_max=y_max,
        baseline_y=CHART_HEIGHT - CHART_MARGIN,
        top_y=CHART_MARGIN,
        labels=[(x_of(i), f"{p.start:%m-%d}") for i, p in enumerate(points) if i % every == 0],
    )
