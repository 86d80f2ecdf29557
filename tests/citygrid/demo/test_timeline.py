"""The story of a demo case (pure): actors keep their hours, paces decide lateness, `now` cuts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from citygrid.demo import timeline
from citygrid.demo.timeline import CaseFacts, Department, Draw, Pace, Story
from dispatch.deadlines import DEFAULT_PERIODS, DEFAULT_WEEKDAYS, WorkCalendar
from events.lifecycle import CaseStatus

ZONE = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar(DEFAULT_PERIODS, DEFAULT_WEEKDAYS, ZONE)
CLOCKS = timeline.clocks(ZONE, CALENDAR)
SANITATION = Department(1, "110101-HW", timeline.PROMPT, CALENDAR)
STREET_OFFICE = Department(2, "110101-JD-110101001", timeline.STEADY, CALENDAR)
TUESDAY_10H = datetime(2026, 12, 8, 10, 0, tzinfo=ZONE).astimezone(UTC)
MUCH_LATER = TUESDAY_10H + timedelta(days=30)


def facts(reported_at: datetime = TUESDAY_10H, **draws: float) -> CaseFacts:
    """A citizen's report with a 4-hour limit; every draw 0.5 unless given (by Draw name)."""
    row = [0.5] * timeline.DRAWS_PER_CASE
    for name, value in draws.items():
        row[Draw[name]] = value
    return CaseFacts(reported_at, "citizen", 4.0, False, SANITATION, STREET_OFFICE, row)


def actions(story: Story) -> list[str]:
    return [step.action for step in story.steps]


def local(moment: datetime | None) -> datetime:
    assert moment is not None
    return moment.astimezone(ZONE)


def test_a_case_walks_the_whole_loop_in_order_and_closes() -> None:
    story = timeline.story_of(facts(), CLOCKS, MUCH_LATER)
    assert actions(story) == [
        "report",
        "file",
        "dispatch",
        "accept",
        "handle",
        "verify_pass",
    ]
    assert story.status is CaseStatus.CLOSED
    times = [step.at for step in story.steps]
    assert times == sorted(times)
    (assignment,) = story.assignments
    assert assignment.department is SANITATION and assignment.end_reason == "closed"
    assert assignment.handled_at is not None and assignment.due_at is not None
    assert assignment.handled_at <= assignment.due_at  # a prompt department, an ordinary draw


@pytest.mark.parametrize(
    ("minutes_later", "status"),
    [(0, CaseStatus.REPORTED), (60, CaseStatus.FILED), (24 * 60, CaseStatus.CLOSED)],
)
def test_the_story_stops_at_now(minutes_later: int, status: CaseStatus) -> None:
    now = TUESDAY_10H + timedelta(minutes=minutes_later)
    story = timeline.story_of(facts(DISPATCH_SLOW=0.0), CLOCKS, now)
    assert story.status is status
    assert all(step.at <= now for step in story.steps)


def test_a_report_made_late_at_night_is_filed_in_the_morning_shift() -> None:
    night = datetime(2026, 12, 7, 23, 30, tzinfo=ZONE).astimezone(UTC)
    story = timeline.story_of(facts(night), CLOCKS, MUCH_LATER)
    filed_at = local(story.last_at("file"))
    assert filed_at.date() == datetime(2026, 12, 8).date() and filed_at.hour == 7


def test_no_report_waits_more_than_a_shift_to_be_filed_or_dispatched() -> None:
    slowest = facts(FILING_SLOW=0.0, FILING_DELAY=0.999, DISPATCH_SLOW=0.0, DISPATCH_DELAY=0.999)
    story = timeline.story_of(slowest, CLOCKS, MUCH_LATER)
    filed_at, dispatched_at = story.last_at("file"), story.last_at("dispatch")
    assert filed_at is not None and dispatched_at is not None
    assert filed_at - TUESDAY_10H < timedelta(hours=24)
    assert dispatched_at - filed_at < timedelta(hours=24)


@pytest.mark.parametrize(
    ("pace_draw", "on_time"),
    [(0.0, False), (timeline.PROMPT.stuck + 0.01, False), (0.9, True)],
)
def test_the_pace_draw_decides_whether_the_handling_is_late(
    pace_draw: float, on_time: bool
) -> None:
    story = timeline.story_of(facts(PACE=pace_draw), CLOCKS, MUCH_LATER)
    (assignment,) = story.assignments
    assert assignment.handled_at is not None and assignment.due_at is not None
    assert (assignment.handled_at <= assignment.due_at) is on_time
    handling = next(step for step in story.steps if step.action == "handle")
    assert handling.details["on_time"] is on_time


def test_a_stuck_case_stays_open_and_overdue_for_days() -> None:
    stuck = facts(PACE=0.0, HANDLING=0.9)
    story = timeline.story_of(stuck, CLOCKS, TUESDAY_10H + timedelta(days=4))
    assert story.status is CaseStatus.ACCEPTED
    assert story.current is not None and story.current.due_at is not None
    assert story.current.due_at < TUESDAY_10H + timedelta(days=1)


def test_a_returned_case_goes_to_the_fallback_department() -> None:
    story = timeline.story_of(facts(RETURNED=0.0), CLOCKS, MUCH_LATER)
    assert actions(story)[:5] == ["report", "file", "dispatch", "return", "dispatch"]
    first, second = story.assignments
    assert first.department is SANITATION and first.returned_at is not None
    assert first.end_reason == "returned"
    assert second.department is STREET_OFFICE and story.current is second
    assert story.steps[4].details["follows_rule"] is False


def test_a_failed_check_sends_the_case_back_to_the_same_department() -> None:
    story = timeline.story_of(facts(REWORK=0.0), CLOCKS, MUCH_LATER)
    assert actions(story)[-4:] == ["handle", "verify_fail", "handle", "verify_pass"]
    (assignment,) = story.assignments
    assert assignment.rework_count == 1 and story.count("verify_fail") == 1


def test_a_suspended_case_stays_suspended_with_its_clock_stopped() -> None:
    story = timeline.story_of(facts(SUSPENDED=0.0), CLOCKS, MUCH_LATER)
    assert actions(story)[-2:] == ["request_suspension", "approve_suspension"]
    assert story.status is CaseStatus.SUSPENDED
    assert story.current is not None and story.current.suspended_at == story.steps[-1].at


@pytest.mark.parametrize("pace", [timeline.PROMPT, timeline.STEADY, timeline.SLOW])
def test_paces_are_shares(pace: Pace) -> None:
    assert 0 <= pace.stuck + pace.late < 1 and 0 <= pace.rework < 1 and 0 <= pace.returned < 1
