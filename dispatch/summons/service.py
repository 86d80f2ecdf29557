"""Summons (吹哨报到) on the database: summon units to a case, their report-in with a photo,
their answers, the street office's ratings, and the reads for the case, the desk and the
monthly evaluation. Each step is also a row of the case's history. Functions flush, never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Principal, Role
from citygrid.errors import Conflict, InvalidInput, NotFound
from citygrid.settings import Settings
from dispatch.calendars import service as calendars
from dispatch.hotline.replies import due
from dispatch.summons import roster
from dispatch.summons.models import CaseSummons
from dispatch.summons.schemas import SummonedUnit, SummonsRead, UnitRatings
from events.cases import service as cases
from events.cases.service import Step
from events.hotline.models import HotlineTicket
from events.hotline.service import record_event
from events.hotline.standard import Limit
from events.lifecycle import OPEN_STATUSES, CaseStatus
from events.models import Case, CasePhoto
from events.photos import service as photos


@dataclass(frozen=True)
class SummonsPolicy:
    default_hours: float
    default_calendar_code: str


def department_by_code(session: Session, code: str) -> Department:
    department = session.scalar(select(Department).where(Department.code == code))
    if department is None or not department.is_active:
        raise InvalidInput(f"no department has code {code!r}", field="department_code")
    return department


def case_id_by_number(session: Session, number: str) -> int:
    case_id = session.scalar(select(Case.id).where(Case.number == number.strip()))
    if case_id is None:
        raise InvalidInput(f"no case has number {number!r}", field="case_number")
    return case_id


def summon(
    session: Session,
    case_id: int,
    units: Sequence[SummonedUnit],
    note: str | None,
    principal: Principal,
    now: datetime,
    policy: SummonsPolicy,
) -> list[CaseSummons]:
    """Summon units to an open case, each with its own limit (clock or working time on its
    calendar); a unit already summoned to the case is a 409."""
    target = cases.visible_case(session, case_id, principal)
    if CaseStatus(target.status) not in OPEN_STATUSES or target.merged_into_id is not None:
        raise Conflict(f"case {case_id} is {target.status}: only an open case summons units")
    chosen: dict[str, SummonedUnit] = {}
    for unit in units:  # the same unit twice in one call is summoned once
        chosen.setdefault(unit.department_code, unit)
    rows = []
    for code, unit in chosen.items():
        department = department_by_code(session, code)
        limit = Limit(unit.hours or policy.default_hours, working_time=unit.working_time)
        calendar = calendars.calendar_for_department(
            session, department.id, default_code=policy.default_calendar_code
        )
        rows.append(
            CaseSummons(
                case_id=target.id,
                department_id=department.id,
                summoned_by=principal.user_id,
                summoned_at=now,
                note=note.strip() if note and note.strip() else None,
                limit_hours=limit.hours,
                working_time=limit.working_time,
                due_at=due(now, limit, calendar).at,
            )
        )
    try:
        with session.begin_nested():
            session.add_all(rows)
            session.flush()
    except IntegrityError as error:
        raise Conflict(
            "a unit is already summoned to this case", field="department_code"
        ) from error
    codes = list(chosen)
    details = {"department_codes": codes, "due_at": [row.due_at.isoformat() for row in rows]}
    cases.note(session, target, "summons", note or "", details, principal, now)
    ticket_id = session.scalar(select(HotlineTicket.id).where(HotlineTicket.case_id == target.id))
    if ticket_id is not None:
        data = {"case_number": target.number, "department_codes": codes}
        record_event(session, ticket_id, "summoned", data, now=now)
    return rows


def summons_of(
    session: Session, case_id: int, code: str, principal: Principal
) -> tuple[CaseSummons, Case]:
    """A unit's summons to the case, for a member of that unit (or an administrator)."""
    row = session.execute(
        select(CaseSummons, Case)
        .join(Department, Department.id == CaseSummons.department_id)
        .join(Case, Case.id == CaseSummons.case_id)
        .where(CaseSummons.case_id == case_id, Department.code == code)
        .with_for_update(of=CaseSummons)
    ).first()
    if row is None:
        raise NotFound(f"no summons of {code!r} to case {case_id}", field="department_code")
    summons, target = row
    if principal.role is not Role.ADMIN and principal.department_id != summons.department_id:
        raise NotFound(f"no summons of {code!r} to case {case_id}", field="department_code")
    return summons, target


def report_in(
    session: Session,
    case_id: int,
    code: str,
    uploads: Sequence[UploadFile],
    note: str | None,
    principal: Principal,
    now: datetime,
    settings: Settings,
) -> CaseSummons:
    """The unit is on site (报到): its photo (stored like every case photo: the public copy
    without EXIF) and the time."""
    summons, target = summons_of(session, case_id, code, principal)
    roster.check_report_in(summons.reported_at, len(uploads))
    checked = photos.checked_uploads(uploads, settings)
    stored = photos.store_all(checked, settings.media_dir)
    try:
        photo_ids = cases.add_photos(session, target, stored)
        status = CaseStatus(target.status)
        details = {"department_code": code, "photo_ids": photo_ids}
        step = Step("summons_report", status, status, note, details)
        transition = cases.record(session, target, step, principal, now)
        session.execute(
            update(CasePhoto).where(CasePhoto.id.in_(photo_ids)).values(transition_id=transition.id)
        )
        summons.reported_at = now
        summons.reported_by = principal.user_id
        summons.photo_id = photo_ids[0]
        session.flush()
    except Exception:
        photos.discard(stored)
        raise
    return summons


