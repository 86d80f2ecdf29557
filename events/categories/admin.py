"""Administering categories with an audit record: the API and the administration page both
change categories through these functions, so every change is audited once, the same way.

Each function calls the category service and appends an audit event to the caller's
transaction (the route commits both together)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from citygrid.accounts import audit
from citygrid.accounts.audit import RequestOrigin
from citygrid.accounts.roles import Principal
from events.categories import service
from events.categories.schemas import CategoryCreate, CategoryUpdate
from events.models import Category

CATEGORY_CREATED = "category_created"
CATEGORY_CHANGED = "category_changed"
CATEGORY_RETIRED = "category_retired"
CATEGORY_RESTORED = "category_restored"


def record(
    session: Session,
    kind: str,
    category: Category,
    *,
    by: Principal,
    origin: RequestOrigin,
    **extra: Any,
) -> None:
    """An audit event naming the category (kind, code, standard) and who acted."""
    audit.audit_change(
        session,
        kind,
        by=by,
        origin=origin,
        category_id=category.id,
        category_kind=category.kind,
        code=category.code,
        standard=category.standard,
        **extra,
    )


def create_category(
    session: Session, category_in: CategoryCreate, *, by: Principal, origin: RequestOrigin
) -> Category:
    """A new category (service.create_category), audited."""
    category = service.create_category(session, category_in)
    record(session, CATEGORY_CREATED, category, by=by, origin=origin)
    return category


def change_category(
    session: Session,
    category_id: int,
    changes: CategoryUpdate,
    *,
    by: Principal,
    origin: RequestOrigin,
) -> Category:
    """The category with the fields sent applied, audited with each changed field's
    [before, after]."""
    category = service.get_category(session, category_id)
    sent = changes.model_dump(exclude_unset=True)
    before = {name: getattr(category, name) for name in sent}
    category = service.update_category(session, category_id, changes)
    changed = {
        name: [before[name], getattr(category, name)]
        for name in sent
        if before[name] != getattr(category, name)
    }
    record(session, CATEGORY_CHANGED, category, by=by, origin=origin, changes=changed)
    return category


def set_retired(
    session: Session, category_id: int, *, retired: bool, by: Principal, origin: RequestOrigin
) -> Category:
    """Retire or restore a category (service.set_retired), audited."""
    category = service.set_retired(session, category_id, retired=retired)
    kind = CATEGORY_RETIRED if retired else CATEGORY_RESTORED
    record(session, kind, category, by=by, origin=origin)
    return category
