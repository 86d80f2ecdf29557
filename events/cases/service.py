"""The closed loop on the database: actions with optimistic concurrency, reading, merge and split.

Every action is one guarded `UPDATE event_case … WHERE id = :id AND version = :seen`: of two
people acting on the same case at once, the second finds the version moved on and gets 409,
whatever the isolation level. Each successful action appends one `case_transition` row in the
same transaction.

Merged cases: a case merged into another keeps its own status (the state it was in when merged,
so a split brings it back exactly as it was); `merged_into_id` marks it as merged, which takes it
out of every open queue (open = status in OPEN_STATUSES and merged_into_id IS NULL) and refuses
every action on it but split. Its reports move to the survivor (`Report.original_case_id`
remembers where they came from), so their reporters follow the survivor's status; its photos and
history stay its own rows and are listed with the survivor's. Merging is one level deep: a case
that has cases merged into it cannot itself be merged, and nothing merges into a merged case.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citygrid.accounts.auth import Principal, Role
from citygrid.accounts.models import Department
from citygrid.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dispatch.assignments import service as assignments
from dispatch.deadlines import working_hours_between
from dispatch.inbox import service as notifications
from dispatch.rules import service as routing
from dispatch.webhooks import service as webhooks
from events import visibility
from events.cases.schemas import (
    CaseActionBody,
    CaseDetail,
    DeadlineView,
    HistoryRow,
    MergedIntoSummary,
    ReportSummary,
    RoutingView,
)
from events.lifecycle import (
    OPEN_STATUSES,
    CaseAction,
    CaseStatus,
    TransitionRefused,
    allowed_actions,
    next_status,
)
from events.models import Case, CaseAssignment, CasePhoto, CaseTransition, Report
from events.photos import service as photos

A = CaseAction
EVENT_NAMESPACE = uuid.UUID("5d1f7c1e-3b0a-4c55-9a39-2f0c1d6c9e11")  # webhook event ids of steps
# Roles shown who made each report and who took each step; a citizen or an inspector sees only
# their own user id there.
READ_ALL_ROLES = frozenset({Role.DISPATCHER, Role.DEPARTMENT, Role.MANAGER, Role.ADMIN})
# The last of these actions in a case's history tells whether a suspension request is pending.
SUSPENSION_RECORD = (
    A.REQUEST_SUSPENSION.value,
    A.APPROVE_SUSPENSION.value,
    A.REFUSE_SUSPENSION.value,
    A.RETURN.value,  # a returned case's requests leave with its department
)


class CaseChanged(TransitionRefused):
    """Someone else acted on the case since the caller read it."""


@dataclass(frozen=True)
class Situation:
    """What, beside status and role, decides whether an action is possible right now."""

    postponement_pending: bool
    suspension_pending: bool
    reopen_until: datetime | None
    now: datetime


@dataclass(frozen=True)
class Effect:
    changes: dict[str, Any] = field(default_factory=dict)  # columns of event_case
    details: dict[str, Any] = field(default_factory=dict)  # recorded in the history row


def reopen_refusal(situation: Situation) -> str | None:
    until = situation.reopen_until
    if until is None:
        return "the case has no closing time to count the reopen window from"
    return None if situation.now <= until else f"the reopen window ended at {until.isoformat()}"


# Each returns why the action is impossible in this situation, or None.
PREREQUISITES: dict[CaseAction, Callable[[Situation], str | None]] = {
    A.REQUEST_POSTPONEMENT: lambda s: (
        "a postponement request is already pending" if s.postponement_pending else None
    ),
    A.APPROVE_POSTPONEMENT: lambda s: (
        None if s.postponement_pending else "no postponement request is pending"
    ),
    A.REFUSE_POSTPONEMENT: lambda s: (
        None if s.postponement_pending else "no postponement request is pending"
    ),
    A.REQUEST_SUSPENSION: lambda s: (
        "a suspension request is already pending" if s.suspension_pending else None
    ),
    A.APPROVE_SUSPENSION: lambda s: (
        None if s.suspension_pending else "no suspension request is pending"
    ),
    A.REFUSE_SUSPENSION: lambda s: (
        None if s.suspension_pending else "no suspension request is pending"
    ),
    A.REOPEN: reopen_refusal,
}


def get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case has id {case_id}", field="case_id")
    return case


def situation_of(
    session: Session, case: Case, now: datetime, reopen_window: timedelta
) -> Situation:
    last_suspension_step = session.scalar(
        select(CaseTransition.action)
        .where(CaseTransition.case_id == case.id, CaseTransition.action.in_(SUSPENSION_RECORD))
        .order_by(CaseTransition.at.desc(), CaseTransition.id.desc())
        .limit(1)
    )
    return Situation(
        postponement_pending=case.postponement_hours_requested is not None,
        suspension_pending=last_suspension_step == A.REQUEST_SUSPENSION.value,
        reopen_until=case.closed_at + reopen_window if case.closed_at else None,
        now=now,
    )


def actions_for(case: Case, principal: Principal, situation: Situation) -> list[CaseAction]:
    """The actions the caller may take on the case now."""
    if case.merged_into_id is not None or not owns(principal, case):
        return []
    candidates = allowed_actions(CaseStatus(case.status), principal.role)
    return [a for a in candidates if a not in PREREQUISITES or PREREQUISITES[a](situation) is None]


def owns(principal: Principal, case: Case) -> bool:
    """A department member works only on its own department's cases; other roles on any."""
    return principal.role is not Role.DEPARTMENT or case.department_id == principal.department_id


