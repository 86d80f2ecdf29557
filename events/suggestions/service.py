"""Category suggestions: training from the city's own cases, the suggestion at intake, and the
correction of a case's category (which the next training learns from).

What a training learns from, exactly:

- closed cases (status `closed`) that were never returned (no `return` in their history and
  `return_count` 0) and never re-categorised (no `recategorise` in their history): their text
  with their category;
- cases whose category a person corrected (category_correction), with the latest chosen
  category, unless the case was cancelled or not filed, or was returned after that correction.

Labels are current (not retired) categories only. Texts are ordered by when the case was
reported; the latest `held_out_fraction` of them is the held-out slice: the method is fitted on
the earlier texts and measured there (top-1, top-3), then fitted again on every text (so the
newest cases and corrections are learnt too). A version is enabled when its held-out top-3
accuracy reaches the floor; intake uses the newest enabled version.
"""

from __future__ import annotations

import gc
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from citygrid.accounts.roles import Principal, Role
from citygrid.db import Writer
from citygrid.errors import Conflict, InvalidInput, PermissionDenied
from events.cases import service as cases
from events.cases.workflow import CaseWorkflow
from events.intake.schemas import ReportAccepted, SuggestedCategory
from events.lifecycle import WAITING_FOR_DISPATCH, CaseStatus
from events.models import Case, Category
from events.suggestions import classifier
from events.suggestions.models import CategoryCorrection, CategorySuggestion, SuggestionModel

DEFAULT_FLOOR = 0.8  # held-out top-3 accuracy a version needs to be enabled
DEFAULT_HELD_OUT = 0.2
CORRECTION_WEIGHT = 3.0  # a person's correction counts as much as three closed cases
MINIMUM_TEXTS = 20
RECHECK_S = 30.0  # with no model loaded, how often intake looks for a newly enabled one
RECATEGORISE = "recategorise"  # the history action of a category change
# Who may change a case's category, in which states: dispatchers while it waits for dispatch
# (or was just reported); its reporter while it is only reported.
DISPATCHER_STATES = frozenset({CaseStatus.REPORTED}) | WAITING_FOR_DISPATCH
REPORTER_STATES = frozenset({CaseStatus.REPORTED})
DISPATCHER_ROLES = frozenset({Role.DISPATCHER, Role.ADMIN})

TRAINING_TEXTS = text(
    """
    WITH corrected AS (
        SELECT DISTINCT ON (case_id) case_id, to_category_id, at
        FROM category_correction ORDER BY case_id, at DESC, id DESC
    )
    SELECT c.description, COALESCE(k.to_category_id, c.category_id) AS category_id,
           c.created_at, k.case_id IS NOT NULL AS corrected
    FROM event_case c
    LEFT JOIN corrected k ON k.case_id = c.id
    JOIN category cat ON cat.id = COALESCE(k.to_category_id, c.category_id)
                     AND cat.retired_at IS NULL
    WHERE CASE
        WHEN k.case_id IS NOT NULL THEN
            c.status NOT IN ('cancelled', 'not_filed')
            AND NOT EXISTS (SELECT 1 FROM case_transition t WHERE t.case_id = c.id
                            AND t.action = 'return' AND t.at > k.at)
        ELSE
            c.status = 'closed' AND c.return_count = 0
            AND NOT EXISTS (SELECT 1 FROM case_transition t WHERE t.case_id = c.id
                            AND t.action IN ('return', 'recategorise'))
        END
    ORDER BY c.created_at, c.id
    """
)


@dataclass(frozen=True)
class TrainingOutcome:
    version: SuggestionModel
    closed_cases: int
    corrections: int


