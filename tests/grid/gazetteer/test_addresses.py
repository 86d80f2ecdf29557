"""The normal form of Chinese addresses (pure: no database)."""

from __future__ import annotations

import pytest

from grid.places.addresses import (
    ParsedAddress,
    chinese_number,
    normalise_address,
    parse_address,
)
from grid.places.messy import GazetteerEntry, messy_addresses


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("东四北大街5号", "东四北大街5号"),
        ("北京市東城區东四北大街５号院３栋二单元附近", "东四北大街5号3号楼2单元"),
        ("东城区东四街道东四北大街5号", "东四北大街5号"),
        ("3号楼 东四北大街5号院", "东四北大街5号3号楼"),
        ("东四北大街 一百零五号", "东四北大街105号"),
        ("东四十条甲5号", "东四十条甲5号"),  # 十 of the alley's name stays a numeral
        ("东四3条12号", "东四三条12号"),
        ("地址是北京协和医院门口", "北京协和医院"),
        ("北京站", "北京站"),  # 北京 is a prefix only before a district
        ("东四北大街15号院2号楼3单元401室", "东四北大街15号2号楼3单元"),
        ("东四八條十二號院二#", "东四八条12号2号楼"),
        ("  ，。 ", ""),
    ],
)
def test_normal_form(written: str, normal: str) -> None:
    assert normalise_address(written) == normal


def test_parts_of_an_address() -> None:
    assert parse_address("東城區東四北大街甲5號院3座2门401") == ParsedAddress(
        road="东四北大街", number="甲5", building="3", unit="2", room="401"
    )


@pytest.mark.parametrize(
    ("numeral", "value"), [("五", 5), ("十", 10), ("十五", 15), ("一百零五", 105), ("二〇三", 203)]
)
def test_chinese_numbers(numeral: str, value: int) -> None:
    assert chinese_number(numeral) == value


def test_messy_addresses_are_labelled_and_repeatable() -> None:
    entries = [GazetteerEntry(1, 10, "东四北大街5号院3号楼"), GazetteerEntry(2, 20, "北京协和医院")]
    first = messy_addresses(entries, 50, seed=3)
    assert first == messy_addresses(entries, 50, seed=3)
    assert {address.place_id for address in first} == {1, 2}
    for address in first:
        assert address.cell_id == {1: 10, 2: 20}[address.place_id]
        assert 1 <= len(address.variations) <= 3
    # However messy, the house number survives normalisation (the matcher needs it exact).
    numbered = [a for a in first if a.place_id == 1 and "typo" not in a.variations]
    assert numbered
    assert all(parse_address(a.text).number == "5" for a in numbered)
