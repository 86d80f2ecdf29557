"""Open311 reads: services are minor categories, requests are cases (as plain documents).

A service_code is `<kind>-<code>` (`event-0102`, `component-0101`): component and event codes
overlap in the national standards, so the code alone would not name one category.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy.orm import Session

from citygrid.errors import NotFound
from events.lifecycle import CaseStatus
from events.open311.params import RequestQuery

SERVICE_CODE = re.compile(r"(component|event)-([0-9A-Za-z]{1,8})")
CLOSED_STATUSES = frozenset({CaseStatus.CLOSED, CaseStatus.CANCELLED, CaseStatus.NOT_FILED})
STATUSES_OF: dict[str, list[str]] = {
    "closed": sorted(status.value for status in CLOSED_STATUSES),
    "open": sorted(status.value for status in set(CaseStatus) - CLOSED_STATUSES),
}

# One current minor category per (kind, code): the oldest, should a code exist in two standards.
SERVICES = """
    SELECT DISTINCT ON (c.kind, c.code)
           c.id, c.kind || '-' || c.code AS service_code, c.name_zh, c.name_en, c.criteria,
           c.kind, m.name_zh AS group_name,
           EXISTS (SELECT 1 FROM service_attribute a WHERE a.category_id = c.id) AS metadata
    FROM category c LEFT JOIN category m ON m.id = c.parent_id
    WHERE c.level = 'minor' AND c.retired_at IS NULL
      AND (%(service_code)s::text IS NULL OR c.kind || '-' || c.code = %(service_code)s::text)
    ORDER BY c.kind, c.code, c.id
"""
ATTRIBUTES = """
    SELECT code, variable, datatype, required, datatype_description, position, description,
           values
    FROM service_attribute WHERE category_id = %(category_id)s ORDER BY position, id
"""
REQUESTS = """
    SELECT c.id, c.status, c.description, c.address, c.created_at, c.due_at, c.merged_into_id,
           cat.kind || '-' || cat.code AS service_code, cat.name_zh AS service_name,
           d.name AS agency, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, g.code AS cell_code,
           coalesce(last.at, c.updated_at) AS updated_at, last.reason, photo.id AS photo_id,
           client.media_url AS client_media_url, client.address_id
    FROM event_case c
    JOIN category cat ON cat.id = c.category_id
    JOIN grid_cell g ON g.id = c.cell_id
    LEFT JOIN department d ON d.id = c.department_id
    LEFT JOIN LATERAL (SELECT t.at, t.reason FROM case_transition t WHERE t.case_id = c.id
                       ORDER BY t.at DESC, t.id DESC LIMIT 1) last ON true
    LEFT JOIN LATERAL (SELECT p.id FROM case_photo p
                       WHERE p.case_id = c.id AND p.report_id IS NOT NULL
                       ORDER BY p.id LIMIT 1) photo ON true
    LEFT JOIN LATERAL (SELECT o.media_url, o.address_id FROM report r
                       JOIN open311_request o ON o.report_uuid = r.report_uuid
                       WHERE r.original_case_id = c.id ORDER BY o.id LIMIT 1) client ON true
    WHERE CASE WHEN %(ids)s::bigint[] IS NOT NULL THEN c.id = ANY(%(ids)s::bigint[]) ELSE
          c.created_at BETWEEN %(start_at)s AND %(end_at)s
          AND (%(service_codes)s::text[] IS NULL
               OR cat.kind || '-' || cat.code = ANY(%(service_codes)s::text[]))
          AND (%(statuses)s::text[] IS NULL OR c.status = ANY(%(statuses)s::text[]))
          AND (%(updated_after)s::timestamptz IS NULL
               OR coalesce(last.at, c.updated_at) > %(updated_after)s::timestamptz)
          AND (%(west)s::float8 IS NULL OR c.geom && ST_MakeEnvelope(
                   %(west)s::float8, %(south)s::float8, %(east)s::float8, %(north)s::float8, 4326))
          AND (%(cell_code)s::text IS NULL OR g.code = %(cell_code)s::text) END
    ORDER BY c.created_at DESC, c.id DESC
    LIMIT %(limit)s OFFSET %(offset)s
"""
CASE_OF_TOKEN = """
    SELECT r.case_id FROM open311_request o JOIN report r ON r.report_uuid = o.report_uuid
    WHERE o.token = %(token)s
"""
UPDATES = """
    SELECT t.id, t.case_id, t.to_status, t.action, t.reason, t.at
    FROM case_transition t
    WHERE t.at BETWEEN %(start_at)s AND %(end_at)s
    ORDER BY t.at DESC, t.id DESC LIMIT %(limit)s OFFSET %(offset)s