def train(
    session: Session,
    *,
    floor: float = DEFAULT_FLOOR,
    held_out_fraction: float = DEFAULT_HELD_OUT,
) -> TrainingOutcome:
    """Train a version on the city's cases, store it, enable it when its held-out top-3
    accuracy reaches `floor` (flushes; the caller commits)."""
    if not 0 <= floor <= 1:
        raise InvalidInput(f"the floor {floor} is not between 0 and 1", field="floor")
    if not 0 < held_out_fraction < 1:
        raise InvalidInput(
            f"the held-out fraction {held_out_fraction} is not between 0 and 1 (exclusive)",
            field="held_out",
        )
    started = time.perf_counter()
    rows = session.execute(TRAINING_TEXTS).all()
    if len(rows) < MINIMUM_TEXTS:
        raise InvalidInput(
            f"{len(rows)} cases to learn from (closed, never returned or re-categorised, or "
            f"corrected): at least {MINIMUM_TEXTS} are needed",
            field="cases",
        )
    texts = [row.description for row in rows]
    labels = [int(row.category_id) for row in rows]
    weights = [CORRECTION_WEIGHT if row.corrected else 1.0 for row in rows]
    trained = classifier.train(texts, labels, weights, held_out_fraction=held_out_fraction)
    data = trained.model.to_bytes()
    cut = len(rows) - trained.held_out.texts
    version = SuggestionModel(
        cases=len(rows),
        corrections=sum(1 for row in rows if row.corrected),
        held_out=trained.held_out.texts,
        held_out_from=rows[cut].created_at if cut < len(rows) else None,
        categories=len(trained.model.categories),
        top1=trained.held_out.top1,
        top3=trained.held_out.top3,
        floor=floor,
        enabled=trained.held_out.top3 >= floor,
        seconds=round(time.perf_counter() - started, 3),
        size_bytes=len(data),
        model=data,
    )
    session.add(version)
    session.flush()
    MODELS.forget()  # this process looks again at once (other processes within RECHECK_S)
    return TrainingOutcome(version, len(rows) - version.corrections, version.corrections)


def versions(session: Session, limit: int = 20) -> list[SuggestionModel]:
    """The latest versions, newest first (their model bytes not loaded)."""
    from sqlalchemy.orm import defer

    return list(
        session.scalars(
            select(SuggestionModel)
            .options(defer(SuggestionModel.model))
            .order_by(SuggestionModel.id.desc())
            .limit(limit)
        )
    )


def set_enabled(session: Session, version_id: int, enabled: bool) -> SuggestionModel:
    """Enable or disable a version by hand (flushes)."""
    version = session.get(SuggestionModel, version_id)
    if version is None:
        raise InvalidInput(f"no suggestion model has version {version_id}", field="version")
    version.enabled = enabled
    session.flush()
    MODELS.forget()
    return version


# The model in memory


@dataclass(frozen=True)
class LoadedModel:
    version_id: int
    model: classifier.Model


class ModelCache:
    """The newest enabled version, loaded once per process. Every suggestion stored at intake
    checks that its version is still the newest enabled one; when it is not, the next intake
    loads the new one (or none). With nothing loaded, intake looks every RECHECK_S seconds."""

    def __init__(self) -> None:
        self.loaded: LoadedModel | None = None
        self.stale = True
        self.checked_at = 0.0

    def forget(self) -> None:
        self.loaded, self.stale = None, True

    def note_latest(self, version_id: int | None) -> None:
        if self.loaded is None or self.loaded.version_id != version_id:
            self.stale = True

    async def current(self, writer: Writer) -> LoadedModel | None:
        now = time.monotonic()
        if not self.stale and (self.loaded is not None or now - self.checked_at < RECHECK_S):
            return self.loaded
        rows = await writer.execute(LATEST_MODEL, {})
        self.checked_at, self.stale = now, False
        if not rows:
            self.loaded = None
        elif self.loaded is None or self.loaded.version_id != rows[0].id:
            model = await run_in_threadpool(load_model, bytes(rows[0].model))
            self.loaded = LoadedModel(rows[0].id, model)
        return self.loaded


