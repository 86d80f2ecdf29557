"""The caller's phone and name never leave the audited view: not in the ticket list, the detail,
the export, the page, the Open311 answers, the case lists and pages, the ticket events, nor in
any log line written while tickets are received, imported and listed."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from tests.events.hotline.support import CALLER, MASKED_PHONE, PHONE, seed_hotline, ticket_body
from tests.events.intake.support import headers_for
from tests.events.seed import add_user
from tests.grid.places import CELL_NE, centre_of

IMPORTED_PHONE = "13900007777"
IMPORTED_CALLER = "欧阳娜娜"


def test_the_phone_is_in_no_list_export_page_answer_event_or_log(
    client: TestClient,
    session: Session,
    run_cli: Callable[..., Result],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    _, key = seed_hotline(session)
    filed = client.post("/api/hotline/tickets", json=ticket_body(), headers=key).json()
    waiting = ticket_body(address_text="不知道在哪里")
    del waiting["lon"], waiting["lat"]
    client.post("/api/hotline/tickets", json=waiting, headers=key)
    client.post("/api/hotline/tickets", json=ticket_body(ticket_type="praise"), headers=key)
    ne = centre_of(CELL_NE)
    path = tmp_path / "tickets.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["工单编号", "受理时间", "诉求类型", "诉求内容", "来电人", "联系电话", "经度", "纬度"]
        )
        writer.writerow(
            [
                "PD-1",
                "2026-12-05 08:00",
                "投诉",
                "噪音扰民",
                IMPORTED_CALLER,
                IMPORTED_PHONE,
                str(ne[0]),
                str(ne[1]),
            ]
        )
    imported = run_cli("hotline", "import", str(path))
    assert imported.exit_code == 0, imported.output
    assert filed["case_id"] is not None

    dispatcher = headers_for(add_user(session, Role.DISPATCHER))
    manager = headers_for(add_user(session, Role.MANAGER))
    answers = {
        "list": client.get("/api/hotline/tickets", headers=manager),
        "to locate": client.get("/api/hotline/tickets?status=to_locate", headers=dispatcher),
        "detail": client.get(f"/api/hotline/tickets/{filed['id']}", headers=manager),
        "export": client.get("/api/hotline/tickets/export", headers=manager),
        "page": client.get("/hotline?tab=all", headers=dispatcher),
        "open311 list": client.get("/open311/v2/requests.json"),
        "open311 request": client.get(f"/open311/v2/requests/{filed['case_id']}.json"),
        "open311 xml": client.get(f"/open311/v2/requests/{filed['case_id']}.xml"),
        "case list": client.get("/api/cases", headers=dispatcher),
        "case": client.get(f"/api/cases/{filed['case_id']}", headers=dispatcher),
        "case export": client.get("/api/cases/export", headers=dispatcher),
        "case page": client.get(f"/cases/{filed['case_id']}", headers=dispatcher),
        "case list page": client.get("/cases", headers=dispatcher),
    }
    for name, answer in answers.items():
        assert answer.status_code == 200, (name, answer.text[:300])
        for secret in (PHONE, CALLER, IMPORTED_PHONE, IMPORTED_CALLER):
            assert secret not in answer.text, (name, secret)
    assert MASKED_PHONE in answers["list"].text and MASKED_PHONE in answers["export"].text
    assert "139****7777" in answers["export"].text and "欧***" in answers["export"].text
    assert filed["case_number"] in answers["case list"].text  # the case is listed, callerless

    events = session.execute(text("SELECT data::text FROM hotline_ticket_event")).scalars().all()
    assert events and not any(PHONE in data or IMPORTED_PHONE in data for data in events)
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert caplog.records, "the access log wrote nothing: this test would prove nothing"
    for secret in (PHONE, IMPORTED_PHONE, CALLER, IMPORTED_CALLER):
        assert secret not in logged
