"""The service standard's limits, its data file, overrides, and the masks (pure: no database)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from citygrid.settings import get_settings
from events.hotline import service
from events.hotline.standard import (
    DEFAULT_LIMITS,
    LIMIT_NAMES,
    Limit,
    StandardError,
    UrgencyClass,
    mask_name,
    mask_phone,
    service_limits,
)

DATA_FILE = Path(service.DEFAULT_STANDARD)


@pytest.mark.parametrize(
    ("urgency", "dispatch_hours", "reply_hours"),
    [
        (UrgencyClass.EMERGENCY, 1, 24),
        (UrgencyClass.UTILITIES, 2, 24),
        (UrgencyClass.GENERAL, 24, 168),
        ("紧急", 1, 24),
        ("水电气热", 2, 24),
        ("一般", 24, 168),
    ],
)
def test_beijing_defaults(
    urgency: UrgencyClass | str, dispatch_hours: float, reply_hours: float
) -> None:
    limits = service_limits(urgency)
    assert limits.dispatch == Limit(dispatch_hours, working_time=False)
    assert limits.reply.hours == reply_hours and not limits.reply.working_time


def test_the_data_file_holds_the_defaults_with_provenance() -> None:
    loaded = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))
    for urgency in UrgencyClass:
        entry = loaded["limits"][urgency.value]
        for name in LIMIT_NAMES:
            limit = getattr(DEFAULT_LIMITS[urgency], name)
            assert entry[name]["hours"] == limit.hours, (urgency, name)
            assert entry[name]["working_time"] == limit.working_time, (urgency, name)
            assert entry[name]["provenance"] in {"issue", "secondary", "inferred"}
            if entry[name]["provenance"] != "inferred":
                assert entry[name]["ref"] in loaded["meta"]["sources"]
    assert service_limits("general", loaded) == DEFAULT_LIMITS[UrgencyClass.GENERAL]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"general": {"reply": {"hours": 120}}}, Limit(120, working_time=False)),
        ({"limits": {"general": {"reply": 48}}}, Limit(48, working_time=False)),
        ({"general": {"reply": {"hours": 40, "working_time": True}}}, Limit(40, working_time=True)),
        ({"emergency": {"reply": 1}}, DEFAULT_LIMITS[UrgencyClass.GENERAL].reply),
    ],
)
def test_overrides_change_only_what_they_name(overrides: dict[str, Any], expected: Limit) -> None:
    limits = service_limits(UrgencyClass.GENERAL, overrides)
    assert limits.reply == expected
    assert limits.dispatch == DEFAULT_LIMITS[UrgencyClass.GENERAL].dispatch


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"urgent": {}}, "unknown urgency class 'urgent'"),
        ({"general": {"answer": 3}}, r"general.answer: unknown limit"),
        ({"general": {"reply": {"hours": -1}}}, r"general.reply.hours must be a number"),
        ({"general": {"reply": {"hours": 2, "working_time": "yes"}}}, "must be true or false"),
        ({"general": {"reply": "soon"}}, "give hours or"),
        ({"general": [1]}, "must be a mapping"),
    ],
)
def test_a_wrong_standard_is_refused_naming_the_entry(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(StandardError, match=message):
        service_limits(UrgencyClass.GENERAL, overrides)


def test_the_setting_points_at_another_standard(tmp_path: Path) -> None:
    path = tmp_path / "standard.yaml"
    path.write_text("limits:\n  utilities:\n    dispatch: {hours: 0.5}\n", encoding="utf-8")
    settings = get_settings().model_copy(update={"hotline_service_standard": path})
    assert service.limits_of(settings, "utilities").dispatch == Limit(0.5, working_time=False)
    assert service.limits_of(settings, "general") == DEFAULT_LIMITS[UrgencyClass.GENERAL]
    bad = tmp_path / "bad.yaml"
    bad.write_text("limits:\n  general:\n    reply: {hours: 0}\n", encoding="utf-8")
    broken = get_settings().model_copy(update={"hotline_service_standard": bad})
    with pytest.raises(StandardError, match=r"general.reply.hours"):
        service.limits_of(broken, "general")


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),
        ("010-65123456", "010****3456"),
        ("65123456", "****3456"),
        ("12345", "*****"),
        ("", ""),
        (None, ""),
    ],
)
def test_phones_are_masked(phone: str | None, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("欧阳娜娜", "欧***"), ("李", "李*"), ("", ""), (None, "")],
)
def test_names_are_masked(name: str | None, masked: str) -> None:
    assert mask_name(name) == masked
