"""The devices registry: admin API (register, list in pages, read, change status), the import
command (all or nothing, per-row problems, datum) and the sources command."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid.accounts.roles import Role
from grid.geometry import GCJ02, converter_to_wgs84
from sensing.models import SensingDevice, SensingSource
from tests.grid.places import CELL_NE, CELL_NW, centre_of
from tests.sensing.support import COVER_CODE, seed_cover


def test_admin_registers_lists_and_retires_devices(
    client: TestClient, session: Session, auth: Callable[[Role], dict[str, str]]
) -> None:
    seed_cover(session)
    admin = auth(Role.ADMIN)
    lon, lat = centre_of(CELL_NW)
    for number in range(3):
        body = {"id": f"TILT-{number}", "device_type": "manhole_tilt", "lon": lon, "lat": lat,
                "component_code": COVER_CODE, "thresholds": {"tilt_deg": 20}}  # fmt: skip
        created = client.post("/api/sensing/devices", json=body, headers=admin)
        assert created.status_code == 201, created.text
    assert created.json()["cell_code"] == CELL_NW.code
    assert created.json()["component_code"] == COVER_CODE
    again = client.post("/api/sensing/devices", json=body, headers=admin)
    assert again.status_code == 409
    page = client.get("/api/sensing/devices?limit=2", headers=admin).json()
    assert [d["id"] for d in page["devices"]] == ["TILT-0", "TILT-1"]
    rest = client.get(f"/api/sensing/devices?limit=2&after={page['next_after']}", headers=admin)
    assert [d["id"] for d in rest.json()["devices"]] == ["TILT-2"]
    assert rest.json()["next_after"] is None
    retired = client.patch("/api/sensing/devices/TILT-1", json={"status": "retired"}, headers=admin)
    assert retired.json()["status"] == "retired"
    assert client.get("/api/sensing/devices/NOPE", headers=admin).status_code == 404
    refused = client.post("/api/sensing/devices", json=body, headers=auth(Role.DISPATCHER))
    assert refused.status_code == 403
    bad = {**body, "id": "X-1", "thresholds": {"fill_pct": 50}}
    answer = client.post("/api/sensing/devices", json=bad, headers=admin)
    assert answer.status_code == 422 and answer.json()["field"] == "thresholds"


def test_import_is_all_or_nothing_and_converts_the_datum(
    session: Session, run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    seed_cover(session)
    nw, ne = centre_of(CELL_NW), centre_of(CELL_NE)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,type,lon,lat,component_code\n"
        f"TILT-1,manhole_tilt,{nw[0]},{nw[1]},{COVER_CODE}\n"
        f"BIN-1,bin_fill,{ne[0]},{ne[1]},\n"
        f"X-1,toaster,{ne[0]},{ne[1]},\n"
        f"X-2,bin_fill,abc,{ne[1]},\n",
        encoding="utf-8",
    )
    result = run_cli("devices", "import", str(bad))
    assert result.exit_code == 1
    assert "toaster" in result.output or "device_type" in result.output
    assert session.scalar(select(func.count()).select_from(SensingDevice)) == 0
    # GCJ-02 coordinates of the NE centre: stored converted to WGS-84.
    gcj = _wgs84_to_gcj02(*ne)
    good = tmp_path / "good.geojson"
    point = {"type": "Point", "coordinates": list(gcj)}
    properties = {"id": "BIN-1", "type": "bin_fill", "heartbeat_s": 600}
    features = [{"type": "Feature", "geometry": point, "properties": properties}]
    good.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    result = run_cli("devices", "import", str(good), "--datum", "GCJ-02")
    assert result.exit_code == 0, result.output
    device = session.get(SensingDevice, "BIN-1")
    assert device is not None and device.heartbeat_s == 600
    lon = session.scalar(select(func.ST_X(SensingDevice.geom)).where(SensingDevice.id == "BIN-1"))
    assert lon is not None and abs(lon - ne[0]) < 1e-5


def _wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """The GCJ-02 point whose WGS-84 is (lon, lat), found by iterating the inverse."""
    back = converter_to_wgs84(GCJ02)
    guess = np.array([[lon, lat]], dtype=float)
    for _ in range(10):
        wgs = back(guess)
        guess = guess + (np.array([[lon, lat]]) - wgs)
    return float(guess[0, 0]), float(guess[0, 1])


def test_sources_are_issued_listed_and_revoked(
    session: Session, run_cli: Callable[..., Result]
) -> None:
    issued = run_cli("sensing", "sources", "issue", "county-ai", "--threshold", "0.7")
    assert issued.exit_code == 0, issued.output
    assert "X-Api-Key" in issued.output
    listed = run_cli("sensing", "sources", "list")
    assert "county-ai" in listed.output and "0.7" in listed.output
    assert run_cli("sensing", "sources", "revoke", "county-ai").exit_code == 0
    source = session.scalar(select(SensingSource).where(SensingSource.code == "county-ai"))
    assert source is not None and source.revoked_at is not None
