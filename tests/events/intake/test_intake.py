"""POST /api/reports through HTTP: located cases, numbers, idempotency, refusals, duplicates."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from pyproj import Geod
from sqlalchemy import Connection, create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from citygrid import db
from citygrid.accounts.models import User
from citygrid.accounts.roles import Role
from citygrid.app import create_app
from citygrid.cli import migrate
from citygrid.rate_limit import SlidingWindowLimiter
from citygrid.settings import get_settings, settings_dependency
from events.intake.service import city_today
from events.intake.statements import INTAKE, OPEN_STATUSES_SQL
from events.lifecycle import OPEN_STATUSES
from events.models import Case, CaseTransition, Category, Report
from grid.geometry import gcj02_to_bd09, wgs84_to_gcj02
from tests.conftest import throwaway_database
from tests.events.intake.support import (
    CELL_SOUTH,
    TEST_STANDARD,
    Configure,
    headers_for,
    report_body,
)
from tests.events.seed import add_category, add_user
from tests.grid.places import (
    CELL_NE,
    CELL_NW,
    CELL_SE,
    CELL_SW,
    centre_of,
    east_of_block,
    seed_block,
)

NUMBER_FORMAT = re.compile(r"^\d{8}-\d{6}$")
GEOD = Geod(ellps="WGS84")


def moved(point: tuple[float, float], *, azimuth: float, distance_m: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(point[0], point[1], azimuth, distance_m)
    return float(lon), float(lat)


@pytest.fixture
def post(client: TestClient, configure: Configure, inspector: User) -> Callable[..., Response]:
    """POST /api/reports as the inspector (JSON), unless other headers are given."""

    def send(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
        response: Response = client.post(
            "/api/reports", json=body, headers=headers or headers_for(inspector)
        )
        return response

    return send


def test_a_json_report_becomes_a_located_case_with_its_history(
    post: Callable[..., Response], session: Session, category: Category, inspector: User
) -> None:
    response = post(report_body(category, centre_of(CELL_NW), urgency="urgent", address="多福巷 1"))
    assert response.status_code == 201, response.text
    answer = response.json()
    assert NUMBER_FORMAT.match(answer["number"])
    assert answer["number"][:8] == f"{city_today(get_settings().city_zone):%Y%m%d}"
    assert answer["cell"] == {"code": CELL_NW.code, "name": CELL_NW.name}
    assert answer["status"] == "reported"
    assert answer["replayed"] is False
    case = session.get(Case, answer["case_id"])
    assert case is not None
    assert (case.urgency, case.address, case.reported_by) == ("urgent", "多福巷 1", inspector.id)
    history = session.scalars(select(CaseTransition).where(CaseTransition.case_id == case.id)).all()
    assert [(h.action, h.from_status, h.to_status, h.actor_id) for h in history] == [
        ("report", None, "reported", inspector.id)
    ]
    assert history[0].actor_role == "inspector"
    report = session.scalar(select(Report).where(Report.case_id == case.id))
    assert report is not None and report.original_case_id == case.id


def test_case_numbers_count_up_within_the_day(
    post: Callable[..., Response], category: Category
) -> None:
    numbers = [post(report_body(category, centre_of(CELL_NE))).json()["number"] for _ in range(3)]
    counts = [int(number.split("-")[1]) for number in numbers]
    assert counts == [counts[0], counts[0] + 1, counts[0] + 2]


def test_a_category_can_be_given_by_code(post: Callable[..., Response], category: Category) -> None:
    body = report_body(
        category, centre_of(CELL_NW), category_code="0102", kind="event", standard=TEST_STANDARD
    )
    del body["category_id"]
    assert post(body).status_code == 201


@pytest.mark.parametrize("datum", ["GCJ-02", "BD-09"])
def test_offset_datums_land_in_the_right_cell(
    post: Callable[..., Response], category: Category, datum: str
) -> None:
    wgs84 = np.array([centre_of(CELL_SE)])
    shifted = wgs84_to_gcj02(wgs84) if datum == "GCJ-02" else gcj02_to_bd09(wgs84_to_gcj02(wgs84))
    point = (float(shifted[0, 0]), float(shifted[0, 1]))
    response = post(report_body(category, point, datum=datum))
    assert response.status_code == 201, response.text
    assert response.json()["cell"]["code"] == CELL_SE.code
    # The same numbers read as WGS-84 lie hundreds of metres away, outside the grid.
    assert post(report_body(category, point)).status_code == 422


def test_a_point_just_outside_snaps_to_the_nearest_cell(
    post: Callable[..., Response], category: Category
) -> None:
    response = post(report_body(category, east_of_block(10)))
    assert response.status_code == 201, response.text
    assert response.json()["cell"]["code"] == CELL_NE.code
    assert response.json()["snapped_m"] == pytest.approx(10, abs=0.5)


def test_a_retry_with_the_same_uuid_returns_the_original_case(
    post: Callable[..., Response], session: Session, category: Category
) -> None:
    body = report_body(category, centre_of(CELL_NW))
    first = post(body)
    again = post({**body, "description": "sent again from a bad network"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["case_id"] == first.json()["case_id"]
    assert again.json()["number"] == first.json()["number"]
    assert again.json()["replayed"] is True
    uuid_reports = select(func.count()).where(Report.report_uuid == uuid.UUID(body["report_uuid"]))
    assert session.scalar(uuid_reports) == 1


def test_staff_may_report_but_departments_and_managers_may_not(
    client: TestClient, configure: Configure, session: Session, category: Category
) -> None:
    for role, expected in [
        (Role.CITIZEN, 201),
        (Role.DISPATCHER, 201),
        (Role.ADMIN, 201),
        (Role.MANAGER, 403),
        (Role.DEPARTMENT, 403),
    ]:
        user = add_user(session, role)
        body = report_body(category, centre_of(CELL_NW))
        response = client.post("/api/reports", json=body, headers=headers_for(user))
        assert response.status_code == expected, (role, response.text)


# --- refusals ------------------------------------------------------------------------------


def retire(session: Session, category: Category) -> None:
    session.execute(
        text("UPDATE category SET retired_at = now() - interval '1 day' WHERE id = :id"),
        {"id": category.id},
    )
    session.expire(category)


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"category_id": 999_999}, "category_id", "unknown category.*GET /api/categories"),
        (
            {"category_id": None, "category_code": "9999"},
            "category_code",
            "unknown category.*GET /api/categories",
        ),
        ({"category_id": None}, "category_id", "give category_id or category_code"),
        (
            {"category_id": None, "category_code": "0102"},
            "category_code",
            "several kinds or standards: give kind and standard",
        ),
        ({"lon": 181.0}, "lon", r"lon: Input should be less than or equal to 180"),
        ({"lat": -90.5}, "lat", r"lat: Input should be greater than or equal to -90"),
        ({"lat": None}, "lat", "give both lon and lat"),
        ({"lon": None, "lat": None}, "lon/lat", "give lon and lat, or a first photo"),
        ({"datum": "EPSG:3857"}, "datum", "WGS-84, GCJ-02, BD-09"),
        ({"description": "x" * 4001}, "description", "4001 characters; at most 4000"),
        ({"urgency": "very"}, "urgency", "urgency"),
        ({"report_uuid": "not-a-uuid"}, "report_uuid", "UUID"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_the_reason(
    post: Callable[..., Response],
    category: Category,
    changes: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    body = {
        key: value
        for key, value in {**report_body(category, centre_of(CELL_NW)), **changes}.items()
        if value is not None
    }
    response = post(body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert re.search(reason, response.json()["detail"]), response.json()["detail"]


def test_a_point_outside_the_managed_area_is_422_with_the_distance(
    post: Callable[..., Response], category: Category
) -> None:
    response = post(report_body(category, east_of_block(100)))
    assert response.status_code == 422
    answer = response.json()
    assert answer["field"] == "lon/lat"
    assert "outside the managed area" in answer["detail"]
    assert answer["nearest_cell_distance_m"] == pytest.approx(100, abs=1)


def test_a_retired_category_takes_no_new_reports(
    post: Callable[..., Response], session: Session, category: Category
) -> None:
    retire(session, category)
    response = post(report_body(category, centre_of(CELL_NW)))
    assert response.status_code == 422
    assert response.json()["field"] == "category_id"
    assert "retired" in response.json()["detail"]


def test_a_body_that_is_not_json_is_422(
    client: TestClient, configure: Configure, inspector: User
) -> None:
    headers = {**headers_for(inspector), "Content-Type": "application/json"}
    response = client.post("/api/reports", content=b"{not json", headers=headers)
    assert response.status_code == 422
    assert response.json()["field"] == "body"


# --- duplicate candidates ------------------------------------------------------------------


def test_open_cases_nearby_are_returned_as_duplicate_candidates(
    post: Callable[..., Response], session: Session, category: Category
) -> None:
    here = centre_of(CELL_NW)
    first = post(report_body(category, here)).json()
    nearby = post(report_body(category, moved(here, azimuth=90, distance_m=10))).json()
    assert [(c["id"], c["number"], c["status"]) for c in nearby["duplicate_candidates"]] == [
        (first["case_id"], first["number"], "reported")
    ]
    assert nearby["duplicate_candidates"][0]["distance_m"] == pytest.approx(10, abs=0.5)
    assert "created_at" in nearby["duplicate_candidates"][0]
    far = post(report_body(category, moved(here, azimuth=180, distance_m=200))).json()
    assert far["cell"]["code"] == CELL_SOUTH.code
    assert far["duplicate_candidates"] == []
    other = add_category(session, code="0103", name_en="Litter", standard=TEST_STANDARD)
    assert post(report_body(other, here)).json()["duplicate_candidates"] == []


def test_the_category_radius_overrides_the_default(
    post: Callable[..., Response], session: Session, category: Category
) -> None:
    first = post(report_body(category, centre_of(CELL_NW))).json()
    south_111_m = centre_of(CELL_SW)
    assert post(report_body(category, south_111_m)).json()["duplicate_candidates"] == []
    category.duplicate_radius_m = 150
    session.flush()
    candidates = post(report_body(category, south_111_m)).json()["duplicate_candidates"]
    assert first["case_id"] in [candidate["id"] for candidate in candidates]


@pytest.mark.parametrize(
    "aging_sql",
    [
        "UPDATE event_case SET status = 'closed' WHERE id = :id",
        "UPDATE event_case SET created_at = now() - interval '73 hours' WHERE id = :id",
    ],
    ids=["closed", "older-than-the-window"],
)
def test_closed_or_old_cases_are_not_candidates(
    post: Callable[..., Response], session: Session, category: Category, aging_sql: str
) -> None:
    first = post(report_body(category, centre_of(CELL_NW))).json()
    session.execute(text(aging_sql), {"id": first["case_id"]})
    assert post(report_body(category, centre_of(CELL_NW))).json()["duplicate_candidates"] == []


def test_the_duplicate_search_names_the_open_statuses_of_the_partial_index(
    session: Session,
) -> None:
    """Intake writes the open statuses as literals, the ones the partial index of open cases by
    place was made with: its condition implies the index's predicate in every plan."""
    definition = session.scalar(
        text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_event_case_open_geom'")
    )
    assert definition is not None and "merged_into_id IS NULL" in definition
    assert set(re.findall(r"'([a-z_]+)'", definition)) == {s.value for s in OPEN_STATUSES}
    assert f"c.status IN ({OPEN_STATUSES_SQL}) AND c.merged_into_id IS NULL" in INTAKE


