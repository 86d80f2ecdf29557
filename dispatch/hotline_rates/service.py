"""The three hotline rates in SQL: one set-based GROUP BY per level and period, the counts turned
into rates, score and ranking by `dispatch.hotline_rates.rates` (the definitions are there).

A ticket belongs to the period it was received in (received_at in [from, to)); its answers are
counted as they stand at `now`. A month is the city's calendar month.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.settings import Settings
from dispatch.hotline_rates.rates import (
    UNCOUNTED_TYPES,
    Counts,
    RankingLevel,
    Rates,
    Weights,
    competition_ranks,
    percent,
    points,
    rates_of,
)

# The group key and name of each level: the lead unit, or the cell's community, street, district.
LEVEL_KEYS = {
    RankingLevel.UNIT: ("t.lead_department_id", ""),
    RankingLevel.COMMUNITY: ("g.community_id", "JOIN grid_cell g ON g.id = t.cell_id"),
    RankingLevel.STREET: (
        "community.parent_id",
        "JOIN grid_cell g ON g.id = t.cell_id "
        "JOIN grid_region community ON community.id = g.community_id",
    ),
    RankingLevel.DISTRICT: (
        "street.parent_id",
        "JOIN grid_cell g ON g.id = t.cell_id "
        "JOIN grid_region community ON community.id = g.community_id "
        "JOIN grid_region street ON street.id = community.parent_id",
    ),
}
NAMES_SQL = {
    RankingLevel.UNIT: "SELECT id, code, name FROM department WHERE id = ANY(:ids)",
    RankingLevel.COMMUNITY: "SELECT id, code, name FROM grid_region WHERE id = ANY(:ids)",
    RankingLevel.STREET: "SELECT id, code, name FROM grid_region WHERE id = ANY(:ids)",
    RankingLevel.DISTRICT: "SELECT id, code, name FROM grid_region WHERE id = ANY(:ids)",
}
COUNT_COLUMNS = tuple(item.name for item in fields(Counts))


def counts_sql(level: RankingLevel) -> str:
    """Counts per (month bucket, key): the bucket is the city month when :by_month, else NULL."""
    key, joins = LEVEL_KEYS[level]
    counted = "NOT t.unreasonable"
    return f"""
    SELECT CASE WHEN :by_month
                THEN date_trunc('month', t.received_at AT TIME ZONE :zone)::date END AS bucket,
           {key} AS key,
           count(*) FILTER (WHERE {counted}) AS tickets,
           count(*) FILTER (WHERE t.unreasonable) AS excluded_unreasonable,
           count(*) FILTER (WHERE {counted} AND t.first_contact_due_at IS NOT NULL
                              AND (t.first_contacted_at IS NOT NULL
                                   OR t.first_contact_due_at <= :now)) AS response_due,
           count(*) FILTER (WHERE {counted} AND t.first_contacted_at <= t.first_contact_due_at)
               AS responded_in_time,
           count(*) FILTER (WHERE {counted} AND cb.reached) AS reached,
           count(*) FILTER (WHERE {counted} AND cb.solved = 'solved') AS solved,
           count(*) FILTER (WHERE {counted} AND cb.solved = 'partly') AS partly,
           count(*) FILTER (WHERE {counted} AND cb.solved = 'not_solved') AS not_solved,
           count(*) FILTER (WHERE {counted} AND cb.satisfaction = 'satisfied') AS satisfied,
           count(*) FILTER (WHERE {counted} AND cb.satisfaction = 'fair') AS fair,
           count(*) FILTER (WHERE {counted} AND cb.satisfaction = 'unsatisfied') AS unsatisfied,
           count(*) FILTER (WHERE {counted} AND cb.gave_up) AS unreachable
    FROM hotline_ticket t
    {joins}
    LEFT JOIN LATERAL (
        SELECT c.reached, c.gave_up, c.solved, c.satisfaction
        FROM hotline_callback c
        WHERE c.ticket_id = t.id AND (c.reached OR c.gave_up)
        ORDER BY c.at DESC, c.id DESC
        LIMIT 1
    ) cb ON true
    WHERE t.received_at >= :period_from AND t.received_at < :period_to
      AND t.ticket_type NOT IN {UNCOUNTED_TYPES!r}
      AND t.status <> 'cancelled'
      AND {key} IS NOT NULL
    GROUP BY 1, 2
    """


@dataclass(frozen=True)
class Period:
    """Half-open [start, end), aware."""

    start: datetime
    end: datetime


def month_period(month: date, zone: ZoneInfo) -> Period:
    """The city's calendar month starting on `month` (its first day)."""
    first = month.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return Period(
        datetime.combine(first, time(), tzinfo=zone), datetime.combine(following, time(), zone)
    )


