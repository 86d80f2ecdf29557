"""The INTAKE statement (a report filed in one round trip) and the rows it answers with, typed.

The statement's answer carries differently shaped parts as JSON columns; each becomes one of the
NamedTuples below, so the service reads attributes that mypy knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from components import matching
from events.lifecycle import OPEN_STATUSES
from grid import service as grid_service

# The open statuses as SQL literals: the duplicate search's condition then implies the predicate
# of the partial index of open cases by place (ix_event_case_open_geom, migration
# 2026-12-06_scale_queries) in every plan, also the generic plan of the prepared statement.
OPEN_STATUSES_SQL = ", ".join(
    f"'{value}'" for value in sorted(status.value for status in OPEN_STATUSES)
)

CATEGORY_OF_REPORT = """
    SELECT id, code, name_en, retired_at, duplicate_radius_m, kind, component_radius_m
    FROM category
    WHERE level = 'minor'
      AND (%(id)s::int IS NULL OR id = %(id)s::int)
      AND (%(code)s::text IS NULL OR code = %(code)s::text)
      AND (%(kind)s::text IS NULL OR kind = %(kind)s::text)
      AND (%(standard)s::text IS NULL OR standard = %(standard)s::text)
    LIMIT 2
"""
EXISTING_REPORT = """
    SELECT r.id AS report_id, r.snapped_m, c.id AS case_id, c.number, c.status,
           g.code AS cell_code, g.name AS cell_name,
           ARRAY(SELECT p.id FROM case_photo p WHERE p.report_id = r.id ORDER BY p.id) AS photo_ids,
           cp.code AS component_code, cp.name AS component_name,
           c.component_distance_m, c.component_match
    FROM report r JOIN event_case c ON c.id = r.case_id JOIN grid_cell g ON g.id = c.cell_id
         LEFT JOIN component cp ON cp.id = c.component_id
    WHERE r.report_uuid = %(report_uuid)s
      -- report is partitioned by month: the key's received time reads that month alone.
      AND r.created_at = (SELECT k.created_at FROM report_key k
                          WHERE k.report_uuid = %(report_uuid)s)