# --- anonymous citizens --------------------------------------------------------------------


def test_without_a_token_reports_are_refused_unless_anonymous_reports_are_on(
    client: TestClient, configure: Configure, session: Session, category: Category
) -> None:
    body = report_body(category, centre_of(CELL_NW))
    refused = client.post("/api/reports", json=body)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    configure(anonymous_reports=True)
    accepted = client.post("/api/reports", json=body)
    assert accepted.status_code == 201, accepted.text
    case = session.get(Case, accepted.json()["case_id"])
    assert case is not None and case.reported_by is None
    report = session.scalar(select(Report).where(Report.case_id == case.id))
    assert report is not None and (report.reporter_id, report.channel) == (None, "anonymous")


def test_anonymous_reports_are_rate_limited_per_client(
    client: TestClient, configure: Configure, category: Category, inspector: User
) -> None:
    configure(anonymous_reports=True, anonymous_reports_per_minute=2)
    statuses = [
        client.post("/api/reports", json=report_body(category, centre_of(CELL_NW))).status_code
        for _ in range(3)
    ]
    assert statuses == [201, 201, 429]
    limited = client.post("/api/reports", json=report_body(category, centre_of(CELL_NW)))
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    signed_in = client.post(
        "/api/reports",
        json=report_body(category, centre_of(CELL_NW)),
        headers=headers_for(inspector),
    )
    assert signed_in.status_code == 201