def act_on_case(
    session: Session,
    case_id: int,
    action: CaseAction,
    principal: Principal,
    body: CaseActionBody,
    now: datetime,
    *,
    reopen_window: timedelta,
    default_calendar_code: str = "default",
    auto: bool = False,
) -> Case:
    """Take `action` on the case as `principal`: the new state, its side effects, a history row;
    filing routes the case, and dispatches it at once where the rules say so."""
    ctx = ActionContext(principal, now, default_calendar_code, auto)
    case = visible_case(session, case_id, principal)
    situation = situation_of(session, case, now, reopen_window)
    if body.expected_version is not None and body.expected_version != case.version:
        raise changed_meanwhile(case, principal, situation)
    check_may_act(case, action, principal, situation)
    status = CaseStatus(case.status)
    suspended_from = CaseStatus(case.suspended_from) if case.suspended_from else None
    target = next_status(
        status, action, principal.role, reason=body.reason, suspended_from=suspended_from
    )
    effect = EFFECTS.get(action, no_effect)(session, case, body, ctx)
    photo_ids = attachable_photos(session, case, body.photo_ids)
    if not write_state(session, case, seen=case.version, target=target, now=now, effect=effect):
        raise changed_meanwhile(case, principal, situation_of(session, case, now, reopen_window))
    details = {**effect.details, **({"photo_ids": photo_ids} if photo_ids else {})}
    step = Step(action.value, status, target, body.reason, details)
    transition = record(session, case, step, principal, now)
    if photo_ids:
        session.execute(
            update(CasePhoto).where(CasePhoto.id.in_(photo_ids)).values(transition_id=transition.id)
        )
        session.flush()
    announce(session, case, transition, ctx)
    if action is A.FILE:
        route_filed_case(session, case, ctx, reopen_window)
    return case


# Actions that others hear about: webhook event kinds (the department is also told in its inbox).
ANNOUNCED = {
    A.DISPATCH: "case.dispatched",
    A.RETURN: "case.returned",
    A.HANDLE: "case.handled",
    A.VERIFY_PASS: "case.closed",
    A.VERIFY_FAIL: "case.rework",
    A.CANCEL: "case.cancelled",
}


def announce(session: Session, case: Case, transition: CaseTransition, ctx: ActionContext) -> None:
    """The webhook event of the step (in the same transaction: an outbox row), and for a
    dispatch a message in the department's inbox."""
    kind = ANNOUNCED.get(CaseAction(transition.action))
    if kind is None:
        return
    payload = {
        "case_id": case.id,
        "number": case.number,
        "action": transition.action,
        "from_status": transition.from_status,
        "status": case.status,
        "department_id": case.department_id,
        "due_at": case.due_at,
        "reason": transition.reason,
        "at": ctx.now,
    }
    event_id = uuid.uuid5(EVENT_NAMESPACE, f"case_transition:{transition.id}")
    webhooks.enqueue(session, kind=kind, payload=payload, now=ctx.now, event_id=event_id)
    if kind == "case.dispatched" and case.department_id is not None:
        due = f", due {case.due_at.isoformat(timespec='minutes')}" if case.due_at else ""
        notifications.notify_department(
            session,
            case.department_id,
            kind=kind,
            title=f"Case {case.number} dispatched to you{due}",
            case_id=case.id,
            body={"due_at": case.due_at, "auto": ctx.auto},
            now=ctx.now,
        )