"""
# The nearest component of the report's category, in the INTAKE statement's terms.
NEAREST_TO_REPORT = matching.nearest_component_query(
    point="point.geom",
    category_id="category.id",
    radius_m="coalesce(category.component_radius_m, %(component_radius_m)s::float8)",
)
# Intake is one statement, a transaction by itself: one round trip, no lock held across round
# trips. It reads what intake needs to know (an earlier report with this UUID, the category
# candidates, the cell by the grid's locate rule, the duplicate candidates: open cases of the
# category nearby, within the category's radius, else the default) and files the report only
# when all is well: no earlier report, exactly one current category, a cell within the snap
# distance. For a component category it also finds the component: the one the report names
# (component_code, which must be of the category and not removed, else nothing is filed), or
# the nearest within the category's radius (components.matching); open cases on that
# component are duplicate candidates too, however far and old.
# Otherwise it writes nothing, and the answer says why (JSON columns carry the
# differently shaped parts). The report's key goes in first (report_key: the UUID unique across
# the report's monthly partitions), then the report with the case id from the sequence: when its
# UUID arrived meanwhile (a retry racing the original) ON CONFLICT leaves the key out and every
# later insert reads from it, so nothing at all is written. Foreign keys are checked at
# the end of the statement, after the case row exists.
INTAKE = f"""
    WITH earlier AS ({EXISTING_REPORT}),
    categories AS ({CATEGORY_OF_REPORT}),
    place AS ({grid_service.LOCATE_POINTS}),
    point AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS geom),
    named_component AS (
        SELECT cp.id, cp.code, cp.name, cp.status, cp.category_id, cat.code AS category_code,
               ST_Distance(cp.geom::geography, point.geom::geography) AS distance_m
        FROM point, component cp JOIN category cat ON cat.id = cp.category_id
        WHERE cp.code = %(component_code)s::text
    ),
    matched_component AS (
        SELECT named.id, named.code, named.name, named.distance_m, 'confirmed' AS match
        FROM named_component named, categories category
        WHERE (SELECT count(*) FROM categories) = 1
          AND named.category_id = category.id AND named.status <> 'removed'
        UNION ALL
        SELECT nearest.id, nearest.code, nearest.name, nearest.distance_m, 'suggested'
        FROM categories category, point, LATERAL ({NEAREST_TO_REPORT}) nearest
        WHERE %(component_code)s::text IS NULL AND category.kind = 'component'
          AND (SELECT count(*) FROM categories) = 1
    ),
    nearby_cases AS (
        SELECT c.id, c.number, c.status, c.created_at,
               ST_Distance(c.geom::geography, point.geom::geography) AS distance_m
        FROM categories category, point, event_case c
        WHERE (SELECT count(*) FROM categories) = 1
          AND c.category_id = category.id
          AND c.status IN ({OPEN_STATUSES_SQL}) AND c.merged_into_id IS NULL
          AND c.created_at >= now() - make_interval(secs => %(window_s)s)
          AND c.geom && ST_Expand(point.geom,
                coalesce(category.duplicate_radius_m, %(default_radius_m)s)
                / (111320.0 * greatest(cos(radians(%(lat)s)), 0.01)) + 1e-6)
          AND ST_DWithin(c.geom::geography, point.geom::geography,
                         coalesce(category.duplicate_radius_m, %(default_radius_m)s))
        ORDER BY distance_m, c.id
        LIMIT %(limit)s
    ),
    same_component_cases AS (
        SELECT c.id, c.number, c.status, c.created_at,
               ST_Distance(c.geom::geography, point.geom::geography) AS distance_m
        FROM matched_component m, point, event_case c
        WHERE c.component_id = m.id
          AND c.status IN ({OPEN_STATUSES_SQL}) AND c.merged_into_id IS NULL
        ORDER BY c.created_at DESC, c.id
        LIMIT %(limit)s
    ),
    duplicates AS (
        SELECT id, number, status, created_at, distance_m, bool_or(same) AS same_component
        FROM (SELECT *, false AS same FROM nearby_cases
              UNION ALL SELECT *, true FROM same_component_cases) found
        GROUP BY id, number, status, created_at, distance_m
        ORDER BY same_component DESC, distance_m, id
        LIMIT %(limit)s
    ),
    accepted AS (
        SELECT category.id AS category_id, place.cell_code, place.distance_m
        FROM categories category, place
        WHERE NOT EXISTS (SELECT 1 FROM earlier)
          AND (SELECT count(*) FROM categories) = 1 AND category.retired_at IS NULL
          AND place.distance_m <= %(snap_m)s
          AND (%(component_code)s::text IS NULL OR EXISTS (SELECT 1 FROM matched_component))
    ),
    new_key AS (
        INSERT INTO report_key (report_uuid, created_at)
        SELECT %(report_uuid)s, now() FROM accepted
        ON CONFLICT (report_uuid) DO NOTHING
        RETURNING report_uuid, created_at
    ),
    new_report AS (
        INSERT INTO report (report_uuid, case_id, original_case_id, reporter_id, channel, geom,
                            input_crs, snapped_m, description, created_at)
        SELECT new_key.report_uuid, ids.case_id, ids.case_id, %(reporter_id)s, %(channel)s,
               point.geom, %(input_crs)s, accepted.distance_m, %(description)s,
               new_key.created_at
        FROM new_key, accepted, point,
             (SELECT nextval(pg_get_serial_sequence('event_case', 'id')) AS case_id) ids
        RETURNING id, case_id
    ),
    new_case AS (
        INSERT INTO event_case (id, number, status, category_id, urgency, description, address,
                                geom, cell_id, reported_by, component_id, component_distance_m,
                                component_match)
        SELECT new_report.case_id, next_case_number(%(day)s::date), %(status)s,
               accepted.category_id, %(urgency)s, %(description)s, %(address)s, point.geom,
               (SELECT id FROM grid_cell WHERE code = accepted.cell_code), %(reporter_id)s,
               m.id, m.distance_m, m.match
        FROM new_report, accepted, point LEFT JOIN matched_component m ON true
        RETURNING id, number, status
    ),
    history AS (
        INSERT INTO case_transition (case_id, action, from_status, to_status, actor_id, actor_role)
        SELECT id, 'report', NULL, status, %(reporter_id)s, %(actor_role)s FROM new_case
    ),
    new_photos AS (
        INSERT INTO case_photo (case_id, report_id, storage_key, content_type, size_bytes, sha256)
        SELECT new_report.case_id, new_report.id, p.storage_key, p.content_type, p.size_bytes,
               p.sha256
        FROM new_report, unnest(%(photo_keys)s::uuid[], %(photo_types)s::text[],
                                %(photo_sizes)s::int[], %(photo_hashes)s::text[])
             AS p(storage_key, content_type, size_bytes, sha256)
        RETURNING id
    )
    SELECT (SELECT to_jsonb(earlier) FROM earlier) AS earlier,
           (SELECT coalesce(jsonb_agg(to_jsonb(categories)), '[]') FROM categories) AS categories,
           (SELECT to_jsonb(place) FROM place) AS place,
           (SELECT coalesce(jsonb_agg(to_jsonb(duplicates)
                                      ORDER BY same_component DESC, distance_m, id), '[]')
            FROM duplicates) AS duplicates,
           (SELECT to_jsonb(named_component) FROM named_component) AS named_component,
           (SELECT to_jsonb(matched_component) FROM matched_component) AS component,
           (SELECT jsonb_build_object(
                'case_id', new_case.id, 'number', new_case.number, 'status', new_case.status,
                'report_id', new_report.id,
                'photo_ids', ARRAY(SELECT id FROM new_photos ORDER BY id))
            FROM new_case, new_report) AS filed
