"""Category suggestions: the classifier on a generated corpus, training through the CLI over the
city's cases, the suggestions in the intake answer and on the pages, and corrections that the
next training learns from."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from citygrid.accounts.models import User
from citygrid.accounts.roles import Role
from events.lifecycle import CaseStatus
from events.models import Case, CaseTransition, Category
from events.suggestions import classifier, corpus, service
from events.suggestions.models import CategoryCorrection, CategorySuggestion, SuggestionModel
from events.taxonomy import DEFAULT_TAXONOMY, Level, read_taxonomy
from tests.conftest import throwaway_database
from tests.events.intake.support import headers_for, seed_intake
from tests.events.seed import add_case, add_user
from tests.grid.places import CELL_NW, centre_of

ROOT = Path(__file__).resolve().parents[3]
STANDARD = "GB/T 30428.2-2013"
# Ten shipped categories with distinct names: the city's own cases are generated from them.
CODES = (
    ("component", "0101"),
    ("component", "0301"),
    ("component", "0403"),
    ("event", "0101"),
    ("event", "0102"),
    ("event", "0103"),
    ("event", "0201"),
    ("event", "0301"),
    ("event", "0405"),
    ("event", "0501"),
)
BIKES = "共享单车乱停放堵塞盲道"  # words no generated description has


@pytest.fixture(autouse=True)
def fresh_model_cache() -> Iterator[None]:
    """Each test starts with nothing loaded (the cache is per process; tests roll back)."""
    service.MODELS.forget()
    yield
    service.MODELS.forget()


def corpus_categories() -> list[corpus.CorpusCategory]:
    """The shipped taxonomy's minor categories, one per distinct Chinese name."""
    taxonomy = read_taxonomy(DEFAULT_TAXONOMY)
    names: dict[str, str] = {}
    for entry in taxonomy.of_level(Level.MINOR):
        names.setdefault(entry.name_zh, entry.kind.value)
    return [corpus.CorpusCategory(i, kind, name) for i, (name, kind) in enumerate(names.items())]


def test_generated_corpus_top3_on_the_latest_slice_is_at_least_95_percent() -> None:
    categories = corpus_categories()
    assert len(categories) > 100
    pairs = list(corpus.descriptions(categories, 20_000, seed=11))
    trained = classifier.train([p[0] for p in pairs], [p[1] for p in pairs])
    assert trained.held_out.texts == 4_000
    assert trained.held_out.top3 >= 0.95, trained.held_out
    assert trained.held_out.top1 >= 0.85, trained.held_out
    # Saved and read back (plain arrays, no pickle), it suggests the same, fast path or not.
    model = classifier.Model.from_bytes(trained.model.to_bytes())
    for description, _ in pairs[:20]:
        fast = model.text_scores(description)
        assert fast is not None
        slow = model.scores(model.weighted(classifier.counts([classifier.tokens(description)])))
        np.testing.assert_allclose(fast, slow[0], rtol=1e-4, atol=1e-3)
    suggested = model.suggest(pairs[-1][0])
    assert len(suggested) == 3
    assert [s.probability for s in suggested] == sorted(
        (s.probability for s in suggested), reverse=True
    )
    assert model.suggest("   ") == []


def test_a_token_lands_in_the_column_the_hashing_vectorizer_gives_it() -> None:
    tokens = classifier.tokens("人民路井盖破损，ＡＢ１２")
    assert "w:井盖" in tokens and "c:ab" in tokens and "c:12" in tokens
    matrix = classifier.counts([tokens])
    assert sorted(set(matrix.indices.tolist())) == sorted(
        {classifier.column(token) for token in tokens}
    )


def test_a_model_of_another_format_is_refused() -> None:
    trained = classifier.train(["井盖破损"] * 5 + ["垃圾堆放"] * 5, [1] * 5 + [2] * 5)
    data = trained.model.to_bytes()
    with pytest.raises(ValueError, match="not a suggestion model archive"):
        classifier.Model.from_bytes(data[:100])
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["format"] = np.array([classifier.FORMAT + 1, classifier.FEATURES])
    older = io.BytesIO()
    np.savez(older, **arrays)
    with pytest.raises(ValueError, match="model format"):
        classifier.Model.from_bytes(older.getvalue())


# The city's own cases


def shipped(session: Session) -> list[Category]:
    found = []
    for kind, code in CODES:
        category = session.scalar(
            select(Category).where(
                Category.kind == kind, Category.code == code, Category.standard == STANDARD
            )
        )
        assert category is not None, (kind, code)
        found.append(category)
    return found


