"""Categories of components (部件) and events (事件): schemas, services and routes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Boolean, ColumnElement, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from citygrid.accounts.auth import PUBLIC, Allow, Role, RoleCheckedRoute
from citygrid.db import SessionDep
from citygrid.errors import Conflict, InvalidInput, NotFound
from events.models import Category
from events.taxonomy import CategoryKey, CategorySeed, Kind, Level, Taxonomy, level_of_code

router = APIRouter(prefix="/api/categories", tags=["categories"], route_class=RoleCheckedRoute)
ADMIN_ONLY = Depends(Allow(Role.ADMIN))
PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 500
# What a reload of the taxonomy file may change on an existing category; retirement, department
# type and duplicate radius stay as the administrator left them.
RELOADED_COLUMNS = (
    "name_zh",
    "name_en",
    "criteria",
    "limit_hours_normal",
    "limit_hours_urgent",
    "provenance",
)

Name = Annotated[str, Field(min_length=1, max_length=200)]
Hours = Annotated[float, Field(gt=0)]


class CategoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: Kind
    standard: str
    code: str
    level: Level
    parent_id: int | None
    name_zh: str
    name_en: str
    criteria: str | None
    limit_hours_normal: float | None  # working hours
    limit_hours_urgent: float | None
    department_type: str | None
    duplicate_radius_m: float | None
    provenance: dict[str, Any]
    retired_at: datetime | None
    created_at: datetime


class CategoryPage(BaseModel):
    items: list[CategoryRead]
    total: int
    page: int
    page_size: int
    next_page: int | None


class CategoryChanges(BaseModel):
    """Fields an administrator may set on create and change afterwards."""

    criteria: str | None = None
    limit_hours_normal: Hours | None = None
    limit_hours_urgent: Hours | None = None
    department_type: Annotated[str, Field(max_length=64)] | None = None
    duplicate_radius_m: Annotated[float, Field(ge=0)] | None = None


class CategoryCreate(CategoryChanges):
    kind: Kind
    standard: Annotated[str, Field(min_length=1, max_length=64)]
    code: Annotated[str, Field(description="2 digits (major) or 4/5 digits (minor)")]
    name_zh: Name
    name_en: Name


class CategoryUpdate(CategoryChanges):
    """Only the fields sent are changed; names cannot be emptied."""

    name_zh: Name | None = None
    name_en: Name | None = None

    @field_validator("name_zh", "name_en")
    @classmethod
    def names_stay(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("a name cannot be removed, only renamed")
        return value


@dataclass(frozen=True)
class CategoryFilter:
    q: str | None = None
    kind: Kind | None = None
    level: Level | None = None
    standard: str | None = None
    major: str | None = None
    include_retired: bool = False


@dataclass(frozen=True)
class LoadCounts:
    """What a taxonomy load did: rows inserted, updated and left as they were."""

    inserted: int
    updated: int
    unchanged: int

    def __add__(self, other: LoadCounts) -> LoadCounts:
        return LoadCounts(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


# Services: they flush, the caller commits.


def get_category(session: Session, category_id: int) -> Category:
    category = session.get(Category, category_id)
    if category is None:
        raise NotFound(f"no category with id {category_id}", field="id")
    return category


def search_categories(
    session: Session, where: CategoryFilter, *, page: int, page_size: int
) -> CategoryPage:
    """One page of matching categories ordered by kind, standard and code, with the total."""
    query = select(Category).where(*conditions(where))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(Category.kind, Category.standard, Category.code)
    rows = session.scalars(ordered.offset((page - 1) * page_size).limit(page_size)).all()
    return CategoryPage(
        items=[CategoryRead.model_validate(row) for row in rows],
        total=total,
        page=page,
        page_size=page_size,
        next_page=page + 1 if page * page_size < total else None,
    )


def conditions(where: CategoryFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if where.q:
        found.append(
            or_(
                Category.code.startswith(where.q, autoescape=True),
                Category.name_zh.icontains(where.q, autoescape=True),
                Category.name_en.icontains(where.q, autoescape=True),
            )
        )
    if where.kind is not None:
        found.append(Category.kind == where.kind.value)
    if where.level is not None:
        found.append(Category.level == where.level.value)
    if where.standard is not None:
        found.append(Category.standard == where.standard)
    if where.major is not None:
        found.append(func.left(Category.code, 2) == where.major)
    if not where.include_retired:
        found.append(Category.retired_at.is_(None))
    return found


def find_by_key(session: Session, key: CategoryKey) -> Category | None:
    kind, code, standard = key
    return session.scalar(
        select(Category).where(
            Category.kind == kind, Category.code == code, Category.standard == standard
        )
    )


def create_category(session: Session, category_in: CategoryCreate) -> Category:
    """A new category; a minor one goes under the major of its first 2 digits."""
    level = level_of_code(category_in.code)
    key: CategoryKey = (category_in.kind.value, category_in.code, category_in.standard)
    if find_by_key(session, key) is not None:
        raise Conflict(
            f"{key[0]} {key[1]} of {key[2]} exists already (retired ones count too)", field="code"
        )
    parent = None if level is Level.MAJOR else major_of(session, key)
    category = Category(
        **category_in.model_dump(exclude={"kind"}),
        kind=category_in.kind.value,
        level=level.value,
        parent_id=parent.id if parent else None,
        provenance={"added_by": "admin"},
    )
    session.add(category)
    session.flush()
    return category


def major_of(session: Session, key: CategoryKey) -> Category:
    kind, code, standard = key
    major = find_by_key(session, (kind, code[:2], standard))
    if major is None or major.retired_at is not None:
        state = "none" if major is None else "only a retired one"
        raise InvalidInput(
            f"minor code {code} needs a major {code[:2]} of {kind}s in {standard}: found {state}",
            field="code",
        )
    return major


def update_category(session: Session, category_id: int, changes: CategoryUpdate) -> Category:
    """Apply the fields sent (rename, criteria, limits, department type, duplicate radius)."""
    category = get_category(session, category_id)
    for name, value in changes.model_dump(exclude_unset=True).items():
        setattr(category, name, value)
    session.flush()
    return category


def set_retired(session: Session, category_id: int, *, retired: bool) -> Category:
    """Retire (hidden from search, still valid on old cases) or bring back; repeats are no-ops."""
    category = get_category(session, category_id)
    if retired and category.retired_at is None:
        category.retired_at = session.scalar(select(func.now()))
    elif not retired:
        category.retired_at = None
    session.flush()
    return category


def load_taxonomy(session: Session, taxonomy: Taxonomy, *, update: bool = False) -> LoadCounts:
    """Add the taxonomy's missing categories on (kind, code, standard), majors then minors.

    Existing rows are left as they are, so an admin's renames and limits survive every
    `./dev` run; `update=True` (`citygrid taxonomy load --update`) refreshes them from the file.
    """
    majors = upsert(session, taxonomy.of_level(Level.MAJOR), parent_ids={}, update=update)
    parent_ids: dict[CategoryKey, int] = {
        (kind, code, standard): category_id
        for category_id, kind, code, standard in session.execute(
            select(Category.id, Category.kind, Category.code, Category.standard).where(
                Category.level == Level.MAJOR.value
            )
        )
    }
    minors = taxonomy.of_level(Level.MINOR)
    return majors + upsert(session, minors, parent_ids=parent_ids, update=update)


def upsert(
    session: Session,
    seeds: Sequence[CategorySeed],
    *,
    parent_ids: dict[CategoryKey, int],
    update: bool,
) -> LoadCounts:
    """One INSERT … ON CONFLICT; with `update`, rows that differ from the file are refreshed."""
    if not seeds:
        return LoadCounts(0, 0, 0)
    statement = insert(Category).values([row_of(seed, parent_ids) for seed in seeds])
    if not update:
        keys = [Category.kind, Category.code, Category.standard]
        inserted_count = len(
            session.scalars(
                statement.on_conflict_do_nothing(index_elements=keys).returning(Category.id)
            ).all()
        )
        return LoadCounts(inserted_count, 0, len(seeds) - inserted_count)
    changed = [
        getattr(Category, column).is_distinct_from(statement.excluded[column])
        for column in RELOADED_COLUMNS
    ]
    statement = statement.on_conflict_do_update(
        index_elements=[Category.kind, Category.code, Category.standard],
        set_={column: statement.excluded[column] for column in RELOADED_COLUMNS},
        where=or_(*changed),
    )
    # xmax is 0 on a freshly inserted row version and set on one updated by ON CONFLICT.
    inserted_flags: Sequence[bool] = session.scalars(
        statement.returning(literal_column("xmax = 0", Boolean))
    ).all()
    inserted = sum(1 for flag in inserted_flags if flag)
    updated = len(inserted_flags) - inserted
    return LoadCounts(inserted, updated, len(seeds) - inserted - updated)


def row_of(seed: CategorySeed, parent_ids: dict[CategoryKey, int]) -> dict[str, Any]:
    return {
        "kind": seed.kind.value,
        "code": seed.code,
        "standard": seed.standard,
        "level": seed.level.value,
        "parent_id": parent_ids.get(seed.major_key) if seed.level is Level.MINOR else None,
        "name_zh": seed.name_zh,
        "name_en": seed.name_en,
        "criteria": seed.criteria,
        "limit_hours_normal": seed.limit_hours_normal,
        "limit_hours_urgent": seed.limit_hours_urgent,
        "department_type": seed.department_type,
        "duplicate_radius_m": seed.duplicate_radius_m,
        "provenance": dict(seed.provenance),
    }


# Routes: each commits once.


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
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)] = PAGE_SIZE_DEFAULT,
) -> CategoryPage:
    """Search categories (anyone, so citizens can pick one): retired ones only when asked."""
    where = CategoryFilter(q, kind, level, standard, major, include_retired)
    return search_categories(session, where, page=page, page_size=page_size)


@router.get("/{category_id}", dependencies=[Depends(PUBLIC)])
def read_category(category_id: int, session: SessionDep) -> CategoryRead:
    """One category by id, retired or not (old cases keep pointing at it)."""
    return CategoryRead.model_validate(get_category(session, category_id))


@router.post("", status_code=201, dependencies=[ADMIN_ONLY])
def add_category(category_in: CategoryCreate, session: SessionDep) -> CategoryRead:
    """Add a major (2-digit code) or minor (4/5-digit code under an existing major) category."""
    category = create_category(session, category_in)
    session.commit()
    return CategoryRead.model_validate(category)


@router.patch("/{category_id}", dependencies=[ADMIN_ONLY])
def change_category(category_id: int, changes: CategoryUpdate, session: SessionDep) -> CategoryRead:
    """Rename a category or change its criteria, limits, department type or duplicate radius."""
    category = update_category(session, category_id, changes)
    session.commit()
    return CategoryRead.model_validate(category)


@router.post("/{category_id}/retire", dependencies=[ADMIN_ONLY])
def retire_category(category_id: int, session: SessionDep) -> CategoryRead:
    """Hide a category from new reports; it stays readable and valid on existing cases."""
    category = set_retired(session, category_id, retired=True)
    session.commit()
    return CategoryRead.model_validate(category)


@router.post("/{category_id}/unretire", dependencies=[ADMIN_ONLY])
def unretire_category(category_id: int, session: SessionDep) -> CategoryRead:
    """Bring a retired category back."""
    category = set_retired(session, category_id, retired=False)
    session.commit()
    return CategoryRead.model_validate(category)
