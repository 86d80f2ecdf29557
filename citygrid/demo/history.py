"""A deterministic demo history: ~20,000 cases over the last 90 days, so a new user sees a city.

Reports concentrate around places that draw them in real life (markets, stations, old hutong
blocks, tourist streets) over a uniform background; categories follow a plausible mix (garbage,
vending and parking events dominate, components are rarer); every state of the loop is present,
older cases mostly closed. Everything is computed with a fixed random seed in numpy and written
with COPY, so loading takes seconds and a second load (which finds the demo rows) adds nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import numpy.typing as npt
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.settings import get_settings
from dispatch.calendars.service import calendar_for_department
from dispatch.deadlines import WorkCalendar, working_hours_between
from events.lifecycle import CaseStatus
from grid.index import cell_index_for
from grid.revision import grid_revision

DEMO_CHANNEL = "demo"
SEED = 20261126
# (name, WGS-84 lon, lat, relative weight, spread in metres)
HOTSPOTS: tuple[tuple[str, float, float, float, float], ...] = (
    ("王府井 Wangfujing", 116.4105, 39.9130, 3.0, 220),
    ("东单 Dongdan", 116.4170, 39.9075, 1.5, 180),
    ("北京站 Beijing Railway Station", 116.4210, 39.9020, 3.5, 250),
    ("簋街 Guijie food street", 116.4240, 39.9395, 2.5, 200),
    ("南锣鼓巷 Nanluoguxiang hutongs", 116.3975, 39.9350, 2.5, 180),
    ("雍和宫 Yonghegong", 116.4110, 39.9470, 1.5, 200),
    ("天坛东门 Temple of Heaven east gate", 116.4150, 39.8810, 1.5, 250),
    ("前门大街 Qianmen street", 116.3925, 39.8975, 2.0, 220),
    ("东直门 Dongzhimen", 116.4280, 39.9400, 1.5, 230),
    ("崇文门菜市场 Chongwenmen market", 116.4120, 39.8985, 2.0, 150),
)
BACKGROUND_SHARE = 0.4
# Probability weights of category codes (events first, then components); unknown codes are skipped.
CATEGORY_WEIGHTS: dict[tuple[str, str], float] = {
    ("event", "0102"): 14,
    ("event", "0103"): 6,
    ("event", "0104"): 5,
    ("event", "0101"): 3,
    ("event", "0501"): 9,
    ("event", "0502"): 6,
    ("event", "0503"): 8,
    ("event", "0504"): 4,
    ("event", "0201"): 4,
    ("event", "0202"): 3,
    ("event", "0301"): 3,
    ("event", "0106"): 3,
    ("component", "0101"): 2,
    ("component", "0102"): 2,
    ("component", "0103"): 2,
    ("component", "0201"): 2,
    ("component", "0301"): 3,
    ("component", "0401"): 2,
}
Step = tuple[str, CaseStatus | None, CaseStatus]
# The loop's main line; a case on it stops at a point drawn from its age.
MAIN_LINE: tuple[Step, ...] = (
    ("report", None, CaseStatus.REPORTED),
    ("file", CaseStatus.REPORTED, CaseStatus.FILED),
    ("dispatch", CaseStatus.FILED, CaseStatus.DISPATCHED),
    ("accept", CaseStatus.DISPATCHED, CaseStatus.ACCEPTED),
    ("handle", CaseStatus.ACCEPTED, CaseStatus.HANDLED),
    ("verify_pass", CaseStatus.HANDLED, CaseStatus.CLOSED),
)
# Side paths, walked to their end, with the share of cases that take them.
SIDE_PATHS: tuple[tuple[float, tuple[Step, ...]], ...] = (
    (
        0.04,
        (
            ("report", None, CaseStatus.REPORTED),
            ("not_file", CaseStatus.REPORTED, CaseStatus.NOT_FILED),
        ),
    ),
    (0.01, (*MAIN_LINE[:2], ("cancel", CaseStatus.FILED, CaseStatus.CANCELLED))),
    (0.01, (*MAIN_LINE[:3], ("return", CaseStatus.DISPATCHED, CaseStatus.RETURNED))),
    (0.01, (*MAIN_LINE[:5], ("verify_fail", CaseStatus.HANDLED, CaseStatus.REWORK))),
    (0.005, (*MAIN_LINE[:4], ("approve_suspension", CaseStatus.ACCEPTED, CaseStatus.SUSPENDED))),
    (
        0.03,
        (
            *MAIN_LINE[:5],
            ("verify_fail", CaseStatus.HANDLED, CaseStatus.REWORK),
            ("handle", CaseStatus.REWORK, CaseStatus.HANDLED),
            ("verify_pass", CaseStatus.HANDLED, CaseStatus.CLOSED),
        ),
    ),
)
PATHS: tuple[tuple[Step, ...], ...] = (MAIN_LINE, *(path for _, path in SIDE_PATHS))
STEP_GAP_HOURS = {"file": 0.3, "dispatch": 0.5, "accept": 0.4, "verify_pass": 2.0}
VERIFY_ACTIONS = frozenset({"verify_pass", "verify_fail"})
ACTOR_ROLE = {
    "file": "dispatcher",
    "not_file": "dispatcher",
    "dispatch": "dispatcher",
    "cancel": "dispatcher",
    "approve_suspension": "dispatcher",
    "accept": "department",
    "return": "department",
    "handle": "department",
    "verify_pass": "inspector",
    "verify_fail": "inspector",
}


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
    """Write the demo cases (with reports and history) unless they are there; cases written."""
    if demo_history_loaded(session):
        return 0
    now = now or datetime.now(UTC)
    rng = np.random.default_rng(SEED)
    categories = _weighted_categories(session)
    if not categories:
        return 0
    # Some background points fall outside the district's irregular outline: draw extra, keep
    # the first `cases` inside.
    points = _points(rng, int(cases * 1.4))
    index = cell_index_for(session, grid_revision(session))
    rows = index.locate(points)
    inside = np.flatnonzero(rows >= 0)[:cases]
    points, rows = points[inside], rows[inside]
    cell_ids = _cell_ids(session, [index.units[row].cell_code for row in rows.tolist()])
    plan = _plan(rng, len(points), categories, now)
    calendar = calendar_for_department(
        session, None, default_code=get_settings().default_calendar_code
    )
    _write(session, points, cell_ids, plan, actors, calendar=calendar)
    return len(points)


def _weighted_categories(session: Session) -> list[tuple[int, float, float, int | None]]:
    """(category id, weight, normal limit hours, department id) of the demo mix that exist."""
    found = session.execute(
        text(
            "SELECT c.id, c.kind, c.code, coalesce(c.limit_hours_normal, 8) AS limit_h, "
            "coalesce((SELECT d.id FROM department d WHERE d.kind = c.department_type "
            "ORDER BY d.id LIMIT 1), (SELECT d.id FROM department d "
            "WHERE d.kind = 'street_office' ORDER BY d.id LIMIT 1)) AS department_id "
            "FROM category c WHERE c.level = 'minor' AND c.retired_at IS NULL"
        )
    ).all()
    chosen = []
    for row in found:
        weight = CATEGORY_WEIGHTS.get((row.kind, row.code))
        if weight:
            chosen.append((row.id, weight, float(row.limit_h), row.department_id))
    return chosen


def _points(rng: np.random.Generator, count: int) -> npt.NDArray[np.float64]:
    """Hotspot clusters plus a uniform background over Dongcheng's extent."""
    background = int(count * BACKGROUND_SHARE)
    weights = np.array([spot[3] for spot in HOTSPOTS])
    spot = rng.choice(len(HOTSPOTS), size=count - background, p=weights / weights.sum())
    centres = np.array([[s[1], s[2]] for s in HOTSPOTS])[spot]
    spread_deg = np.array([s[4] for s in HOTSPOTS])[spot] / 111_000
    clustered = centres + rng.normal(size=(len(spot), 2)) * spread_deg[:, None] * [1.3, 1.0]
    uniform = np.column_stack(
        [rng.uniform(116.385, 116.447, background), rng.uniform(39.860, 39.968, background)]
    )
    return np.vstack([clustered, uniform])


