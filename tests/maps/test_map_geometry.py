"""What a map page draws, kept small enough (pure): heat points merged, outlines trimmed."""

from __future__ import annotations

from maps.geometry import coarsened_heat_points, trimmed_outlines


def test_heat_points_are_merged_when_too_many() -> None:
    points = [(39.0 + i * 1e-5, 116.0 + (i % 100) * 1e-5, 1.0) for i in range(10_000)]
    merged = coarsened_heat_points(points, max_points=500)
    assert len(merged) <= 500
    assert max(p[2] for p in merged) == 1.0


def test_outlines_drop_finest_levels_when_too_many_vertices() -> None:
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    features = [
        {"type": "Feature", "geometry": square, "properties": {"level": level, "code": level}}
        for level in ["district"] + ["street"] * 3 + ["community"] * 10
    ]
    outlines = {"type": "FeatureCollection", "features": features}
    kept, dropped = trimmed_outlines(outlines, max_positions=20)
    assert dropped == ["community"] and len(kept["features"]) == 4
    kept, dropped = trimmed_outlines(outlines, max_positions=100)
    assert dropped == [] and len(kept["features"]) == 14
