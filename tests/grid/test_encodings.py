"""Grid files that are not UTF-8 (GBK from Chinese GIS desktops): refused with the encoding they
seem to be in and how to import them, never a traceback; imported with --encoding.

Files are the named test grid of `places`; parents are imported first (through the importer).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid.accounts.roles import Role
from grid.file_encoding import guess_encoding
from tests.grid.places import CELLS_IN_CODE_ORDER, Place
from tests.grid.test_import import cell_geometry, import_parents, post_import

Auth = Callable[[Role], dict[str, str]]
ASCII_NAMES = {cell: f"cell {number}" for number, cell in enumerate(CELLS_IN_CODE_ORDER, 1)}


def cells_json(names: dict[Place, str]) -> str:
    features = [
        {
            "type": "Feature",
            "properties": {"code": cell.code, "name": names[cell]},
            "geometry": json.loads(shapely.to_geojson(cell_geometry(cell))),
        }
        for cell in CELLS_IN_CODE_ORDER
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def gbk_file(tmp_path: Path) -> Path:
    """The four cells with their Chinese names, saved in GBK."""
    path = tmp_path / "cells_gbk.geojson"
    path.write_bytes(cells_json({cell: cell.name for cell in CELLS_IN_CODE_ORDER}).encode("gbk"))
    return path


def one_gbk_name(tmp_path: Path, *, others: str) -> Path:
    """A UTF-8 file in which only the third cell's (SW, index 2) name was saved in GBK; the
    other names are Chinese (`others="chinese"`) or plain ASCII (`others="ascii"`)."""
    names = {cell: cell.name if others == "chinese" else ASCII_NAMES[cell] for cell in ASCII_NAMES}
    bad = CELLS_IN_CODE_ORDER[2]
    names[bad] = "\x00BAD\x00"  # a marker swapped for the GBK bytes after encoding
    data = cells_json(names).encode("utf-8")
    data = data.replace(b"\\u0000BAD\\u0000", bad.name.encode("gbk"))
    path = tmp_path / "one_gbk.geojson"
    path.write_bytes(data)
    return path


def cell_names(session: Session) -> list[str]:
    return list(session.scalars(text("SELECT name FROM grid_cell ORDER BY code")))


def assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, UnicodeDecodeError)


# --- a whole file in GBK --------------------------------------------------------------------------


def test_cli_refuses_a_gbk_file_naming_the_encoding_and_the_option(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    result = run_cli("grid", "import", str(gbk_file(tmp_path)), "--level", "cell")
    assert result.exit_code == 1
    assert_no_traceback(result)
    flat = " ".join(result.output.split())
    assert "cells_gbk.geojson is not UTF-8 text: it seems to be GBK" in flat
    assert "--encoding GBK" in flat
    assert "iconv -f GBK -t UTF-8" in flat
    assert cell_names(session) == []


def test_cli_imports_a_gbk_file_with_encoding_gbk(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    path = gbk_file(tmp_path)
    result = run_cli("grid", "import", str(path), "--level", "cell", "--encoding", "GBK")
    assert result.exit_code == 0, result.output
    assert "imported 4 cell units" in result.output
    assert cell_names(session) == [cell.name for cell in CELLS_IN_CODE_ORDER]


def test_api_refuses_a_gbk_file_with_422_then_imports_it_with_the_encoding_field(
    client: TestClient, auth: Auth, session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    path = gbk_file(tmp_path)
    refused = post_import(client, auth, path)
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "encoding"
    assert "seems to be GBK" in refused.json()["detail"]
    assert "encoding=GBK" in refused.json()["detail"]
    imported = post_import(client, auth, path, {"encoding": "GBK"})
    assert imported.status_code == 201, imported.text
    assert cell_names(session) == [cell.name for cell in CELLS_IN_CODE_ORDER]


# --- a single feature's name in GBK ---------------------------------------------------------------


def test_a_single_gbk_name_in_an_otherwise_ascii_file_is_named_and_imports_with_gbk(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    path = one_gbk_name(tmp_path, others="ascii")
    refused = run_cli("grid", "import", str(path), "--level", "cell")
    assert refused.exit_code == 1
    assert_no_traceback(refused)
    flat = " ".join(refused.output.split())
    bad = CELLS_IN_CODE_ORDER[2]
    assert f"feature 2 (code {bad.code}), field name" in flat
    assert "seems to be GBK" in flat and "--encoding GBK" in flat
    imported = run_cli("grid", "import", str(path), "--level", "cell", "--encoding", "GBK")
    assert imported.exit_code == 0, imported.output
    assert cell_names(session)[2] == bad.name


def test_a_gbk_name_among_utf8_names_is_refused_naming_that_feature(
    client: TestClient, auth: Auth, session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    response = post_import(client, auth, one_gbk_name(tmp_path, others="chinese"))
    assert response.status_code == 422, response.text
    body = response.json()
    assert "1 of 4 features of one_gbk.geojson have text that is not UTF-8" in body["detail"]
    assert "seems to be GBK" in body["detail"]
    bad = CELLS_IN_CODE_ORDER[2]
    assert [(p["index"], p["code"]) for p in body["problems"]] == [(2, bad.code)]
    assert body["problems"][0]["reason"].startswith("name is not UTF-8 text")
    assert cell_names(session) == []


# --- Shapefiles, wrong and unknown encodings ------------------------------------------------------


def write_shapefile(tmp_path: Path, *, cpg: str | None) -> Path:
    """The cells as a Shapefile whose .dbf holds GBK text; its .cpg says `cpg` (None: absent)."""
    path = tmp_path / "cells.shp"
    pyogrio.raw.write(
        path,
        geometry=np.array([shapely.to_wkb(cell_geometry(c)) for c in CELLS_IN_CODE_ORDER]),
        field_data=[
            np.array([c.code for c in CELLS_IN_CODE_ORDER], dtype=object),
            np.array([c.name for c in CELLS_IN_CODE_ORDER], dtype=object),
        ],
        fields=["code", "name"],
        geometry_type="Polygon",
        crs="EPSG:4326",
        driver="ESRI Shapefile",
        encoding="GBK",
    )
    cpg_path = path.with_suffix(".cpg")
    if cpg is None:
        cpg_path.unlink(missing_ok=True)
    else:
        cpg_path.write_text(cpg)
    return path


def test_a_shapefile_whose_cpg_wrongly_says_utf8_is_refused_then_imported_with_gbk(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    path = write_shapefile(tmp_path, cpg="UTF-8")
    refused = run_cli("grid", "import", str(path), "--level", "cell")
    assert refused.exit_code == 1
    assert "seems to be GBK" in " ".join(refused.output.split())
    imported = run_cli("grid", "import", str(path), "--level", "cell", "--encoding", "GBK")
    assert imported.exit_code == 0, imported.output
    assert cell_names(session) == [cell.name for cell in CELLS_IN_CODE_ORDER]


def test_a_shapefile_without_cpg_is_not_silently_read_as_latin1(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    import_parents(session)
    path = write_shapefile(tmp_path, cpg=None)
    refused = run_cli("grid", "import", str(path), "--level", "cell")
    assert refused.exit_code == 1
    flat = " ".join(refused.output.split())
    assert "no .cpg file" in flat and "seems to be GBK" in flat and "--encoding GBK" in flat
    imported = run_cli("grid", "import", str(path), "--level", "cell", "--encoding", "GBK")
    assert imported.exit_code == 0, imported.output
    assert cell_names(session) == [cell.name for cell in CELLS_IN_CODE_ORDER]


def test_a_utf8_file_read_as_gbk_says_it_is_utf8(
    run_cli: Callable[..., Result], session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "utf8.geojson"
    path.write_text(cells_json({cell: cell.name for cell in CELLS_IN_CODE_ORDER}), "utf-8")
    result = run_cli("grid", "import", str(path), "--level", "cell", "--encoding", "GBK")
    assert result.exit_code == 1
    flat = " ".join(result.output.split())
    assert "utf8.geojson is not GBK text: it seems to be UTF-8" in flat
    assert "without --encoding" in flat


def test_an_unknown_encoding_is_refused_naming_the_field(
    client: TestClient, auth: Auth, session: Session, tmp_path: Path
) -> None:
    response = post_import(client, auth, gbk_file(tmp_path), {"encoding": "klingon"})
    assert response.status_code == 422
    assert response.json()["field"] == "encoding"
    assert "unknown encoding 'klingon'" in response.json()["detail"]


def test_guess_encoding_names_chinese_encodings_first() -> None:
    guesses: dict[str, Any] = {
        "GBK": "多福巷三号网格".encode("gbk"),  # charset-normalizer alone says cp949 here
        "UTF-8": "多福巷三号网格".encode(),
        "Big5": "臺北市信義區".encode("big5"),
    }
    assert {name: guess_encoding(data) for name, data in guesses.items()} == {
        name: name for name in guesses
    }
