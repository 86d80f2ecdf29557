"""`citygrid devices import FILE`: devices from CSV or GeoJSON, all or nothing.

CSV columns: id, type, lon, lat, and optionally name, component_code, status, hold_s,
heartbeat_s, thresholds ("tilt_deg=20;…"). GeoJSON: Point features with the same properties.
Coordinates are in the file's datum (WGS-84, GCJ-02 or BD-09, as for the grid imports) and
stored in WGS-84. Every row is checked (type, place in the grid, component code, overrides);
one bad row refuses the whole file, with every problem listed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from citygrid.errors import CitygridError, ImportRejected, InvalidInput
from grid.import_toolkit import problem
from sensing.devices import service
from sensing.devices.service import DeviceSpec


def rows_of(path: Path) -> Iterator[tuple[Mapping[str, Any], float | None, float | None]]:
    """Each row's properties and its coordinates as given."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = path.read_text(encoding="utf-8-sig")
        for row in csv.DictReader(io.StringIO(text)):
            yield row, _number(row.get("lon")), _number(row.get("lat"))
    elif suffix in (".geojson", ".json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        for feature in document.get("features") or []:
            geometry = feature.get("geometry") or {}
            coordinates = geometry.get("coordinates") or [None, None]
            if geometry.get("type") != "Point" or len(coordinates) < 2:
                coordinates = [None, None]
            yield feature.get("properties") or {}, _number(coordinates[0]), _number(coordinates[1])
    else:
        raise InvalidInput(f"{path.name}: use a .csv, .geojson or .json file", field="file")


def _number(value: object) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _thresholds(raw: object) -> dict[str, float]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):
        return {str(key): float(value) for key, value in raw.items()}
    pairs = [part.split("=", 1) for part in str(raw).split(";") if part.strip()]
    return {name.strip(): float(value) for name, value in pairs}


def spec_of(row: Mapping[str, Any], lon: float | None, lat: float | None, datum: str) -> DeviceSpec:
    if lon is None or lat is None:
        raise InvalidInput("lon and lat must be numbers", field="lon/lat")
    device_id = str(row.get("id") or "").strip()
    try:
        thresholds = _thresholds(row.get("thresholds"))
    except ValueError as error:
        raise InvalidInput("write thresholds as metric=number;…", field="thresholds") from error
    hold = _number(row.get("hold_s"))
    heartbeat = _number(row.get("heartbeat_s"))
    return DeviceSpec(
        id=device_id,
        device_type=str(row.get("type") or row.get("device_type") or "").strip(),
        lon=lon,
        lat=lat,
        datum=datum,
        name=(str(row["name"]).strip() or None) if row.get("name") else None,
        component_code=(str(row["component_code"]).strip() or None)
        if row.get("component_code")
        else None,
        thresholds=thresholds,
        hold_s=hold,
        heartbeat_s=int(heartbeat) if heartbeat is not None else None,
        status=str(row.get("status") or "active").strip(),
    )


def import_devices(session: Session, path: Path, *, datum: str, snap_m: float) -> int:
    """Register every device of the file, or none: ImportRejected with each row's problem."""
    problems = []
    seen: set[str] = set()
    total = 0
    with session.begin_nested() as savepoint:
        for index, (row, lon, lat) in enumerate(rows_of(path)):
            total += 1
            code = str(row.get("id") or "") or None
            try:
                spec = spec_of(row, lon, lat, datum)
                if spec.id in seen:
                    raise InvalidInput(f"device {spec.id} appears twice in the file", field="id")
                seen.add(spec.id)
                service.create_device(session, spec, snap_m=snap_m)
            except CitygridError as error:
                field = f"{error.field}: " if error.field else ""
                problems.append(problem(index, code, f"{field}{error.message}"))
        if problems:
            savepoint.rollback()
    if problems:
        raise ImportRejected(
            f"{len(problems)} of {total} devices have problems; nothing was written",
            problems=problems,
        )
    return total
