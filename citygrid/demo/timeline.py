"""How one demo case lives through the closed loop (pure): who acts on it when, up to `now`.

Each actor keeps its own hours, every day of the week: the command centre's dispatchers
07:00–22:00, the inspectors 07:00–19:00, the departments' crews 08:00–18:00; a department's
deadlines count the working hours of its work calendar, so what a crew does at the weekend
uses none of its limit. A case's delays are drawn from its own row of uniform random numbers,
so its story depends only on that row and on `now`: last night's reports wait for the morning
shift (never more than a day of it), a case its department is slow on stays overdue until the
department gets to it, and older cases are closed. Departments differ by their `Pace`: how
often they run late, leave a case aside for weeks, fail the on-site verification or return a
case as not theirs.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from dispatch.deadlines import WorkCalendar, add_working_hours, working_hours_between
from events.lifecycle import CaseStatus

EVERY_DAY = frozenset(range(1, 8))
DISPATCHER_SHIFT = (time(7, 0), time(22, 0))
INSPECTOR_SHIFT = (time(7, 0), time(19, 0))
CREW_SHIFT = (time(8, 0), time(18, 0))
# Command-centre hours (means) a report waits to be filed, and a filed case to be dispatched:
# most within the half hour, some (checks, calls, coordination) much longer, but no case waits
# more than MAX_WAIT_HOURS of the shift.
QUICK_FILING_HOURS, SLOW_FILING_HOURS = 0.5, 5.0
QUICK_DISPATCH_HOURS, SLOW_DISPATCH_HOURS = 0.5, 6.0
SLOW_SHARE = 0.2
REDISPATCH_HOURS = 1.0
MAX_WAIT_HOURS = 10.0
MAX_REDISPATCH_HOURS = 4.0  # a returned case goes out again first
NOT_FILED_SHARE = {"citizen": 0.10, "inspector": 0.02}
CANCELLED_SHARE = 0.01
SUSPENDED_SHARE = 0.003
# Crew hours (means): from dispatch to acceptance, to a return, from handling to the check.
ACCEPT_HOURS = 0.3
RETURN_HOURS = 1.0
MAX_RETURN_HOURS = 4.0
VERIFY_HOURS = 1.0  # inspector hours
LATE_OVERRUN = 0.8  # a late handling comes this share of the limit after the deadline
STUCK_HOURS = 60.0  # a case left aside is handled this many crew hours after the deadline
NOMINAL_LIMIT_HOURS = 8.0  # how long a category without a time limit takes, for the story
WARNING_FRACTION = 0.8
# Reasons a person would type (the actions that need one); a case picks one by a draw.
REASONS: dict[str, tuple[str, ...]] = {
    "not_file": ("重复上报，已有在办案件", "现场核实不存在该问题", "不属于城市管理受理范围"),
    "cancel": ("上报人撤回", "问题已自行消除"),
    "return": ("不属于本单位职责范围，请重新派遣", "位置不在本单位管辖范围"),
    "request_suspension": ("需产权单位协调，申请挂账",),
    "handle": ("已按要求处置完毕", "已现场整改到位", "已清理，恢复原状"),
    "verify_fail": ("现场核查未整改到位", "问题仍然存在，请返工"),
}


class Draw(enum.IntEnum):
    """The columns of a case's row of uniform random numbers."""

    FILING_SLOW = 0
    FILING_DELAY = enum.auto()
    NOT_FILED = enum.auto()
    CANCELLED = enum.auto()
    DISPATCH_SLOW = enum.auto()
    DISPATCH_DELAY = enum.auto()
    RETURNED = enum.auto()
    RETURN_DELAY = enum.auto()
    REDISPATCH_DELAY = enum.auto()
    ACCEPT_DELAY = enum.auto()
    SUSPENDED = enum.auto()
    PACE = enum.auto()
    HANDLING = enum.auto()
    VERIFY_DELAY = enum.auto()
    REWORK = enum.auto()
    REHANDLING = enum.auto()
    REVERIFY_DELAY = enum.auto()
    REASON = enum.auto()


DRAWS_PER_CASE = len(Draw)


@dataclass(frozen=True)
class Pace:
    """How a department works its cases (shares of its cases)."""

    late: float  # handled after the deadline
    stuck: float  # left aside for weeks
    rework: float  # fail the on-site verification once
    returned: float  # sent back to the dispatchers as not theirs


PROMPT = Pace(late=0.04, stuck=0.002, rework=0.03, returned=0.01)
STEADY = Pace(late=0.18, stuck=0.008, rework=0.07, returned=0.03)
SLOW = Pace(late=0.5, stuck=0.02, rework=0.14, returned=0.06)


