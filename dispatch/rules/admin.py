"""Administering routing rule sets: saving a version with its audit record (the API and the
administration page both save through `save_rule_set`), and what the administration pages read
besides dispatch.rules.service: the rules of a version with the names of what they select, and
the choices of the draft editor (departments, categories and regions by name)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, text
from sqlalchemy.orm import Session

from citygrid.accounts import audit
from citygrid.accounts.audit import RequestOrigin
from citygrid.accounts.models import Department
from citygrid.accounts.roles import Principal
from dispatch.models import RuleSet
from dispatch.rules import service
from dispatch.rules.rulebook import RuleSetSpec
from events.categories.labels import category_label, shared_category_names
from events.models import Category
from grid.models import GridRegion

RULE_SET_SAVED = "rule_set_saved"


def save_rule_set(
    session: Session, spec: RuleSetSpec, *, by: Principal, origin: RequestOrigin, now: datetime
) -> RuleSet:
    """A new version (service.save_rule_set), audited with its version, when it takes effect,
    how many rules it has and what changed since the previous version."""
    saved = service.save_rule_set(session, spec, by=by, now=now)
    audit.audit_change(
        session,
        RULE_SET_SAVED,
        by=by,
        origin=origin,
        rule_set_id=saved.id,
        version=saved.version,
        effective_from=saved.effective_from.isoformat(),
        rule_count=len(spec.rules),
        comment=spec.comment,
        changes=saved.changes.get("counts", {}),
    )
    return saved


# A version's rules in precedence order with the names of what they select.
RULE_ROWS = text("""
SELECT r.id, r.ordinal, r.name, r.category_level, cat.kind AS category_kind,
    cat.code AS category_code, cat.standard AS category_standard,
    cat.name_zh AS category_name_zh, cat.name_en AS category_name_en, r.urgency, r.area_kind,
    coalesce(area.code, cell.code) AS area_code, coalesce(area.name, cell.name) AS area_name,
    jsonb_array_length(r.area_cell_ids) AS area_cell_count, r.area_m2, r.priority,
    d.code AS department_code, d.name AS department_name, d.is_active AS department_active
FROM routing_rule r
JOIN department d ON d.id = r.department_id
LEFT JOIN category cat ON cat.id = r.category_id
LEFT JOIN grid_region area ON area.id = r.area_region_id
LEFT JOIN grid_cell cell ON r.area_kind = 'cell' AND cell.id = CAST(r.area_cell_ids->>0 AS integer)
WHERE r.rule_set_id = :rule_set_id
    AND (CAST(:department AS text) IS NULL OR d.code = :department)
ORDER BY r.ordinal
""")


def rule_rows(session: Session, rule_set_id: int, *, department: str | None) -> Sequence[Row[Any]]:
    """The set's rules, first (winning) first, optionally only those of one department."""
    return session.execute(RULE_ROWS, {"rule_set_id": rule_set_id, "department": department}).all()


def departments_of_set(session: Session, rule_set_id: int) -> Sequence[Row[Any]]:
    """Code and name of the departments a set's rules name, by name."""
    return session.execute(
        text("""
        SELECT DISTINCT d.code, d.name
        FROM routing_rule r JOIN department d ON d.id = r.department_id
        WHERE r.rule_set_id = :rule_set_id ORDER BY d.name, d.code
        """),
        {"rule_set_id": rule_set_id},
    ).all()


@dataclass(frozen=True)
class EditorChoices:
    """What a draft's rules may name, by name: the editor's selects and the labels of its table
    (plain lists, handed to the page's script as JSON)."""

    departments: list[dict[str, Any]]  # {code, name, active}
    categories: list[dict[str, Any]]  # {kind, code, level, label}
    regions: list[dict[str, Any]]  # {level, code, name, parent}

    def as_json(self) -> dict[str, Any]:
        return {
            "departments": self.departments,
            "categories": self.categories,
            "regions": self.regions,
        }


def editor_choices(session: Session, language: str) -> EditorChoices:
    """Every department (inactive ones marked: a rule may not name them), the categories in use
    (labelled with code, and standard where names are shared) and the regions of the grid."""
    departments = [
        {"code": row.code, "name": row.name, "active": row.is_active}
        for row in session.execute(
            select(Department.code, Department.name, Department.is_active).order_by(
                Department.name, Department.code
            )
        )
    ]
    shared = shared_category_names(session)
    categories = [
        {
            "kind": category.kind,
            "code": category.code,
            "level": category.level,
            "label": category_label(category, language, shared_names=shared),
        }
        for category in session.scalars(
            select(Category)
            .where(Category.retired_at.is_(None))
            .order_by(Category.kind.desc(), Category.code, Category.standard)
        )
    ]
    return EditorChoices(departments, categories, region_choices(session))


def region_choices(session: Session) -> list[dict[str, Any]]:
    """Districts, streets and communities with their parent's code, by level and name."""
    parent = GridRegion.__table__.alias("parent")
    statement = (
        select(GridRegion.level, GridRegion.code, GridRegion.name, parent.c.code.label("parent"))
        .outerjoin(parent, parent.c.id == GridRegion.parent_id)
        .order_by(GridRegion.level, GridRegion.name, GridRegion.code)
    )
    return [dict(row._mapping) for row in session.execute(statement)]


def summaries_with_state(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Every version, newest first, each marked in force, scheduled (takes effect later) or
    earlier (replaced)."""
    in_force = service.rule_set_in_force(session, now)
    rows = []
    for row in service.rule_set_summaries(session):
        if in_force is not None and row.id == in_force.id:
            state = "in_force"
        elif row.effective_from > now:
            state = "scheduled"
        else:
            state = "replaced"
        rows.append({**row._asdict(), "state": state})
    return rows