def route_filed_case(
    session: Session, case: Case, ctx: ActionContext, reopen_window: timedelta
) -> None:
    """Store the routing decision for a newly filed case; dispatch it when its category is
    configured for auto-dispatch and a rule names a department."""
    decision = routing.decide_routes(session, [case.id], at=ctx.now)[case.id]
    if not decision.auto_dispatch or decision.department_code is None:
        return
    body = CaseActionBody(department_code=decision.department_code)
    act_on_case(
        session,
        case.id,
        A.DISPATCH,
        ctx.principal,
        body,
        ctx.now,
        reopen_window=reopen_window,
        default_calendar_code=ctx.default_calendar_code,
        auto=True,
    )


def check_may_act(
    case: Case, action: CaseAction, principal: Principal, situation: Situation
) -> None:
    """403 for a case another department holds now (one that held it before still sees it);
    409 with the allowed actions for anything impossible."""
    status = CaseStatus(case.status)
    if case.merged_into_id is not None:
        raise TransitionRefused(
            f"case {case.id} is merged into case {case.merged_into_id}: act on that case, "
            "or split this one out first",
            status=status,
            allowed=[],
        )
    # A case with no department (returned, or not yet dispatched) is a 409 below, not a 403:
    # nobody else owns it, the state is what is wrong.
    if not owns(principal, case) and case.department_id is not None:
        raise PermissionDenied(f"case {case.id} belongs to another department")
    allowed = actions_for(case, principal, situation)
    if action in allowed:
        return
    prerequisite = PREREQUISITES.get(action)
    if prerequisite is not None and action in allowed_actions(status, principal.role):
        why = prerequisite(situation)
    else:
        why = f"{principal.role} cannot {action} a case that is {status}"
    names = ", ".join(allowed) or "none"
    raise TransitionRefused(
        f"cannot {action} case {case.id}: {why} (allowed: {names})", status=status, allowed=allowed
    )


def changed_meanwhile(case: Case, principal: Principal, situation: Situation) -> CaseChanged:
    return CaseChanged(
        f"case {case.id} changed meanwhile (it is now {case.status}, version {case.version}); "
        "reload it and try again",
        status=CaseStatus(case.status),
        allowed=actions_for(case, principal, situation),
    )


def write_state(
    session: Session, case: Case, *, seen: int, target: CaseStatus, now: datetime, effect: Effect
) -> bool:
    """The guarded UPDATE: whether it won; afterwards `case` holds the row as it now is."""
    won = session.execute(
        update(Case)
        .where(Case.id == case.id, Case.version == seen)
        .values(status=target.value, version=seen + 1, updated_at=now, **effect.changes)
        .returning(Case.id),
        execution_options={"synchronize_session": False},
    ).first()
    # A new statement sees the winner's committed row (READ COMMITTED), for the 409 or the reply.
    session.refresh(case)
    return won is not None


@dataclass(frozen=True)
class Step:
    """One history row's content."""

    action: str
    source: CaseStatus | None
    target: CaseStatus
    reason: str | None
    details: dict[str, Any]


def record(
    session: Session, case: Case, step: Step, principal: Principal, now: datetime
) -> CaseTransition:
    # `at` comes from the caller's clock: the database's now() is the transaction's start, the
    # same for every row written in one transaction, and would not order them.
    transition = CaseTransition(
        case_id=case.id,
        action=step.action,
        from_status=step.source.value if step.source else None,
        to_status=step.target.value,
        actor_id=principal.user_id,
        actor_role=principal.role.value,
        reason=step.reason,
        details=step.details,
        at=now,
    )
    session.add(transition)
    session.flush()
    return transition


# Side effects of the actions that have any: the columns they set and what the history says.


@dataclass(frozen=True)
class ActionContext:
    """Who acts, when, and the calendar for departments that have none of their own."""

    principal: Principal
    now: datetime
    default_calendar_code: str = "default"
    auto: bool = False  # the system acts on the rules' word (auto-dispatch on filing)


EffectFn = Callable[[Session, Case, CaseActionBody, ActionContext], Effect]


def no_effect(session: Session, case: Case, body: CaseActionBody, ctx: ActionContext) -> Effect:
    return Effect()


def file_case(session: Session, case: Case, body: CaseActionBody, ctx: ActionContext) -> Effect:
    return Effect({"filed_at": ctx.now})


