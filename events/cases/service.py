"""The case on the database: reading with object-level access, the guarded state write and
history row every action ends in, photos, merge and split.

Every action is one guarded `UPDATE event_case … WHERE id = :id AND version = :seen`: of two
people acting on the same case at once, the second finds the version moved on and gets 409,
whatever the isolation level. Each successful action appends one `case_transition` row in the
same transaction. The actions themselves (dispatch, accept, handle, verify …) move a case
between units and live in dispatch (dispatch/actions/); they end in `write_state` and `record`
here. What this module needs from them goes through events.cases.workflow.

Merged cases: a case merged into another keeps its own status (the state it was in when merged,
so a split brings it back exactly as it was); `merged_into_id` marks it as merged, which takes it
out of every open queue (open = status in OPEN_STATUSES and merged_into_id IS NULL) and refuses
every action on it but split. Its reports move to the survivor (`Report.original_case_id`
remembers where they came from), so their reporters follow the survivor's status; its photos and
history stay its own rows and are listed with the survivor's. Merging is one level deep: a case
that has cases merged into it cannot itself be merged, and nothing merges into a merged case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ScalarSelect, func, or_, select, update
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Principal, Role
from citygrid.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from events import visibility
from events.cases.prerequisites import Situation, refusal
from events.cases.schemas import CaseDetail, HistoryRow, MergedIntoSummary, ReportSummary
from events.cases.workflow import CaseGatekeeper, CaseWorkflow
from events.lifecycle import (
    OPEN_STATUSES,
    CaseAction,
    CaseStatus,
    TransitionRefused,
    allowed_actions,
)
from events.models import Case, CaseAssignment, CasePhoto, CaseTransition, Report
from events.photos import service as photos

# Roles shown who made each report and who took each step; a citizen or an inspector sees only
# their own user id there.
READ_ALL_ROLES = frozenset({Role.DISPATCHER, Role.DEPARTMENT, Role.MANAGER, Role.ADMIN})
# The last of these actions in a case's history tells whether a suspension request is pending.
SUSPENSION_RECORD = (
    CaseAction.REQUEST_SUSPENSION.value,
    CaseAction.APPROVE_SUSPENSION.value,
    CaseAction.REFUSE_SUSPENSION.value,
    CaseAction.RETURN.value,  # a returned case's requests leave with its department
)
# The last of these in a hotline ticket case's history tells whether a return request is pending.
RETURN_RECORD = (
    CaseAction.REQUEST_RETURN.value,
    CaseAction.APPROVE_RETURN.value,
    CaseAction.REFUSE_RETURN.value,
    CaseAction.DISPATCH.value,
)


class CaseChanged(TransitionRefused):
    """Someone else acted on the case since the caller read it."""


@dataclass(frozen=True)
class Effect:
    changes: dict[str, Any] = field(default_factory=dict)  # columns of event_case
    details: dict[str, Any] = field(default_factory=dict)  # recorded in the history row


def get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case has id {case_id}", field="case_id")
    return case


def situation_of(
    session: Session,
    case: Case,
    now: datetime,
    reopen_window: timedelta,
    gatekeeper: CaseGatekeeper,
) -> Situation:
    """What beside status and role decides the case's actions now: its own history's pending
    requests here, what dispatch's work (a hotline ticket, summoned units) holds back from the
    gatekeeper (events.cases.workflow); one statement each."""
    steps = session.execute(
        select(last_step(case.id, SUSPENSION_RECORD), last_step(case.id, RETURN_RECORD))
    ).one()
    gates = gatekeeper.gates_of(session, case)
    return Situation(
        postponement_pending=case.postponement_hours_requested is not None,
        suspension_pending=steps[0] == CaseAction.REQUEST_SUSPENSION.value,
        reopen_until=case.closed_at + reopen_window if case.closed_at else None,
        now=now,
        ticket_case=gates.ticket_case,
        return_pending=steps[1] == CaseAction.REQUEST_RETURN.value,
        summons_open=gates.summons_open,
        lead_reply_ready=gates.lead_reply_ready,
    )


def last_step(case_id: int, actions: tuple[str, ...]) -> ScalarSelect[str]:
    """The latest of these actions in the case's history (NULL when none)."""
    return (
        select(CaseTransition.action)
        .where(CaseTransition.case_id == case_id, CaseTransition.action.in_(actions))
        .order_by(CaseTransition.at.desc(), CaseTransition.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def actions_for(case: Case, principal: Principal, situation: Situation) -> list[CaseAction]:
    """The actions the caller may take on the case now."""
    if case.merged_into_id is not None or not owns(principal, case):
        return []
    candidates = allowed_actions(CaseStatus(case.status), principal.role)
    return [action for action in candidates if refusal(action, situation) is None]


def owns(principal: Principal, case: Case) -> bool:
    """A department member works only on its own department's cases; other roles on any."""
    return principal.role is not Role.DEPARTMENT or case.department_id == principal.department_id


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
    why = refusal(action, situation) if action in allowed_actions(status, principal.role) else None
    if why is None:
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
    session: Session,
    case_id: int,
    principal: Principal,
    situation_at: tuple[datetime, timedelta],
    gatekeeper: CaseGatekeeper,
) -> tuple[Case, Situation]:
    case = visible_case(session, case_id, principal)
    return case, situation_of(session, case, *situation_at, gatekeeper)


def case_detail(
    session: Session,
    case_id: int,
    principal: Principal,
    now: datetime,
    reopen_window: timedelta,
    workflow: CaseWorkflow,
) -> CaseDetail:
    """The case as the caller may see it, with what the caller may do with it."""
    case, situation = readable_case(session, case_id, principal, (now, reopen_window), workflow)
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
        deadline=workflow.deadline_of(session, case, now),
        routing=workflow.routing_of(session, case),
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


def case_history(session: Session, case_id: int, principal: Principal) -> list[HistoryRow]:
    """The case's history with that of the cases merged into it, oldest first."""
    case = visible_case(session, case_id, principal)
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
