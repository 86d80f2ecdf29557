"""Hostile input: SQL injection, path traversal, oversized and malformed bodies, broken
geometries and Unicode edge cases are refused (4xx naming the problem) or harmless, never 500."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import pytest
import shapely
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from events.models import Category
from tests.conftest import token_for
from tests.events.intake.support import configure_app, report_body, seed_intake
from tests.events.photos.images import image_bytes
from tests.events.seed import add_case, add_user
from tests.grid.places import CELL_NW, ORIGIN_LAT, ORIGIN_LON, centre_of

Auth = Callable[[Role], dict[str, str]]
MB = 1024 * 1024

# --- SQL injection --------------------------------------------------------------------------

INJECTIONS = (
    "' OR '1'='1",
    "1; DROP TABLE event_case; --",
    "x') UNION SELECT password_hash, NULL FROM app_user --",
)
# The list, export, map and component routes: every query parameter of each gets every string.
FILTERED_ROUTES = (
    "/api/cases",
    "/api/cases/export",
    "/api/public/cases",
    "/api/components",
    "/api/components/repeats",
    "/api/census-tasks",
    "/api/categories",
    "/api/grid/cells",
    "/api/audit",
    "/api/dispatch/queue",
    "/api/inbox",
    "/api/evaluation",
    "/api/maps/hotspots",
    "/api/maps/values",
    "/api/maps/heat",
    "/maps/heatmap/csv",
    "/maps/choropleth/csv",
    "/maps/hotspots/csv",
)


def query_parameters(client: TestClient, path: str) -> list[str]:
    """The names of the query parameters the OpenAPI document gives `GET path`."""
    operation = client.app.openapi()["paths"][path]["get"]  # type: ignore[attr-defined]
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]


def table_counts(session: Session) -> tuple[int, int]:
    cases = session.scalar(text("SELECT count(*) FROM event_case"))
    users = session.scalar(text("SELECT count(*) FROM app_user"))
    return int(cases or 0), int(users or 0)


@pytest.fixture
def one_case(session: Session) -> Category:
    category = seed_intake(session)
    add_case(session, category=category)
    return category


@pytest.mark.parametrize("path", FILTERED_ROUTES)
def test_sql_in_any_filter_or_sort_is_refused_or_matches_nothing(
    client: TestClient,
    session: Session,
    auth: Auth,
    one_case: Category,
    tmp_path: Path,
    path: str,
) -> None:
    configure = configure_app(client.app, tmp_path / "media")  # type: ignore[arg-type]
    configure(public_listing=True)
    before = table_counts(session)
    parameters = query_parameters(client, path)
    assert parameters, f"{path} has no query parameters to attack"
    wrong = []
    for parameter in parameters:
        for injection in INJECTIONS:
            response = client.get(path, params={parameter: injection}, headers=auth(Role.ADMIN))
            # 404: a code naming no such area (or category) is refused as unknown
            if response.status_code not in (200, 404, 422) or leaked_rows(path, response):
                wrong.append((parameter, injection, response.status_code, response.text[:200]))
    assert wrong == []
    assert table_counts(session) == before  # the tables are there, with the same rows


def leaked_rows(path: str, response: Response) -> bool:
    """Whether an accepted injection listed cases (the seeded case matches no such filter)."""
    if path != "/api/cases" or response.status_code != 200:
        return False
    return bool(response.json()["items"])


# --- path traversal -------------------------------------------------------------------------

TRAVERSALS = (
    "..%2F..%2F..%2Fcitygrid%2Fsettings.py",
    "%2e%2e/%2e%2e/%2e%2e/citygrid/settings.py",
    "....//....//etc/passwd",
    "%2Fetc%2Fpasswd",
    "a%00.css",
    "x" * 5000,
)
FILE_ROUTES = ("/static/citygrid/", "/maps/assets/", "/api/photos/", "/open311/v2/media/")


@pytest.mark.parametrize("route", FILE_ROUTES)
def test_path_traversal_in_file_routes_finds_nothing(
    client: TestClient, auth: Auth, route: str
) -> None:
    for traversal in TRAVERSALS:
        response = client.get(route + traversal, headers=auth(Role.ADMIN))
        assert response.status_code in (400, 404, 422), (traversal, response.status_code)
        assert "SECRET" not in response.text and "root:" not in response.text


def test_an_export_format_cannot_name_a_path(client: TestClient, auth: Auth) -> None:
    response = client.get(
        "/api/cases/export", params={"format": "../../etc/passwd"}, headers=auth(Role.ADMIN)
    )
    assert response.status_code == 422
    exported = client.get("/api/cases/export", params={"format": "csv"}, headers=auth(Role.ADMIN))
    assert exported.status_code == 200
    disposition = exported.headers["content-disposition"]
    assert "attachment" in disposition and "/" not in disposition and ".." not in disposition


def test_an_uploaded_photos_name_cannot_place_it_outside_the_media_folder(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    media = tmp_path / "deep" / "media"
    configure_app(client.app, media)  # type: ignore[arg-type]
    category = seed_intake(session)
    fields = {k: str(v) for k, v in report_body(category, centre_of(CELL_NW)).items()}
    photo = ("photos", ("../../../escaped.jpg", image_bytes(), "image/jpeg"))
    headers = inspector_headers(session)
    response = client.post("/api/reports", data=fields, files=[photo], headers=headers)
    assert response.status_code == 201, response.text
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert written and all(path.is_relative_to(media) for path in written)
    assert not any("escaped" in path.name for path in written)


# --- oversized and malformed bodies ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/api/reports", Role.INSPECTOR),
        ("/api/categories", Role.ADMIN),
        ("/api/departments", Role.ADMIN),
        ("/api/dispatch/rules/simulate", Role.DISPATCHER),
    ],
)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"description": "unfinished', "application/json"),
        (b"[1, 2, 3", "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"null", "application/json"),
        (b'{"a": ' * 2000 + b"1" + b"}" * 2000, "application/json"),  # nested 2,000 deep
        (b'{"description": "x"}', "text/plain"),
        (b"<report/>", "application/xml"),
    ],
    ids=["cut-off", "open-array", "not-utf8", "null", "deep", "text-plain", "xml"],
)
def test_a_malformed_body_is_a_4xx(
    client: TestClient, path: str, role: Role, body: bytes, content_type: str
) -> None:
    headers = {"Authorization": f"Bearer {token_for(role)}", "Content-Type": content_type}
    response = client.post(path, content=body, headers=headers)
    assert response.status_code in (400, 415, 422), response.text
    assert response.json()["detail"]


class StreamedUpload:
    """A request driven straight into the ASGI app, its body sent in 1 MB chunks on demand,
    counting how much the app asked for before it answered."""

    BOUNDARY = b"----citygrid-hostile"
    PART_HEAD = (
        b"--" + BOUNDARY + b"\r\n"
        b'Content-Disposition: form-data; name="photos"; filename="huge.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n"
    )

    def __init__(self, total_bytes: int, *, declare_length: bool) -> None:
        self.chunk = b"\xff" * MB
        self.first_chunk: bytes | None = self.PART_HEAD + self.chunk[len(self.PART_HEAD) :]
        self.chunks_left = total_bytes // MB
        self.bytes_read = 0
        self.declare_length = declare_length
        self.total_bytes = total_bytes
        self.status: int | None = None
        self.body = b""

    def headers(self, token: str) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"multipart/form-data; boundary=" + self.BOUNDARY),
        ]
        if self.declare_length:
            headers.append((b"content-length", str(self.total_bytes).encode()))
        return headers

    async def receive(self) -> dict[str, Any]:
        if self.chunks_left == 0:
            return {"type": "http.disconnect"}
        self.chunks_left -= 1
        chunk, self.first_chunk = self.first_chunk or self.chunk, None
        self.bytes_read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": self.chunks_left > 0}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    def post(self, app: Any, path: str, token: str) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": self.headers(token),
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        asyncio.run(app(scope, self.receive, self.send))


@pytest.mark.parametrize("path", ["/api/reports", "/api/cases/1/photos"])
def test_a_100_mb_upload_with_its_length_is_refused_before_any_byte_is_read(
    client: TestClient, path: str
) -> None:
    upload = StreamedUpload(100 * MB, declare_length=True)
    upload.post(client.app, path, token_for(Role.ADMIN))
    assert upload.status == 413
    assert upload.bytes_read == 0
    assert json.loads(upload.body)["field"] == "body"


def test_a_chunked_100_mb_upload_is_cut_off_at_the_request_limit(client: TestClient) -> None:
    upload = StreamedUpload(100 * MB, declare_length=False)
    upload.post(client.app, "/api/reports", token_for(Role.INSPECTOR))
    assert upload.status == 413
    assert upload.bytes_read <= get_settings().request_max_bytes + MB


# --- malformed GeoJSON and geometries -------------------------------------------------------

CELL_CODE = "110101001001009"
COMPONENT_CODE = "1101010101000001"
BOWTIE = [(116.398, 39.900), (116.400, 39.902), (116.400, 39.900), (116.398, 39.902)]
IMPORTS = [("/api/grid/imports", {"level": "cell"}), ("/api/components/imports", {})]


def geojson(geometry: dict[str, Any] | str) -> bytes:
    """A FeatureCollection of one feature (a unit and a component both) with `geometry`."""
    properties = {"code": CELL_CODE, "name": "hostile", "category_code": "0101"}
    feature = {"type": "Feature", "properties": properties, "geometry": "GEOMETRY"}
    document = json.dumps({"type": "FeatureCollection", "features": [feature]})
    inner = geometry if isinstance(geometry, str) else json.dumps(geometry)
    return document.replace('"GEOMETRY"', inner).encode()


def geopackage(tmp_path: Path, geometry: shapely.Geometry) -> bytes:
    """A GeoPackage of one feature (code, name) with `geometry`, which may hold NaN."""
    path = tmp_path / "hostile.gpkg"
    pyogrio.raw.write(
        path,
        geometry=np.array([shapely.to_wkb(geometry)], dtype=object),
        field_data=[np.array([CELL_CODE]), np.array(["hostile"])],
        fields=["code", "name"],
        geometry_type="Polygon",
        crs="EPSG:4326",
        driver="GPKG",
    )
    return path.read_bytes()


def circle(vertex_count: int) -> shapely.Geometry:
    """A polygon of `vertex_count` vertices around the test block's centre."""
    angles = np.linspace(0, 2 * np.pi, vertex_count, endpoint=False)
    ring = np.column_stack(
        [ORIGIN_LON + 0.0009 * np.cos(angles), ORIGIN_LAT + 0.0009 * np.sin(angles)]
    )
    return shapely.Polygon(ring)