@dataclass(frozen=True)
class Department:
    id: int
    code: str
    pace: Pace
    calendar: WorkCalendar


@dataclass(frozen=True)
class Clocks:
    """The hours of the command centre, the inspectors and the departments' crews, and the
    calendar verifications are timed on (the default one, as the verify action does)."""

    dispatchers: WorkCalendar
    inspectors: WorkCalendar
    crews: WorkCalendar
    verification: WorkCalendar


def shift(hours: tuple[time, time], zone: ZoneInfo) -> WorkCalendar:
    """A shift worked every day of the year, holidays included."""
    return WorkCalendar(periods=(hours,), weekdays=EVERY_DAY, time_zone=zone)


def clocks(zone: ZoneInfo, verification: WorkCalendar) -> Clocks:
    return Clocks(
        dispatchers=shift(DISPATCHER_SHIFT, zone),
        inspectors=shift(INSPECTOR_SHIFT, zone),
        crews=shift(CREW_SHIFT, zone),
        verification=verification,
    )


@dataclass(frozen=True)
class CaseFacts:
    """What the story of a case starts from."""

    reported_at: datetime
    reporter_role: str  # inspector or citizen
    limit_hours: float | None
    auto_dispatch: bool
    first: Department  # where the routing rules send it
    fallback: Department  # who takes it when the first returns it
    draws: Sequence[float]  # DRAWS_PER_CASE uniform numbers in [0, 1)


@dataclass(frozen=True)
class Step:
    action: str
    source: CaseStatus | None
    target: CaseStatus
    at: datetime
    role: str
    reason: str | None = None
    details: dict[str, object] = field(default_factory=dict)


@dataclass
class Assignment:
    """A case_assignment row as it stands at `now`."""

    department: Department
    dispatched_at: datetime
    limit_hours: float | None
    due_at: datetime | None
    warn_at: datetime | None  # when the case turns yellow (80 % of the limit used)
    due_provisional: bool
    accepted_at: datetime | None = None
    handled_at: datetime | None = None
    handling_hours: float | None = None
    returned_at: datetime | None = None
    rework_count: int = 0
    suspended_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None


@dataclass
class Story:
    """The steps taken by `now` and the assignments they made."""

    steps: list[Step] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)

    @property
    def status(self) -> CaseStatus:
        return self.steps[-1].target

    @property
    def current(self) -> Assignment | None:
        """The assignment the case sits with (None before dispatch and once returned)."""
        last = self.assignments[-1] if self.assignments else None
        return None if last is None or last.returned_at is not None else last

    def last_at(self, action: str) -> datetime | None:
        return next((step.at for step in reversed(self.steps) if step.action == action), None)

    def count(self, action: str) -> int:
        return sum(1 for step in self.steps if step.action == action)


class _Later(Exception):
    """The next step lies after `now`: the story stops where it is."""


@dataclass
class _Walk:
    facts: CaseFacts
    clocks: Clocks
    now: datetime
    story: Story = field(default_factory=Story)

    def u(self, draw: Draw) -> float:
        return float(self.facts.draws[draw])

    def take(self, step: Step) -> None:
        if step.at > self.now:
            raise _Later
        self.story.steps.append(step)

    def reason(self, action: str) -> str:
        choices = REASONS[action]
        return choices[min(int(self.u(Draw.REASON) * len(choices)), len(choices) - 1)]


def story_of(facts: CaseFacts, clocks: Clocks, now: datetime) -> Story:
    """The case's steps and assignments as far as `now` (the report itself is never later)."""
    walk = _Walk(facts, clocks, now)
    try:
        filed_at = _intake(walk)
        if filed_at is not None:
            assignment = _dispatch(walk, filed_at)
            _work(walk, assignment)
    except _Later:
        pass
    return walk.story


def exponential(u: float, mean_hours: float, *, cap_hours: float = math.inf) -> float:
    """The `u` quantile of an exponential distribution with that mean, at most the cap."""
    return min(-mean_hours * math.log1p(-min(u, 0.999999)), cap_hours)


def after(start: datetime, hours: float, calendar: WorkCalendar) -> datetime:
    return add_working_hours(start, hours, calendar).at


def _command_centre(
    walk: _Walk, start: datetime, slow: Draw, delay: Draw, means: tuple[float, float]
) -> datetime:
    """When the dispatchers get to something that came in at `start`."""
    mean = means[1] if walk.u(slow) < SLOW_SHARE else means[0]
    hours = exponential(walk.u(delay), mean, cap_hours=MAX_WAIT_HOURS)
    return after(start, hours, walk.clocks.dispatchers)