def insert_cases(
    session: Session, rows: list[tuple[str, int]], *, status: str = "closed", start_day: int = 0
) -> list[int]:
    """Cases in the NW cell, one per (description, category id), a minute apart from
    `start_day` days after 2026-01-01; one statement."""
    lon, lat = centre_of(CELL_NW)
    prefix = uuid.uuid4().hex[:6]
    found = session.execute(
        text(
            """
            INSERT INTO event_case (number, status, category_id, description, geom, cell_id,
                                    created_at, updated_at, closed_at)
            SELECT :prefix || '-' || lpad(n::text, 6, '0'), CAST(:status AS text), r.category_id,
                   r.description, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), cell.id,
                   r.at, r.at,
                   CASE WHEN CAST(:status AS text) = 'closed' THEN r.at + interval '1 day' END
            FROM unnest(CAST(:descriptions AS text[]), CAST(:categories AS int[]),
                        CAST(:ats AS timestamptz[])) WITH ORDINALITY
                 AS r(description, category_id, at, n)
            CROSS JOIN (SELECT id FROM grid_cell WHERE code = :cell) cell
            RETURNING id
            """
        ),
        {
            "prefix": prefix,
            "status": status,
            "descriptions": [row[0] for row in rows],
            "categories": [row[1] for row in rows],
            "ats": [
                datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=start_day, minutes=i)
                for i in range(len(rows))
            ],
            "lon": lon,
            "lat": lat,
            "cell": CELL_NW.code,
        },
    ).scalars()
    return list(found)


def city_history(session: Session, count: int = 600) -> list[Category]:
    """`count` closed cases generated from the ten categories' names; returns them."""
    seed_intake(session)
    categories = shipped(session)
    generated = [corpus.CorpusCategory(c.id, c.kind, c.name_zh) for c in categories]
    insert_cases(session, list(corpus.descriptions(generated, count, seed=3)))
    return categories


def report_body(category: Category, description: str) -> dict[str, Any]:
    lon, lat = centre_of(CELL_NW)
    return {
        "report_uuid": str(uuid.uuid4()),
        "category_id": category.id,
        "description": description,
        "lon": lon,
        "lat": lat,
    }


def report(client: TestClient, user: User, category: Category, description: str) -> Any:
    body = report_body(category, description)
    return client.post("/api/reports", json=body, headers=headers_for(user))


def test_training_through_the_cli_learns_only_from_closed_cases_never_returned_or_recategorised(
    session: Session, run_cli: Callable[..., Any]
) -> None:
    categories = city_history(session, 600)
    dispatcher = add_user(session, Role.DISPATCHER)
    # Not learnt from: a returned case, a re-categorised one, open ones, a retired category's.
    returned, recategorised = insert_cases(session, [("井盖丢失", categories[0].id)] * 2)
    session.execute(text("UPDATE event_case SET return_count = 1 WHERE id = :id"), {"id": returned})
    session.add(
        CaseTransition(
            case_id=recategorised,
            action=service.RECATEGORISE,
            from_status="filed",
            to_status="filed",
            actor_id=dispatcher.id,
        )
    )
    insert_cases(session, [("井盖丢失", categories[0].id)] * 3, status="accepted")
    session.flush()

    result = run_cli("suggestions", "train", "--floor", "0.8")

    assert result.exit_code == 0, result.output
    assert "trained on 600 cases (600 closed, 0 corrected), 10 categories" in result.output
    assert "held-out (latest 120 cases)" in result.output
    assert "enabled: top-3" in result.output
    version = session.scalars(select(SuggestionModel).order_by(SuggestionModel.id.desc())).first()
    assert version is not None and version.enabled and version.top3 >= 0.8
    assert version.held_out_from is not None
    listed = run_cli("suggestions", "list")
    assert str(version.id) in listed.output


def test_training_with_too_few_cases_or_a_bad_floor_exits_1(
    session: Session, run_cli: Callable[..., Any]
) -> None:
    seed_intake(session)
    result = run_cli("suggestions", "train")
    assert result.exit_code == 1
    assert "at least 20 are needed" in result.output
    result = run_cli("suggestions", "train", "--floor", "1.5")
    assert result.exit_code == 1
    assert "the floor 1.5 is not between 0 and 1" in result.output
    result = run_cli("suggestions", "train", "--held-out", "1")
    assert result.exit_code == 1
    assert "held-out fraction 1.0 is not between 0 and 1" in result.output