def post_file(
    client: TestClient, auth: Auth, path: str, content: bytes, name: str, form: dict[str, str]
) -> Response:
    response: Response = client.post(
        path, data=form, files={"file": (name, content)}, headers=auth(Role.ADMIN)
    )
    return response


def problems_of(response: Response) -> str:
    """The reasons a refused import gives, lower-cased and joined."""
    assert response.status_code == 422, response.text[:500]
    body = response.json()
    return " | ".join([body["detail"], *(p["reason"] for p in body.get("problems", []))]).lower()


@pytest.mark.parametrize(("path", "form"), IMPORTS, ids=["grid", "components"])
def test_broken_geojson_is_a_422_naming_the_file(
    client: TestClient, auth: Auth, path: str, form: dict[str, str]
) -> None:
    for content in (b'{"type": "FeatureCollection", "features": [', b"\x00\x01 not json"):
        response = post_file(client, auth, path, content, "hostile.geojson", form)
        assert "cannot read" in problems_of(response)


@pytest.mark.parametrize(("path", "form"), IMPORTS, ids=["grid", "components"])
def test_a_self_intersecting_polygon_is_a_422_naming_the_problem(
    client: TestClient, auth: Auth, path: str, form: dict[str, str]
) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[*BOWTIE, BOWTIE[0]]]}
    response = post_file(client, auth, path, geojson(bowtie), "hostile.geojson", form)
    assert "self-intersection" in problems_of(response)