def _intake(walk: _Walk) -> datetime | None:
    """Report, then file (or not); the filing time, None when the case ends here."""
    facts = walk.facts
    walk.take(Step("report", None, CaseStatus.REPORTED, facts.reported_at, facts.reporter_role))
    means = (QUICK_FILING_HOURS, SLOW_FILING_HOURS)
    filed_at = _command_centre(walk, facts.reported_at, Draw.FILING_SLOW, Draw.FILING_DELAY, means)
    if walk.u(Draw.NOT_FILED) < NOT_FILED_SHARE[facts.reporter_role]:
        reason = walk.reason("not_file")
        walk.take(
            Step(
                "not_file",
                CaseStatus.REPORTED,
                CaseStatus.NOT_FILED,
                filed_at,
                "dispatcher",
                reason,
            )
        )
        return None
    walk.take(Step("file", CaseStatus.REPORTED, CaseStatus.FILED, filed_at, "dispatcher"))
    if walk.u(Draw.CANCELLED) < CANCELLED_SHARE:
        means = (QUICK_DISPATCH_HOURS, SLOW_DISPATCH_HOURS)
        cancelled_at = _command_centre(
            walk, filed_at, Draw.DISPATCH_SLOW, Draw.DISPATCH_DELAY, means
        )
        reason = walk.reason("cancel")
        walk.take(
            Step(
                "cancel", CaseStatus.FILED, CaseStatus.CANCELLED, cancelled_at, "dispatcher", reason
            )
        )
        return None
    return filed_at


def _dispatch(walk: _Walk, filed_at: datetime) -> Assignment:
    """Dispatch to the routed department (at once for auto-dispatch categories); if it returns
    the case, the dispatchers send it to the fallback. The assignment that works the case."""
    facts = walk.facts
    dispatched_at = filed_at
    if not facts.auto_dispatch:
        means = (QUICK_DISPATCH_HOURS, SLOW_DISPATCH_HOURS)
        dispatched_at = _command_centre(
            walk, filed_at, Draw.DISPATCH_SLOW, Draw.DISPATCH_DELAY, means
        )
    first = _assign(walk, facts.first, dispatched_at, CaseStatus.FILED, auto=facts.auto_dispatch)
    if walk.u(Draw.RETURNED) >= facts.first.pace.returned:
        return first
    delay = 0.1 + exponential(walk.u(Draw.RETURN_DELAY), RETURN_HOURS, cap_hours=MAX_RETURN_HOURS)
    returned_at = after(dispatched_at, delay, walk.clocks.crews)
    details: dict[str, object] = {"department_id": facts.first.id, "return_count": 1}
    reason = walk.reason("return")
    walk.take(
        Step(
            "return",
            CaseStatus.DISPATCHED,
            CaseStatus.RETURNED,
            returned_at,
            "department",
            reason,
            details,
        )
    )
    first.returned_at = first.ended_at = returned_at
    first.end_reason = "returned"
    delay = exponential(
        walk.u(Draw.REDISPATCH_DELAY), REDISPATCH_HOURS, cap_hours=MAX_REDISPATCH_HOURS
    )
    redispatched_at = after(returned_at, delay, walk.clocks.dispatchers)
    return _assign(walk, facts.fallback, redispatched_at, CaseStatus.RETURNED, auto=False)


def _assign(
    walk: _Walk, department: Department, at: datetime, source: CaseStatus, *, auto: bool
) -> Assignment:
    """The dispatch step and its assignment, with the deadline in the department's hours."""
    limit = walk.facts.limit_hours
    due = add_working_hours(at, limit, department.calendar) if limit is not None else None
    details: dict[str, object] = {
        "department_code": department.code,
        "due_at": due.at.isoformat() if due else None,
        "due_provisional": bool(due and due.provisional),
        "limit_hours": limit,
        "follows_rule": department is walk.facts.first,
        "auto": auto,
    }
    walk.take(Step("dispatch", source, CaseStatus.DISPATCHED, at, "dispatcher", None, details))
    warn_at = None
    if limit is not None:
        warn_at = after(at, WARNING_FRACTION * limit, department.calendar)
    assignment = Assignment(
        department, at, limit, due.at if due else None, warn_at, bool(due and due.provisional)
    )
    walk.story.assignments.append(assignment)
    return assignment


