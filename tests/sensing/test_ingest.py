"""Ingest: readings stored once, tilt held past the hold time files one case routed to the
cover's maintainer, further alarms fold into it, recoveries attach, flapping is damped, a
silent device files one offline case and a returning one is noted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from citygrid.accounts.models import User
from citygrid.settings import get_settings
from dispatch.rules import routing
from events.models import Case, CaseTransition, Report
from sensing import ingest
from sensing.alarms import filing
from sensing.alarms.offline import check_offline
from sensing.ingest import file_all_owed, ingest_batch
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
    beat = message("TILT-1", "heartbeat", "h1", 0, {"battery_v": 3.6})
    beats = ingest_batch(session, [beat, beat, message("NOPE", "heartbeat", "h", 0)], now=NOW)
    assert (beats.stored, beats.duplicates, beats.refused) == (1, 1, 1)
    stored = session.scalar(select(SensingReading).where(SensingReading.message_id == "h1"))
    assert stored is not None and stored.values == {"battery_v": 3.6}
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


def test_alarms_owing_a_case_fold_into_it_when_it_is_filed(session: Session) -> None:
    """The worker's split: a batch stores its alarms ('pending' when they owe a case) and is
    committed; the case is filed after, and alarms arriving meanwhile fold into that episode."""
    cover, maintainer = seed_cover(session)
    add_device(session, "TILT-1", component_code=COVER_CODE)
    first = [message("TILT-1", "alarm", f"a{i}", i, {"tilt_deg": 30.0 + i}) for i in range(3)]
    result = ingest_batch(session, first, now=NOW, file_later=True)
    assert (result.alarms, result.pending, result.cases_filed, result.folded) == (3, 3, 0, 0)
    assert sensing_cases(session) == []
    # A second batch before the case is filed: a recovery and an alarm of the same episode.
    later = [
        message("TILT-1", "alarm", "b0", 10, {"tilt_deg": 40.0}),
        message("TILT-1", "alarm", "ok", 20, {"tilt_deg": 2.0}, state="recovered"),
    ]
    result = ingest_batch(session, later, now=NOW, file_later=True)
    assert result.pending == 1
    owed = file_all_owed(session, now=NOW)
    assert (owed.alarms, owed.cases_filed, owed.folded) == (5, 1, 3)
    assert file_all_owed(session, now=NOW).alarms == 0  # nothing is owed twice
    (filed,) = sensing_cases(session)
    session.refresh(filed)
    assert (filed.alarm_count, filed.recovered_at) == (4, NOW + timedelta(seconds=20))
    assert filed.dispatch_owed  # filed by intake; 立案 and dispatch follow
    rows = session.execute(
        select(SensingAlarm.message_id, SensingAlarm.outcome, SensingAlarm.case_id).order_by(
            SensingAlarm.at
        )
    ).all()
    assert [(r.message_id, r.outcome) for r in rows] == [
        ("a0", "filed"),
        ("a1", "folded"),
        ("a2", "folded"),
        ("b0", "folded"),
        ("ok", "attached"),
    ]
    assert {r.case_id for r in rows} == {filed.case_id}
    assert session.scalar(select(func.count()).where(Report.case_id == filed.case_id)) == 4
    assert filing.dispatch_owed(session, now=NOW, settings=get_settings(), limit=10) == 1
    case = session.get(Case, filed.case_id)
    assert case is not None and (case.status, case.department_id) == (
        "dispatched",
        maintainer.id,
    )
    session.refresh(filed)
    assert not filed.dispatch_owed
    assert case.component_id == cover.id


def test_folds_and_a_recovery_in_one_batch_all_count(session: Session) -> None:
    """Regression: alarms folded into a case (filed in the same batch, or open before) raise
    its alarm_count even when a recovery of the case is in the batch too; the values an alarm
    message carries are kept on every alarm, filed or folded."""
    seed_cover(session)
    add_device(session, "TILT-1", component_code=COVER_CODE)
    batch = [message("TILT-1", "alarm", f"a{i}", i, {"tilt_deg": 20.0 + i}) for i in range(3)]
    batch.append(message("TILT-1", "alarm", "ok", 5, {"tilt_deg": 1.0}, state="recovered"))
    result = ingest_batch(session, batch, now=NOW)
    assert (result.cases_filed, result.folded) == (1, 2)
    (filed,) = sensing_cases(session)
    again = [message("TILT-1", "alarm", f"b{i}", 10 + i, {"tilt_deg": 30.0}) for i in range(2)]
    again.append(message("TILT-1", "alarm", "ok2", 15, {"tilt_deg": 2.0}, state="recovered"))
    assert ingest_batch(session, again, now=NOW).folded == 2
    session.refresh(filed)
    assert (filed.alarm_count, filed.recovered_at) == (5, NOW + timedelta(seconds=15))
    values = session.execute(
        select(SensingAlarm.outcome, SensingAlarm.metric, SensingAlarm.value)
        .where(SensingAlarm.kind == "alarm")
        .order_by(SensingAlarm.at)
    ).all()
    assert [tuple(row) for row in values] == [
        ("filed", "tilt_deg", 20.0),
        ("folded", "tilt_deg", 21.0),
        ("folded", "tilt_deg", 22.0),
        ("folded", "tilt_deg", 30.0),
        ("folded", "tilt_deg", 30.0),
    ]


def test_the_filer_stops_after_max_cases_and_the_rest_stay_owed(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_cover(session)
    for device_id in ("CAM-A", "CAM-B"):
        add_device(session, device_id)  # on no component: a case each
    batch = [message(d, "alarm", f"{d}-{i}", i) for i in range(2) for d in ("CAM-A", "CAM-B")]
    assert ingest_batch(session, batch, now=NOW, file_later=True).pending == 4
    monkeypatch.setattr(ingest, "OWED_PARTS", 1)  # both devices in one filer's share
    first, second, third = (ingest.file_owed(session, now=NOW, max_cases=1) for _ in range(3))
    assert [(o.cases_filed, o.folded, o.more) for o in (first, second, third)] == [
        (1, 1, True),
        (1, 1, False),
        (0, 0, False),
    ]
    assert len(sensing_cases(session)) == 2