@pytest.mark.parametrize(("path", "form"), IMPORTS, ids=["grid", "components"])
def test_nan_coordinates_are_a_422_naming_the_problem(
    client: TestClient, auth: Auth, path: str, form: dict[str, str]
) -> None:
    # Not JSON, but GDAL reads the literal: the geometry gets a NaN coordinate.
    ring = "[[116.399, 39.9], [NaN, 39.9], [116.4, 39.901], [116.399, 39.9]]"
    with_nan = f'{{"type": "Polygon", "coordinates": [{ring}]}}'
    response = post_file(client, auth, path, geojson(with_nan), "hostile.geojson", form)
    assert "nan" in problems_of(response)


def test_nan_coordinates_in_a_component_csv_are_a_422_naming_the_problem(
    client: TestClient, auth: Auth
) -> None:
    content = f"code,name,lon,lat\n{COMPONENT_CODE},hostile,NaN,39.9\n".encode()
    response = post_file(client, auth, "/api/components/imports", content, "hostile.csv", {})
    assert "nan" in problems_of(response)


@pytest.mark.parametrize(("path", "form"), IMPORTS, ids=["grid", "components"])
def test_a_polygon_of_a_million_vertices_is_a_422_naming_the_problem(
    client: TestClient, auth: Auth, tmp_path: Path, path: str, form: dict[str, str]
) -> None:
    content = geopackage(tmp_path, circle(1_000_000))
    response = post_file(client, auth, path, content, "hostile.gpkg", form)
    assert "1000001 vertices; at most 100000" in problems_of(response)  # the ring closes