def _work(walk: _Walk, assignment: Assignment) -> None:
    """Accept; then suspend, or handle and have it verified (failing once, sometimes)."""
    crews = walk.clocks.crews
    limit = assignment.limit_hours or NOMINAL_LIMIT_HOURS
    accept_hours = 0.05 + exponential(walk.u(Draw.ACCEPT_DELAY), ACCEPT_HOURS, cap_hours=limit)
    accepted_at = after(assignment.dispatched_at, accept_hours, crews)
    walk.take(Step("accept", CaseStatus.DISPATCHED, CaseStatus.ACCEPTED, accepted_at, "department"))
    assignment.accepted_at = accepted_at
    if walk.u(Draw.SUSPENDED) < SUSPENDED_SHARE:
        _suspend(walk, assignment, max(accept_hours + 0.1, 0.5 * limit))
        return
    handled_at = _handling_time(walk, assignment, accept_hours, limit)
    _handle(walk, assignment, handled_at, CaseStatus.ACCEPTED)
    verified_at = _verified_at(walk, handled_at, Draw.VERIFY_DELAY)
    if walk.u(Draw.REWORK) < assignment.department.pace.rework:
        _verify(walk, assignment, verified_at, passed=False)
        rework_hours = (0.2 + 0.6 * walk.u(Draw.REHANDLING)) * limit
        handled_at = after(verified_at, rework_hours, crews)
        _handle(walk, assignment, handled_at, CaseStatus.REWORK)
        verified_at = _verified_at(walk, handled_at, Draw.REVERIFY_DELAY)
    _verify(walk, assignment, verified_at, passed=True)


def _handling_time(
    walk: _Walk, assignment: Assignment, accept_hours: float, limit: float
) -> datetime:
    """Within the limit mostly; some time after the deadline for the department's late share,
    and weeks after it for its stuck share."""
    crews, pace, u = walk.clocks.crews, assignment.department.pace, walk.u(Draw.HANDLING)
    accepted_at = assignment.accepted_at
    assert accepted_at is not None
    due_at = assignment.due_at or after(assignment.dispatched_at, limit, crews)
    pace_draw = walk.u(Draw.PACE)
    if pace_draw < pace.stuck + pace.late:
        mean = STUCK_HOURS if pace_draw < pace.stuck else LATE_OVERRUN * limit
        return after(max(due_at, accepted_at), 0.1 + exponential(u, mean), crews)
    handled_at = after(
        assignment.dispatched_at, max((0.15 + 0.8 * u) * limit, accept_hours + 0.1), crews
    )
    return min(handled_at, due_at) if due_at > accepted_at else handled_at


def _handle(walk: _Walk, assignment: Assignment, at: datetime, source: CaseStatus) -> None:
    """The handling, with the working hours it took on the department's calendar."""
    calendar = assignment.department.calendar
    hours = round(working_hours_between(assignment.dispatched_at, at, calendar), 4)
    on_time = assignment.due_at is None or at <= assignment.due_at
    details: dict[str, object] = {"working_hours": hours, "on_time": on_time}
    reason = walk.reason("handle")
    walk.take(Step("handle", source, CaseStatus.HANDLED, at, "department", reason, details))
    assignment.handled_at, assignment.handling_hours = at, hours


def _verified_at(walk: _Walk, handled_at: datetime, draw: Draw) -> datetime:
    return after(handled_at, exponential(walk.u(draw), VERIFY_HOURS), walk.clocks.inspectors)


def _verify(walk: _Walk, assignment: Assignment, at: datetime, *, passed: bool) -> None:
    """The on-site check, recording the working hours since the handling it verifies (the
    evaluation counts inspectors' verifications on time from them)."""
    handled_at = assignment.handled_at
    assert handled_at is not None
    waited = working_hours_between(handled_at, at, walk.clocks.verification)
    details: dict[str, object] = {
        "handled_at": handled_at.isoformat(),
        "verify_working_hours": round(waited, 4),
    }
    if passed:
        closed = CaseStatus.CLOSED
        walk.take(Step("verify_pass", CaseStatus.HANDLED, closed, at, "inspector", None, details))
        assignment.ended_at, assignment.end_reason = at, "closed"
        return
    details["rework_count"] = assignment.rework_count + 1
    reason = walk.reason("verify_fail")
    walk.take(
        Step("verify_fail", CaseStatus.HANDLED, CaseStatus.REWORK, at, "inspector", reason, details)
    )
    assignment.rework_count += 1
    assignment.handled_at = assignment.handling_hours = None


def _suspend(walk: _Walk, assignment: Assignment, hours: float) -> None:
    """The department asks to put the case on hold (挂账) and a dispatcher agrees: it stays."""
    requested_at = after(assignment.dispatched_at, hours, walk.clocks.crews)
    reason = walk.reason("request_suspension")
    accepted = CaseStatus.ACCEPTED
    walk.take(Step("request_suspension", accepted, accepted, requested_at, "department", reason))
    delay = exponential(walk.u(Draw.HANDLING), REDISPATCH_HOURS, cap_hours=MAX_WAIT_HOURS)
    approved_at = after(requested_at, delay, walk.clocks.dispatchers)
    walk.take(Step("approve_suspension", accepted, CaseStatus.SUSPENDED, approved_at, "dispatcher"))
    assignment.suspended_at = approved_at
