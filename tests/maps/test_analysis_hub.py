"""The analysis hub: managers find every analysis from their navigation, with what each answers
and how accurate the category suggestions measured."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from events.suggestions.models import SuggestionModel

Headers = Callable[[Role], dict[str, str]]


def test_the_hub_leads_to_every_analysis_in_chinese(client: TestClient, auth: Headers) -> None:
    page = client.get("/analysis", headers=auth(Role.MANAGER))
    assert page.status_code == 200
    assert 'href="/analysis"' in page.text  # in the manager's navigation
    for href, title in (
        ("/maps/emerging", "时空热点趋势"),
        ("/analysis/forecast", "案卷预测"),
        ("/recurrences", "结案后复发"),
    ):
        assert f'<a href="{href}">{title}</a>' in page.text
    assert "尚未训练模型" in page.text


def test_the_hub_shows_the_suggestion_models_accuracy(
    client: TestClient, auth: Headers, session: Session
) -> None:
    session.add(
        SuggestionModel(
            trained_at=datetime(2026, 12, 1, 2, 30, tzinfo=UTC),
            cases=12000, corrections=40, held_out=2400, held_out_from=None, categories=30,
            top1=0.912, top3=0.987, floor=0.9, enabled=True, seconds=4.2, size_bytes=1000,
            model=b"",
        )
    )  # fmt: skip
    session.flush()
    page = client.get("/analysis", headers={**auth(Role.DISPATCHER), "Accept-Language": "en"})
    assert page.status_code == 200
    table = page.text[page.text.index('id="suggestion-model-table"') :]
    assert "2026-12-01 10:30" in table  # city time
    assert "91.2 %" in table and "98.7 %" in table and "12,000" in table and ">yes<" in table


def test_the_hub_is_for_staff_who_plan(client: TestClient, auth: Headers) -> None:
    assert client.get("/analysis", headers=auth(Role.INSPECTOR)).status_code == 403
    assert client.get("/analysis", headers=auth(Role.DEPARTMENT)).status_code == 403
