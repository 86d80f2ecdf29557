"""The closed loop's actions: what each step does beside moving the status.

A case route or page takes an action through `act_on_case`: it checks the lifecycle table and
the situation (events.cases), runs the action's effect here — dispatching starts an assignment
with its deadline, handling records the working hours used, approving a postponement moves the
deadline, resuming adds the paused time — writes the new state with the guarded UPDATE and one
history row, and announces the step (a webhook outbox row; an inbox message for a dispatch).
Filing a case routes it, and dispatches it at once where the rules say so.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Principal
from citygrid.errors import InvalidInput
from dispatch.actions.gates import GATES
from dispatch.assignments import service as assignments
from dispatch.deadlines import working_hours_between
from dispatch.hotline import steps as hotline_steps
from dispatch.inbox import service as notifications
from dispatch.rules import routing
from dispatch.webhooks import service as webhooks
from events.cases import service as cases
from events.cases.schemas import CaseActionBody
from events.cases.service import CaseChanged, Effect, Step
from events.lifecycle import CaseAction, CaseStatus, next_status
from events.models import Case, CasePhoto, CaseTransition

EVENT_NAMESPACE = uuid.UUID("5d1f7c1e-3b0a-4c55-9a39-2f0c1d6c9e11")  # webhook event ids of steps


def act_on_case(
    session: Session,
    case_id: int,
    action: CaseAction,
    principal: Principal,
    body: CaseActionBody,
    now: datetime,
    *,
    reopen_window: timedelta,
    default_calendar_code: str,
    auto: bool = False,
) -> Case:
    """Take `action` on the case as `principal`: the new state, its side effects, a history row;
    filing routes the case, and dispatches it at once where the rules say so."""
    ctx = ActionContext(principal, now, default_calendar_code, auto)
    case = cases.visible_case(session, case_id, principal)
    situation = cases.situation_of(session, case, now, reopen_window, GATES)
    if body.expected_version is not None and body.expected_version != case.version:
        raise cases.changed_meanwhile(case, principal, situation)
    cases.check_may_act(case, action, principal, situation)
    status = CaseStatus(case.status)
    suspended_from = CaseStatus(case.suspended_from) if case.suspended_from else None
    target = next_status(
        status, action, principal.role, reason=body.reason, suspended_from=suspended_from
    )
    hotline_steps.before_step(session, case, action)
    effect = EFFECTS.get(action, no_effect)(session, case, body, ctx)
    photo_ids = cases.attachable_photos(session, case, body.photo_ids)
    if not cases.write_state(
        session, case, seen=case.version, target=target, now=now, effect=effect
    ):
        raise cases.changed_meanwhile(
            case, principal, cases.situation_of(session, case, now, reopen_window, GATES)
        )
    details = {**effect.details, **({"photo_ids": photo_ids} if photo_ids else {})}
    step = Step(action.value, status, target, body.reason, details)
    transition = cases.record(session, case, step, principal, now)
    if photo_ids:
        session.execute(
            update(CasePhoto).where(CasePhoto.id.in_(photo_ids)).values(transition_id=transition.id)
        )
        session.flush()
    hotline_steps.after_step(
        session,
        case,
        action,
        from_status=status,
        reason=body.reason,
        now=now,
        by_user=principal.user_id,
        details=effect.details,
    )
    announce(session, case, transition, ctx)
    if action is CaseAction.FILE:
        route_filed_case(session, case, ctx, reopen_window)
    if action is CaseAction.APPROVE_RETURN:
        to_last_resort(session, case, ctx, reopen_window)
    return case


def to_last_resort(
    session: Session, case: Case, ctx: ActionContext, reopen_window: timedelta
) -> None:
    """A hotline ticket returned the configured number of times goes to the unit of last
    resort (兜底, the district government), dispatched at once."""
    code = hotline_steps.last_resort_due(session, case)
    if code is None:
        return
    reason = f"returned {case.return_count} times: to the unit of last resort"
    body = CaseActionBody(department_code=code, reason=reason)
    act_on_case(
        session,
        case.id,
        CaseAction.DISPATCH,
        ctx.principal,
        body,
        ctx.now,
        reopen_window=reopen_window,
        default_calendar_code=ctx.default_calendar_code,
        auto=True,
    )
    hotline_steps.record_last_resort(session, case, code, now=ctx.now)


# Actions that others hear about: webhook event kinds (the department is also told in its inbox).
ANNOUNCED = {
    CaseAction.DISPATCH: "case.dispatched",
    CaseAction.RETURN: "case.returned",
    CaseAction.HANDLE: "case.handled",
    CaseAction.VERIFY_PASS: "case.closed",
    CaseAction.VERIFY_FAIL: "case.rework",
    CaseAction.CANCEL: "case.cancelled",
    CaseAction.APPROVE_RETURN: "case.returned",
    CaseAction.CALLBACK_CLOSE: "case.closed",
    CaseAction.CALLBACK_REWORK: "case.rework",
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
        CaseAction.DISPATCH,
        ctx.principal,
        body,
        ctx.now,
        reopen_window=reopen_window,
        default_calendar_code=ctx.default_calendar_code,
        auto=True,
    )


@dataclass(frozen=True)
class ActionContext:
    """Who acts, when, and the calendar for departments that have none of their own."""

    principal: Principal
    now: datetime
    default_calendar_code: str
    auto: bool = False  # the system acts on the rules' word (auto-dispatch on filing)


EffectFn = Callable[[Session, Case, CaseActionBody, ActionContext], Effect]


def no_effect(session: Session, case: Case, body: CaseActionBody, ctx: ActionContext) -> Effect:
    return Effect()


def file_case(session: Session, case: Case, body: CaseActionBody, ctx: ActionContext) -> Effect:
    return Effect({"filed_at": ctx.now})


def dispatch_to_department(
    session: Session, case: Case, body: CaseActionBody, ctx: ActionContext
) -> Effect:
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
        details["routing_reason"] = suggestion.reason  # English; the decision's fields translate
        details["routing_decision_id"] = suggestion.decision_id
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
    CaseAction.FILE: file_case,
    CaseAction.DISPATCH: dispatch_to_department,
    CaseAction.ACCEPT: accept,
    CaseAction.RETURN: return_to_dispatchers,
    CaseAction.HANDLE: handle,
    CaseAction.VERIFY_PASS: verify_pass,
    CaseAction.VERIFY_FAIL: verify_fail,
    CaseAction.REQUEST_POSTPONEMENT: request_postponement,
    CaseAction.APPROVE_POSTPONEMENT: approve_postponement,
    CaseAction.REFUSE_POSTPONEMENT: refuse_postponement,
    CaseAction.APPROVE_SUSPENSION: approve_suspension,
    CaseAction.RESUME: resume,
    CaseAction.CANCEL: cancel,
    CaseAction.REOPEN: reopen,
    # Hotline ticket cases (dispatch/hotline): an approved return is a return; the callback
    # closes like a passed verification and sends back like a failed one.
    CaseAction.APPROVE_RETURN: return_to_dispatchers,
    CaseAction.CALLBACK_CLOSE: verify_pass,
    CaseAction.CALLBACK_REWORK: verify_fail,
}