def test_a_bad_token_is_401_even_when_anonymous_reports_are_on(
    client: TestClient, configure: Configure, category: Category
) -> None:
    configure(anonymous_reports=True)
    body = report_body(category, centre_of(CELL_NW))
    response = client.post("/api/reports", json=body, headers={"Authorization": "Bearer junk"})
    assert response.status_code == 401


def test_the_sliding_window_admits_again_once_old_hits_leave_it() -> None:
    limiter = SlidingWindowLimiter(window_s=60)
    assert limiter.retry_after_s("a", limit=2, now=0) is None
    assert limiter.retry_after_s("a", limit=2, now=10) is None
    assert limiter.retry_after_s("a", limit=2, now=20) == pytest.approx(40)
    assert limiter.retry_after_s("b", limit=2, now=20) is None
    assert limiter.retry_after_s("a", limit=2, now=60.5) is None


def test_the_route_publishes_its_roles() -> None:
    operation = create_app().openapi()["paths"]["/api/reports"]["post"]
    assert operation["x-roles"] == ["admin", "citizen", "dispatcher", "inspector"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "multipart/form-data"}


# --- the race between a report and its retry, on a committed database ----------------------


@pytest.fixture(scope="module")
def committed_url(server_url: str) -> Iterator[str]:
    with throwaway_database(server_url) as url:
        migrate(url)
        yield url


