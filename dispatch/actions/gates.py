"""dispatch's part of a case's situation: what its work holds an action back on (one statement).

events.cases.prerequisites decides from a case's situation whether an action is possible now.
Three of its facts come from dispatch's work and its tables, which events does not name: whether
the case is a hotline ticket's (returned only on request, handled by a reply, closed by the
callback), whether the ticket's lead unit has replied in the case's current round, and how many
summoned units (吹哨报到) have not yet reported in and answered. events asks for them through
events.cases.workflow.CaseGatekeeper; `DispatchGates` answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from dispatch.hotline.models import HotlineReply
from dispatch.summons.models import CaseSummons
from events.cases.prerequisites import CaseGates
from events.hotline.models import HotlineTicket
from events.models import Case


@dataclass(frozen=True)
class DispatchGates:
    """events.cases.workflow.CaseGatekeeper over the hotline's and the summons' tables."""

    def gates_of(self, session: Session, case: Case) -> CaseGates:
        ticket_case = exists().where(HotlineTicket.case_id == case.id)
        summons_open = (
            select(func.count())
            .select_from(CaseSummons)
            .where(CaseSummons.case_id == case.id, CaseSummons.answered_at.is_(None))
            .scalar_subquery()
        )
        lead_reply_ready = exists().where(
            HotlineTicket.case_id == case.id,
            HotlineReply.ticket_id == HotlineTicket.id,
            HotlineReply.unit_role == "lead",
            HotlineReply.work_round == case.rework_count,
            HotlineReply.department_id == case.department_id,
        )
        row = session.execute(select(ticket_case, summons_open, lead_reply_ready)).one()
        return CaseGates(
            ticket_case=bool(row[0]), summons_open=int(row[1]), lead_reply_ready=bool(row[2])
        )


GATES = DispatchGates()