def _cell_ids(session: Session, codes: Sequence[str]) -> npt.NDArray[np.int64]:
    found = session.execute(text("SELECT code, id FROM grid_cell")).all()
    by_code: dict[str, int] = {row.code: row.id for row in found}
    return np.array([by_code[code] for code in codes], dtype=np.int64)


@dataclass(frozen=True)
class _Plan:
    category_ids: npt.NDArray[np.int64]
    limit_hours: npt.NDArray[np.float64]
    department_ids: list[int | None]
    created_at: list[datetime]
    steps: list[tuple[Step, ...]]  # what happened to each case, in order
    by_inspector: npt.NDArray[np.bool_]
    urgent: npt.NDArray[np.bool_]


def _plan(
    rng: np.random.Generator,
    count: int,
    categories: list[tuple[int, float, float, int | None]],
    now: datetime,
) -> _Plan:
    weights = np.array([c[1] for c in categories])
    chosen = rng.choice(len(categories), size=count, p=weights / weights.sum())
    age_hours = np.sort(rng.uniform(0, 90 * 24, count))[::-1]
    return _Plan(
        category_ids=np.array([categories[i][0] for i in chosen], dtype=np.int64),
        limit_hours=np.array([categories[i][2] for i in chosen]),
        department_ids=[categories[i][3] for i in chosen],
        created_at=[now - timedelta(hours=float(h)) for h in age_hours],
        steps=_histories(rng, age_hours),
        by_inspector=rng.uniform(size=count) < 0.7,
        urgent=rng.uniform(size=count) < 0.1,
    )