def dispatch(session: Session, case: Case, body: CaseActionBody, ctx: ActionContext) -> Effect:
    """To the named department, else to the one the routing rules suggested for the case."""
    if case.status == CaseStatus.DISPATCHED and not (body.reason and body.reason.strip()):
        raise InvalidInput(
            "a reassign (dispatch of a dispatched case) needs a reason", field="reason"
        )
    suggestion = routing.latest_decisions(session, [case.id]).get(case.id)
    department = chosen_department(session, body.department_code, suggestion)
    follows_rule = suggestion is not None and suggestion.department_id == department.id
    calendar = assignments.calendar_of(session, department.id, ctx.default_calendar_code)
    decision_id = suggestion.decision_id if follows_rule and suggestion is not None else None
    new = assignments.NewAssignment(department, decision_id, ctx.principal, ctx.now)
    try:
        with session.begin_nested():
            assignment = assignments.start_assignment(session, case, new, calendar)
    except IntegrityError as error:
        # Another dispatch of this case committed first (one current assignment per case).
        raise CaseChanged(
            f"case {case.id} was dispatched by someone else meanwhile; reload it and try again",
            status=CaseStatus(case.status),
            allowed=[],
        ) from error
    details: dict[str, Any] = {
        "department_code": department.code,
        "due_at": assignment.due_at.isoformat() if assignment.due_at else None,
        "due_provisional": assignment.due_provisional,
        "limit_hours": assignment.limit_hours,
        "follows_rule": follows_rule,
        "auto": ctx.auto,
    }
    if suggestion is not None:
        details["routing_reason"] = suggestion.reason
    if case.status == CaseStatus.DISPATCHED:
        details["reassigned_from_department_id"] = case.department_id
    changes: dict[str, Any] = {
        "department_id": department.id,
        "dispatched_at": ctx.now,
        "due_at": assignment.due_at,
        "warn_at": assignment.warn_at,
        "due_provisional": assignment.due_provisional,
        "suspended_at": None,
    }
    if follows_rule and suggestion is not None:
        changes |= {"rule_set_id": suggestion.rule_set_id, "routing_rule_id": suggestion.rule_id}
    return Effect(changes, details)


def chosen_department(
    session: Session, code: str | None, suggestion: routing.RouteDecision | None
) -> Department:
    if code:
        return department_named(session, code)
    if suggestion is not None and suggestion.department_id is not None:
        department = session.get(Department, suggestion.department_id)
        if department is not None:
            return department
    why = suggestion.reason if suggestion is not None else "the case was never routed"
    raise InvalidInput(
        f"no department is suggested for this case ({why}): name one in department_code",
        field="department_code",
    )


def department_named(session: Session, code: str | None) -> Department:
    if not code:
        raise InvalidInput("dispatch needs department_code", field="department_code")
    department = session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise InvalidInput(f"no department has code {code!r}", field="department_code")
    if not department.is_active:
        raise InvalidInput(f"department {code!r} is no longer active", field="department_code")
    return department


def accept(session: Session, case: Case, body: CaseActionBody, ctx: ActionContext) -> Effect:
    assignment = assignments.current_assignment(session, case.id)
    if assignment is not None:
        assignment.accepted_at = ctx.now
        session.flush()
    return Effect()


def return_to_dispatchers(
    session: Session, case: Case, body: CaseActionBody, ctx: ActionContext
) -> Effect:
    assignments.end_current(session, case.id, now=ctx.now, reason="returned")
    changes = {
        "return_count": case.return_count + 1,
        "department_id": None,
        "postponement_hours_requested": None,  # the request leaves with the department
        "due_at": None,
        "warn_at": None,
        "due_provisional": False,
    }
    details = {"department_id": case.department_id, "return_count": case.return_count + 1}
    return Effect(changes, details)


def handle(session: Session, case: Case, body: CaseActionBody, ctx: ActionContext) -> Effect:
    assignment = assignments.current_assignment(session, case.id)
    details: dict[str, Any] = {}
    if assignment is not None:
        calendar = assignments.calendar_of(
            session, assignment.department_id, ctx.default_calendar_code
        )
        progress = assignments.progress_of(assignment, calendar, ctx.now)
        assignment.handled_at = ctx.now
        assignment.handling_hours = progress.used_hours
        session.flush()
        details = {"working_hours": progress.used_hours, "on_time": not progress.overdue}
    return Effect({"handled_at": ctx.now}, details)


def verify_pass(session: Session, case: Case, body: CaseActionBody, ctx: ActionContext) -> Effect:
    assignments.end_current(session, case.id, now=ctx.now, reason="closed")
    return Effect({"closed_at": ctx.now}, verified_handling(session, case, ctx))


