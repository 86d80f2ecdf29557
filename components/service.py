"""The component inventory's service: search, one component, editing it and its history.

Each read is one or two set-based statements. Every edit is kept in the history as
[before, after].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Principal, Role
from citygrid.errors import InvalidInput, NotFound, PermissionDenied
from components.models import Component, ComponentChange
from components.schemas import (
    CategoryRef,
    ComponentChangeRead,
    ComponentFacts,
    ComponentFeature,
    ComponentFeatureCollection,
    ComponentFeatureProperties,
    ComponentStatus,
    ComponentUpdate,
    DepartmentRef,
)
from grid.bbox import BBox, BBoxRules

COMPONENT_STATUSES = tuple(status.value for status in ComponentStatus)
COUNT_CAP = 10_000  # a search counts its matches up to here: beyond, "at least 10,000"
GEOJSON_DECIMALS = 6  # about 0.1 m: a manhole cover is about 0.7 m across
# The search refuses a box off the globe; its clients know these words.
SEARCH_BBOX = BBoxRules(
    unreadable="bbox must be four numbers: minlon,minlat,maxlon,maxlat",
    not_finite="bbox must be finite numbers",
    out_of_order=(
        "bbox must have -180 <= minlon <= maxlon <= 180 and -90 <= minlat <= maxlat <= 90"
    ),
    within_globe=True,
)
# Component categories with the given code, or under the major category with that code.
CATEGORY_IDS = """
    SELECT k.id FROM category k LEFT JOIN category p ON p.id = k.parent_id
    WHERE k.kind = 'component' AND :category IN (k.code, p.code)
"""
CATEGORY_CONDITION = "c.category_id = ANY(CAST(:category_ids AS integer[]))"
# The cells inside the district, street or community with the given code.
AREA_CELLS = """
    SELECT g.id FROM grid_cell g WHERE g.community_id IN (
        SELECT m.id FROM grid_region m JOIN grid_region s ON s.id = m.parent_id
        WHERE m.level = 'community' AND :area_code IN (
            m.code, s.code, (SELECT d.code FROM grid_region d WHERE d.id = s.parent_id)))
"""


@dataclass(frozen=True)
class Statement:
    """SQL text and its parameters."""

    sql: str
    params: dict[str, Any]


@dataclass(frozen=True)
class ComponentSearch:
    """Which components a search wants: every given filter must hold."""

    bbox: BBox | None = None
    category: str | None = None  # a minor code, or a major code for all its minors
    statuses: tuple[str, ...] = ()
    maintainer_id: int | None = None
    limit: int = 1_000
    after_id: int | None = None  # keyset paging: components with a larger id


# ---------------------------------------------------------------------------------------------
# Search


def parse_statuses(values: Sequence[str] | None) -> tuple[str, ...]:
    """Component statuses from repeated or comma-separated values, each one known."""
    statuses = tuple(
        part.strip() for value in values or () for part in value.split(",") if part.strip()
    )
    for status in statuses:
        if status not in COMPONENT_STATUSES:
            known = ", ".join(COMPONENT_STATUSES)
            raise InvalidInput(f"unknown status {status!r} (known: {known})", field="status")
    return statuses


def category_ids(session: Session, category: str | None) -> list[int] | None:
    """The ids of the component categories with that code or under the major category with
    that code (None without a category); resolved first, so the planner sees the ids."""
    if category is None:
        return None
    return list(session.scalars(text(CATEGORY_IDS), {"category": category}))


def checked_category_ids(session: Session, category: str | None) -> list[int] | None:
    """As `category_ids`, raising InvalidInput when no component category has that code."""
    ids = category_ids(session, category)
    if ids == []:
        raise InvalidInput(f"no component category with code {category}", field="category")
    return ids


def check_area(session: Session, area_code: str | None) -> None:
    """Raise InvalidInput when no district, street or community has that code."""
    if area_code is None:
        return
    found = session.scalar(
        text("SELECT 1 FROM grid_region WHERE code = :code"), {"code": area_code}
    )
    if found is None:
        raise InvalidInput(f"no district, street or community with code {area_code}", field="area")


def check_maintainer(session: Session, department_id: int | None) -> None:
    """Raise InvalidInput when no department has that id."""
    if department_id is None:
        return
    found = session.scalar(text("SELECT 1 FROM department WHERE id = :id"), {"id": department_id})
    if found is None:
        raise InvalidInput(f"no department with id {department_id}", field="maintainer")


def search_conditions(search: ComponentSearch, category_ids: list[int] | None) -> Statement:
    """The WHERE conditions on `component c` of a search (without its paging), its category
    resolved to `category_ids`."""
    conditions = ["TRUE"]
    params: dict[str, Any] = {}
    if search.bbox is not None:
        # `&&` is answered by the GiST index on component.geom.
        conditions.append("c.geom && ST_MakeEnvelope(:west, :south, :east, :north, 4326)")
        params.update(zip(("west", "south", "east", "north"), search.bbox, strict=True))
    if category_ids is not None:
        conditions.append(CATEGORY_CONDITION)
        params["category_ids"] = category_ids
    if search.statuses:
        conditions.append("c.status = ANY(CAST(:statuses AS text[]))")
        params["statuses"] = list(search.statuses)
    if search.maintainer_id is not None:
        conditions.append("c.maintainer_department_id = :maintainer")
        params["maintainer"] = search.maintainer_id
    return Statement(" AND ".join(conditions), params)


SEARCH_SQL = f"""
    SELECT c.id, c.code, k.code AS category_code, k.name_zh AS category_name, c.status,
           c.maintainer_department_id, d.name AS maintainer_name,
           ST_AsGeoJSON(c.geom, {GEOJSON_DECIMALS})::json AS geometry
    FROM component c JOIN category k ON k.id = c.category_id
    LEFT JOIN department d ON d.id = c.maintainer_department_id
    WHERE {{where}} AND c.id > :after
    ORDER BY c.id LIMIT :limit