def load_model(data: bytes) -> classifier.Model:
    """The model, with jieba's dictionary loaded; both then leave the collector's view.

    jieba's dictionary is some 350,000 Python objects: tracked, every full collection would walk
    them (pauses of several milliseconds at intake). As the app does with its start-up objects
    (citygrid.app's lifespan), they are frozen: they live as long as the process.
    """
    model = classifier.Model.from_bytes(data)
    classifier.warm_up()
    gc.collect()
    gc.freeze()
    return model


MODELS = ModelCache()

LATEST_MODEL = "SELECT id, model FROM suggestion_model WHERE enabled ORDER BY id DESC LIMIT 1"
# Store the suggestion only if its version is still the newest enabled one; answer that version
# and the suggested categories' codes and names. The case is already committed (durably) by the
# INTAKE statement; this record of a hint commits without waiting for the WAL flush
# (synchronous_commit off for this statement's transaction only): a crash may lose the last few
# suggestions, never a report, and intake does not wait for a second disk flush.
STORE_SUGGESTION = """
WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true) AS setting),
latest AS (SELECT max(id) AS id FROM suggestion_model WHERE enabled),
stored AS (
    INSERT INTO category_suggestion (case_id, report_id, model_id, suggested)
    SELECT %(case_id)s, %(report_id)s, latest.id, CAST(%(suggested)s AS jsonb)
    FROM latest WHERE latest.id = %(model_id)s
    ON CONFLICT (report_id) DO NOTHING
    RETURNING id
)
SELECT (SELECT id FROM latest) AS latest_id, (SELECT count(*) FROM stored) AS stored,
       (SELECT setting FROM relaxed) AS commit_mode,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('id', c.id, 'code', c.code,
                                                     'name_zh', c.name_zh, 'name_en', c.name_en))
                 FROM category c WHERE c.id = ANY(%(category_ids)s)), '[]'::jsonb) AS names
"""
STORED_SUGGESTION = """
SELECT s.suggested,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('id', c.id, 'code', c.code,
                                                     'name_zh', c.name_zh, 'name_en', c.name_en))
                 FROM category c
                 WHERE c.id IN (SELECT (item->>'category_id')::int
                                FROM jsonb_array_elements(s.suggested) AS item)),
                '[]'::jsonb) AS names
FROM category_suggestion s WHERE s.report_id = %(report_id)s
"""


def named(suggested: list[dict[str, Any]], names: list[dict[str, Any]]) -> list[SuggestedCategory]:
    by_id = {int(entry["id"]): entry for entry in names}
    return [
        SuggestedCategory(
            category_id=int(item["category_id"]),
            code=by_id[int(item["category_id"])]["code"],
            name=by_id[int(item["category_id"])]["name_zh"],
            name_en=by_id[int(item["category_id"])]["name_en"],
            probability=float(item["probability"]),
        )
        for item in suggested
        if int(item["category_id"]) in by_id
    ]


async def suggest_at_intake(
    writer: Writer, accepted: ReportAccepted, description: str
) -> ReportAccepted:
    """The intake answer with the suggested categories (stored with the report); unchanged
    when no version is enabled. A retried report gets the suggestions stored the first time."""
    if accepted.replayed:
        rows = await writer.execute(STORED_SUGGESTION, {"report_id": accepted.report_id})
        if not rows:
            return accepted
        suggested = named(rows[0].suggested, rows[0].names)
        return accepted.model_copy(update={"suggested_categories": suggested})
    loaded = await MODELS.current(writer)
    if loaded is None:
        return accepted
    suggestions = loaded.model.suggest(description)
    if not suggestions:
        return accepted
    items = [
        {"category_id": item.category_id, "probability": item.probability} for item in suggestions
    ]
    params = {
        "case_id": accepted.case_id,
        "report_id": accepted.report_id,
        "model_id": loaded.version_id,
        "suggested": json.dumps(items),
        "category_ids": [item.category_id for item in suggestions],
    }
    row = (await writer.execute(STORE_SUGGESTION, params))[0]
    MODELS.note_latest(row.latest_id)
    if not row.stored:
        return accepted
    return accepted.model_copy(update={"suggested_categories": named(items, row.names)})