def answer(
    session: Session, case_id: int, code: str, text: str, principal: Principal, now: datetime
) -> CaseSummons:
    """The unit's own answer: done once it reported in."""
    summons, target = summons_of(session, case_id, code, principal)
    roster.check_answer(summons.reported_at, summons.answered_at)
    summons.answer = text.strip()
    summons.answered_at = now
    summons.answered_by = principal.user_id
    session.flush()
    cases.note(
        session, target, "summons_answer", summons.answer, {"department_code": code}, principal, now
    )
    return summons


def rate(
    session: Session,
    case_id: int,
    code: str,
    rating: int,
    note: str | None,
    principal: Principal,
    now: datetime,
) -> CaseSummons:
    """The street office rates a unit that reported in (1–5 with a note); rating again replaces."""
    kind = None
    if principal.department_id is not None:
        rater = session.get(Department, principal.department_id)
        kind = rater.kind if rater is not None else None
    roster.check_rater(principal.role, kind)
    row = session.scalar(
        select(CaseSummons)
        .join(Department, Department.id == CaseSummons.department_id)
        .where(CaseSummons.case_id == case_id, Department.code == code)
        .with_for_update(of=CaseSummons)
    )
    if row is None:
        raise NotFound(f"no summons of {code!r} to case {case_id}", field="department_code")
    roster.check_ratable(row.reported_at)
    row.rating = rating
    row.rating_note = note.strip() if note and note.strip() else None
    row.rated_by = principal.user_id
    row.rated_at = now
    session.flush()
    return row


def case_summons(
    session: Session, case_id: int, principal: Principal, now: datetime
) -> list[SummonsRead]:
    """Every unit summoned to the case: staff who may see the case, or a summoned unit."""
    rows = session.execute(
        select(CaseSummons, Department, Case)
        .join(Department, Department.id == CaseSummons.department_id)
        .join(Case, Case.id == CaseSummons.case_id)
        .where(CaseSummons.case_id == case_id)
        .order_by(CaseSummons.id)
    ).all()
    summoned = any(row.department_id == principal.department_id for row, _, _ in rows)
    if not summoned:
        cases.visible_case(session, case_id, principal)  # NotFound for a case they may not see
    return [summons_read(row, department, target, now) for row, department, target in rows]


def summons_read(
    row: CaseSummons, department: Department, target: Case, now: datetime
) -> SummonsRead:
    where = roster.standing(
        due_at=row.due_at, reported_at=row.reported_at, answered_at=row.answered_at, now=now
    )
    return SummonsRead(
        case_id=row.case_id,
        case_number=target.number,
        department_code=department.code,
        department_name=department.name,
        summoned_at=row.summoned_at,
        note=row.note,
        limit_hours=row.limit_hours,
        working_time=row.working_time,
        due_at=row.due_at,
        state=where.state.value,
        late=where.late,
        reported_at=row.reported_at,
        photo_id=row.photo_id,
        answer=row.answer,
        answered_at=row.answered_at,
        rating=row.rating,
        rating_note=row.rating_note,
        rated_at=row.rated_at,
    )


def read_one(session: Session, row: CaseSummons, now: datetime) -> SummonsRead:
    department = session.get(Department, row.department_id)
    target = session.get(Case, row.case_id)
    assert department is not None and target is not None
    return summons_read(row, department, target, now)


@dataclass(frozen=True)
class DeskSummons:
    read: SummonsRead
    description: str


def desk_summons(session: Session, department_id: int, now: datetime) -> list[DeskSummons]:
    """The unit's summons not yet answered, the nearest deadline first."""
    rows = session.execute(
        select(CaseSummons, Department, Case)
        .join(Department, Department.id == CaseSummons.department_id)
        .join(Case, Case.id == CaseSummons.case_id)
        .where(CaseSummons.department_id == department_id, CaseSummons.answered_at.is_(None))
        .order_by(CaseSummons.due_at, CaseSummons.id)
        .limit(100)
    ).all()
    return [
        DeskSummons(summons_read(row, department, target, now), target.description or "")
        for row, department, target in rows
    ]


def monthly_ratings(
    session: Session, month: str, zone: ZoneInfo, department_code: str | None
) -> list[UnitRatings]:
    """Per unit, the month's ratings (by rating time in the city's zone): how many, their
    average, and of those rated how many reported in on time. One grouped statement."""
    start, end = roster.month_bounds(month, zone)
    on_time = case((CaseSummons.reported_at <= CaseSummons.due_at, 1), else_=0)
    query = (
        select(
            Department.code,
            Department.name,
            func.count(CaseSummons.id),
            func.avg(CaseSummons.rating),
            func.count(CaseSummons.reported_at),
            func.sum(on_time),
        )
        .join(Department, Department.id == CaseSummons.department_id)
        .where(
            and_(
                CaseSummons.rated_at >= start,
                CaseSummons.rated_at < end,
                CaseSummons.rating.is_not(None),
            )
        )
        .group_by(Department.code, Department.name)
        .order_by(Department.code)
    )
    if department_code is not None:
        query = query.where(Department.code == department_code)
    return [
        UnitRatings(
            department_code=code,
            department_name=name,
            month=month,
            ratings=count,
            average=round(float(average), 4),
            reported_in=reported,
            on_time=int(timely or 0),
        )
        for code, name, count, average, reported, timely in session.execute(query)
    ]
