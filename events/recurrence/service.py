"""Recurrence links in SQL (events.recurrence.rules states the definition), and the ranked
places. Each link statement is one INSERT … SELECT, idempotent (a new case already linked is
left alone), answering the linked pairs.

- One case (LINK_ONE, at intake): the earlier closed cases near it come from the GiST index on
  `event_case.geom` (degrees): a box sure to hold the distance (components.matching's bound on
  a degree), then the distance on the spheroid; cases on the same component from the
  component's b-tree index. The category is compared as `category_id + 0` so that the planner
  keeps the spatial index instead of ANDing it with the category's.
- The history (LINK_PERIOD, the batch command): a million such probes take minutes, so every
  case of the period is joined at once, by hash, on its category and a grid bucket (below).

Both pick the same earlier case (rules.PREFERENCE); bench/analysis_recurrence.py checks that
they agree, and agree with a brute-force reading of the definition. The statements use the
driver's `%(name)s` parameters: the same text runs through a Session (`exec_driver_sql`) and
through intake's Writer.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.db import Writer
from components.matching import COS_LATITUDE_MIN, METRES_PER_DEGREE_MIN
from events.recurrence import rules
from events.recurrence.rules import Definition

log = logging.getLogger(__name__)

NOT_COUNTED = ", ".join(f"'{status}'" for status in rules.NOT_COUNTED_STATUSES)
# The SQL condition of a new case that can be a recurrence (rules.counts_as_new), on alias n.
COUNTS_AS_NEW = f"n.merged_into_id IS NULL AND n.status NOT IN ({NOT_COUNTED})"
_HALF_HEIGHT = f"%(distance_m)s::float8 / {METRES_PER_DEGREE_MIN}"
_HALF_WIDTH = (
    f"%(distance_m)s::float8 / ({METRES_PER_DEGREE_MIN}"
    f" * greatest(cos(radians(ST_Y(n.geom))), {COS_LATITUDE_MIN}))"
)
# Written as a difference so that no index on closed_at is ANDed with the spatial one (it
# would read every case closed in the period, for each new case).
_CLOSED_BEFORE = f"""p.status = '{rules.PREVIOUS_STATUS}'
              AND n.created_at - p.closed_at > interval '0'
              AND n.created_at - p.closed_at <= make_interval(days => %(period_days)s::int)
              AND p.id <> n.id"""
_ORDER = rules.order_by_sql(
    {
        "same_component": "found.same_component",
        "distance_m": "found.distance_m",
        "closed_at": "found.closed_at",
        "case_id": "found.id",
    }
)
# The preferred earlier closed case of the new case n, zero or one row.
PREVIOUS_OF_NEW = f"""
    SELECT found.id, found.distance_m, found.same_component
    FROM (
        SELECT p.id, p.closed_at,
               ST_Distance(p.geom::geography, n.geom::geography) AS distance_m,
               coalesce(p.component_id = n.component_id, false) AS same_component
        FROM event_case p
        WHERE p.geom && ST_Expand(n.geom, {_HALF_WIDTH}, {_HALF_HEIGHT})
          AND ST_DWithin(p.geom::geography, n.geom::geography, %(distance_m)s::float8)
          AND p.category_id + 0 = n.category_id
          AND {_CLOSED_BEFORE}
        UNION ALL
        SELECT p.id, p.closed_at,
               ST_Distance(p.geom::geography, n.geom::geography), true
        FROM event_case p
        WHERE n.component_id IS NOT NULL AND p.component_id = n.component_id
          AND p.category_id = n.category_id
          AND {_CLOSED_BEFORE}
    ) found
    ORDER BY {_ORDER}
    LIMIT 1"""


def _link_sql(scope: str) -> str:
    """The INSERT that links the not yet linked new cases of `scope` (a condition on n)."""
    return f"""
    INSERT INTO case_recurrence (case_id, previous_case_id, distance_m, same_component,
                                 distance_limit_m, period_days, linked_by)
    SELECT n.id, previous.id, previous.distance_m, previous.same_component,
           %(distance_m)s::float8, %(period_days)s::int, %(linked_by)s
    FROM event_case n
    CROSS JOIN LATERAL ({PREVIOUS_OF_NEW}) previous
    WHERE {scope} AND {COUNTS_AS_NEW}
      AND NOT EXISTS (SELECT 1 FROM case_recurrence r WHERE r.case_id = n.id)
    ON CONFLICT (case_id) DO NOTHING
    RETURNING case_id, previous_case_id"""


# One case (intake): its own statement, so that a generic plan never scans the table.
LINK_ONE = _link_sql("n.id = %(case_id)s::bigint")
# The history, every case reported in [since, until) at once: a hash join instead of a million
# index probes. Both sides are put in buckets of a grid whose cells are at least the distance
# wide (in degrees: the distance over the shortest metres per degree, of longitude at the
# highest latitude of the cases), so a closed case within the distance of a new case is in the
# new case's bucket or one of the eight around it: the join is on the category and the bucket,
# then the period and the distance on the spheroid are checked on the pairs it finds.
_CLOSED_IN_TIME = """n.created_at - p.closed_at > interval '0'
          AND n.created_at - p.closed_at <= make_interval(days => %(period_days)s::int)
          AND p.id <> n.id"""
_BUCKETS = """floor(ST_X(geom) / grid.width)::bigint AS bx,
               floor(ST_Y(geom) / grid.height)::bigint AS by"""
_PAIR_ORDER = rules.order_by_sql(
    {
        "same_component": "pair.same_component",
        "distance_m": "pair.distance_m",
        "closed_at": "pair.closed_at",
        "case_id": "pair.id",
    }
)
LINK_PERIOD = f"""
    WITH grid AS (
        SELECT %(distance_m)s::float8 / {METRES_PER_DEGREE_MIN} AS height,
               %(distance_m)s::float8 / ({METRES_PER_DEGREE_MIN} * greatest(
                   cos(radians(coalesce(max(abs(ST_Y(geom))), 0))), {COS_LATITUDE_MIN})) AS width
        FROM event_case
    ),
    new AS MATERIALIZED (
        SELECT n.id, n.category_id, n.component_id, n.created_at, n.geom,
               {_BUCKETS.replace("geom", "n.geom")}
        FROM event_case n, grid
        WHERE n.created_at >= %(since)s::timestamptz AND n.created_at < %(until)s::timestamptz
          AND {COUNTS_AS_NEW}
          AND NOT EXISTS (SELECT 1 FROM case_recurrence r WHERE r.case_id = n.id)
    ),
    closed AS MATERIALIZED (
        SELECT p.id, p.category_id, p.component_id, p.closed_at, p.geom,
               {_BUCKETS.replace("geom", "p.geom")}
        FROM event_case p, grid
        WHERE p.status = '{rules.PREVIOUS_STATUS}'
          AND p.closed_at < %(until)s::timestamptz
          AND p.closed_at >= %(since)s::timestamptz - make_interval(days => %(period_days)s::int)
    ),
    pair AS (
        SELECT n.id AS case_id, p.id, p.closed_at,
               ST_Distance(p.geom::geography, n.geom::geography) AS distance_m,
               coalesce(p.component_id = n.component_id, false) AS same_component
        FROM new n
        CROSS JOIN (VALUES (-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 0), (0, 1),
                           (1, -1), (1, 0), (1, 1)) AS around (dx, dy)
        JOIN closed p ON p.category_id = n.category_id
                     AND p.bx = n.bx + around.dx AND p.by = n.by + around.dy
        WHERE {_CLOSED_IN_TIME}
          AND ST_DWithin(p.geom::geography, n.geom::geography, %(distance_m)s::float8)
        UNION ALL
        SELECT n.id, p.id, p.closed_at, ST_Distance(p.geom::geography, n.geom::geography), true
        FROM new n
        JOIN closed p ON p.component_id = n.component_id AND p.category_id = n.category_id
        WHERE n.component_id IS NOT NULL AND p.component_id IS NOT NULL AND {_CLOSED_IN_TIME}
    )
    INSERT INTO case_recurrence (case_id, previous_case_id, distance_m, same_component,
                                 distance_limit_m, period_days, linked_by)
    SELECT DISTINCT ON (pair.case_id) pair.case_id, pair.id, pair.distance_m,
           pair.same_component, %(distance_m)s::float8, %(period_days)s::int, %(linked_by)s
    FROM pair
    ORDER BY pair.case_id, {_PAIR_ORDER}
    ON CONFLICT (case_id) DO NOTHING
    RETURNING case_id, previous_case_id"""
# For LINK_PERIOD only (then back to the session's values): the planner knows no statistics
# of the buckets and would sort millions of pairs for a merge join; the hash join needs memory.
BATCH_SETTINGS = {"enable_mergejoin": "off", "work_mem": "256MB"}
UNLINK_PERIOD = """
    DELETE FROM case_recurrence r USING event_case n
    WHERE n.id = r.case_id
      AND n.created_at >= %(since)s::timestamptz AND n.created_at < %(until)s::timestamptz
