"""dispatch's side of events.cases.workflow: the closed loop's work, as the case routes use it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Principal
from dispatch.actions import service as actions
from dispatch.actions.gates import DispatchGates
from dispatch.assignments import service as assignments
from dispatch.rules import routing
from events.cases.schemas import CaseActionBody, DeadlineView, RoutingView
from events.lifecycle import CaseAction
from events.models import Case


@dataclass(frozen=True)
class DispatchWorkflow(DispatchGates):
    """The workflow of one deployment: departments without a calendar use the default one;
    what holds an action back comes from dispatch.actions.gates."""

    default_calendar_code: str

    def act(
        self,
        session: Session,
        case_id: int,
        action: CaseAction,
        principal: Principal,
        body: CaseActionBody,
        now: datetime,
        *,
        reopen_window: timedelta,
    ) -> Case:
        return actions.act_on_case(
            session,
            case_id,
            action,
            principal,
            body,
            now,
            reopen_window=reopen_window,
            default_calendar_code=self.default_calendar_code,
        )

    def deadline_of(self, session: Session, case: Case, now: datetime) -> DeadlineView | None:
        return deadline_view(session, case, now, self.default_calendar_code)

    def routing_of(self, session: Session, case: Case) -> RoutingView | None:
        decision = routing.latest_decisions(session, [case.id]).get(case.id)
        return routing_view(session, decision) if decision is not None else None

    def route_again(self, session: Session, case: Case, now: datetime) -> RoutingView:
        return routing_view(session, routing.decide_routes(session, [case.id], at=now)[case.id])


def deadline_view(
    session: Session, case: Case, now: datetime, default_calendar_code: str
) -> DeadlineView | None:
    """The current assignment's deadline, with the working time used and its light."""
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


def routing_view(session: Session, decision: routing.RouteDecision) -> RoutingView:
    """A routing decision as the case shows it, with its reason as fields to translate."""
    fields = routing.reason_fields(session, [decision.decision_id])
    return RoutingView(
        department_code=decision.department_code,
        rule_set_version=decision.rule_set_version,
        rule_id=decision.rule_id,
        auto_dispatch=decision.auto_dispatch,
        reason=decision.reason,
        reason_fields=fields.get(decision.decision_id),
    )