"""


def w3c(moment: datetime | None, zone: tzinfo) -> str | None:
    """The moment as W3C/ISO 8601 with the zone's (the city's) offset, to the second (None
    stays None)."""
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else None


def _rows(session: Session, sql: str, params: dict[str, Any]) -> list[Any]:
    return list(session.connection().exec_driver_sql(sql, params).all())


def list_services(session: Session) -> list[dict[str, Any]]:
    """Every current minor category as an Open311 service, by kind and code."""
    return [service_document(row) for row in _rows(session, SERVICES, {"service_code": None})]


def service_document(row: Any) -> dict[str, Any]:
    description = row.name_en + (f" — {row.criteria}" if row.criteria else "")
    return {
        "service_code": row.service_code,
        "service_name": row.name_zh,
        "description": description,
        "metadata": bool(row.metadata),
        "type": "realtime",
        "keywords": row.kind,
        "group": row.group_name,
    }


def service_definition(session: Session, service_code: str) -> dict[str, Any]:
    """The service's attributes (the spec's service definition); NotFound for an unknown code."""
    rows = _rows(session, SERVICES, {"service_code": service_code})
    if not rows:
        raise NotFound(f"no service {service_code}", field="service_code")
    attributes = _rows(session, ATTRIBUTES, {"category_id": rows[0].id})
    return {
        "service_code": service_code,
        "attributes": [attribute_document(row) for row in attributes],
    }


def attribute_document(row: Any) -> dict[str, Any]:
    return {
        "variable": row.variable,
        "code": row.code,
        "datatype": row.datatype,
        "required": row.required,
        "datatype_description": row.datatype_description,
        "order": row.position,
        "description": row.description,
        "values": [{"key": value["key"], "name": value["name"]} for value in row.values],
    }


def search_requests(
    session: Session, query: RequestQuery, *, media_base: str, zone: tzinfo
) -> list[Any]:
    """The cases the query asks for as Open311 requests, newest first, times in `zone`."""
    west, south, east, north = query.bbox or (None, None, None, None)
    statuses = [status for name in query.statuses for status in STATUSES_OF[name]]
    params = {
        "ids": list(query.ids) if query.ids is not None else None,
        "start_at": query.start_at,
        "end_at": query.end_at,
        "service_codes": list(query.service_codes) or None,
        "statuses": statuses or None,
        "updated_after": query.updated_after,
        "west": west,
        "south": south,
        "east": east,
        "north": north,
        "cell_code": query.cell_code,
        "limit": query.page_size,
        "offset": (query.page - 1) * query.page_size,
    }
    rows = _rows(session, REQUESTS, params)
    return [request_document(row, media_base=media_base, zone=zone) for row in rows]


def get_request(session: Session, request_id: str, *, media_base: str, zone: tzinfo) -> list[Any]:
    """The one request with this id, as a list of one; NotFound otherwise."""
    query = RequestQuery(ids=(int(request_id),)) if request_id.isdigit() else None
    found = search_requests(session, query, media_base=media_base, zone=zone) if query else []
    if not found:
        raise NotFound(f"no service request {request_id}", field="service_request_id")
    return found


def status_notes(row: Any) -> str:
    """The internal state, the merge target if any, and the reason of the last transition."""
    notes: str = row.status
    if row.merged_into_id is not None:
        notes += f" (merged into request {row.merged_into_id})"
    return notes + (f": {row.reason}" if row.reason else "")


def request_document(row: Any, *, media_base: str, zone: tzinfo) -> dict[str, Any]:
    media_url = f"{media_base}{row.photo_id}" if row.photo_id else row.client_media_url
    return {
        "service_request_id": str(row.id),
        "status": "closed" if row.status in STATUSES_OF["closed"] else "open",
        "status_notes": status_notes(row),
        "service_name": row.service_name,
        "service_code": row.service_code,
        "description": row.description,
        "agency_responsible": row.agency,
        "service_notice": None,
        "requested_datetime": w3c(row.created_at, zone),
        "updated_datetime": w3c(row.updated_at, zone),
        "expected_datetime": w3c(row.due_at, zone),
        "address": row.address,
        "address_id": row.address_id,
        "zipcode": None,
        "lat": round(row.lat, 7),
        "long": round(row.lon, 7),
        "media_url": media_url,
        "cell_code": row.cell_code,
    }


def request_of_token(session: Session, token: str) -> list[dict[str, Any]]:
    """The request id a POST's token became, as a list of one; NotFound for an unknown token."""
    try:
        token_uuid = uuid.UUID(token)
    except ValueError:
        token_uuid = None
    rows = _rows(session, CASE_OF_TOKEN, {"token": token_uuid}) if token_uuid else []
    if not rows:
        raise NotFound(f"no service request for token {token}", field="token")
    return [{"service_request_id": str(rows[0].case_id), "token": token}]


def request_updates(session: Session, query: RequestQuery, *, zone: tzinfo) -> list[dict[str, Any]]:
    """Status changes of requests in the query's dates (FixMyStreet's servicerequestupdates),
    times in `zone`."""
    params = {
        "start_at": query.start_at,
        "end_at": query.end_at,
        "limit": query.page_size,
        "offset": (query.page - 1) * query.page_size,
    }
    return [
        {
            "update_id": str(row.id),
            "service_request_id": str(row.case_id),
            "status": "closed" if row.to_status in STATUSES_OF["closed"] else "open",
            "updated_datetime": w3c(row.at, zone),
            "description": f"{row.action} → {row.to_status}"
            + (f": {row.reason}" if row.reason else ""),
            "media_url": None,
        }
        for row in _rows(session, UPDATES, params)
    ]
