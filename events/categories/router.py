"""`/api/categories`: search categories (anyone), add, change and retire them (admins, audited
by events.categories.admin).

Each route commits once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from citygrid.accounts.auth import PUBLIC, Allow, RoleCheckedRoute, request_origin
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import PAGE_MAX, RowId
from citygrid.db import SessionDep
from events.categories import admin
from events.categories.schemas import CategoryCreate, CategoryPage, CategoryRead, CategoryUpdate
from events.categories.service import CategoryFilter, get_category, search_categories
from events.taxonomy import Kind, Level

router = APIRouter(prefix="/api/categories", tags=["categories"], route_class=RoleCheckedRoute)
Admin = Annotated[Principal, Depends(Allow(Role.ADMIN))]
PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 500


@router.get("", dependencies=[Depends(PUBLIC)])
def list_categories(
    session: SessionDep,
    q: Annotated[
        str | None, Query(max_length=200, description="code prefix, or part of either name")
    ] = None,
    kind: Kind | None = None,
    level: Level | None = None,
    standard: str | None = None,
    major: Annotated[str | None, Query(pattern=r"^\d{2}$", description="major code")] = None,
    include_retired: bool = False,
    page: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 1,
    page_size: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)] = PAGE_SIZE_DEFAULT,
) -> CategoryPage:
    """Search categories (anyone, so citizens can pick one): retired ones only when asked."""
    where = CategoryFilter(q, kind, level, standard, major, include_retired)
    return search_categories(session, where, page=page, page_size=page_size)


@router.get("/{category_id}", dependencies=[Depends(PUBLIC)])
def read_category(category_id: RowId, session: SessionDep) -> CategoryRead:
    """One category by id, retired or not (old cases keep pointing at it)."""
    return CategoryRead.model_validate(get_category(session, category_id))


@router.post("", status_code=201)
def add_category(
    category_in: CategoryCreate, request: Request, session: SessionDep, principal: Admin
) -> CategoryRead:
    """Add a major (2-digit code) or minor (4/5-digit code under an existing major) category."""
    category = admin.create_category(
        session, category_in, by=principal, origin=request_origin(request)
    )
    session.commit()
    return CategoryRead.model_validate(category)


@router.patch("/{category_id}")
def change_category(
    category_id: RowId,
    changes: CategoryUpdate,
    request: Request,
    session: SessionDep,
    principal: Admin,
) -> CategoryRead:
    """Rename a category or change its criteria, limits, department type or duplicate radius."""
    category = admin.change_category(
        session, category_id, changes, by=principal, origin=request_origin(request)
    )
    session.commit()
    return CategoryRead.model_validate(category)


@router.post("/{category_id}/retire")
def retire_category(
    category_id: RowId, request: Request, session: SessionDep, principal: Admin
) -> CategoryRead:
    """Hide a category from new reports; it stays readable and valid on existing cases."""
    category = admin.set_retired(
        session, category_id, retired=True, by=principal, origin=request_origin(request)
    )
    session.commit()
    return CategoryRead.model_validate(category)


@router.post("/{category_id}/unretire")
def unretire_category(
    category_id: RowId, request: Request, session: SessionDep, principal: Admin
) -> CategoryRead:
    """Bring a retired category back."""
    category = admin.set_retired(
        session, category_id, retired=False, by=principal, origin=request_origin(request)
    )
    session.commit()
    return CategoryRead.model_validate(category)
