"""HTTP alarms of video-analytics platforms: per-source keys, confidence → case or review,
snapshots stored without EXIF, re-detection deciding the verification, precision."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.settings import Settings, get_settings, settings_dependency
from events.models import Case, CasePhoto, CaseTransition
from events.photos.service import photo_path
from sensing.alarms.verification import settle_windows
from sensing.models import SensingAlarm, SensingCase
from sensing.sources import service as sources
from tests.conftest import token_for
from tests.events.seed import add_user
from tests.sensing.support import add_device, seed_cover

GPS_IFD = 0x8825


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (32, 24), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (39.0, 54.0, 0.0), 3: "E", 4: (116.0, 24.0, 0.0)})
    output = io.BytesIO()
    image.save(output, format="JPEG", exif=exif)
    return output.getvalue()


@pytest.fixture
def settings(client: TestClient, tmp_path: Path) -> Settings:
    app = client.app
    configured = get_settings().model_copy(update={"media_dir": tmp_path})

    async def override() -> Settings:
        return configured

    app.dependency_overrides[settings_dependency] = override  # type: ignore[attr-defined]
    return configured


@pytest.fixture
def key(session: Session) -> str:
    seed_cover(session)
    add_device(session, "CAM-1", "camera")
    return sources.issue(
        session, code="county-ai", name="县AI平台", confidence_threshold=0.8
    ).secret


def alarm(alarm_id: str, confidence: float, *, minutes: float = 0, **extra: Any) -> dict[str, Any]:
    at = datetime(2026, 12, 6, 8, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    return {
        "alarm_id": alarm_id,
        "camera_id": "CAM-1",
        "algorithm": "vending-det",
        "algorithm_version": "2.1",
        "event_type": "street_vending",
        "confidence": confidence,
        "time": at.isoformat(),
        "bbox": [0.1, 0.2, 0.3, 0.4],
        **extra,
    }


def post(client: TestClient, key: str, body: dict[str, Any]) -> Any:
    return client.post("/api/sensing/alarms", json=body, headers={"X-Api-Key": key})


def test_a_confident_alarm_files_a_case_with_its_snapshot_without_exif(
    client: TestClient, session: Session, settings: Settings, key: str
) -> None:
    snapshot = base64.b64encode(jpeg_with_gps()).decode()
    answer = post(client, key, alarm("A-1", 0.93, snapshot=snapshot))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["outcome"] == "filed" and body["case_id"] is not None
    photo = session.scalar(select(CasePhoto).where(CasePhoto.case_id == body["case_id"]))
    assert photo is not None
    public = photo_path(settings.media_dir, photo.storage_key, photo.content_type, original=False)
    with Image.open(public) as image:
        assert not image.getexif()  # no EXIF, no GPS in the copy anyone may see
    case = session.get(Case, body["case_id"])
    assert case is not None
    replay = post(client, key, alarm("A-1", 0.93, snapshot=snapshot))
    assert replay.status_code == 200 and replay.json()["replayed"] is True
    assert replay.json()["case_id"] == body["case_id"]
    # A second detection of the same camera and type folds into the open case.
    folded = post(client, key, alarm("A-2", 0.95, minutes=5))
    assert folded.json()["outcome"] == "folded" and folded.json()["case_id"] == body["case_id"]
    sensing_case = session.get(SensingCase, body["case_id"])
    assert sensing_case is not None and sensing_case.alarm_count == 2


def test_keys_are_checked(client: TestClient, settings: Settings, key: str) -> None:
    assert post(client, "wrong", alarm("A-1", 0.9)).status_code == 403
    assert client.post("/api/sensing/alarms", json=alarm("A-1", 0.9)).status_code == 403
    bad = post(client, key, alarm("A-1", 0.9, camera_id="CAM-404"))
    assert bad.status_code == 422 and bad.json()["field"] == "camera_id"
    broken = post(
        client, key, alarm("A-1", 0.9, snapshot=base64.b64encode(b"not an image").decode())
    )
    assert broken.status_code == 422


def test_a_doubtful_alarm_waits_for_review_then_confirm_or_reject(
    client: TestClient, session: Session, settings: Settings, key: str
) -> None:
    dispatcher = add_user(session, Role.DISPATCHER)
    headers = {"Authorization": f"Bearer {token_for(Role.DISPATCHER, user_id=dispatcher.id)}"}
    low = post(client, key, alarm("L-1", 0.5)).json()
    other = post(client, key, alarm("L-2", 0.4, minutes=1)).json()
    assert low["outcome"] == "review" and low["case_id"] is None
    queue = client.get("/api/sensing/review", headers=headers).json()
    assert [item["id"] for item in queue["alarms"]] == [low["id"], other["id"]]
    confirmed = client.post(f"/api/sensing/review/{low['id']}/confirm", headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["outcome"] == "confirmed" and confirmed.json()["case_id"]
    rejected = client.post(
        f"/api/sensing/review/{other['id']}/reject", json={"reason": "影子误检"}, headers=headers
    )
    assert rejected.json()["outcome"] == "rejected"
    again = client.post(f"/api/sensing/review/{other['id']}/confirm", headers=headers)
    assert again.status_code == 409
    assert client.get("/api/sensing/review", headers=headers).json()["alarms"] == []
    report = client.get("/api/sensing/precision?month=2026-12", headers=headers).json()
    (row,) = report["rows"]
    assert (row["algorithm"], row["device_type"], row["confirmed"], row["rejected"]) == (
        "vending-det",
        "camera",
        1,
        1,
    )
    assert row["precision"] == 0.5


def handle(session: Session, case_id: int, handled_at: datetime) -> None:
    """The department reported handling (as the workflow leaves it)."""
    session.execute(
        text("UPDATE event_case SET status = 'handled', handled_at = :at WHERE id = :id"),
        {"at": handled_at, "id": case_id},
    )
    session.expire_all()


def test_no_redetection_in_the_window_passes_the_verification(
    client: TestClient, session: Session, settings: Settings, key: str
) -> None:
    case_id = post(client, key, alarm("V-1", 0.9)).json()["case_id"]
    handled_at = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    handle(session, case_id, handled_at)
    assert settle_windows(session, handled_at + timedelta(minutes=5), settings=settings).opened == 1
    window = timedelta(minutes=settings.sensing_redetection_window_minutes)
    result = settle_windows(session, handled_at + window + timedelta(seconds=1), settings=settings)
    assert (result.passed, result.failed) == (1, 0)
    case = session.get(Case, case_id)
    assert case is not None and case.status == "closed"
    row = session.scalar(
        select(CaseTransition).where(
            CaseTransition.case_id == case_id, CaseTransition.action == "verify_pass"
        )
    )
    assert row is not None and row.details["redetection"]["detections"] == 0


def test_a_redetection_in_the_window_sends_the_case_back(
    client: TestClient, session: Session, settings: Settings, key: str
) -> None:
    case_id = post(client, key, alarm("V-1", 0.9)).json()["case_id"]
    handled_at = datetime(2026, 12, 6, 8, 30, tzinfo=UTC)
    handle(session, case_id, handled_at)
    again = post(client, key, alarm("V-2", 0.9, minutes=40)).json()
    assert again["case_id"] == case_id
    case = session.get(Case, case_id)
    assert case is not None and case.status == "rework"
    sensing_case = session.get(SensingCase, case_id)
    assert sensing_case is not None and sensing_case.verification == "failed"
    row = session.scalar(
        select(CaseTransition).where(
            CaseTransition.case_id == case_id, CaseTransition.action == "verify_fail"
        )
    )
    assert row is not None and row.details["redetection"]["alarm_ids"] == [again["id"]]


def test_alarms_are_stored_once(
    session: Session, client: TestClient, settings: Settings, key: str
) -> None:
    for _ in range(3):
        post(client, key, alarm("O-1", 0.2))
    count = session.scalar(select(SensingAlarm.id).where(SensingAlarm.message_id == "O-1"))
    assert count is not None
    assert (
        len(session.scalars(select(SensingAlarm).where(SensingAlarm.message_id == "O-1")).all())
        == 1
    )
