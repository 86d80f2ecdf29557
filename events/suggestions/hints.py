"""The suggested categories as the case page shows them: a hint with a one-click "use this
category", which goes through POST /api/cases/{id}/category (and so is recorded as a
correction)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Principal, Role
from events.models import Case, Category
from events.suggestions import service


@dataclass(frozen=True)
class HintItem:
    category_id: int
    code: str
    name: str
    percent: str
    current: bool


@dataclass(frozen=True)
class CaseHints:
    case_id: int
    items: list[HintItem]
    can_use: bool  # the viewer may change the category now


def case_hints(
    session: Session, case_id: int, principal: Principal, language: str
) -> CaseHints | None:
    """The suggestions stored at intake for the case, in the page's language; None when there
    were none (no model enabled then) or for a citizen."""
    if principal.role is Role.CITIZEN:  # a hint for staff, not for the public
        return None
    suggestion = service.latest_suggestion(session, case_id)
    case = session.get(Case, case_id)
    if suggestion is None or case is None:
        return None
    ids = [int(item["category_id"]) for item in suggestion.suggested]
    categories = {
        category.id: category
        for category in session.scalars(select(Category).where(Category.id.in_(ids)))
    }
    items = [
        HintItem(
            category_id=category.id,
            code=category.code,
            name=category.name_zh if language.startswith("zh") else category.name_en,
            percent=f"{float(item['probability']):.0%}",
            current=category.id == case.category_id,
        )
        for item in suggestion.suggested
        if (category := categories.get(int(item["category_id"]))) is not None
        and category.retired_at is None
    ]
    if not items:
        return None
    can_use = service.may_recategorise(case, principal) and case.component_id is None
    return CaseHints(case_id=case.id, items=items, can_use=can_use)
