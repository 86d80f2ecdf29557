"""The demo gazetteer: tens of thousands of distinct places, loaded once."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy.orm import Session

from citygrid.demo import places as demo_places
from grid.places.addresses import normalise_address
from grid.places.imports import PlaceRow
from grid.places.statements import MATCH_ADDRESS_SQL
from tests.grid.places import CELL_NE, CELL_SW, centre_of, seed_block


def test_the_demo_gazetteer_is_large_and_unambiguous() -> None:
    rows = demo_places.demo_place_rows()
    assert len(rows) > 30_000
    normal_forms = Counter((row.kind, normalise_address(row.name or "")) for row in rows)
    assert max(normal_forms.values()) == 1
    names = {row.name for row in rows}
    for expected in ("东四十条甲34号", "南锣鼓巷7号院3号楼", "北京协和医院", "地坛公园", "东四站"):
        assert expected in names
    # Around Dongcheng (WGS-84): the demo grid keeps only what is inside its cells.
    assert all(116.37 < row.lon < 116.46 and 39.85 < row.lat < 39.98 for row in rows)


def test_loading_twice_adds_nothing_the_second_time(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_block(session)
    rows = [
        PlaceRow(0, "东四北大街5号", "address", *centre_of(CELL_NE)),
        PlaceRow(1, "地坛公园", "poi", *centre_of(CELL_SW)),
        PlaceRow(2, "东四北大街7号", "address", 100.0, 10.0),  # outside the grid: left out
    ]
    monkeypatch.setattr(demo_places, "demo_place_rows", lambda: rows)
    assert demo_places.load_demo_places(session) == 2
    assert demo_places.load_demo_places(session) == 0


def test_the_async_statement_runs_on_a_psycopg_connection(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MATCH_ADDRESS_SQL with psycopg's own placeholders, as the hotline intake runs it."""
    seed_block(session)
    monkeypatch.setattr(
        demo_places,
        "demo_place_rows",
        lambda: [PlaceRow(0, "东四北大街5号", "address", *centre_of(CELL_NE))],
    )
    demo_places.load_demo_places(session)
    written = "北京市東城區東四北大街五號對面"
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        cursor.execute(
            MATCH_ADDRESS_SQL,
            {
                "address": written,
                "normalised": normalise_address(written),
                "district_code": "110101",
            },
        )
        columns = [column.name for column in cursor.description or []]
        rows = cursor.fetchall()
    assert columns == ["place_id", "label", "lon", "lat", "cell_id", "confidence"]
    assert len(rows) == 1 and rows[0][1] == "东四北大街5号" and rows[0][5] == 1.0
