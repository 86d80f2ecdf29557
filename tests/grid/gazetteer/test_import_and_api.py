"""`citygrid places import` (all or nothing, problems by row, GBK refused) and the places API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from tests.grid.places import CELL_NE, CELL_NW, DISTRICT, centre_of, seed_block

NW = centre_of(CELL_NW)
NE = centre_of(CELL_NE)


def write_csv(tmp_path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path = tmp_path / "places.csv"
    path.write_text("\n".join(["name,kind,lon,lat", *lines]) + "\n", encoding=encoding)
    return path


def count_places(session: Session) -> int:
    return int(session.scalar(text("SELECT count(*) FROM place")) or 0)


def test_import_then_match_then_repeat(
    session: Session, run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    seed_block(session)
    path = write_csv(
        tmp_path,
        [f"东四北大街5号,address,{NW[0]},{NW[1]}", f"北京协和医院,poi,{NE[0]},{NE[1]}"],
    )
    imported = run_cli("places", "import", str(path), "--district", DISTRICT.code)
    assert imported.exit_code == 0, imported.output
    assert "2 places added" in imported.output
    again = run_cli("places", "import", str(path), "--district", DISTRICT.code)
    assert "0 places added, 2 already in the gazetteer" in again.output
    matched = run_cli("places", "match", "東四北大街五號門口")
    assert matched.exit_code == 0, matched.output
    assert "located: 东四北大街5号" in matched.output


def test_a_bad_row_refuses_the_whole_file(
    session: Session, run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    seed_block(session)
    path = write_csv(
        tmp_path,
        [
            f"东四北大街5号,address,{NW[0]},{NW[1]}",
            f"东四北大街7号,shop,{NW[0]},{NW[1]}",
            f",address,{NW[0]},{NW[1]}",
            "东四北大街9号,address,abc,39.9",
            "东四北大街11号,address,117.5,40.5",
            f"東四北大街5號,address,{NE[0]},{NE[1]}",
        ],
    )
    refused = run_cli("places", "import", str(path), "--district", DISTRICT.code)
    assert refused.exit_code == 1
    for reason in (
        "kind is 'shop'",
        "name is empty",
        "lon is 'abc', not a number",
        "lies in none of the cells of district 110101",
        "the same place as row 0",
    ):
        assert reason in refused.output, refused.output
    assert count_places(session) == 0


def test_gbk_file_is_refused_naming_the_encoding(
    session: Session, run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    seed_block(session)
    path = write_csv(tmp_path, [f"东四北大街5号,address,{NW[0]},{NW[1]}"], encoding="gbk")
    refused = run_cli("places", "import", str(path), "--district", DISTRICT.code)
    assert refused.exit_code == 1
    assert "GBK" in refused.output and "--encoding" in refused.output
    assert count_places(session) == 0
    accepted = run_cli(
        "places", "import", str(path), "--district", DISTRICT.code, "--encoding", "GBK"
    )
    assert accepted.exit_code == 0, accepted.output
    assert count_places(session) == 1


def test_gcj02_points_are_converted(
    session: Session, run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    seed_block(session)
    # GCJ-02 is about 600 m off WGS-84 in Beijing: a WGS-84 point in NW given as GCJ-02 moves out.
    path = write_csv(tmp_path, [f"东四北大街5号,address,{NW[0]},{NW[1]}"])
    refused = run_cli(
        "places", "import", str(path), "--district", DISTRICT.code, "--datum", "gcj02"
    )
    assert refused.exit_code == 1 and "lies in none of the cells" in refused.output


def test_api_match_and_search(
    session: Session,
    client: TestClient,
    auth: Callable[[Role], dict[str, str]],
    run_cli: Callable[..., Result],
    tmp_path: Path,
) -> None:
    seed_block(session)
    path = write_csv(
        tmp_path,
        [f"东四北大街{n}号,address,{NW[0]},{NW[1]}" for n in range(1, 8)],
    )
    assert run_cli("places", "import", str(path), "--district", DISTRICT.code).exit_code == 0
    headers = auth(Role.DISPATCHER)
    answer = client.get(
        "/api/places/match", params={"address": "东四北大街3号附近"}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["normalised"] == "东四北大街3号"
    assert body["located"]["label"] == "东四北大街3号"
    first = client.get("/api/places", params={"q": "东四北大街", "limit": 4}, headers=headers)
    assert first.status_code == 200
    page = first.json()
    assert len(page["places"]) == 4 and page["next_after"] is not None
    rest = client.get(
        "/api/places",
        params={"q": "东四北大街", "limit": 4, "after": page["next_after"]},
        headers=headers,
    ).json()
    assert len(rest["places"]) == 3 and rest["next_after"] is None
    names = {p["name"] for p in page["places"] + rest["places"]}
    assert len(names) == 7


def test_api_refuses_bad_input_and_citizens(
    client: TestClient, auth: Callable[[Role], dict[str, str]]
) -> None:
    staff = auth(Role.DISPATCHER)
    assert client.get("/api/places/match", params={"address": ""}, headers=staff).status_code == 422
    too_long = client.get("/api/places/match", params={"address": "街" * 201}, headers=staff)
    assert too_long.status_code == 422
    bad_district = client.get(
        "/api/places/match", params={"address": "东四", "district": "x"}, headers=staff
    )
    assert bad_district.status_code == 422
    citizen = client.get(
        "/api/places/match", params={"address": "东四"}, headers=auth(Role.CITIZEN)
    )
    assert citizen.status_code == 403
