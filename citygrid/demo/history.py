"""A deterministic demo history: ~20,000 cases over the last 90 days that look like a real day.

The reports (where, when, about what: citygrid.demo.plan) go to a component's maintainer, else
where the demo's routing rules send them (citygrid.demo.rules). Each case then lives through the
loop as far as `now` lets it (citygrid.demo.timeline), with departments that keep to their
limits, run late or leave cases aside: the dispatch queue holds last night's and today's
reports, a few dozen cases are overdue, the inspector has tens of checks waiting, older cases
are closed, and the departments' grades spread from A to C.

Everything is drawn with fixed seeds in numpy and written with COPY, so loading takes seconds;
a second load (which finds the demo reports) adds nothing.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.demo import rules as demo_rules
from citygrid.demo import timeline
from citygrid.demo.plan import (
    HOTSPOTS,
    Category,
    Grid,
    Plan,
    make_plan,
    place_components,
    top_up_street_offices,
    weighted_categories,
)
from citygrid.demo.timeline import Assignment, CaseFacts, Department, Pace, Story
from citygrid.settings import get_settings
from dispatch.calendars.service import calendar_for_department
from dispatch.deadlines import WorkCalendar
from events.lifecycle import CaseStatus

DEMO_CHANNEL = "demo"
SEED = 20261126
# How the demo's departments work (by the code after the district's, e.g. 110101-HW), and
# street offices by their street's number, cycling: the grades spread from A to C.
SPECIALIST_PACES: dict[str, Pace] = {
    "HW": timeline.PROMPT,
    "YL": timeline.PROMPT,
    "GS": timeline.PROMPT,
    "PS": timeline.STEADY,
    "CG": timeline.STEADY,
    "LD": timeline.SLOW,
    "SZ": timeline.SLOW,
}
STREET_OFFICE_PACES = (
    timeline.PROMPT,
    timeline.STEADY,
    timeline.PROMPT,
    timeline.PROMPT,
    timeline.SLOW,
    timeline.STEADY,
    timeline.PROMPT,
    timeline.STEADY,
)
# A street office returns what is not its business to the district's enforcement bureau.
RETURNS_TO_TYPE = "urban_mgmt_enforcement"


@dataclass(frozen=True)
class DemoActors:
    inspector_id: int
    citizen_id: int
    dispatcher_id: int
    department_user_id: int


def demo_history_loaded(session: Session) -> bool:
    found = session.scalar(
        text("SELECT 1 FROM report WHERE channel = :c LIMIT 1"), {"c": DEMO_CHANNEL}
    )
    return found is not None


def load_demo_history(
    session: Session, actors: DemoActors, *, cases: int = 20_000, now: datetime | None = None
) -> int:
    """Write the demo cases (reports, history, assignments) unless they are there; cases
    written. Load the routing rules and the component inventory first."""
    if demo_history_loaded(session):
        return 0
    now = now or datetime.now(UTC)
    categories = weighted_categories(session)
    departments = _departments(session)
    if not categories or not departments:
        return 0
    specialists = demo_rules.specialist_departments(session)
    grid = Grid.load(session)
    plan = make_plan(np.random.default_rng(SEED), grid, categories, now, cases)
    place_components(session, np.random.default_rng(SEED + 1), plan, grid)
    top_up_street_offices(np.random.default_rng(SEED + 2), plan, grid, specialists, now)
    clocks = timeline.clocks(get_settings().city_zone, _default_calendar(session))
    routes = Routes.of(departments, specialists)
    stories = [
        timeline.story_of(routes.facts(plan, i), clocks, now) for i in range(len(plan.reported_at))
    ]
    _write(session, plan, stories, actors)
    return len(stories)


def pace_of(code: str) -> Pace:
    """How a demo department works: specialists by their code, street offices by street."""
    parts = code.split("-")
    if len(parts) == 3 and parts[1] == "JD" and parts[2][-3:].isdigit():
        return STREET_OFFICE_PACES[int(parts[2][-3:]) % len(STREET_OFFICE_PACES)]
    return SPECIALIST_PACES.get(parts[-1], timeline.STEADY)


def _departments(session: Session) -> dict[str, Department]:
    """The active departments by code, each with its pace and work calendar."""
    default_code = get_settings().default_calendar_code
    rows = session.execute(text("SELECT id, code FROM department WHERE is_active ORDER BY code"))
    return {
        row.code: Department(
            row.id,
            row.code,
            pace_of(row.code),
            calendar_for_department(session, row.id, default_code=default_code),
        )
        for row in rows
    }


def _default_calendar(session: Session) -> WorkCalendar:
    return calendar_for_department(session, None, default_code=get_settings().default_calendar_code)


@dataclass(frozen=True)
class Routes:
    """Where a case goes: its component's maintainer, else where the demo rules send it; and
    who takes it when that department returns it."""

    departments: Mapping[str, Department]
    specialists: Mapping[str, str]  # department type → code
    by_id: Mapping[int, Department]

    @classmethod
    def of(cls, departments: Mapping[str, Department], specialists: Mapping[str, str]) -> Routes:
        return cls(departments, specialists, {d.id: d for d in departments.values()})

    def first(self, category: Category, street_code: str, maintainer_id: int) -> Department:
        maintainer = self.by_id.get(maintainer_id)
        if maintainer is not None:
            return maintainer
        code = demo_rules.routed_department(category.department_type, street_code, self.specialists)
        return self.departments.get(code) or next(iter(self.departments.values()))

    def fallback(self, first: Department, street_code: str) -> Department:
        office = self.departments.get(demo_rules.street_office_code(street_code))
        if office is not None and office is not first:
            return office
        bureau = self.departments.get(self.specialists.get(RETURNS_TO_TYPE, ""))
        return bureau or first

    def facts(self, plan: Plan, i: int) -> CaseFacts:
        category, street = plan.category(i), plan.places.street_codes[i]
        first = self.first(category, street, int(plan.places.maintainer_ids[i]))
        limit = category.limit_normal
        if plan.urgent[i] and category.limit_urgent is not None:
            limit = category.limit_urgent
        return CaseFacts(
            reported_at=plan.reported_at[i],
            reporter_role="inspector" if plan.by_inspector[i] else "citizen",
            limit_hours=limit,
            auto_dispatch=category.auto_dispatch,
            first=first,
            fallback=self.fallback(first, street),
            draws=plan.draws[i].tolist(),
        )


def _write(session: Session, plan: Plan, stories: Sequence[Story], actors: DemoActors) -> None:
    first_id = int(session.scalar(text("SELECT coalesce(max(id), 0) FROM event_case")) or 0) + 1
    numbers = _case_numbers(session, plan.reported_at)
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        _copy(
            cursor,
            f"event_case ({', '.join(CASE_COLUMNS)})",
            _case_rows(first_id, numbers, plan, stories, actors),
        )
        _copy(
            cursor,
            "report (report_uuid, case_id, original_case_id, reporter_id, channel, "
            "geom, description, created_at)",
            _report_rows(first_id, plan, actors),
        )
        _copy(
            cursor,
            "case_transition (case_id, action, from_status, to_status, actor_id, actor_role, "
            "reason, details, at)",
            _history_rows(first_id, stories, actors),
        )
        _copy(
            cursor,
            f"case_assignment ({', '.join(ASSIGNMENT_COLUMNS)})",
            _assignment_rows(first_id, stories, actors),
        )
    session.execute(
        text(
            "SELECT setval(pg_get_serial_sequence('event_case', 'id'), "
            "(SELECT max(id) FROM event_case))"
        )
    )


def _case_numbers(session: Session, created_at: list[datetime]) -> list[str]:
    """Numbers per day in the city's time zone, drawn from each day's case-number sequence."""
    zone = get_settings().city_zone
    days = [moment.astimezone(zone).date() for moment in created_at]
    per_day: dict[date, int] = Counter(days)
    first: dict[date, int] = {}
    for day, count in per_day.items():
        # Reserve `count` numbers at once: setval moves the sequence past them.
        last = session.scalar(
            text(
                "SELECT setval(case_number_sequence(:day), "
                "nextval(case_number_sequence(:day)) + :count - 1)"
            ),
            {"day": day, "count": count},
        )
        first[day] = int(last or 0) - count + 1
    numbers = []
    for day in days:
        numbers.append(f"{day:%Y%m%d}-{first[day]:06d}")
        first[day] += 1
    return numbers


def _copy(cursor: object, table: str, rows: Iterator[tuple[object, ...]]) -> None:
    with cursor.copy(f"COPY {table} FROM STDIN") as copy:  # type: ignore[attr-defined]
        for row in rows:
            copy.write_row(row)


def _description(plan: Plan, i: int) -> str:
    """What the reporter wrote: the category, near which landmark, marked as demo data."""
    category, spot = plan.category(i), int(plan.places.hotspots[i])
    near = f"{HOTSPOTS[spot][0].split()[0]}附近，" if spot >= 0 else ""
    what = f"{category.name_zh}损坏" if category.kind == "component" else category.name_zh
    return f"{near}{what}（演示数据）"


CASE_COLUMNS = (
    "id",
    "number",
    "status",
    "category_id",
    "urgency",
    "description",
    "geom",
    "cell_id",
    "department_id",
    "reported_by",
    "created_at",
    "updated_at",
    "filed_at",
    "dispatched_at",
    "due_at",
    "warn_at",
    "due_provisional",
    "handled_at",
    "closed_at",
    "suspended_from",
    "suspended_at",
    "rework_count",
    "return_count",
    "version",
    "component_id",
    "component_distance_m",
    "component_match",
)


def _case_rows(
    first_id: int, numbers: list[str], plan: Plan, stories: Sequence[Story], actors: DemoActors
) -> Iterator[tuple[object, ...]]:
    places = plan.places
    for i, story in enumerate(stories):
        lon, lat = places.points[i].tolist()
        current, last = story.current, story.assignments[-1] if story.assignments else None
        component = int(places.component_ids[i])
        suspended = story.status is CaseStatus.SUSPENDED
        yield (
            first_id + i,
            numbers[i],
            story.status.value,
            plan.category(i).id,
            "urgent" if plan.urgent[i] else "normal",
            _description(plan, i),
            f"SRID=4326;POINT({lon} {lat})",
            int(places.cell_ids[i]),
            current.department.id if current else None,
            _reporter(plan, i, actors),
            plan.reported_at[i],
            story.steps[-1].at,
            story.last_at("file"),
            last.dispatched_at if last else None,
            current.due_at if current else None,
            current.warn_at if current else None,
            current.due_provisional if current else False,
            story.last_at("handle"),
            story.last_at("verify_pass") if story.status is CaseStatus.CLOSED else None,
            "accepted" if suspended else None,
            current.suspended_at if current else None,
            story.count("verify_fail"),
            story.count("return"),
            len(story.steps),
            component if component >= 0 else None,
            float(places.component_distance_m[i]) if component >= 0 else None,
            "suggested" if component >= 0 else None,
        )


def _reporter(plan: Plan, i: int, actors: DemoActors) -> int:
    return actors.inspector_id if plan.by_inspector[i] else actors.citizen_id


def _report_rows(first_id: int, plan: Plan, actors: DemoActors) -> Iterator[tuple[object, ...]]:
    # Deterministic UUIDs: a reload would produce the same reports, never new ones.
    namespace = uuid.UUID(int=SEED)
    for i, (lon, lat) in enumerate(plan.places.points.tolist()):
        case_id = first_id + i
        yield (
            uuid.uuid5(namespace, str(case_id)),
            case_id,
            case_id,
            _reporter(plan, i, actors),
            DEMO_CHANNEL,
            f"SRID=4326;POINT({lon} {lat})",
            _description(plan, i),
            plan.reported_at[i],
        )


def _actor_ids(actors: DemoActors) -> dict[str, int]:
    return {
        "dispatcher": actors.dispatcher_id,
        "department": actors.department_user_id,
        "inspector": actors.inspector_id,
        "citizen": actors.citizen_id,
    }


def _history_rows(
    first_id: int, stories: Sequence[Story], actors: DemoActors
) -> Iterator[tuple[object, ...]]:
    actor_ids = _actor_ids(actors)
    for i, story in enumerate(stories):
        for step in story.steps:
            yield (
                first_id + i,
                step.action,
                step.source.value if step.source else None,
                step.target.value,
                actor_ids[step.role],
                step.role,
                step.reason,
                json.dumps(step.details),
                step.at,
            )


ASSIGNMENT_COLUMNS = (
    "case_id",
    "department_id",
    "dispatched_by",
    "dispatched_at",
    "limit_hours",
    "due_at",
    "warn_at",
    "due_provisional",
    "accepted_at",
    "handled_at",
    "handling_hours",
    "returned_at",
    "rework_count",
    "suspended_at",
    "ended_at",
    "end_reason",
)


def _assignment_rows(
    first_id: int, stories: Sequence[Story], actors: DemoActors
) -> Iterator[tuple[object, ...]]:
    for i, story in enumerate(stories):
        for assignment in story.assignments:
            yield (first_id + i, *_assignment_values(assignment, actors.dispatcher_id))


def _assignment_values(assignment: Assignment, dispatcher_id: int) -> tuple[object, ...]:
    return (
        assignment.department.id,
        dispatcher_id,
        assignment.dispatched_at,
        assignment.limit_hours,
        assignment.due_at,
        assignment.warn_at,
        assignment.due_provisional,
        assignment.accepted_at,
        assignment.handled_at,
        assignment.handling_hours,
        assignment.returned_at,
        assignment.rework_count,
        assignment.suspended_at,
        assignment.ended_at,
        assignment.end_reason,
    )
