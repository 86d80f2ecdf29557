"""GET /api/cases/export through HTTP: CSV and GeoJSON content and headers, scope and filters,
and that it streams in constant memory from a server-side cursor that is always closed."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, true
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from events.listing.export import EXPORT_CHUNK_ROWS, EXPORT_FIELDS
from events.listing.schemas import CaseSort
from events.listing.service import listing_select
from grid.models import GridCell
from tests.citygrid.refusals import refused_field
from tests.conftest import token_for
from tests.events.listing.support import TEST_STANDARD, World, seed_world
from tests.events.seed import add_category, add_department
from tests.grid.places import CELL_NE, ORIGIN_LAT, ORIGIN_LON, seed_block

BULK_ROWS = 20_000
WARM_ROWS = 5_000
BOM = "\ufeff"


def export(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    return client.get("/api/cases/export", params=params, headers=headers)


def csv_rows(body: str) -> list[dict[str, str]]:
    assert body.startswith(BOM)
    return list(csv.DictReader(io.StringIO(body[len(BOM) :])))


def open_cursors(session: Session) -> int:
    return int(session.scalar(text("SELECT count(*) FROM pg_cursors")) or 0)


@pytest.fixture
def world(session: Session) -> World:
    return seed_world(session)


# Content and headers --------------------------------------------------------------------------


def test_csv_export_has_every_case_its_fields_and_an_attachment_header(
    client: TestClient, world: World
) -> None:
    response = export(client, world.headers("dispatcher"), format="csv", sort="created_at")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="cases-') and disposition.endswith('.csv"')
    rows = csv_rows(response.content.decode("utf-8"))
    assert list(rows[0]) == list(EXPORT_FIELDS)
    assert [row["number"] for row in rows] == [case.number for case in world.cases.values()]
    c2 = rows[1]
    assert (c2["status"], c2["category_code"], c2["category_name_zh"]) == (
        "dispatched",
        "0102",
        "暴露垃圾",
    )
    assert (c2["cell_code"], c2["department_code"], c2["urgency"]) == (
        CELL_NE.code,
        "HW-A",
        "urgent",
    )
    assert c2["created_at"] == "2026-02-01T16:00:00+08:00"  # 08:00 UTC, in city time
    assert c2["closed_at"] == "" and c2["merged_into_id"] == ""
    assert float(c2["lon"]) == pytest.approx(ORIGIN_LON + 0.0005)
    assert rows[4]["merged_into_id"] == str(world.cases["c2"].id)


def test_geojson_export_is_a_feature_collection_of_points(client: TestClient, world: World) -> None:
    response = export(client, world.headers("dispatcher"), format="geojson", sort="created_at")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/geo+json"
    assert response.headers["content-disposition"].endswith('.geojson"')
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    assert [feature["id"] for feature in features] == [c.id for c in world.cases.values()]
    c2 = features[1]
    assert c2["geometry"]["type"] == "Point"
    assert c2["geometry"]["coordinates"] == pytest.approx(
        [ORIGIN_LON + 0.0005, ORIGIN_LAT + 0.0005]
    )
    properties = c2["properties"]
    assert set(properties) == set(EXPORT_FIELDS) - {"lon", "lat"}
    assert (properties["category_name_zh"], properties["department_code"]) == ("暴露垃圾", "HW-A")
    assert properties["created_at"] == "2026-02-01T16:00:00+08:00"


@pytest.mark.parametrize("export_format", ["csv", "geojson"])
def test_an_empty_export_is_still_well_formed(
    client: TestClient, world: World, export_format: str
) -> None:
    response = export(
        client, world.headers("dispatcher"), format=export_format, department_code="none"
    )
    assert response.status_code == 200
    if export_format == "csv":
        assert response.text == BOM + ",".join(EXPORT_FIELDS) + "\r\n"
    else:
        assert response.json() == {"type": "FeatureCollection", "features": []}


# Scope, filters, roles, refusals --------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "params", "expected"),
    [
        ("member_a", {}, {"c2", "c4", "c5"}),  # c5 is merged into c2
        ("member_a", {"department_code": "HW-B"}, set()),
        ("member_b", {}, {"c3"}),
        ("dispatcher", {"status": "dispatched,closed", "urgency": "urgent"}, {"c2"}),
        ("manager", {"area_code": "110101002"}, {"c6"}),
        ("admin", {"overdue": "true"}, {"c2"}),
    ],
    ids=str,
)
def test_export_applies_the_scope_and_the_filters(
    client: TestClient, world: World, who: str, params: dict[str, str], expected: set[str]
) -> None:
    response = export(client, world.headers(who), format="geojson", **params)
    by_id = {case.id: name for name, case in world.cases.items()}
    assert {by_id[feature["id"]] for feature in response.json()["features"]} == expected


@pytest.mark.parametrize("who", ["citizen1", "inspector"])
def test_citizens_and_inspectors_may_not_export(client: TestClient, world: World, who: str) -> None:
    response = export(client, world.headers(who))
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "id; DELETE FROM event_case"}, "sort"),
        ({"status": "closed' --"}, "status"),
        ({"created_from": "soon"}, "created_from"),
    ],
    ids=str,
)
def test_bad_filters_are_422_before_anything_streams(
    client: TestClient, world: World, params: dict[str, str], field: str
) -> None:
    response = export(client, world.headers("dispatcher"), **params)
    assert response.status_code == 422
    assert refused_field(response) == field


def test_an_unknown_format_is_422(client: TestClient, world: World) -> None:
    response = export(client, world.headers("dispatcher"), format="xlsx")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "format"]


# Streaming ------------------------------------------------------------------------------------


@dataclass
class Bulk:
    """Where bulk cases go; `rows` counts those inserted so far."""

    category_id: int
    cell_id: int
    department_id: int
    headers: dict[str, str]
    rows: int = 0


def prepare_bulk(session: Session) -> Bulk:
    seed_block(session)
    category = add_category(session, code="0102", standard=TEST_STANDARD)
    department = add_department(session, code="BULK")
    cell_id = session.scalar(select(GridCell.id).where(GridCell.code == CELL_NE.code))
    assert cell_id is not None
    token = token_for(Role.DISPATCHER, user_id=1)
    return Bulk(category.id, cell_id, department.id, {"Authorization": f"Bearer {token}"})


def insert_bulk_cases(session: Session, bulk: Bulk, rows: int) -> None:
    """`rows` more dispatched cases in one INSERT … SELECT, all in the NE cell."""
    session.execute(
        text(
            "INSERT INTO event_case (number, status, category_id, description, geom, cell_id, "
            "department_id, created_at, due_at) "
            "SELECT 'B' || lpad(n::text, 12, '0'), 'dispatched', :category, 'bulk case ' || n, "
            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :cell, :department, "
            "now() - n * interval '1 minute', now() + n * interval '1 minute' "
            "FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS n"
        ),
        {
            "category": bulk.category_id,
            "lon": ORIGIN_LON + 0.0005,
            "lat": ORIGIN_LAT + 0.0005,
            "cell": bulk.cell_id,
            "department": bulk.department_id,
            "first": bulk.rows + 1,
            "last": bulk.rows + rows,
        },
    )
    bulk.rows += rows


def bulk_of(session: Session, rows: int) -> Bulk:
    bulk = prepare_bulk(session)
    insert_bulk_cases(session, bulk, rows)
    return bulk


@dataclass
class Streamed:
    chunks: int
    size_bytes: int
    records: int  # CSV lines after the header, or GeoJSON features
    peak_bytes: int


def traced_peak(action: Callable[[], Any]) -> int:
    """The peak of Python allocations (every thread) while `action` runs."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def stream_export(client: TestClient, bulk: Bulk, export_format: str) -> Streamed:
    """Read the export chunk by chunk, keeping only counts (as a downloading client would)."""
    streamed = Streamed(0, 0, -1 if export_format == "csv" else 0, 0)
    # Every chunk holds whole records, so counting per chunk is exact.
    marker = b"\n" if export_format == "csv" else b'{"type":"Feature"'

    def read() -> None:
        url = "/api/cases/export"
        params = {"format": export_format}
        with client.stream("GET", url, params=params, headers=bulk.headers) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                streamed.chunks += 1
                streamed.size_bytes += len(chunk)
                streamed.records += chunk.count(marker)

    streamed.peak_bytes = traced_peak(read)
    return streamed


