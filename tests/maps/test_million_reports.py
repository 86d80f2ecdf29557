"""With a million reports in the database, every map page stays under 2 MB: pages carry
per-cell aggregates, so their size follows the cells drawn, never the number of reports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from events.models import Case
from tests.maps.city import add_cases, every_cell, seed_city, two_minor_categories

pytestmark = pytest.mark.heavy  # a million reports in the database
CREATED_AT = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
PERIOD = {"period_from": "2026-11-01T00:00:00+00:00", "period_to": "2026-11-20T00:00:00+00:00"}
PAGES = ("/maps/heatmap", "/maps/choropleth", "/maps/hotspots")
MILLION = 1_000_000
TWO_MB = 2 * 1024 * 1024
Auth = Callable[[Role], dict[str, str]]


# Secondary indexes of event_case, dropped inside the test's transaction (the rollback brings
# them back): maintaining a dozen indexes for a million rows would cost most of a minute, and
# the map aggregates scan the table anyway.
SECONDARY_INDEXES = """
SELECT indexrelid::regclass::text FROM pg_index
WHERE indrelid = 'event_case'::regclass AND NOT indisprimary AND NOT indisunique
"""
# The cases of one cell are alike: the point is computed once per cell, not once per case.
MANY_CASES = """
INSERT INTO event_case (number, status, category_id, urgency, description, geom, cell_id,
                        created_at)
SELECT 'M' || c.id || '-' || g, 'reported', :category_id, 'normal', 'map test', c.point, c.id,
       :created_at
FROM (SELECT id, ST_PointOnSurface(geom) AS point FROM grid_cell) c
CROSS JOIN generate_series(1, :per_cell) g
"""


def add_many_cases(session: Session, per_cell: int, *, category_id: int) -> None:
    for index in session.scalars(text(SECONDARY_INDEXES)).all():
        session.execute(text(f"DROP INDEX {index}"))
    parameters = {"category_id": category_id, "created_at": CREATED_AT, "per_cell": per_cell}
    session.execute(text(MANY_CASES), parameters)
    # As autovacuum would after a bulk load: planner statistics that know the million rows
    # (stale ones from the small city can pick a nested loop over them, minutes instead of 1 s).
    session.execute(text("ANALYZE event_case"))


def page_sizes(client: TestClient, auth: Auth) -> dict[str, int]:
    sizes = {}
    for path in PAGES:
        response = client.get(path, params=PERIOD, headers=auth(Role.MANAGER))
        assert response.status_code == 200, response.text
        sizes[path] = len(response.content)
    return sizes


@pytest.fixture
def vacuumed_afterwards(engine: Engine) -> Iterator[None]:
    """After the test's rollback, the million dead rows are vacuumed away: later tests neither
    scan them nor plan with the million-row statistics the ANALYZE left in pg_class."""
    yield
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM event_case"))


# `vacuumed_afterwards` first: its teardown runs after the session's rollback.
def test_pages_stay_under_two_megabytes_with_a_million_reports(
    vacuumed_afterwards: None, client: TestClient, session: Session, auth: Auth
) -> None:
    seed_city(session)
    (category_id, _, _), _ = two_minor_categories(session)
    cells = every_cell()
    # Above the markers' cap already, so both pages draw the same kinds of things.
    add_cases(session, dict.fromkeys(cells, 10), created_at=CREATED_AT, category_id=category_id)
    few = page_sizes(client, auth)
    add_many_cases(session, MILLION // len(cells) - 10, category_id=category_id)
    assert session.scalar(select(func.count()).select_from(Case)) == MILLION
    many = page_sizes(client, auth)
    for path in PAGES:
        assert many[path] < TWO_MB, (path, many[path])
        # The same cells drawn: only the numbers in them differ, not how many things are drawn.
        assert abs(many[path] - few[path]) < 0.1 * few[path], (path, few[path], many[path])