"""


class EarlierReport(NamedTuple):
    """The case of an earlier report with the same UUID (EXISTING_REPORT's row)."""

    report_id: int
    snapped_m: float
    case_id: int
    number: str
    status: str
    cell_code: str
    cell_name: str
    photo_ids: list[int]
    component_code: str | None
    component_name: str | None
    component_distance_m: float | None
    component_match: str | None


class CategoryCandidate(NamedTuple):
    """A minor category matching the report's category_id, code, kind and standard."""

    id: int
    code: str
    name_en: str
    retired_at: datetime | None
    duplicate_radius_m: float | None
    kind: str
    component_radius_m: float | None

    @classmethod
    def of_json(cls, values: Mapping[str, Any]) -> CategoryCandidate:
        retired_at = values["retired_at"]
        retired = datetime.fromisoformat(retired_at) if retired_at else None
        return cls(**{**values, "retired_at": retired})


class PlaceOfReport(NamedTuple):
    """The cell by the grid's locate rule and its distance (a LOCATE_POINTS row); all None
    when the grid has no cells."""

    cell_code: str | None
    cell_name: str | None
    area_m2: float | None
    community_code: str | None
    community_name: str | None
    street_code: str | None
    street_name: str | None
    district_code: str | None
    district_name: str | None
    distance_m: float | None

    @classmethod
    def of_json(cls, values: Mapping[str, Any]) -> PlaceOfReport:
        # LOCATE_POINTS also answers the point's position in its batch (n): not needed here.
        return cls(**{name: values[name] for name in cls._fields})


class NamedComponent(NamedTuple):
    """The component the report's component_code names, whatever its category or status."""

    id: int
    code: str
    name: str | None
    status: str
    category_id: int
    category_code: str
    distance_m: float


class FiledCase(NamedTuple):
    """What the statement filed: the case, the report and its photos."""

    case_id: int
    number: str
    status: str
    report_id: int
    photo_ids: list[int]