def verified_handling(session: Session, case: Case, ctx: ActionContext) -> dict[str, Any]:
    """The handling a verification answers, and the working hours (default calendar) the
    inspector took since: evaluation counts verifications on time from them."""
    if case.handled_at is None:
        return {"handled_at": None}
    calendar = assignments.calendar_of(session, None, ctx.default_calendar_code)
    waited = working_hours_between(case.handled_at, ctx.now, calendar)
    return {"handled_at": case.handled_at.isoformat(), "verify_working_hours": round(waited, 4)}


def verify_fail(session: Session, case: Case, body: CaseActionBody, ctx: ActionContext) -> Effect:
    assignment = assignments.current_assignment(session, case.id)
    if assignment is not None:
        # The same department works again against the same deadline.
        assignment.rework_count += 1
        assignment.handled_at = None
        assignment.handling_hours = None
        session.flush()
    rework_count = case.rework_count + 1
    details = {"rework_count": rework_count, **verified_handling(session, case, ctx)}
    return Effect({"rework_count": rework_count}, details)


def request_postponement(
    session: Session, case: Case, body: CaseActionBody, ctx: ActionContext
) -> Effect:
    if body.hours is None:
        raise InvalidInput("a postponement request needs hours", field="hours")
    return Effect({"postponement_hours_requested": body.hours}, {"hours": body.hours})


def approve_postponement(
    session: Session, case: Case, body: CaseActionBody, ctx: ActionContext
) -> Effect:
    """The approved working hours move the deadline (and the warning point) on."""
    requested = case.postponement_hours_requested or 0.0
    hours = body.hours if body.hours is not None else requested
    if hours > requested:
        raise InvalidInput(f"{hours} hours approved but only {requested} requested", field="hours")
    changes: dict[str, Any] = {
        "postponement_hours_requested": None,
        "postponed_hours": case.postponed_hours + hours,
    }
    details: dict[str, Any] = {"hours": hours, "requested_hours": requested}
    schedule = rescheduled(session, case, ctx, postponed_hours=hours)
    if schedule is not None:
        changes |= assignments.schedule_changes(schedule)
        details["due_at"] = schedule.due_at.isoformat() if schedule.due_at else None
    return Effect(changes, details)


def rescheduled(
    session: Session,
    case: Case,
    ctx: ActionContext,
    *,
    postponed_hours: float = 0.0,
    paused_hours: float = 0.0,
) -> assignments.Schedule | None:
    """Add postponed or paused working time to the current assignment; its new schedule."""
    assignment = assignments.current_assignment(session, case.id)
    if assignment is None:
        return None
    assignment.postponed_hours += postponed_hours
    assignment.postponement_count += 1 if postponed_hours else 0
    assignment.suspended_hours += paused_hours
    calendar = assignments.calendar_of(session, assignment.department_id, ctx.default_calendar_code)
    schedule = assignments.apply_schedule(assignment, calendar)
    session.flush()
    return schedule


def refuse_postponement(
    session: Session, case: Case, body: CaseActionBody, ctx: ActionContext
) -> Effect:
    details = {"requested_hours": case.postponement_hours_requested}
    return Effect({"postponement_hours_requested": None}, details)


def approve_suspension(
    session: Session, case: Case, body: CaseActionBody, ctx: ActionContext
) -> Effect:
    """The deadline clock stops until the case is resumed."""
    assignment = assignments.current_assignment(session, case.id)
    if assignment is not None:
        assignment.suspended_at = ctx.now
        session.flush()
    return Effect({"suspended_from": case.status, "suspended_at": ctx.now})


def resume(session: Session, case: Case, body: CaseActionBody, ctx: ActionContext) -> Effect:
    """The working time the suspension lasted is added to the deadline."""
    changes: dict[str, Any] = {"suspended_from": None, "suspended_at": None}
    assignment = assignments.current_assignment(session, case.id)
    if assignment is None or assignment.suspended_at is None:
        return Effect(changes)
    calendar = assignments.calendar_of(session, assignment.department_id, ctx.default_calendar_code)
    paused = working_hours_between(assignment.suspended_at, ctx.now, calendar)
    assignment.suspended_at = None
    schedule = rescheduled(session, case, ctx, paused_hours=paused)
    assert schedule is not None
    details = {
        "paused_working_hours": round(paused, 4),
        "due_at": schedule.due_at.isoformat() if schedule.due_at else None,
    }
    return Effect(changes | assignments.schedule_changes(schedule), details)