def _histories(
    rng: np.random.Generator, age_hours: npt.NDArray[np.float64]
) -> list[tuple[Step, ...]]:
    """A path per case; on the main line, young cases are still moving and old ones closed."""
    shares = np.array([share for share, _ in SIDE_PATHS])
    paths = rng.choice(len(PATHS), size=len(age_hours), p=[1 - shares.sum(), *shares])
    progress = np.clip(age_hours / (10 * 24) + rng.uniform(-0.5, 0.5, len(age_hours)), 0, 1)
    stops = np.minimum((progress * len(MAIN_LINE)).astype(np.int64), len(MAIN_LINE) - 1)
    return [
        MAIN_LINE[: stop + 1] if path == 0 else PATHS[path]
        for path, stop in zip(paths.tolist(), stops.tolist(), strict=True)
    ]


def _timeline(created: datetime, steps: tuple[Step, ...], limit_hours: float) -> list[datetime]:
    """When each step happened: the handling takes part of the limit, the rest a little while."""
    moments = [created]
    for action, _, _ in steps[1:]:
        gap = limit_hours * 0.6 if action == "handle" else STEP_GAP_HOURS.get(action, 1.0)
        moments.append(moments[-1] + timedelta(hours=gap))
    return moments


def _write(
    session: Session,
    points: npt.NDArray[np.float64],
    cell_ids: npt.NDArray[np.int64],
    plan: _Plan,
    actors: DemoActors,
    *,
    calendar: WorkCalendar,
) -> None:
    first_id = int(session.scalar(text("SELECT coalesce(max(id), 0) FROM event_case")) or 0) + 1
    numbers = _case_numbers(session, plan.created_at)
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        _copy(
            cursor,
            "event_case (id, number, status, category_id, urgency, description, geom, "
            "cell_id, department_id, reported_by, created_at, updated_at, dispatched_at, "
            "due_at, handled_at, closed_at, suspended_from, rework_count, return_count)",
            _case_rows(first_id, numbers, points, cell_ids, plan, actors),
        )
        _copy(
            cursor,
            "report (report_uuid, case_id, original_case_id, reporter_id, channel, "
            "geom, description, created_at)",
            _report_rows(first_id, points, plan, actors),
        )
        _copy(
            cursor,
            "case_transition (case_id, action, from_status, to_status, actor_id, actor_role, "
            "details, at)",
            _history_rows(first_id, plan, actors, calendar),
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
    per_day: dict[date, int] = {}
    for day in days:
        per_day[day] = per_day.get(day, 0) + 1
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


def _first(steps: tuple[Step, ...], times: list[datetime], action: str) -> datetime | None:
    return next((times[i] for i, step in enumerate(steps) if step[0] == action), None)


def _last(steps: tuple[Step, ...], times: list[datetime], action: str) -> datetime | None:
    found = [times[i] for i, step in enumerate(steps) if step[0] == action]
    return found[-1] if found else None


def _case_rows(
    first_id: int,
    numbers: list[str],
    points: npt.NDArray[np.float64],
    cell_ids: npt.NDArray[np.int64],
    plan: _Plan,
    actors: DemoActors,
) -> Iterator[tuple[object, ...]]:
    for i, (lon, lat) in enumerate(points.tolist()):
        steps = plan.steps[i]
        times = _timeline(plan.created_at[i], steps, float(plan.limit_hours[i]))
        dispatched = _first(steps, times, "dispatch")
        due = dispatched + timedelta(hours=float(plan.limit_hours[i])) if dispatched else None
        status = steps[-1][2]
        on_desk = dispatched is not None and status is not CaseStatus.RETURNED
        yield (
            first_id + i,
            numbers[i],
            status.value,
            int(plan.category_ids[i]),
            "urgent" if plan.urgent[i] else "normal",
            "演示数据 demo report",
            f"SRID=4326;POINT({lon} {lat})",
            int(cell_ids[i]),
            plan.department_ids[i] if on_desk else None,
            _reporter(plan, i, actors),
            times[0],
            times[-1],
            dispatched,
            due,
            _last(steps, times, "handle"),
            times[-1] if status is CaseStatus.CLOSED else None,
            steps[-1][1].value if status is CaseStatus.SUSPENDED and steps[-1][1] else None,
            sum(1 for step in steps if step[0] == "verify_fail"),
            sum(1 for step in steps if step[0] == "return"),
        )


def _reporter(plan: _Plan, i: int, actors: DemoActors) -> int:
    return actors.inspector_id if plan.by_inspector[i] else actors.citizen_id


def _report_rows(
    first_id: int, points: npt.NDArray[np.float64], plan: _Plan, actors: DemoActors
) -> Iterator[tuple[object, ...]]:
    # Deterministic UUIDs: a reload would produce the same reports, never new ones.
    namespace = uuid.UUID(int=SEED)
    for i, (lon, lat) in enumerate(points.tolist()):
        case_id = first_id + i
        yield (
            uuid.uuid5(namespace, str(case_id)),
            case_id,
            case_id,
            _reporter(plan, i, actors),
            DEMO_CHANNEL,
            f"SRID=4326;POINT({lon} {lat})",
            "演示数据 demo report",
            plan.created_at[i],
        )


def _history_rows(
    first_id: int, plan: _Plan, actors: DemoActors, calendar: WorkCalendar
) -> Iterator[tuple[object, ...]]:
    actor_ids = {
        "dispatcher": actors.dispatcher_id,
        "department": actors.department_user_id,
        "inspector": actors.inspector_id,
    }
    for i, steps in enumerate(plan.steps):
        times = _timeline(plan.created_at[i], steps, float(plan.limit_hours[i]))
        reporter_role = "inspector" if plan.by_inspector[i] else "citizen"
        handled_at: datetime | None = None
        for (action, source, target), moment in zip(steps, times, strict=True):
            role = ACTOR_ROLE.get(action, reporter_role)
            actor = actor_ids.get(role, _reporter(plan, i, actors))
            if action == "report":
                actor = _reporter(plan, i, actors)
            handled_at = moment if action == "handle" else handled_at
            yield (
                first_id + i,
                action,
                source.value if source else None,
                target.value,
                actor,
                role,
                _details(action, handled_at, moment, calendar),
                moment,
            )


def _details(
    action: str, handled_at: datetime | None, moment: datetime, calendar: WorkCalendar
) -> str:
    """The history row's details as JSON: a verification names the handling it verifies and
    the working hours since (as events/case_service.py records them; evaluation counts the
    inspector's verifications on time from those hours)."""
    if action not in VERIFY_ACTIONS:
        return "{}"
    if handled_at is None:
        return json.dumps({"handled_at": None})
    waited = working_hours_between(handled_at, moment, calendar)
    return json.dumps(
        {"handled_at": handled_at.isoformat(), "verify_working_hours": round(waited, 4)}
    )
