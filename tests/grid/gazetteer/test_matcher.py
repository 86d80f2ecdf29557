"""The matcher over a small gazetteer in PostGIS: typos, the number trap, ambiguity, batches."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from grid.places.imports import PlaceRow, write_places
from grid.places.service import match_address, match_addresses
from tests.grid.places import CELL_NE, CELL_NW, CELL_SE, CELL_SW, DISTRICT, centre_of, seed_block

GAZETTEER = (
    ("东四北大街5号", CELL_NW),
    ("东四北大街15号", CELL_NE),
    ("东四北大街105号", CELL_SW),
    ("东四北大街5号院3号楼", CELL_SE),
    ("东四北大街7号", CELL_NE),
    ("东四南大街5号", CELL_SE),
    ("北京协和医院", CELL_SW),
)


@pytest.fixture
def gazetteer(session: Session) -> dict[str, int]:
    """The places above, one in each named cell; their cell ids by name."""
    seed_block(session)
    rows = [
        PlaceRow(i, name, "poi" if "医院" in name else "address", *centre_of(cell))
        for i, (name, cell) in enumerate(GAZETTEER)
    ]
    report = write_places(session, rows, district_code=DISTRICT.code, source="test")
    assert report.added == len(GAZETTEER)
    cells = session.execute(text("SELECT name, cell_id FROM place WHERE source = 'test'"))
    return {name: cell for name, cell in cells}


@pytest.mark.parametrize(
    ("written", "standard"),
    [
        ("东四北大街5号", "东四北大街5号"),
        ("北京市东城区东四北大街五号附近", "东四北大街5号"),
        ("东城区 东四北大街１５号对面", "东四北大街15号"),
        ("東四北大街105號", "东四北大街105号"),
        ("东寺北大街15号", "东四北大街15号"),  # a homophone typo
        ("3栋 东四北大街5号院", "东四北大街5号院3号楼"),
        ("协和医院门口", "北京协和医院"),
    ],
)
def test_messy_addresses_are_located(
    session: Session, gazetteer: dict[str, int], written: str, standard: str
) -> None:
    found = match_address(session, written, district_code=DISTRICT.code, threshold=0.6)
    assert found.located is not None, found.candidates
    assert found.located.label == standard
    assert found.located.cell_id == gazetteer[standard]
    assert 0.6 <= found.located.confidence <= 1.0


def test_number_trap_5_is_never_15(session: Session, gazetteer: dict[str, int]) -> None:
    found = match_address(session, "东四北大街5号", threshold=0.6)
    assert found.located is not None and found.located.label == "东四北大街5号"
    labels = [candidate.label for candidate in found.candidates]
    assert "东四北大街15号" not in labels and "东四北大街105号" not in labels
    # A number the gazetteer does not hold locates nothing, however alike the road.
    assert match_address(session, "东四北大街25号", threshold=0.6).located is None


def test_ambiguous_and_unknown_addresses_wait(session: Session, gazetteer: dict[str, int]) -> None:
    # 5号 of 东四北大街 or of 东四南大街: two cells, one typo apart.
    ambiguous = match_address(session, "东四大街5号", threshold=0.6)
    assert ambiguous.located is None
    assert {c.label for c in ambiguous.candidates} >= {"东四北大街5号", "东四南大街5号"}
    assert match_address(session, "朝阳门外大街1号", threshold=0.6).candidates == []
    assert match_address(session, "，。", threshold=0.6).candidates == []
    assert match_address(session, "东四北大街5号", district_code="110102").candidates == []


def test_batch_answers_in_order(session: Session, gazetteer: dict[str, int]) -> None:
    texts = ["东四北大街15号", "不存在的地方", "东四北大街5号"]
    batch = match_addresses(session, texts, threshold=0.6)
    assert [m.located.label if m.located else None for m in batch] == [
        "东四北大街15号",
        None,
        "东四北大街5号",
    ]
    one_by_one = [match_address(session, t, threshold=0.6) for t in texts]
    assert batch == one_by_one