def test_the_intake_answer_carries_the_top_three_when_a_model_is_enabled(
    session: Session, client: TestClient
) -> None:
    categories = city_history(session)
    service.train(session, floor=0.8)
    inspector = add_user(session, Role.INSPECTOR)

    body = report_body(categories[3], "人民路口有人私搭乱建，请尽快处理")
    answer = client.post("/api/reports", json=body, headers=headers_for(inspector))

    assert answer.status_code == 201, answer.text
    suggested = answer.json()["suggested_categories"]
    assert len(suggested) == 3
    private_building = categories[3]  # event 0101 私搭乱建
    assert suggested[0]["code"] == private_building.code
    assert suggested[0]["name"] == private_building.name_zh
    assert suggested[0]["category_id"] == private_building.id
    assert suggested[0]["probability"] >= suggested[1]["probability"] >= suggested[2]["probability"]
    stored = session.scalars(
        select(CategorySuggestion).where(CategorySuggestion.case_id == answer.json()["case_id"])
    ).one()
    assert [item["category_id"] for item in stored.suggested] == [
        item["category_id"] for item in suggested
    ]
    # A retry of the same report answers the suggestions stored the first time.
    again = client.post("/api/reports", json=body, headers=headers_for(inspector))
    assert again.status_code == 200
    assert again.json()["suggested_categories"] == suggested


def test_no_suggestions_without_a_model_when_disabled_or_below_the_floor(
    session: Session, client: TestClient, run_cli: Callable[..., Any]
) -> None:
    categories = city_history(session, 200)
    inspector = add_user(session, Role.INSPECTOR)
    description = "人民路口有人私搭乱建"
    none_yet = report(client, inspector, categories[3], description)
    assert none_yet.status_code == 201
    assert none_yet.json()["suggested_categories"] == []

    # Below the floor: a version trained on shuffled labels is stored but not enabled.
    session.execute(
        text(
            "UPDATE event_case SET category_id = (CAST(:ids AS int[]))[1 + (hashtext(number) & 7)]"
        ),
        {"ids": [c.id for c in categories]},
    )
    shuffled = run_cli("suggestions", "train", "--floor", "0.9")
    assert shuffled.exit_code == 0, shuffled.output
    assert "NOT enabled" in shuffled.output
    assert (
        report(client, inspector, categories[3], description).json()["suggested_categories"] == []
    )

    # Enabled (a floor of 0), then disabled by hand.
    version = service.train(session, floor=0.0).version
    assert report(client, inspector, categories[3], description).json()["suggested_categories"]
    disabled = run_cli("suggestions", "disable", str(version.id))
    assert disabled.exit_code == 0, disabled.output
    assert (
        report(client, inspector, categories[3], description).json()["suggested_categories"] == []
    )


def test_a_correction_is_stored_and_the_next_training_learns_from_it(
    session: Session, client: TestClient, run_cli: Callable[..., Any]
) -> None:
    categories = city_history(session)
    assert run_cli("suggestions", "train").exit_code == 0
    dispatcher = add_user(session, Role.DISPATCHER)
    inspector = add_user(session, Role.INSPECTOR)
    target = categories[9]  # the category the dispatcher chooses for the bikes
    description = f"学府路{BIKES}，请处理"

    filed = report(client, inspector, categories[0], description)
    assert filed.status_code == 201
    before = [item["category_id"] for item in filed.json()["suggested_categories"]]
    assert before and target.id != before[0]
    case_id = filed.json()["case_id"]

    changed = client.post(
        f"/api/cases/{case_id}/category",
        json={"category_id": target.id, "reason": "共享单车归市容"},
        headers=headers_for(dispatcher),
    )

    assert changed.status_code == 200, changed.text
    assert changed.json()["category_id"] == target.id
    correction = session.scalars(
        select(CategoryCorrection).where(CategoryCorrection.case_id == case_id)
    ).one()
    assert (correction.from_category_id, correction.to_category_id) == (
        categories[0].id,
        target.id,
    )
    assert correction.actor_id == dispatcher.id and correction.actor_role == "dispatcher"
    assert [item["category_id"] for item in correction.suggested] == before
    assert correction.suggestion_id is not None and not correction.via_suggestion
    history = client.get(f"/api/cases/{case_id}/history", headers=headers_for(dispatcher))
    assert history.json()[-1]["action"] == "recategorise"
    assert history.json()[-1]["details"]["to_category_id"] == target.id
    page = client.get(
        f"/cases/{case_id}", headers={**headers_for(dispatcher), "Accept-Language": "zh-CN"}
    )
    assert "类别已更改" in page.text  # the history row, named

    retrained = run_cli("suggestions", "train")
    assert retrained.exit_code == 0, retrained.output
    assert "(600 closed, 1 corrected)" in retrained.output
    after = report(client, inspector, categories[0], f"中山路{BIKES}")
    assert after.json()["suggested_categories"][0]["category_id"] == target.id