"""


def search_components(
    session: Session, search: ComponentSearch, *, count_cap: int = COUNT_CAP
) -> ComponentFeatureCollection:
    """One page (ordered by id) of the components matching the search, as GeoJSON, and how
    many match in all (counted up to `count_cap`)."""
    check_maintainer(session, search.maintainer_id)
    where = search_conditions(search, checked_category_ids(session, search.category))
    params = {**where.params, "after": search.after_id or 0, "limit": search.limit + 1}
    rows = session.execute(text(SEARCH_SQL.format(where=where.sql)), params).all()
    more = len(rows) > search.limit
    rows = rows[: search.limit]
    if search.after_id is None and not more:
        total = len(rows)
    else:
        total = capped_count(session, where, cap=count_cap)
    return ComponentFeatureCollection(
        features=[component_feature(row) for row in rows],
        total=total,
        total_capped=total >= count_cap,
        limit=search.limit,
        next_after=rows[-1].id if more else None,
    )


def capped_count(session: Session, where: Statement, *, cap: int) -> int:
    """How many components match `where`, counting no further than `cap`."""
    sql = f"SELECT count(*) FROM (SELECT 1 FROM component c WHERE {where.sql} LIMIT :cap) s"
    return int(session.scalar(text(sql), {**where.params, "cap": cap}) or 0)


def component_feature(row: Row[Any]) -> ComponentFeature:
    """A search row as a GeoJSON Feature."""
    properties = ComponentFeatureProperties(
        id=row.id,
        code=row.code,
        category_code=row.category_code,
        category_name=row.category_name,
        status=row.status,
        maintainer_department_id=row.maintainer_department_id,
        maintainer_name=row.maintainer_name,
    )
    return ComponentFeature(id=row.code, geometry=row.geometry, properties=properties)


# ---------------------------------------------------------------------------------------------
# One component


def department_object(alias: str, role: str) -> str:
    """A SQL select item: the joined department `alias` as JSON (id, code, name), or NULL."""
    return (
        f"CASE WHEN {alias}.id IS NULL THEN NULL ELSE json_build_object("
        f"'id', {alias}.id, 'code', {alias}.code, 'name', {alias}.name) END AS {role}"
    )


DEPARTMENT_OBJECTS = ", ".join(
    department_object(alias, role)
    for alias, role in (("o", "owner"), ("s", "supervisor"), ("m", "maintainer"))
)
COMPONENT_SQL = f"""
    SELECT c.id, c.code, c.status, c.name, c.address, c.attributes, c.created_at, c.updated_at,
           ST_AsGeoJSON(c.geom, {GEOJSON_DECIMALS})::json AS geometry, g.code AS cell_code,
           json_build_object('id', k.id, 'code', k.code, 'name_zh', k.name_zh,
                             'name_en', k.name_en, 'standard', k.standard) AS category,
           {DEPARTMENT_OBJECTS}
    FROM component c JOIN category k ON k.id = c.category_id
    LEFT JOIN grid_cell g ON g.id = c.cell_id
    LEFT JOIN department o ON o.id = c.owner_department_id
    LEFT JOIN department s ON s.id = c.supervisor_department_id
    LEFT JOIN department m ON m.id = c.maintainer_department_id
    WHERE c.id = :component_id