def cancel(session: Session, case: Case, body: CaseActionBody, ctx: ActionContext) -> Effect:
    assignments.end_current(session, case.id, now=ctx.now, reason="cancelled")
    return Effect()


def reopen(session: Session, case: Case, body: CaseActionBody, ctx: ActionContext) -> Effect:
    return Effect(
        {"closed_at": None}, {"closed_at": case.closed_at.isoformat() if case.closed_at else None}
    )


EFFECTS: dict[CaseAction, EffectFn] = {
    A.FILE: file_case,
    A.DISPATCH: dispatch,
    A.ACCEPT: accept,
    A.RETURN: return_to_dispatchers,
    A.HANDLE: handle,
    A.VERIFY_PASS: verify_pass,
    A.VERIFY_FAIL: verify_fail,
    A.REQUEST_POSTPONEMENT: request_postponement,
    A.APPROVE_POSTPONEMENT: approve_postponement,
    A.REFUSE_POSTPONEMENT: refuse_postponement,
    A.APPROVE_SUSPENSION: approve_suspension,
    A.RESUME: resume,
    A.CANCEL: cancel,
    A.REOPEN: reopen,
}


def add_photos(session: Session, case: Case, stored: list[photos.StoredPhoto]) -> list[int]:
    """Rows for stored photos of the case, attached to nothing yet."""
    rows = [
        CasePhoto(
            case_id=case.id,
            storage_key=photo.storage_key,
            content_type=photo.content_type,
            size_bytes=photo.size_bytes,
            sha256=photo.sha256,
        )
        for photo in stored
    ]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def attachable_photos(session: Session, case: Case, photo_ids: list[int]) -> list[int]:
    """The given photos, when each is this case's and attached to no report or action yet."""
    if not photo_ids:
        return []
    wanted = sorted(set(photo_ids))
    found = session.scalars(
        select(CasePhoto.id).where(
            CasePhoto.id.in_(wanted),
            CasePhoto.case_id == case.id,
            CasePhoto.report_id.is_(None),
            CasePhoto.transition_id.is_(None),
        )
    ).all()
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise InvalidInput(
            f"photos {missing} are not unattached photos of case {case.id}", field="photo_ids"
        )
    return wanted


# Reading


def case_facts(session: Session, case: Case) -> visibility.CaseFacts:
    """What the visibility rule needs to know about the case, in one statement of indexed
    look-ups: its reporters, the users in its history, the departments that held it."""
    # A report first filed as this case is on it, or on the case it is merged into.
    report_case_ids = [case.id] if case.merged_into_id is None else [case.id, case.merged_into_id]
    reporters = select(func.array_agg(Report.reporter_id)).where(
        Report.case_id.in_(report_case_ids),
        or_(Report.case_id == case.id, Report.original_case_id == case.id),
    )
    actors = select(func.array_agg(CaseTransition.actor_id)).where(
        CaseTransition.case_id == case.id
    )
    departments = select(func.array_agg(CaseAssignment.department_id)).where(
        CaseAssignment.case_id == case.id
    )
    row = session.execute(
        select(reporters.scalar_subquery(), actors.scalar_subquery(), departments.scalar_subquery())
    ).one()
    return visibility.CaseFacts(
        status=CaseStatus(case.status),
        merged=case.merged_into_id is not None,
        reporter_ids=ids_of(*(row[0] or []), case.reported_by),
        actor_ids=ids_of(*(row[1] or [])),
        department_ids=ids_of(*(row[2] or []), case.department_id),
    )


def ids_of(*ids: int | None) -> frozenset[int]:
    return frozenset(id_ for id_ in ids if id_ is not None)


def may_see_case(session: Session, case: Case, principal: Principal) -> bool:
    """Whether the principal may see the case (events.visibility); see-all roles cost nothing."""
    if visibility.sees_every_case(principal):
        return True
    survivor = get_case(session, case.merged_into_id) if case.merged_into_id else None
    return visibility.may_see(
        principal,
        case_facts(session, case),
        survivor=case_facts(session, survivor) if survivor is not None else None,
    )


def visible_case(session: Session, case_id: int, principal: Principal) -> Case:
    """The case, when the principal may see it; otherwise NotFound, worded as for an id that
    does not exist, so that guessing ids reveals nothing."""
    case = session.get(Case, case_id)
    if case is None or not may_see_case(session, case, principal):
        raise NotFound(f"no case has id {case_id}", field="case_id")
    return case


