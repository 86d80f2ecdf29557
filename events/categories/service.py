"""Categories of components (部件) and events (事件): search, administration and loading the
taxonomy file. The functions flush; the caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, ColumnElement, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from citygrid.errors import Conflict, InvalidInput, NotFound
from events.categories.schemas import CategoryCreate, CategoryPage, CategoryRead, CategoryUpdate
from events.models import Category
from events.taxonomy import CategoryKey, CategorySeed, Kind, Level, Taxonomy, level_of_code

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


def department_types(session: Session) -> list[str]:
    """The department types categories name, in order (to pick one when changing a category)."""
    statement = (
        select(Category.department_type)
        .where(Category.department_type.is_not(None))
        .distinct()
        .order_by(Category.department_type)
    )
    return [value for value in session.scalars(statement) if value]
