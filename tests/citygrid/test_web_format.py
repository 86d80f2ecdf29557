"""How pages write durations and times: citygrid.web.format_duration, format_time_left and the
templates' filters, in both languages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from citygrid.i18n import translations
from citygrid.web import format_duration, format_time_left, template_environment

ZH = translations("zh-CN").gettext
EN = translations("en").gettext


@pytest.mark.parametrize(
    ("hours", "chinese", "english"),
    [
        (0.0, "0 分钟", "0 min"),
        (0.25, "15 分钟", "15 min"),
        (59.4 / 60, "59 分钟", "59 min"),
        (59.6 / 60, "1 小时", "1 h"),  # 60 minutes once rounded: an hour
        (1.49, "1 小时", "1 h"),
        (1.5, "2 小时", "2 h"),  # half up, not to even
        (23.4, "23 小时", "23 h"),
        (23.6, "1 天", "1 d"),  # 24 hours once rounded: a day
        (24.0, "1 天", "1 d"),
        (76.0, "3 天 4 小时", "3 d 4 h"),
        (2109.0, "87 天 21 小时", "87 d 21 h"),  # the demo's wait that read "2109.0 小时"
        (-76.0, "3 天 4 小时", "3 d 4 h"),  # a length: the sign is the caller's to say
    ],
)
def test_a_duration_reads_as_minutes_hours_or_days_and_hours(
    hours: float, chinese: str, english: str
) -> None:
    assert format_duration(hours, ZH) == chinese
    assert format_duration(hours, EN) == english


@pytest.mark.parametrize(
    ("hours", "chinese", "english"),
    [
        (50.0, "剩余 2 天 2 小时", "2 d 2 h left"),
        (0.5, "剩余 30 分钟", "30 min left"),
        (-452.1, "超时 18 天 20 小时", "overdue by 18 d 20 h"),
        (-0.2, "超时 12 分钟", "overdue by 12 min"),
    ],
)
def test_time_left_says_overdue_when_the_deadline_has_passed(
    hours: float, chinese: str, english: str
) -> None:
    assert format_time_left(hours, ZH) == chinese
    assert format_time_left(hours, EN) == english


def test_templates_have_duration_time_left_and_city_time_filters() -> None:
    """Every template can write a span or a time without a helper of its page."""
    source = (
        "{{ waited|duration }} · {{ left|time_left }} · {{ format_duration(waited) }} · "
        "{{ moment|city_time }} · [{{ nothing|city_time }}]"
    )
    moment = datetime(2026, 11, 26, 22, 46, tzinfo=UTC)  # 06:46 the next day in Beijing
    values = {"waited": 2109.0, "left": -3.0, "moment": moment, "nothing": None}
    chinese = template_environment("zh-CN").from_string(source).render(values)
    assert chinese == "87 天 21 小时 · 超时 3 小时 · 87 天 21 小时 · 2026-11-27 06:46 · []"
    english = template_environment("en").from_string(source).render(values)
    assert english == "87 d 21 h · overdue by 3 h · 87 d 21 h · 2026-11-27 06:46 · []"