"""


def _params(definition: Definition, linked_by: str) -> dict[str, Any]:
    return {
        "distance_m": definition.distance_m,
        "period_days": definition.period_days,
        "linked_by": linked_by,
    }


async def link_at_intake(writer: Writer, case_id: int) -> int | None:
    """Link a case just filed by intake to the closed case it repeats (the default definition);
    the earlier case's id, or None. A failure is logged and leaves the case unlinked (the batch
    command links it later): the report is filed either way."""
    params = _params(rules.Definition(), rules.LINKED_AT_INTAKE) | {"case_id": case_id}
    try:
        rows = await writer.execute(LINK_ONE, params)
    except (psycopg.OperationalError, PoolTimeout) as error:
        # The database went away after the report was committed and acknowledged: a restart or
        # a failover, which the app reports once as a warning elsewhere; not an error here.
        log.warning(
            "recurrence link of case %s skipped, the database is not answering (%s); "
            "the batch command will link it",
            case_id,
            type(error).__name__,
        )
        return None
    except Exception:
        log.exception("recurrence link of case %s failed; the batch command will link it", case_id)
        return None
    return int(rows[0].previous_case_id) if rows else None


@dataclass(frozen=True)
class LinkCounts:
    linked: int
    unlinked: int


def link_history(
    session: Session,
    definition: Definition,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    relink: bool = False,
) -> LinkCounts:
    """Link every case reported in [since, until) that has no link yet (idempotent: a second
    run adds nothing). With `relink` the scope's links are removed first and made again with
    `definition`."""
    params = _params(definition, rules.LINKED_BY_BATCH) | {
        "since": "-infinity" if since is None else since,
        "until": "infinity" if until is None else until,
    }
    connection = session.connection()
    unlinked = connection.exec_driver_sql(UNLINK_PERIOD, params).rowcount if relink else 0
    set_config = "SELECT set_config(%(name)s, %(value)s, true)"
    get_config = "SELECT current_setting(%(name)s)"
    before = {
        name: str(connection.exec_driver_sql(get_config, {"name": name}).scalar())
        for name in BATCH_SETTINGS
    }
    for name, value in BATCH_SETTINGS.items():
        connection.exec_driver_sql(set_config, {"name": name, "value": value})
    linked = len(connection.exec_driver_sql(LINK_PERIOD, params).all())
    for name, previous in before.items():
        connection.exec_driver_sql(set_config, {"name": name, "value": previous})
    session.flush()
    return LinkCounts(linked=linked, unlinked=max(unlinked, 0))


# The case page ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkedCase:
    id: int
    number: str
    at: datetime  # the other case's closure (for the earlier) or report (for a recurrence)
    distance_m: float
    same_component: bool


@dataclass(frozen=True)
class CaseLinks:
    """The closed case this case repeats, and the later cases that repeat this one."""

    previous: LinkedCase | None
    recurrences: list[LinkedCase]


CASE_LINKS = text(f"""
    SELECT 'previous' AS side, p.id, p.number, p.closed_at AS at, r.distance_m, r.same_component
    FROM case_recurrence r
    JOIN event_case n ON n.id = r.case_id
    JOIN event_case p ON p.id = r.previous_case_id
    WHERE r.case_id = :case_id AND {COUNTS_AS_NEW}
    UNION ALL
    SELECT 'recurrence', n.id, n.number, n.created_at, r.distance_m, r.same_component
    FROM case_recurrence r
    JOIN event_case n ON n.id = r.case_id
    WHERE r.previous_case_id = :case_id AND {COUNTS_AS_NEW}
    ORDER BY side, at, id
