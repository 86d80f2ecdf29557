"""Editing one component and reading its history; every change is kept as [before, after]."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from citygrid.accounts.auth import Principal, Role
from citygrid.accounts.models import Department
from citygrid.errors import InvalidInput, NotFound, PermissionDenied
from components.models import Component, ComponentChange
from components.schemas import ComponentChangeRead, ComponentUpdate

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