# --- Unicode edge cases in text fields ------------------------------------------------------

UNICODE_EDGES = {
    "nul": ("garbage\u0000by the road", 422),
    "lone-surrogate": ("garbage \ud800 by the road", 422),
    "rtl-override": ("garbage \u202egnp.exe by the road", 201),
    "emoji": ("garbage 🗑️🚮 by the road 𠀋", 201),
    "very-long": ("垃" * 100_000, 422),
}


def inspector_headers(session: Session) -> dict[str, str]:
    inspector = add_user(session, Role.INSPECTOR)
    return {"Authorization": f"Bearer {token_for(Role.INSPECTOR, user_id=inspector.id)}"}


def json_body(value: dict[str, Any]) -> bytes:
    """JSON with non-ASCII escaped, so a lone surrogate travels as `\\ud800`."""
    return json.dumps(value, ensure_ascii=True).encode()


@pytest.mark.parametrize("edge", UNICODE_EDGES, ids=str)
def test_unicode_edges_in_a_report_description(
    client: TestClient, session: Session, tmp_path: Path, edge: str
) -> None:
    configure_app(client.app, tmp_path / "media")  # type: ignore[arg-type]
    category = seed_intake(session)
    text_value, expected = UNICODE_EDGES[edge]
    body = report_body(category, centre_of(CELL_NW), description=text_value)
    headers = {**inspector_headers(session), "Content-Type": "application/json"}
    response = client.post("/api/reports", content=json_body(body), headers=headers)
    assert response.status_code == expected, response.text[:300]
    if expected == 201:
        case_id = response.json()["case_id"]
        stored = session.scalar(
            text("SELECT description FROM event_case WHERE id = :id"), {"id": case_id}
        )
        assert stored == text_value
    else:
        assert response.json()["detail"]


@pytest.mark.parametrize("edge", UNICODE_EDGES, ids=str)
@pytest.mark.parametrize(
    ("path", "field", "body"),
    [
        (
            "/api/categories",
            "name_en",
            {"kind": "event", "code": "99", "name_zh": "测试", "standard": "hostile"},
        ),
        ("/api/departments", "name", {"code": "HOSTILE-1", "kind": "sanitation"}),
    ],
    ids=["category", "department"],
)
def test_unicode_edges_in_admin_text_fields(
    client: TestClient,
    auth: Auth,
    edge: str,
    path: str,
    field: str,
    body: dict[str, Any],
) -> None:
    text_value, expected = UNICODE_EDGES[edge]
    headers = {**auth(Role.ADMIN), "Content-Type": "application/json"}
    response = client.post(path, content=json_body({**body, field: text_value}), headers=headers)
    if expected == 201:
        assert response.status_code == 201, response.text[:300]
        assert response.json()[field] == text_value
    else:
        assert response.status_code == 422, response.text[:300]


# As a browser would send them: percent-encoded UTF-8, or bytes that are not UTF-8 at all.
QUERY_EDGES = ("%00", "%ED%A0%80", "%E2%80%AEgnp.exe", "%F0%9F%9A%AE", "%FF%FE", "x" * 5000)


@pytest.mark.parametrize("encoded", QUERY_EDGES, ids=lambda e: e[:12])
def test_unicode_edges_in_a_search_query(client: TestClient, encoded: str) -> None:
    response = client.get(f"/api/categories?q={encoded}")
    assert response.status_code in (200, 422), response.text[:300]