def readable_case(
    session: Session, case_id: int, principal: Principal, situation_at: tuple[datetime, timedelta]
) -> tuple[Case, Situation]:
    case = visible_case(session, case_id, principal)
    return case, situation_of(session, case, *situation_at)


def case_detail(
    session: Session,
    case_id: int,
    principal: Principal,
    now: datetime,
    reopen_window: timedelta,
    default_calendar_code: str = "default",
) -> CaseDetail:
    """The case as the caller may see it, with what the caller may do with it."""
    case, situation = readable_case(session, case_id, principal, (now, reopen_window))
    merged_ids = merged_case_ids(session, case.id)
    photo_ids = session.scalars(
        select(CasePhoto.id)
        .where(CasePhoto.case_id.in_([case.id, *merged_ids]))
        .order_by(CasePhoto.id)
    ).all()
    return CaseDetail(
        **{name: getattr(case, name) for name in CASE_FIELDS},
        allowed_actions=actions_for(case, principal, situation),
        reports=report_summaries(session, case, principal),
        photo_ids=list(photo_ids),
        merged_case_ids=merged_ids,
        merged_into=survivor_summary(session, case),
        deadline=deadline_view(session, case, now, default_calendar_code),
        routing=routing_view(session, case),
    )


COMPUTED_FIELDS = {
    "allowed_actions",
    "reports",
    "photo_ids",
    "merged_case_ids",
    "merged_into",
    "deadline",
    "routing",
}
CASE_FIELDS = tuple(name for name in CaseDetail.model_fields if name not in COMPUTED_FIELDS)


def deadline_view(
    session: Session, case: Case, now: datetime, default_calendar_code: str
) -> DeadlineView | None:
    assignment = assignments.current_assignment(session, case.id)
    if assignment is None:
        return None
    department = session.get(Department, assignment.department_id)
    assert department is not None
    calendar = assignments.calendar_of(session, department.id, default_calendar_code)
    progress = assignments.progress_of(assignment, calendar, now)
    return DeadlineView(
        department_code=department.code,
        dispatched_at=assignment.dispatched_at,
        limit_hours=assignment.limit_hours,
        postponed_hours=assignment.postponed_hours,
        suspended_hours=round(assignment.suspended_hours, 4),
        allowed_hours=progress.allowed_hours,
        used_hours=progress.used_hours,
        due_at=assignment.due_at,
        warn_at=assignment.warn_at,
        provisional=assignment.due_provisional,
        light=progress.light.value,
        overdue=progress.overdue,
        suspended=assignment.suspended_at is not None,
    )


def routing_view(session: Session, case: Case) -> RoutingView | None:
    decision = routing.latest_decisions(session, [case.id]).get(case.id)
    if decision is None:
        return None
    return RoutingView(
        department_code=decision.department_code,
        rule_set_version=decision.rule_set_version,
        rule_id=decision.rule_id,
        auto_dispatch=decision.auto_dispatch,
        reason=decision.reason,
    )


def merged_case_ids(session: Session, case_id: int) -> list[int]:
    ids = session.scalars(select(Case.id).where(Case.merged_into_id == case_id).order_by(Case.id))
    return list(ids)


def report_summaries(session: Session, case: Case, principal: Principal) -> list[ReportSummary]:
    reports = session.scalars(select(Report).where(Report.case_id == case.id).order_by(Report.id))
    staff = principal.role in READ_ALL_ROLES
    return [
        ReportSummary(
            id=report.id,
            original_case_id=report.original_case_id,
            # Other people's reports are shown to citizens without saying who made them.
            reporter_id=report.reporter_id
            if staff or report.reporter_id == principal.user_id
            else None,
            channel=report.channel,
            description=report.description,
            created_at=report.created_at,
        )
        for report in reports
    ]


def survivor_summary(session: Session, case: Case) -> MergedIntoSummary | None:
    if case.merged_into_id is None:
        return None
    survivor = get_case(session, case.merged_into_id)
    return MergedIntoSummary(
        id=survivor.id, number=survivor.number, status=CaseStatus(survivor.status)
    )