def test_who_may_change_a_category_and_when(session: Session, client: TestClient) -> None:
    categories = city_history(session, 40)
    reporter = add_user(session, Role.INSPECTOR)
    other = add_user(session, Role.INSPECTOR)
    dispatcher = add_user(session, Role.DISPATCHER)
    mine = add_case(session, category=categories[0], reporter=reporter)
    dispatched = add_case(session, category=categories[0], status=CaseStatus.DISPATCHED)
    body = {"category_id": categories[1].id, "via_suggestion": True}

    refused = client.post(f"/api/cases/{mine.id}/category", json=body, headers=headers_for(other))
    assert refused.status_code in (403, 404)
    too_late = client.post(
        f"/api/cases/{dispatched.id}/category", json=body, headers=headers_for(dispatcher)
    )
    assert too_late.status_code == 409
    assert "reported, filed or returned" in too_late.json()["detail"]
    unknown = client.post(
        f"/api/cases/{mine.id}/category",
        json={"category_id": 2_000_000_000},
        headers=headers_for(reporter),
    )
    assert unknown.status_code == 422 and unknown.json()["field"] == "category_id"
    same = client.post(
        f"/api/cases/{mine.id}/category",
        json={"category_id": categories[0].id},
        headers=headers_for(reporter),
    )
    assert same.status_code == 422 and "already" in same.json()["detail"]

    own = client.post(f"/api/cases/{mine.id}/category", json=body, headers=headers_for(reporter))
    assert own.status_code == 200, own.text
    correction = session.scalars(
        select(CategoryCorrection).where(CategoryCorrection.case_id == mine.id)
    ).one()
    assert correction.via_suggestion and correction.actor_role == "inspector"
    assert correction.suggested == []  # no model was enabled when it was reported
    assert session.get(Case, mine.id).category_id == categories[1].id  # type: ignore[union-attr]


def test_the_pages_show_the_suggestions_as_a_hint_with_use_this_category(
    session: Session, client: TestClient
) -> None:
    categories = city_history(session)
    service.train(session, floor=0.8)
    inspector = add_user(session, Role.INSPECTOR)
    dispatcher = add_user(session, Role.DISPATCHER)
    filed = report(client, inspector, categories[0], "人民路口有人私搭乱建").json()
    suggested = filed["suggested_categories"]

    page = client.get(
        f"/cases/{filed['case_id']}", headers={**headers_for(dispatcher), "Accept-Language": "zh"}
    )

    assert page.status_code == 200
    assert "建议类别" in page.text and "采用此类别" in page.text
    assert f'data-category="{suggested[0]["category_id"]}"' in page.text
    assert suggested[0]["name"] in page.text
    english = client.get(
        f"/cases/{filed['case_id']}", headers={**headers_for(dispatcher), "Accept-Language": "en"}
    )
    assert "Suggested categories" in english.text and "Use this category" in english.text
    # The inspector's report page has the place the answer's suggestions are shown in.
    form = client.get("/m/report", headers={**headers_for(inspector), "Accept-Language": "en"})
    assert form.status_code == 200
    assert 'id="report-suggestions"' in form.text
    assert "/static/events/category_suggestions.js" in form.text
    script = client.get("/static/events/category_suggestions.js")
    assert script.status_code == 200 and "suggested_categories" in script.text


@pytest.mark.heavy
def test_the_benchmark_runs_at_a_tiny_size(tmp_path: Path, server_url: str) -> None:
    """From an empty database of its own, as a new clone's bench database is."""
    output = tmp_path / "bench.md"
    with throwaway_database(server_url) as url:
        result = subprocess.run(
            [sys.executable, "bench/analysis_suggest.py", "--tiny", "--output", str(output)],
            cwd=ROOT,
            env={**os.environ, "BENCH_DATABASE_URL": url},
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = output.read_text()
    assert "top-3" in figures and "added by the suggestion" in figures
