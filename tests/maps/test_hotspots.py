"""Hotspots: Gi* classes with FDR and trends (pure), and GET /api/maps/hotspots on a test city."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.errors import InvalidInput
from grid.revision import record_grid_change
from maps import hotspots, weights
from maps.hotspot_classes import HotspotClass as H
from maps.hotspot_classes import Trend as T
from tests.citygrid.refusals import refused_field
from tests.maps.city import (
    SIDE,
    add_cases,
    block,
    cell_code,
    every_cell,
    seed_city,
    two_minor_categories,
)

START = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD = timedelta(days=30)
Headers = Callable[[Role], dict[str, str]]


def square_graph(side: int = SIDE) -> weights.CellWeights:
    polygons = np.array([shapely.box(c, r, c + 1, r + 1) for r in range(side) for c in range(side)])
    return weights.build_weights(np.arange(side * side, dtype=np.int64), polygons)


def planted(background: np.ndarray, corners: dict[tuple[int, int], int]) -> np.ndarray:
    counts = background.astype(np.float64).copy()
    for corner, extra in corners.items():
        for row, column in block(corner):
            counts[row * SIDE + column] += extra
    return counts


@pytest.mark.parametrize(
    ("z", "p", "fdr", "confidence", "expected"),
    [
        (3.0, 0.001, False, 0.90, H.HOT99),
        (2.0, 0.03, False, 0.90, H.HOT95),
        (1.7, 0.08, False, 0.90, H.HOT90),
        (1.7, 0.08, False, 0.95, H.NS),
        (-3.0, 0.001, False, 0.90, H.COLD99),
        (-2.0, 0.03, False, 0.99, H.NS),
        (0.5, 0.6, False, 0.90, H.NS),
        (3.0, 0.001, True, 0.90, H.HOT99),  # one test: BH changes nothing
    ],
)
def test_class_of_one_cell(z: float, p: float, fdr: bool, confidence: float, expected: H) -> None:
    classes = hotspots.classify(np.array([z]), np.array([p]), confidence=confidence, fdr=fdr)
    assert classes == [expected]


def test_fdr_raises_the_bar_for_many_tests() -> None:
    p = np.array([0.004] + [0.5] * 99)
    z = np.array([2.9] + [0.1] * 99)
    assert hotspots.classify(z, p, fdr=False)[0] is H.HOT99
    assert hotspots.classify(z, p, fdr=True)[0] is H.NS  # 0.004 × 100 / 1 > 0.10


@pytest.mark.parametrize(
    ("now", "before", "z_now", "z_before", "expected"),
    [
        (H.HOT95, H.NS, 2.0, 0.1, T.NEW),
        (H.HOT99, H.COLD95, 3.0, -2.0, T.NEW),
        (H.NS, H.HOT90, 0.5, 1.7, T.FORMER),
        (H.COLD99, H.HOT99, -3.0, 3.0, T.FORMER),
        (H.HOT99, H.HOT90, 3.0, 1.7, T.INTENSIFYING),
        (H.HOT99, H.HOT99, 9.0, 4.0, T.INTENSIFYING),  # 99 % cannot rise: the z-score did
        (H.HOT90, H.HOT99, 1.7, 3.0, T.DIMINISHING),
        (H.HOT99, H.HOT99, 4.0, 9.0, T.DIMINISHING),
        (H.HOT99, H.HOT99, 4.0, 5.0, T.PERSISTENT),
        (H.HOT95, H.HOT95, 2.0, 2.1, T.PERSISTENT),
        (H.NS, H.NS, 0.0, 0.0, T.NONE),
        (H.COLD95, H.NS, -2.0, 0.0, T.NONE),
    ],
)
def test_trend(now: H, before: H, z_now: float, z_before: float, expected: T) -> None:
    assert hotspots.trend(now, before, z_now=z_now, z_before=z_before) is expected


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_uniform_noise_has_no_hotspot_after_fdr(seed: int) -> None:
    graph = square_graph().weights
    counts = np.random.default_rng(seed).poisson(5, SIDE * SIDE).astype(np.float64)
    z, p = hotspots.gi_star(graph, counts)
    assert (p < 0.10).any()  # without the correction some cells would pass
    assert set(hotspots.classify(z, p, confidence=0.90, fdr=True)) <= {
        H.NS,
        H.COLD90,
        H.COLD95,
        H.COLD99,
    }
    assert H.HOT90 not in hotspots.classify(z, p, confidence=0.90, fdr=True)


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        (np.zeros(9), "no reports"),
        (np.full(9, 4.0), "same count"),
        (np.array([1.0, 2.0]), "fewer than 3 cells"),
    ],
)
def test_no_analysis_without_variation(counts: np.ndarray, message: str) -> None:
    side = 3 if len(counts) == 9 else 1
    polygons = np.array(
        [shapely.box(c, r, c + 1, r + 1) for r in range(side) for c in range(len(counts) // side)]
    )
    graph = weights.build_weights(np.arange(len(counts), dtype=np.int64), polygons).weights
    analysis = hotspots.analyse(graph, counts, counts)
    assert analysis.message is not None and message in analysis.message
    assert set(analysis.classes) == {H.NS}


def test_confidence_must_be_a_level() -> None:
    with pytest.raises(InvalidInput, match=r"0\.90, 0\.95 or 0\.99"):
        hotspots.check_confidence(0.8)


def test_weights_queen_on_a_regular_grid_and_distance_band_with_gaps() -> None:
    queen = square_graph(3)
    assert queen.kind == "queen"
    assert queen.weights.cardinalities.tolist() == [3, 5, 3, 5, 8, 5, 3, 5, 3]
    apart = np.array([shapely.box(0, 0, 1, 1), shapely.box(3, 0, 4, 1), shapely.box(9, 0, 10, 1)])
    band = weights.build_weights(np.array([7, 8, 9]), apart)
    assert band.kind == "distance_band"
    assert band.weights.isolates.empty
    assert band.ids.tolist() == [7, 8, 9]


def get_hotspots(client: TestClient, auth: Headers, **params: Any) -> dict[str, Any]:
    query = {
        "period_from": START.isoformat(),
        "period_to": (START + PERIOD).isoformat(),
        **params,
    }
    response = client.get("/api/maps/hotspots", params=query, headers=auth(Role.MANAGER))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_code(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["properties"]["code"]: f["properties"] for f in body["features"]}


def test_planted_cluster_is_hot_at_99_and_the_uniform_half_has_no_hotspot(
    session: Session, client: TestClient, auth: Headers
) -> None:
    seed_city(session)
    (category_id, _, _), _ = two_minor_categories(session)
    rng = np.random.default_rng(11)
    background = dict(zip(every_cell(), rng.poisson(3, SIDE * SIDE).tolist(), strict=True))
    add_cases(session, background, created_at=START + timedelta(days=1), category_id=category_id)
    cluster = block((3, 3))
    add_cases(
        session,
        dict.fromkeys(cluster, 30),
        created_at=START + timedelta(days=2),
        category_id=category_id,
    )
    body = get_hotspots(client, auth, confidence=0.90)
    cells = by_code(body)
    assert len(cells) == SIDE * SIDE
    assert {cells[cell_code(cell)]["class"] for cell in cluster} == {"hot99"}
    east_half = [(r, c) for r in range(SIDE) for c in range(SIDE // 2, SIDE)]
    assert all(not cells[cell_code(cell)]["class"].startswith("hot") for cell in east_half)
    assert body["features"][0]["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    assert body["properties"]["fdr"] is True and body["properties"]["weights"] == "queen"


def test_trend_labels_over_two_periods(session: Session, client: TestClient, auth: Headers) -> None:
    seed_city(session)
    (category_id, _, _), _ = two_minor_categories(session)
    gone, arrived, steady, growing, fading = (2, 2), (2, 14), (14, 2), (14, 14), (8, 8)
    before = START - PERIOD + timedelta(days=3)
    now = START + timedelta(days=3)
    for at, extra in (
        (before, {gone: 20, steady: 20, growing: 8, fading: 30}),
        (now, {arrived: 20, steady: 20, growing: 30, fading: 8}),
    ):
        counts = dict.fromkeys(every_cell(), 1)
        for corner, add in extra.items():
            for cell in block(corner):
                counts[cell] += add
        add_cases(session, counts, created_at=at, category_id=category_id)
    cells = by_code(get_hotspots(client, auth, confidence=0.90))

    def centre(corner: tuple[int, int]) -> dict[str, Any]:
        return cells[cell_code((corner[0] + 1, corner[1] + 1))]

    assert centre(gone)["trend"] == "former" and centre(gone)["previous_count"] == 21
    assert centre(arrived)["trend"] == "new" and centre(arrived)["count"] == 21
    assert centre(steady)["trend"] == "persistent"
    assert centre(growing)["trend"] == "intensifying"
    assert centre(fading)["trend"] == "diminishing"
    assert cells[cell_code((19, 9))]["trend"] == "none"


def test_area_filter_and_significant_only(
    session: Session, client: TestClient, auth: Headers
) -> None:
    seed_city(session)
    (category_id, _, _), _ = two_minor_categories(session)
    add_cases(session, dict.fromkeys(every_cell(), 1), created_at=START, category_id=category_id)
    add_cases(session, dict.fromkeys(block((5, 12)), 25), created_at=START, category_id=category_id)
    east = by_code(get_hotspots(client, auth, area="110102002"))
    assert len(east) == SIDE * SIDE // 2
    assert east[cell_code((6, 13))]["class"] == "hot99"
    significant = by_code(get_hotspots(client, auth, significant_only=True))
    assert 0 < len(significant) < SIDE * SIDE
    assert all(cell["class"] != "ns" for cell in significant.values())


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.MANAGER, 200),
        (Role.DISPATCHER, 200),
        (Role.ADMIN, 200),
        (Role.CITIZEN, 403),
        (Role.INSPECTOR, 403),
        (Role.DEPARTMENT, 403),
    ],
)
def test_hotspot_api_roles(
    session: Session, client: TestClient, auth: Headers, role: Role, status: int
) -> None:
    seed_city(session)
    response = client.get("/api/maps/hotspots", headers=auth(role))
    assert response.status_code == status
    if status == 200:
        assert response.json()["properties"]["message"] == "no reports in the period"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"confidence": "0.8"}, "confidence"),
        (
            {"period_from": "2026-10-02T00:00:00+00:00", "period_to": "2026-10-01T00:00:00+00:00"},
            "period_to",
        ),
        ({"status": "lost"}, "status"),
    ],
)
def test_bad_parameters_are_422(
    session: Session, client: TestClient, auth: Headers, params: dict[str, str], field: str
) -> None:
    seed_city(session)
    response = client.get("/api/maps/hotspots", params=params, headers=auth(Role.MANAGER))
    assert response.status_code == 422
    assert refused_field(response) == field


def test_unknown_area_is_404(session: Session, client: TestClient, auth: Headers) -> None:
    seed_city(session)
    response = client.get(
        "/api/maps/hotspots", params={"area": "999999"}, headers=auth(Role.MANAGER)
    )
    assert response.status_code == 404


def test_warm_up_loads_esda_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hotspots.warm_up()
    assert "esda.getisord" in sys.modules


def test_weights_are_cached_until_the_grid_changes(session: Session) -> None:
    seed_city(session)
    first, cached = weights.grid_weights(session)
    assert not cached and first.kind == "queen" and len(first.ids) == SIDE * SIDE
    again, cached = weights.grid_weights(session)
    assert cached and again is first
    session.execute(text("DELETE FROM grid_cell WHERE code = :code"), {"code": cell_code((0, 0))})
    record_grid_change(session)
    rebuilt, cached = weights.grid_weights(session)
    assert not cached and len(rebuilt.ids) == SIDE * SIDE - 1
    east = np.sort(rebuilt.ids)[-5:]
    subset, cached = weights.weights_for(session, east)
    assert cached and subset.ids.tolist() == east.tolist()
