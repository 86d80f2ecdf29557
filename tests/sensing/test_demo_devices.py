"""The demo's devices and three weeks of their alarms, through the real pipeline: cases filed
and folded, recoveries, devices offline, reviewed and rejected camera alarms, verifications by
re-detection; a second load adds nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.demo.sensing import load_demo_devices
from tests.sensing.demo_seed import NOW, seed_demo_devices


def scalar(session: Session, sql: str) -> int:
    return int(session.scalar(text(sql)) or 0)


@pytest.mark.heavy
def test_demo_devices_show_real_figures(session: Session, tmp_path: Path) -> None:
    settings = seed_demo_devices(session, tmp_path)
    assert load_demo_devices(session, now=NOW, settings=settings) == 0

    types: dict[str, int] = dict(
        session.execute(
            text("SELECT device_type, count(*) FROM sensing_device GROUP BY device_type")
        ).all()
    )
    assert set(types) == {"manhole_tilt", "bin_fill", "water_level", "camera"}
    # Tilt and bin sensors watch their component; their cases are bound to it.
    assert (
        scalar(
            session,
            "SELECT count(*) FROM sensing_device"
            " WHERE device_type IN ('manhole_tilt', 'bin_fill') AND component_id IS NULL",
        )
        == 0
    )
    outcomes: dict[str, int] = dict(
        session.execute(text("SELECT outcome, count(*) FROM sensing_alarm GROUP BY outcome")).all()
    )
    for outcome in ("filed", "folded", "rejected", "confirmed", "review"):
        assert outcomes.get(outcome, 0) > 0, (outcome, outcomes)
    assert scalar(session, "SELECT count(*) FROM sensing_case WHERE reason = 'offline'") == 2
    assert scalar(session, "SELECT count(*) FROM sensing_case WHERE recovered_at IS NOT NULL") > 0
    assert scalar(session, "SELECT count(*) FROM sensing_case WHERE alarm_count > 1") > 0
    verifications: dict[str, int] = dict(
        session.execute(
            text(
                "SELECT verification, count(*) FROM sensing_case"
                " WHERE verification IS NOT NULL GROUP BY verification"
            )
        ).all()
    )
    assert verifications.get("passed", 0) > 0 and verifications.get("failed", 0) > 0
    # Cases are dated at their first alarm, over three weeks, none in the future.
    spread = session.execute(
        text(
            "SELECT min(c.created_at), max(c.created_at) FROM event_case c"
            " JOIN sensing_case sc ON sc.case_id = c.id"
        )
    ).one()
    assert (spread[1] - spread[0]).days >= 14 and spread[1] <= NOW