def wait_for_blocked_inserts(connection: Connection, count: int) -> None:
    """Until `count` other sessions wait on a lock (the held report table)."""
    for _ in range(200):
        # Activity is snapshotted once per transaction, and the lock holder stays in one.
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        waiting = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
        ).scalar()
        if waiting == count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{count} requests never reached the locked table")


def test_a_report_racing_its_retry_files_one_case(committed_url: str, tmp_path: Path) -> None:
    engine = create_engine(committed_url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as seeding:
        seed_block(seeding)
        category = add_category(seeding, standard=TEST_STANDARD)
        user = add_user(seeding, Role.CITIZEN)
        seeding.commit()
    # Hold the report table locked until both requests wait on it, then let them go at once.
    # The loser either sees the winner's report or meets it at the unique index (ON CONFLICT
    # files nothing); either way it must answer 200 with the winner's case.
    locker = engine.connect()
    locker.execute(text("LOCK TABLE report IN SHARE ROW EXCLUSIVE MODE"))

    def own_session() -> Iterator[Session]:
        with factory() as session:
            yield session

    settings = get_settings().model_copy(update={"media_dir": tmp_path / "media"})
    app = create_app()
    app.state.statements = db.AsyncStatements(committed_url, max_size=4)  # real connections
    app.dependency_overrides[db.get_session] = own_session
    app.dependency_overrides[settings_dependency] = lambda: settings
    body = report_body(category, centre_of(CELL_NW))
    responses: list[Response] = []
    with TestClient(app) as client:

        def send() -> None:
            responses.append(client.post("/api/reports", json=body, headers=headers_for(user)))

        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            wait_for_blocked_inserts(locker, 2)
        finally:
            locker.rollback()  # releases the lock, also when the wait failed
            locker.close()
        for thread in threads:
            thread.join(timeout=30)
    assert sorted(response.status_code for response in responses) == [200, 201], [
        response.text for response in responses
    ]
    assert responses[0].json()["case_id"] == responses[1].json()["case_id"]
    with factory() as check:
        assert check.scalar(select(func.count()).select_from(Case)) == 1
        assert check.scalar(select(func.count()).select_from(Report)) == 1
    engine.dispose()