def materialised_peak(session: Session) -> int:
    """What holding every row at once takes: the least a non-streaming export would need."""
    statement = listing_select(true(), CaseSort.CREATED_AT_DESC)
    return traced_peak(lambda: session.execute(statement).all())


@pytest.mark.parametrize("export_format", ["csv", "geojson"])
def test_export_streams_many_chunks_in_constant_memory(
    client: TestClient, session: Session, export_format: str
) -> None:
    bulk = bulk_of(session, WARM_ROWS)
    stream_export(client, bulk, export_format)  # first-use costs (compiled SQL, imports) aside
    small = stream_export(client, bulk, export_format)
    insert_bulk_cases(session, bulk, BULK_ROWS - WARM_ROWS)
    large = stream_export(client, bulk, export_format)
    baseline = materialised_peak(session)
    print(
        f"{export_format}: {WARM_ROWS} rows {small}; {bulk.rows} rows {large}; all rows {baseline}"
    )
    assert large.records == bulk.rows
    assert large.chunks >= bulk.rows // EXPORT_CHUNK_ROWS
    # Four times the rows, the same peak: memory holds one chunk, not the export.
    assert large.peak_bytes < small.peak_bytes * 1.1
    assert large.peak_bytes < baseline / 4


def test_the_cursor_is_closed_after_a_complete_export(client: TestClient, session: Session) -> None:
    bulk = bulk_of(session, 3 * EXPORT_CHUNK_ROWS)
    assert stream_export(client, bulk, "csv").records == bulk.rows
    assert open_cursors(session) == 0


def test_the_cursor_is_closed_when_the_client_stops_reading(
    client: TestClient, session: Session
) -> None:
    bulk = bulk_of(session, 5 * EXPORT_CHUNK_ROWS)
    url = "/api/cases/export"
    with client.stream("GET", url, params={"format": "csv"}, headers=bulk.headers) as response:
        first = next(response.iter_bytes())
        assert first.startswith(BOM.encode())
    assert open_cursors(session) == 0
    # The session is still usable by the next request.
    again = export(client, bulk.headers, format="geojson")
    assert len(json.loads(again.content)["features"]) == bulk.rows
