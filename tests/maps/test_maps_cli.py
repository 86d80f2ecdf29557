"""`citygrid maps export`: a map as one standalone HTML file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from tests.maps.page_support import ASSET_LINK, embedded_geojson


def test_export_writes_a_standalone_choropleth(
    run_cli: Callable[..., Result], planted_city: int, tmp_path: Path
) -> None:
    out = tmp_path / "streets.html"
    result = run_cli(
        "maps", "export", "choropleth", "--from", "2026-11-01", "--to", "2026-11-20",
        "--unit", "street", "--scheme", "natural_breaks", "--classes", "2", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    page = out.read_text(encoding="utf-8")
    assert ASSET_LINK.findall(page) == [] and "/maps/assets/" not in page
    assert "Table view" not in page  # no application to link to
    (streets,) = [fc for fc in embedded_geojson(page) if len(fc["features"]) == 2]
    assert {f["properties"]["value"] for f in streets["features"]} == {"470", "200"}


@pytest.mark.parametrize(
    ("arguments", "exit_code", "message"),
    [
        (["--area", "999"], 1, "no district, street or community with code 999"),
        (["--from", "yesterday"], 2, "is not an ISO date"),
        (["--scheme", "user"], 1, "scheme=user needs bounds"),
    ],
)
def test_export_refuses_bad_filters(
    run_cli: Callable[..., Result],
    tmp_path: Path,
    arguments: list[str],
    exit_code: int,
    message: str,
) -> None:
    out = tmp_path / "map.html"
    result = run_cli("maps", "export", "choropleth", *arguments, "--out", str(out))
    assert result.exit_code == exit_code
    assert message in result.output
    assert not out.exists()


def test_export_speaks_chinese_unless_told_and_reads_dates_as_city_days(
    run_cli: Callable[..., Result], planted_city: int, tmp_path: Path
) -> None:
    chinese, english = tmp_path / "zh.html", tmp_path / "en.html"
    period = ["--from", "2026-11-01", "--to", "2026-11-20"]
    assert run_cli("maps", "export", "heatmap", *period, "--out", str(chinese)).exit_code == 0
    result = run_cli("maps", "export", "heatmap", *period, "--lang", "en", "--out", str(english))
    assert result.exit_code == 0, result.output
    page = chinese.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and "<h1>上报热力图</h1>" in page
    assert "2026-11-01 00:00 – 2026-11-20 00:00" in page  # midnight in the city, not UTC
    assert "<h1>Heatmap of reports</h1>" in english.read_text(encoding="utf-8")
    refused = run_cli("maps", "export", "heatmap", "--lang", "fr", "--out", str(tmp_path / "x"))
    assert refused.exit_code == 2 and "zh-CN, en" in refused.output
