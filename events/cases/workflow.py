"""What the case routes need from dispatch: an interface events owns and dispatch implements.

events sits below dispatch. A case's record — its tables, lifecycle, reading, merge and split —
is events'; the work that moves a case between units — routing, assignments with their
deadlines, inbox messages, webhooks — is dispatch's, and dispatch imports events freely. The
few places where events must reach that work (a case route takes an action, a case shows its
deadline and routing, a changed component routes a waiting case again, an action waits for a
hotline ticket's reply or for summoned units) call this Protocol.
dispatch.actions.workflow implements it; the composition (citygrid/app.py) puts it on the app
as `app.state.case_workflow`, and routes receive it through `CaseWorkflowDep`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Protocol

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Principal
from events.cases.prerequisites import CaseGates
from events.cases.schemas import CaseActionBody, DeadlineView, RoutingView
from events.lifecycle import CaseAction
from events.models import Case


class CaseGatekeeper(Protocol):
    """Whether dispatch's work holds an action on a case back (events.cases.prerequisites)."""

    def gates_of(self, session: Session, case: Case) -> CaseGates:
        """Whether the case is a hotline ticket's, whose lead unit has replied in this round,
        and how many summoned units are still to answer: one statement."""
        ...


class CaseWorkflow(CaseGatekeeper, Protocol):
    """The closed loop's work on cases, as the case routes and pages use it."""

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
        """Take the action on the case as the principal (flushes; the route commits)."""
        ...

    def deadline_of(self, session: Session, case: Case, now: datetime) -> DeadlineView | None:
        """The current assignment's deadline and progress; None when no department holds it."""
        ...

    def routing_of(self, session: Session, case: Case) -> RoutingView | None:
        """The latest routing decision of the case; None when it was never routed."""
        ...

    def route_again(self, session: Session, case: Case, now: datetime) -> RoutingView:
        """Route a waiting case again (its component changed) and store the decision."""
        ...


def get_case_workflow(request: Request) -> CaseWorkflow:
    """The workflow the composition installed on the app."""
    workflow: CaseWorkflow = request.app.state.case_workflow
    return workflow


CaseWorkflowDep = Annotated[CaseWorkflow, Depends(get_case_workflow)]
