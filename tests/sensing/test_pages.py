"""The sensing pages over HTTP, in Chinese: the review queue (from the console), an alarm's
snapshot, the detectors' precision (from the analysis hub) — no English UI words, times in
city time in the one format, role checks and refused input naming the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from citygrid.accounts.auth import PAGE_HEADER
from citygrid.accounts.models import User
from citygrid.accounts.roles import Role
from citygrid.settings import Settings, settings_dependency
from citygrid.web import local_time
from sensing.devices.map_layer import devices_on_map
from sensing.models import SensingAlarm
from tests.events.seed import add_user
from tests.sensing.demo_seed import seed_demo_devices
from tests.web.pages_support import EN, ZH, log_in, open_page

# Seeds the demo inventory and three weeks of alarms on the block (a few seconds).
pytestmark = pytest.mark.heavy

TIME = re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}\b")
ENGLISH_UI = re.compile(
    r">\s*(Confirm|Reject|Snapshot|Camera|Confidence|Alarm|Precision|Month|Verified|Rejected"
    r"|Waiting|Algorithm|Device|Show|Back|Decided|Latest|No alarm)\b"
)


@pytest.fixture
def settings(session: Session, client: TestClient, tmp_path: Path) -> Settings:
    configured = seed_demo_devices(session, tmp_path)

    async def override() -> Settings:
        return configured

    client.app.dependency_overrides[settings_dependency] = override  # type: ignore[attr-defined]
    return configured


def user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def assert_chinese(page: str) -> None:
    assert not ENGLISH_UI.search(page), ENGLISH_UI.search(page)


def test_the_console_leads_to_the_review_queue_in_chinese(
    session: Session, client: TestClient, settings: Settings
) -> None:
    log_in(client, user(session, "dispatcher"))
    console = open_page(client, "/console", ZH)
    assert 'href="/sensing/review"' in console and "待复核的视频告警" in console

    page = open_page(client, "/sensing/review", ZH)
    assert "视频告警复核" in page and "确认并立案" in page and "驳回为误报" in page
    assert_chinese(page)
    waiting = session.scalars(
        select(SensingAlarm).where(SensingAlarm.outcome == "review").order_by(SensingAlarm.id)
    ).all()
    assert waiting and f"待复核告警：{len(waiting)} 条" in page
    first = waiting[0]
    # The time as the city reads it, in the one format; every time on the page in it.
    assert local_time(first.at, settings.city_zone) in page
    assert TIME.search(page)
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d", page)
    assert f'src="/sensing/alarms/{first.id}/snapshot"' in page
    assert f"{round(100 * (first.confidence or 0))} %" in page
    # Rejected alarms with their reasons, confirmed ones with their cases, in the decisions.
    assert "已驳回（误报）" in page and "误报：" in page and 'class="case-link"' in page

    snapshot = client.get(f"/sensing/alarms/{first.id}/snapshot")
    assert snapshot.status_code == 200
    assert snapshot.headers["content-type"] == "image/jpeg"
    assert snapshot.content[:2] == b"\xff\xd8"

    confirmed = client.post(
        f"/api/sensing/review/{first.id}/confirm", json={}, headers={PAGE_HEADER: "1"}
    )
    assert confirmed.status_code == 200, confirmed.text
    case_id = confirmed.json()["case_id"]
    assert case_id is not None
    number = session.scalar(text("SELECT number FROM event_case WHERE id = :id"), {"id": case_id})
    after = open_page(client, "/sensing/review", ZH)
    assert f'data-alarm-id="{first.id}"' in after.split('id="reviewed"')[1]
    assert f'<a href="/cases/{case_id}" class="case-link">{number}</a>' in after
    assert f"待复核告警：{len(waiting) - 1} 条" in after


def test_rejecting_needs_a_reason_and_the_queue_is_for_dispatchers(
    session: Session, client: TestClient, settings: Settings
) -> None:
    log_in(client, user(session, "dispatcher"))
    alarm_id = session.scalar(
        select(SensingAlarm.id).where(SensingAlarm.outcome == "review").limit(1)
    )
    refused = client.post(
        f"/api/sensing/review/{alarm_id}/reject", json={"reason": " "}, headers={PAGE_HEADER: "1"}
    )
    assert refused.status_code == 422 and "reason" in refused.text
    page = open_page(client, "/sensing/review", ZH)
    assert 'name="reason"' in page and "误报理由" in page

    log_in(client, add_user(session, Role.DEPARTMENT, username="crew1"))
    forbidden = client.get("/sensing/review", headers=ZH)
    assert forbidden.status_code == 403 and "您的角色无权打开此页面。" in forbidden.text
    assert client.get("/sensing/review?after=abc", headers=ZH).status_code in (403, 422)


def test_a_manager_opens_the_precision_page_from_the_analysis_hub(
    session: Session, client: TestClient, settings: Settings
) -> None:
    log_in(client, add_user(session, Role.MANAGER, username="boss1"))
    hub = open_page(client, "/analysis", ZH)
    assert 'href="/sensing/precision"' in hub and "告警准确率" in hub

    page = open_page(client, "/sensing/precision", ZH)
    assert_chinese(page)
    assert "告警准确率" in page and "视频分析摄像机" in page and "井盖倾斜传感器" in page
    assert "设备阈值规则" in page and "vending-det 2.1" in page
    report = client.get("/api/sensing/precision").json()["rows"]
    for row in report:
        if row["precision"] is not None:
            assert f"{100 * row['precision']:.1f} %" in page
    assert any(row["rejected"] for row in report) and any(row["verified"] for row in report)
    assert TIME.search(page)

    month = report[0]["month"]
    one_month = open_page(client, f"/sensing/precision?month={month}", ZH)
    assert f'<option value="{month}" selected>' in one_month
    assert all(
        f'data-month="{month}"' in row for row in re.findall(r"<tr data-alg[^>]*>", one_month)
    )
    bad = client.get("/sensing/precision?month=2026-13", headers=ZH)
    assert bad.status_code == 422 and "month" in bad.text

    english = open_page(client, "/sensing/precision", EN)
    assert "Detector precision" in english and "告警准确率" not in english


def test_devices_and_their_state_are_a_capped_map_layer(
    session: Session, client: TestClient, settings: Settings
) -> None:
    total, drawn = devices_on_map(session, None, cap=500)
    states = {device.state for device in drawn}
    assert total == len(drawn) > 10 and {"alarm", "offline", "online", "maintenance"} <= states
    offline_ids = session.scalars(
        text("SELECT id FROM sensing_device WHERE NOT online AND status = 'active'")
    ).all()
    assert offline_ids and all(
        device.state in ("offline", "alarm") for device in drawn if device.id in offline_ids
    )
    assert devices_on_map(session, None, cap=3) == (4, [])  # over the cap: none drawn

    log_in(client, add_user(session, Role.MANAGER, username="boss2"))
    page = open_page(client, "/maps/heatmap?components=1", ZH)
    assert f"感知设备（{total}）" in page
    for label in ("设备告警中", "设备离线", "设备维护中", "设备在线"):
        assert label in page
    assert "DEMO-CAM-" in page and "视频分析摄像机" in page
    assert "Devices in alarm" not in page


def test_the_devices_admin_page_filters_pages_and_changes_status(
    session: Session, client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(client, add_user(session, Role.ADMIN, username="root1"))
    assert 'href="/admin/devices"' in open_page(client, "/admin", ZH)
    page = open_page(client, "/admin/devices", ZH)
    assert_chinese(page)
    total = int(session.scalar(text("SELECT count(*) FROM sensing_device")) or 0)
    assert f"共 {total} 台设备" in page and "登记设备" in page and "citygrid devices import" in page
    assert "井盖倾斜传感器" in page and "维护中" in page and "最近上报 " in page
    assert TIME.search(page)

    offline = open_page(client, "/admin/devices?online=false", ZH)
    offline_count = session.scalar(text("SELECT count(*) FROM sensing_device WHERE NOT online"))
    assert f"共 {offline_count} 台设备" in offline and offline_count
    cameras = open_page(client, "/admin/devices?type=camera", ZH)
    assert "DEMO-CAM-" in cameras and "DEMO-TILT-" not in cameras

    monkeypatch.setattr("sensing.pages.DEVICES_PAGE", 5)
    first = open_page(client, "/admin/devices?type=manhole_tilt", ZH)
    ids = re.findall(r'<tr data-device-id="([^"]+)"', first)
    assert len(ids) == 5
    following = re.search(r'id="devices-next" href="([^"]+)"', first)
    assert following is not None and "type=manhole_tilt" in following.group(1)
    second = open_page(client, following.group(1).replace("&amp;", "&"), ZH)
    more = re.findall(r'<tr data-device-id="([^"]+)"', second)
    assert more and min(more) > max(ids)

    changed = client.patch(
        f"/api/sensing/devices/{ids[0]}", json={"status": "maintenance"}, headers={PAGE_HEADER: "1"}
    )
    assert changed.status_code == 200, changed.text
    in_maintenance = open_page(client, "/admin/devices?status=maintenance", ZH)
    assert f'data-device-id="{ids[0]}"' in in_maintenance

    refused = client.get("/admin/devices?type=toaster", headers=ZH)
    assert refused.status_code == 422 and "type" in refused.text
    log_in(client, user(session, "dispatcher"))
    assert client.get("/admin/devices", headers=ZH).status_code == 403


def test_the_case_page_of_a_device_case_shows_its_device(
    session: Session, client: TestClient, settings: Settings
) -> None:
    log_in(client, user(session, "dispatcher"))
    folded = session.execute(
        text("""SELECT sc.case_id, sc.device_id, sc.alarm_count, sc.recovered_at
                FROM sensing_case sc WHERE sc.alarm_count > 1 AND sc.recovered_at IS NOT NULL
                ORDER BY sc.case_id LIMIT 1""")
    ).one()
    page = open_page(client, f"/cases/{folded.case_id}", ZH)
    assert f'data-url="/sensing/cases/{folded.case_id}/device"' in page
    assert '<script src="/static/sensing/case_device.js"></script>' in page
    assert client.get("/static/sensing/case_device.js").status_code == 200

    panel = open_page(client, f"/sensing/cases/{folded.case_id}/device", ZH)
    assert_chinese(panel)
    assert folded.device_id in panel and "井盖倾斜传感器" in panel
    assert f'id="case-device-alarm-count">{folded.alarm_count} ' in panel
    recovered = local_time(folded.recovered_at, settings.city_zone)
    assert f"{recovered} 报告恢复正常" in panel and "tilt_deg = " in panel and "恢复" in panel

    verified = session.scalar(
        text("SELECT case_id FROM sensing_case WHERE verification = 'passed' LIMIT 1")
    )
    camera = open_page(client, f"/sensing/cases/{verified}/device", ZH)
    assert "摄像机复检通过：未再识别到问题" in camera and "视频分析摄像机" in camera
    assert re.search(r'<img src="/sensing/alarms/\d+/snapshot"', camera)

    person_case = session.scalar(
        text("SELECT id FROM event_case WHERE id NOT IN (SELECT case_id FROM sensing_case) LIMIT 1")
    )
    if person_case is not None:
        assert client.get(f"/sensing/cases/{person_case}/device").status_code == 404
    log_in(client, add_user(session, Role.CITIZEN, username="someone"))
    assert client.get(f"/sensing/cases/{folded.case_id}/device").status_code in (403, 404)
