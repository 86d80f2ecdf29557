"""Ingest: readings stored once, tilt held past the hold time files one case routed to the
cover's maintainer, further alarms fold into it, recoveries attach, flapping is damped, a
silent device files one offline case and a returning one is noted."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from citygrid.accounts.models import User
from citygrid.settings import get_settings
from dispatch.rules import routing
from events.models import Case, CaseTransition, Report
from sensing.alarms.offline import check_offline
from sensing.ingest import ingest_batch
from sensing.models import SensingAlarm, SensingCase, SensingReading
from tests.sensing.support import COVER_CODE, NOW, add_device, message, seed_cover


def sensing_cases(session: Session, reason: str = "alarm") -> list[SensingCase]:
    return list(session.scalars(select(SensingCase).where(SensingCase.reason == reason)))


def test_telemetry_under_the_threshold_files_nothing(session: Session) -> None:
    seed_cover(session)
    add_device(session, "TILT-1", component_code=COVER_CODE)
    batch = [message("TILT-1", "telemetry", f"m{i}", i, {"tilt_deg": 3.0}) for i in range(10)]
    # One reading over, but not held for 3 s: no alarm either.
    batch.append(message("TILT-1", "telemetry", "spike", 10, {"tilt_deg": 40.0}))
    batch.append(message("TILT-1", "telemetry", "calm", 11, {"tilt_deg": 2.0}))
    result = ingest_batch(session, batch, now=NOW)
    assert (result.stored, result.alarms, result.cases_filed) == (12, 0, 0)
    assert session.scalar(select(func.count()).select_from(SensingReading)) == 12
    assert sensing_cases(session) == []


def test_a_held_tilt_files_one_case_to_the_maintainer_and_fifty_alarms_fold(
    session: Session,
) -> None:
    cover, maintainer = seed_cover(session)
    add_device(session, "TILT-1", component_code=COVER_CODE)
    held = [message("TILT-1", "telemetry", f"t{i}", i, {"tilt_deg": 20.0}) for i in range(5)]
    result = ingest_batch(session, held, now=NOW)
    assert (result.alarms, result.cases_filed) == (1, 1)
    (filed,) = sensing_cases(session)
    case = session.get(Case, filed.case_id)
    assert case is not None and case.component_id == cover.id
    decision = routing.latest_decisions(session, [case.id])[case.id]
    assert decision.department_id == maintainer.id
    # Filed (立案) and dispatched at once, to the maintainer, by the sensing service account.
    assert (case.status, case.department_id) == ("dispatched", maintainer.id)
    actors = session.scalars(
        select(User.username)
        .join(CaseTransition, CaseTransition.actor_id == User.id)
        .where(CaseTransition.case_id == case.id, CaseTransition.action.in_(["file", "dispatch"]))
    ).all()
    assert actors == ["citygrid-sensing", "citygrid-sensing"]
    report = session.scalar(select(Report).where(Report.case_id == case.id))
    assert report is not None and report.channel == "sensor"
    alarms = [message("TILT-1", "alarm", f"a{i}", 10 + i) for i in range(50)]
    result = ingest_batch(session, alarms, now=NOW + timedelta(minutes=1))
    assert (result.alarms, result.folded, result.cases_filed) == (50, 50, 0)
    session.refresh(filed)
    assert filed.alarm_count == 51
    assert session.scalar(select(func.count()).where(Report.case_id == case.id)) == 51
    # Redelivered: every message is a duplicate, nothing more is written.
    again = ingest_batch(session, alarms + held, now=NOW + timedelta(minutes=2))
    assert (again.stored, again.duplicates, again.alarms) == (0, 55, 0)
    session.refresh(filed)
    assert filed.alarm_count == 51
    assert session.scalar(select(func.count()).select_from(SensingAlarm)) == 51


def test_a_recovery_is_attached_to_the_case(session: Session) -> None:
    seed_cover(session)
    add_device(session, "TILT-1", component_code=COVER_CODE)
    batch = [message("TILT-1", "telemetry", f"t{i}", i, {"tilt_deg": 20.0}) for i in range(4)]
    batch.append(message("TILT-1", "telemetry", "level", 60, {"tilt_deg": 1.0}))
    result = ingest_batch(session, batch, now=NOW)
    assert result.cases_filed == 1
    (filed,) = sensing_cases(session)
    assert filed.recovered_at == NOW + timedelta(seconds=60)
    note = session.scalar(
        select(CaseTransition).where(
            CaseTransition.case_id == filed.case_id, CaseTransition.action == "sensor_recovery"
        )
    )
    assert note is not None and "tilt_deg = 1" in (note.reason or "")
    assert note.from_status == note.to_status == "dispatched"  # filed and sent at once


def test_the_rule_state_survives_between_batches(session: Session) -> None:
    seed_cover(session)
    add_device(session, "TILT-1", component_code=COVER_CODE)
    first = ingest_batch(
        session, [message("TILT-1", "telemetry", "a", 0, {"tilt_deg": 20})], now=NOW
    )
    second = ingest_batch(
        session, [message("TILT-1", "telemetry", "b", 4, {"tilt_deg": 20})], now=NOW
    )
    assert (first.alarms, second.alarms, second.cases_filed) == (0, 1, 1)


def test_a_flapping_device_is_damped(session: Session) -> None:
    seed_cover(session)
    add_device(session, "TILT-1")  # no component: each flip would be a new case once closed
    flips = []
    for i in range(6):
        flips.append(message("TILT-1", "alarm", f"up{i}", i * 60))
        flips.append(message("TILT-1", "alarm", f"down{i}", i * 60 + 30, state="recovered"))
    result = ingest_batch(session, flips, now=NOW)
    # The first alarm files; the case is open, so later alarms fold until damping holds them.
    assert result.cases_filed == 1
    session.execute(text("UPDATE event_case SET status = 'cancelled'"))
    later = [message("TILT-1", "alarm", "again", 400)]
    damped = ingest_batch(session, later, now=NOW)
    assert damped.cases_filed == 0
    outcome = session.scalar(select(SensingAlarm.outcome).where(SensingAlarm.message_id == "again"))
    assert outcome == "damped"


def test_a_silent_device_files_one_offline_case_and_its_return_is_noted(session: Session) -> None:
    seed_cover(session)
    add_device(session, "TILT-1", component_code=COVER_CODE, heartbeat_s=60)
    ingest_batch(session, [message("TILT-1", "heartbeat", "h1", 0)], now=NOW)
    settings = get_settings()
    quiet = NOW + timedelta(seconds=60 * settings.sensing_offline_after_heartbeats - 1)
    assert check_offline(session, quiet).offline == 0
    late = NOW + timedelta(hours=2)
    assert check_offline(session, late).cases_filed == 1
    assert check_offline(session, late + timedelta(hours=1)).cases_filed == 0
    (offline,) = sensing_cases(session, "offline")
    back = ingest_batch(session, [message("TILT-1", "heartbeat", "h2", 9000)], now=late)
    assert back.stored == 1
    note = session.scalar(
        select(CaseTransition).where(
            CaseTransition.case_id == offline.case_id, CaseTransition.action == "sensor_online"
        )
    )
    assert note is not None


def test_unknown_devices_are_refused(session: Session) -> None:
    result = ingest_batch(session, [message("NOPE", "heartbeat", "h", 0)], now=NOW)
    assert (result.refused, result.stored) == (1, 0)