""")


def case_links(session: Session, case_id: int) -> CaseLinks:
    """The counted links of one case, both ways."""
    previous: LinkedCase | None = None
    recurrences: list[LinkedCase] = []
    for row in session.execute(CASE_LINKS, {"case_id": case_id}):
        linked = LinkedCase(row.id, row.number, row.at, row.distance_m, row.same_component)
        if row.side == "previous":
            previous = linked
        else:
            recurrences.append(linked)
    return CaseLinks(previous, recurrences)


# The ranked list -------------------------------------------------------------------------------


class RankBy(enum.StrEnum):
    PLACE = "place"  # the grid cell of the closed case, per category
    COMPONENT = "component"  # the component of the closed case


MAX_RANKED = 1000
DEFAULT_RANKED = 50

# What a ranked row is keyed by: the closed case's grid cell, or its component.
RANKED_PLACE = {
    RankBy.PLACE: "grid_cell g ON g.id = p.cell_id",
    RankBy.COMPONENT: "component g ON g.id = p.component_id",
}
RANK_SQL = {
    by: f"""
    SELECT g.code AS key, g.name AS name, cat.code AS category_code,
           cat.name_zh AS category_name_zh, cat.name_en AS category_name_en,
           count(*) AS recurrences, count(DISTINCT r.previous_case_id) AS closed_cases_recurred,
           max(n.created_at) AS last_recurrence_at, max(n.id) AS last_case_id
    FROM case_recurrence r
    JOIN event_case n ON n.id = r.case_id
    JOIN event_case p ON p.id = r.previous_case_id
    JOIN {place}
    JOIN category cat ON cat.id = p.category_id
    WHERE {COUNTS_AS_NEW}
      AND n.created_at >= :period_from AND n.created_at < :period_to
    GROUP BY g.code, g.name, cat.code, cat.name_zh, cat.name_en
    ORDER BY recurrences DESC, key, category_code
    LIMIT :limit"""
    for by, place in RANKED_PLACE.items()
}
RANK_FIELDS = (
    "rank",
    "key",
    "name",
    "category_code",
    "category_name_zh",
    "category_name_en",
    "recurrences",
    "closed_cases_recurred",
    "last_recurrence_at",
    "last_case_id",
)


def ranked(
    session: Session, by: RankBy, *, period_from: datetime, period_to: datetime, limit: int
) -> list[dict[str, Any]]:
    """The places (or components) with the most recurrences reported in [from, to), most first."""
    params = {"period_from": period_from, "period_to": period_to, "limit": limit}
    rows = session.execute(text(RANK_SQL[by]), params).mappings().all()
    return [{"rank": position, **row} for position, row in enumerate(rows, start=1)]
