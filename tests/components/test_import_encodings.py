"""Component files that are not UTF-8: refused naming the encoding and --encoding (CLI exit 1,
API 422, no traceback), and imported when the encoding is given."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid.accounts.models import Department
from tests.components.import_support import code, seed_block_and_departments, upload
from tests.grid.places import CELL_NW, CELL_SE, centre_of

NAMES = {1: "多福巷上水井盖", 2: "东华门污水井盖"}


@pytest.fixture
def block(session: Session) -> list[Department]:
    return seed_block_and_departments(session)


def gbk_csv(tmp_path: Path) -> Path:
    """Two manhole covers with Chinese names, as a CSV saved in GBK (as Excel does in China)."""
    lines = ["code,category,name,lon,lat"]
    for sequence, cell in ((1, CELL_NW), (2, CELL_SE)):
        lon, lat = centre_of(cell)
        lines.append(f"{code(sequence)},0101,{NAMES[sequence]},{lon},{lat}")
    path = tmp_path / "covers.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    return path


def names(session: Session) -> list[str]:
    return list(session.scalars(text("SELECT name FROM component ORDER BY code")))


def test_cli_refuses_a_gbk_csv_then_imports_it_with_encoding_gbk(
    run_cli: Callable[..., Result], session: Session, block: list[Department], tmp_path: Path
) -> None:
    path = gbk_csv(tmp_path)
    refused = run_cli("components", "import", str(path))
    assert refused.exit_code == 1
    assert "Traceback" not in refused.output
    said = " ".join(refused.output.split())
    assert "covers.csv is not UTF-8 text: it seems to be GBK" in said
    assert "--encoding GBK" in said
    assert names(session) == []
    imported = run_cli("components", "import", str(path), "--encoding", "GBK")
    assert imported.exit_code == 0, imported.output
    assert names(session) == [NAMES[1], NAMES[2]]


def test_api_refuses_a_gbk_csv_with_422_then_imports_it_with_the_encoding_field(
    client: TestClient, session: Session, block: list[Department], tmp_path: Path
) -> None:
    path = gbk_csv(tmp_path)
    refused = upload(client, session, path)
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "encoding"
    assert "seems to be GBK" in refused.json()["detail"]
    imported = upload(client, session, path, {"encoding": "GBK"})
    assert imported.status_code == 201, imported.text
    assert names(session) == [NAMES[1], NAMES[2]]