def months_back(month: date, count: int) -> list[date]:
    """The first days of `count` months ending with `month`, oldest first."""
    index = month.year * 12 + month.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


@dataclass
class RateRow:
    """One unit's (or area's) row: counts, exact rates, rank and trend."""

    key: int
    code: str
    name: str
    counts: Counts
    rates: Rates
    rank: int | None = None
    trend: list[tuple[date, Rates]] = field(default_factory=list)


@dataclass
class Ranking:
    level: RankingLevel
    period: Period
    weights: Weights
    rows: list[RateRow]
    totals: Counts
    trend_months: list[date]


def weights_of(settings: Settings) -> Weights:
    """The configured weights and credits."""
    return Weights.from_numbers(
        response=settings.hotline_weight_response,
        resolution=settings.hotline_weight_resolution,
        satisfaction=settings.hotline_weight_satisfaction,
        partly_credit=settings.hotline_partly_solved_credit,
        fair_credit=settings.hotline_fair_credit,
    )


def count_rows(
    session: Session,
    level: RankingLevel,
    period: Period,
    *,
    now: datetime,
    zone: ZoneInfo,
    by_month: bool,
) -> dict[tuple[date | None, int], Counts]:
    """The counts per (month or None, key) over the period."""
    params = {
        "period_from": period.start,
        "period_to": period.end,
        "now": now,
        "zone": zone.key,
        "by_month": by_month,
    }
    result = session.execute(text(counts_sql(level)), params).mappings()
    return {
        (row["bucket"], row["key"]): Counts(**{name: row[name] for name in COUNT_COLUMNS})
        for row in result
    }


def ranking(
    session: Session,
    level: RankingLevel,
    period: Period,
    *,
    now: datetime,
    zone: ZoneInfo,
    weights: Weights,
    trend_months: list[date] | None = None,
) -> Ranking:
    """The ranked rows of a level over a period, each with its trend over `trend_months`
    (consecutive months, oldest first). When the period is the trend's last month, its counts
    come from the trend's statement: one statement, not two."""
    months = trend_months or []
    by_month = _trend_counts(session, level, months, now=now, zone=zone)
    if months and period == month_period(months[-1], zone):
        counts = {key: row for (month, key), row in by_month.items() if month == months[-1]}
    else:
        counts = {
            key: row
            for (_, key), row in count_rows(
                session, level, period, now=now, zone=zone, by_month=False
            ).items()
        }
    names = _names(session, level, list(counts))
    rows = [
        RateRow(key, *names.get(key, (str(key), str(key))), row, rates_of(row, weights))
        for key, row in counts.items()
    ]
    for row, rank in zip(rows, competition_ranks([row.rates.score for row in rows]), strict=True):
        row.rank = rank
        row.trend = [
            (month, rates_of(by_month.get((month, row.key), Counts()), weights)) for month in months
        ]
    rows.sort(key=lambda row: (row.rank is None, row.rank or 0, row.code))
    return Ranking(level, period, weights, rows, sum_counts(counts.values()), months)


def _trend_counts(
    session: Session, level: RankingLevel, months: list[date], *, now: datetime, zone: ZoneInfo
) -> dict[tuple[date | None, int], Counts]:
    """The counts per month and key over `months`."""
    if not months:
        return {}
    span = Period(month_period(months[0], zone).start, month_period(months[-1], zone).end)
    return count_rows(session, level, span, now=now, zone=zone, by_month=True)


def sum_counts(rows: Any) -> Counts:
    """The counts of several rows added up."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        for name in COUNT_COLUMNS:
            totals[name] += getattr(row, name)
    return Counts(**totals)


def _names(session: Session, level: RankingLevel, keys: list[int]) -> dict[int, tuple[str, str]]:
    result = session.execute(text(NAMES_SQL[level]), {"ids": keys})
    return {row.id: (row.code, row.name) for row in result}


def rates_fields(rates: Rates) -> dict[str, float | None]:
    """The rates in percent and the score in points, as answered."""
    return {
        "response_rate": percent(rates.response),
        "resolution_rate": percent(rates.resolution),
        "satisfaction_rate": percent(rates.satisfaction),
        "score": points(rates.score),
    }