def case_history(
    session: Session, case_id: int, principal: Principal, now: datetime, reopen_window: timedelta
) -> list[HistoryRow]:
    """The case's history with that of the cases merged into it, oldest first."""
    case, _ = readable_case(session, case_id, principal, (now, reopen_window))
    case_ids = [case.id, *merged_case_ids(session, case.id)]
    transitions = session.scalars(
        select(CaseTransition)
        .where(CaseTransition.case_id.in_(case_ids))
        .order_by(CaseTransition.at, CaseTransition.id)
    )
    rows = [
        history_row(transition, merged=transition.case_id != case.id) for transition in transitions
    ]
    if principal.role in READ_ALL_ROLES:
        return rows
    # As with reports: others' user ids are not shown to citizens and inspectors.
    return [
        row if row.actor_id == principal.user_id else row.model_copy(update={"actor_id": None})
        for row in rows
    ]


def history_row(transition: CaseTransition, *, merged: bool) -> HistoryRow:
    return HistoryRow(
        id=transition.id,
        case_id=transition.case_id,
        merged_case=merged,
        action=transition.action,
        from_status=CaseStatus(transition.from_status) if transition.from_status else None,
        to_status=CaseStatus(transition.to_status),
        actor_id=transition.actor_id,
        actor_role=transition.actor_role,
        reason=transition.reason,
        details=transition.details,
        at=transition.at,
    )


# Merge and split


def merge_case(
    session: Session,
    case_id: int,
    into_case_id: int,
    principal: Principal,
    reason: str,
    now: datetime,
) -> Case:
    """Merge a duplicate into a surviving case: its reports move, its photos and history show
    with the survivor's; returns the survivor."""
    merged = visible_case(session, case_id, principal)
    survivor = visible_case(session, into_case_id, principal)
    check_mergeable(session, merged, survivor)
    same_category = merged.category_id == survivor.category_id
    bump_versions(session, principal, now, {merged: {"merged_into_id": survivor.id}, survivor: {}})
    session.execute(
        update(Report).where(Report.case_id == merged.id).values(case_id=survivor.id),
        execution_options={"synchronize_session": False},
    )
    details = {"same_category": same_category}
    note(session, merged, "merge", reason, {**details, "into_case_id": survivor.id}, principal, now)
    note(
        session,
        survivor,
        "merge_in",
        reason,
        {**details, "merged_case_id": merged.id},
        principal,
        now,
    )
    return survivor


def check_mergeable(session: Session, merged: Case, survivor: Case) -> None:
    if merged.id == survivor.id:
        raise InvalidInput("a case cannot be merged into itself", field="into_case_id")
    for case in (merged, survivor):
        if case.merged_into_id is not None:
            raise Conflict(f"case {case.id} is already merged into case {case.merged_into_id}")
        if CaseStatus(case.status) not in OPEN_STATUSES:
            raise Conflict(f"case {case.id} is {case.status}: only open cases merge")
    if merged_case_ids(session, merged.id):
        raise Conflict(
            f"cases are merged into case {merged.id}: merge case {survivor.id} into it instead, "
            "or split them out first"
        )


def split_case(
    session: Session, case_id: int, principal: Principal, reason: str, now: datetime
) -> Case:
    """Undo a merge: the case's own reports come back to it; returns the split-out case."""
    merged = visible_case(session, case_id, principal)
    if merged.merged_into_id is None:
        raise Conflict(f"case {case_id} is not merged into another case")
    survivor = get_case(session, merged.merged_into_id)
    bump_versions(session, principal, now, {merged: {"merged_into_id": None}, survivor: {}})
    session.execute(
        update(Report)
        .where(Report.original_case_id == merged.id, Report.case_id == survivor.id)
        .values(case_id=merged.id),
        execution_options={"synchronize_session": False},
    )
    note(session, merged, "split", reason, {"from_case_id": survivor.id}, principal, now)
    note(session, survivor, "split_out", reason, {"split_case_id": merged.id}, principal, now)
    return merged


def bump_versions(
    session: Session, principal: Principal, now: datetime, changes: dict[Case, dict[str, Any]]
) -> None:
    """Guarded updates of several cases, in id order so two crossing merges cannot deadlock."""
    for case in sorted(changes, key=lambda c: c.id):
        effect = Effect(changes[case])
        target = CaseStatus(case.status)
        if not write_state(session, case, seen=case.version, target=target, now=now, effect=effect):
            raise CaseChanged(
                f"case {case.id} changed meanwhile; reload it and try again",
                status=CaseStatus(case.status),
                allowed=[],
            )


def note(
    session: Session,
    case: Case,
    action: str,
    reason: str,
    details: dict[str, Any],
    principal: Principal,
    now: datetime,
) -> None:
    """A history row that does not change the case's status."""
    status = CaseStatus(case.status)
    record(session, case, Step(action, status, status, reason, details), principal, now)