# Changing a case's category


def latest_suggestion(session: Session, case_id: int) -> CategorySuggestion | None:
    return session.scalars(
        select(CategorySuggestion)
        .where(CategorySuggestion.case_id == case_id)
        .order_by(CategorySuggestion.id.desc())
        .limit(1)
    ).first()


def may_recategorise(case: Case, principal: Principal) -> bool:
    """Dispatchers while the case waits for dispatch (or was just reported); its reporter while
    it is only reported."""
    status = CaseStatus(case.status)
    if case.merged_into_id is not None:
        return False
    if principal.role in DISPATCHER_ROLES:
        return status in DISPATCHER_STATES
    return status in REPORTER_STATES and case.reported_by == principal.user_id


def current_category(session: Session, category_id: int) -> Category:
    category = session.get(Category, category_id)
    if category is None:
        raise InvalidInput(f"no category has id {category_id}", field="category_id")
    if category.retired_at is not None:
        raise InvalidInput(
            f"category {category.code} ({category.name_en}) is retired", field="category_id"
        )
    return category


def recategorise(
    session: Session,
    case_id: int,
    category_id: int,
    principal: Principal,
    now: datetime,
    workflow: CaseWorkflow,
    *,
    via_suggestion: bool = False,
    reason: str | None = None,
) -> Case:
    """Change the case's category, record it in the history and as a correction; a case
    waiting for dispatch is routed again (flushes; the route commits)."""
    case = cases.visible_case(session, case_id, principal)
    if not may_recategorise(case, principal):
        if principal.role in DISPATCHER_ROLES:
            raise Conflict(
                f"case {case_id} is {case.status}: its category changes only while it is "
                "reported, filed or returned (and not merged)",
                field="category_id",
            )
        raise PermissionDenied(
            f"only its reporter, while it is reported, or a dispatcher may change case "
            f"{case_id}'s category"
        )
    if case.component_id is not None:
        raise Conflict(
            f"case {case_id} is about an inventoried component: change or refuse the component "
            "first, then its category",
            field="category_id",
        )
    category = current_category(session, category_id)
    previous = case.category_id
    if category.id == previous:
        raise InvalidInput(
            f"case {case_id} is already of category {category.code}", field="category_id"
        )
    suggestion = latest_suggestion(session, case.id)
    cases.bump_versions(session, principal, now, {case: {"category_id": category.id}})
    status = CaseStatus(case.status)
    details = {
        "from_category_id": previous,
        "to_category_id": category.id,
        "via_suggestion": via_suggestion,
    }
    step = cases.Step(RECATEGORISE, status, status, reason or None, details)
    cases.record(session, case, step, principal, now)
    session.add(
        CategoryCorrection(
            case_id=case.id,
            from_category_id=previous,
            to_category_id=category.id,
            suggestion_id=suggestion.id if suggestion else None,
            suggested=suggestion.suggested if suggestion else [],
            via_suggestion=via_suggestion,
            actor_id=principal.user_id,
            actor_role=principal.role.value,
            at=now,
        )
    )
    session.flush()
    if status in WAITING_FOR_DISPATCH:
        workflow.route_again(session, case, now)
    return case


def corrections_of(session: Session, case_id: int) -> list[CategoryCorrection]:
    return list(
        session.scalars(
            select(CategoryCorrection)
            .where(CategoryCorrection.case_id == case_id)
            .order_by(CategoryCorrection.id)
        )
    )


def disable_all(session: Session) -> int:
    """Disable every version (flushes); how many were enabled."""
    result = session.execute(
        update(SuggestionModel).where(SuggestionModel.enabled).values(enabled=False)
    )
    session.flush()
    MODELS.forget()
    return int(getattr(result, "rowcount", 0) or 0)