"""


def department_ref(value: dict[str, Any] | None) -> DepartmentRef | None:
    return None if value is None else DepartmentRef.model_validate(value)


def component_facts(session: Session, component_id: int) -> ComponentFacts:
    """One component with its category, cell code and departments (names); NotFound when
    there is none with that id."""
    row = session.execute(text(COMPONENT_SQL), {"component_id": component_id}).one_or_none()
    if row is None:
        raise NotFound(f"no component with id {component_id}")
    return ComponentFacts(
        id=row.id,
        code=row.code,
        category=CategoryRef.model_validate(row.category),
        status=row.status,
        name=row.name,
        address=row.address,
        geometry=row.geometry,
        cell_code=row.cell_code,
        owner=department_ref(row.owner),
        supervisor=department_ref(row.supervisor),
        maintainer=department_ref(row.maintainer),
        attributes=row.attributes,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def component_of_category(session: Session, code: str | None, category_id: int) -> Component:
    """The component with that code, of that category and not removed; InvalidInput naming
    component_code otherwise."""
    if not code:
        raise InvalidInput("name the component in component_code", field="component_code")
    component = session.scalar(select(Component).where(Component.code == code))
    if component is None:
        raise InvalidInput(f"no component has code {code}", field="component_code")
    if component.category_id != category_id:
        raise InvalidInput(
            f"component {code} is not of the case's category {category_name(session, category_id)}",
            field="component_code",
        )
    if component.status == "removed":
        raise InvalidInput(
            f"component {code} was removed from the inventory", field="component_code"
        )
    return component


def category_name(session: Session, category_id: int) -> str:
    """The category as "code (English name)", or its id when there is no such category."""
    row = session.execute(
        text("SELECT code, name_en FROM category WHERE id = :id"), {"id": category_id}
    ).one_or_none()
    return f"{row.code} ({row.name_en})" if row is not None else str(category_id)


# ---------------------------------------------------------------------------------------------
# Editing and history

DEPARTMENT_FIELDS = ("owner_department_id", "supervisor_department_id", "maintainer_department_id")
# What a member of the maintaining department may change; everything else is the admin's.
MAINTAINER_FIELDS = frozenset({"status"})


def get_component(session: Session, component_id: int) -> Component:
    """The component with this id; NotFound when there is none."""
    component = session.get(Component, component_id)
    if component is None:
        raise NotFound(f"no component with id {component_id}", field="component_id")
    return component


def check_may_update(component: Component, fields: set[str], by: Principal) -> None:
    """PermissionDenied unless `by` may change these fields of this component."""
    if by.role is Role.ADMIN:
        return
    if by.role is not Role.DEPARTMENT:
        raise PermissionDenied(f"role {by.role} may not change components")
    if component.maintainer_department_id != by.department_id:
        raise PermissionDenied(
            f"component {component.code} is not maintained by your department", field="component_id"
        )
    others = sorted(fields - MAINTAINER_FIELDS)
    if others:
        raise PermissionDenied(
            f"the maintaining department may change only the status, not {', '.join(others)}",
            field=others[0],
        )


def update_component(
    session: Session, component_id: int, update: ComponentUpdate, *, by: Principal
) -> Component:
    """The component with the fields sent changed, and one history entry for what changed
    (none when nothing did): action 'status' when only the status changed, else 'updated'."""
    component = get_component(session, component_id)
    fields = set(update.model_fields_set)
    check_may_update(component, fields, by)
    wanted = update.model_dump(include=fields, mode="json")
    if "status" in wanted and wanted["status"] is None:
        raise InvalidInput("status cannot be cleared; use removed", field="status")
    _check_departments(
        session, {name: wanted[name] for name in DEPARTMENT_FIELDS if name in wanted}
    )
    changes = {
        name: [getattr(component, name), value]
        for name, value in wanted.items()
        if getattr(component, name) != value
    }
    if not changes:
        return component
    for name, (_, value) in changes.items():
        setattr(component, name, value)
    component.updated_at = func.now()
    action = "status" if set(changes) == {"status"} else "updated"
    session.add(
        ComponentChange(
            component_id=component.id, action=action, changes=changes, changed_by=by.user_id
        )
    )
    session.flush()
    session.refresh(component)
    return component


def _check_departments(session: Session, department_ids: dict[str, Any]) -> None:
    """InvalidInput naming the field when a department id given does not exist."""
    wanted = {value for value in department_ids.values() if value is not None}
    found = set(session.scalars(select(Department.id).where(Department.id.in_(wanted))))
    for name, value in department_ids.items():
        if value is not None and value not in found:
            raise InvalidInput(f"no department with id {value}", field=name)


CHANGES_OF_COMPONENT = text(
    """
    SELECT h.id, h.action, h.changes, h.changed_by, u.display_name AS changed_by_name,
           h.import_id, h.changed_at
    FROM component_change h LEFT JOIN app_user u ON u.id = h.changed_by
    WHERE h.component_id = :component_id
    ORDER BY h.changed_at, h.id
    """
)


def component_changes(session: Session, component_id: int) -> list[ComponentChangeRead]:
    """The component's history, oldest first; NotFound when there is no such component."""
    get_component(session, component_id)
    rows = session.execute(CHANGES_OF_COMPONENT, {"component_id": component_id})
    return [ComponentChangeRead.model_validate(row, from_attributes=True) for row in rows]
