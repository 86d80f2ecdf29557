"""The case page over HTTP: what each role sees, in both languages, and which actions it offers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid.accounts.auth import PAGE_HEADER
from citygrid.accounts.models import Department, User
from citygrid.accounts.roles import Role
from citygrid.i18n import translations
from events.cases import pages as case_page
from events.cases.schemas import HistoryRow
from events.lifecycle import CaseAction, CaseStatus
from events.models import Case, Category
from tests.events.seed import add_case, add_category, add_department, add_user
from tests.grid.places import CELL_NW, COMMUNITY, STREET
from tests.web.pages_support import EN, HTML, ZH, log_in, log_in_through_form

ZH_TEXT = translations("zh-CN").gettext


@dataclass
class Seeded:
    category: Category
    department: Department
    reporter: User
    case: Case


@pytest.fixture
def seeded(session: Session) -> Seeded:
    category = add_category(session)
    department = add_department(session, code="HW-01")
    reporter = add_user(session, Role.CITIZEN, username="reporter")
    case = add_case(session, category=category, reporter=reporter)
    return Seeded(category, department, reporter, case)


def forms_offered(page: str) -> list[str]:
    """The actions whose forms the page holds, in page order."""
    marker = 'data-action="'
    return [part.split('"', 1)[0] for part in page.split(marker)[1:]]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (ZH, ["已上报", "暴露垃圾", "多福巷社区", "历史记录", "一般"]),
        (EN, ["Reported", "Exposed garbage", "多福巷社区", "History", "Normal"]),
    ],
)
def test_reporter_sees_their_case_in_their_language(
    session: Session,
    client: TestClient,
    seeded: Seeded,
    headers: dict[str, str],
    expected: list[str],
) -> None:
    log_in(client, seeded.reporter)
    page = client.get(f"/cases/{seeded.case.id}", headers=headers)
    assert page.status_code == 200, page.text
    for text in [*expected, seeded.case.number, CELL_NW.code, COMMUNITY.code, STREET.name]:
        assert text in page.text
    assert 'id="case-map-data"' in page.text and 'Polygon"' in page.text
    assert "/maps/assets/leaflet/leaflet.js" in page.text
    assert '"components_url": null' in page.text  # the inventory is for staff
    assert forms_offered(page.text) == []


@pytest.mark.parametrize("role", [Role.CITIZEN, Role.DEPARTMENT])
def test_a_case_one_may_not_see_is_not_found_in_a_translated_page(
    session: Session, client: TestClient, seeded: Seeded, role: Role
) -> None:
    """As the case API answers (events.visibility): like an id that does not exist."""
    set_state(session, seeded.case, CaseStatus.DISPATCHED, seeded.department)
    other = add_department(session, code="OTHER") if role is Role.DEPARTMENT else None
    log_in(client, add_user(session, role, username="stranger", department=other))
    page = client.get(f"/cases/{seeded.case.id}", headers=ZH)
    assert page.status_code == 404
    assert ZH_TEXT("Not found") in page.text and ZH_TEXT("There is nothing here.") in page.text
    assert seeded.case.description not in page.text


def test_an_unknown_case_is_not_found_and_no_session_goes_to_login(
    session: Session, client: TestClient, seeded: Seeded
) -> None:
    answer = client.get(f"/cases/{seeded.case.id}", headers=HTML, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next=/cases/{seeded.case.id}"
    add_user(session, Role.MANAGER, username="boss")
    log_in_through_form(client, "boss", f"/cases/{seeded.case.id}")
    assert client.get("/cases/999999999", headers=EN).status_code == 404


def set_state(session: Session, case: Case, status: CaseStatus, department: Department) -> None:
    case.status = status.value
    case.department_id = department.id
    if status is CaseStatus.CLOSED:
        case.closed_at = datetime.now(UTC)
    session.flush()


@pytest.mark.parametrize(
    ("role", "status", "expected"),
    [
        (Role.DISPATCHER, CaseStatus.REPORTED, ["file", "not_file", "cancel"]),
        (Role.DISPATCHER, CaseStatus.FILED, ["dispatch", "cancel"]),
        (Role.DEPARTMENT, CaseStatus.DISPATCHED, ["accept", "return", "request_suspension"]),
        (
            Role.DEPARTMENT,
            CaseStatus.ACCEPTED,
            ["handle", "request_postponement", "request_suspension"],
        ),
        (Role.INSPECTOR, CaseStatus.HANDLED, ["verify_pass", "verify_fail"]),
        (Role.MANAGER, CaseStatus.CLOSED, ["reopen"]),
        (Role.MANAGER, CaseStatus.FILED, []),
        (Role.ADMIN, CaseStatus.SUSPENDED, ["resume", "cancel"]),
    ],
)
def test_actions_are_offered_by_role_and_state(
    session: Session,
    client: TestClient,
    seeded: Seeded,
    role: Role,
    status: CaseStatus,
    expected: list[str],
) -> None:
    member_of = seeded.department if role is Role.DEPARTMENT else None
    actor = add_user(session, role, username="actor", department=member_of)
    set_state(session, seeded.case, status, seeded.department)
    log_in(client, actor)
    page = client.get(f"/cases/{seeded.case.id}", headers=EN)
    assert page.status_code == 200, page.text
    assert forms_offered(page.text) == expected
    if not expected:
        assert "There is nothing for you to do on this case now." in page.text


def test_forms_ask_for_what_their_action_needs(
    session: Session, client: TestClient, seeded: Seeded
) -> None:
    crew = add_user(session, Role.DEPARTMENT, username="crew", department=seeded.department)
    set_state(session, seeded.case, CaseStatus.ACCEPTED, seeded.department)
    log_in(client, crew)
    page = client.get(f"/cases/{seeded.case.id}", headers=ZH).text
    handle = page.split('id="action-handle"')[1].split("</form>")[0]
    assert 'data-field="photos"' in handle and 'data-field="reason"' in handle
    assert '<label for="handle-reason">原因（必填）</label>' in handle
    postpone = page.split('id="action-request_postponement"')[1].split("</form>")[0]
    assert 'data-field="hours"' in postpone and 'data-field="photos"' not in postpone
    assert 'class="form-error" hidden role="alert"' in postpone


def test_dispatch_form_lists_departments_and_the_action_goes_through_the_api(
    session: Session, client: TestClient, seeded: Seeded
) -> None:
    clerk = add_user(session, Role.DISPATCHER, username="clerk")
    set_state(session, seeded.case, CaseStatus.FILED, seeded.department)
    seeded.case.department_id = None
    session.flush()
    log_in(client, clerk)
    page = client.get(f"/cases/{seeded.case.id}", headers=EN).text
    assert '<option value="HW-01"' in page and '"components_url": "/api/components"' in page
    url = f"/api/cases/{seeded.case.id}/actions/dispatch"
    body = {"department_code": "HW-01", "expected_version": seeded.case.version}
    assert client.post(url, json=body, headers={PAGE_HEADER: "1"}).status_code == 200
    page = client.get(f"/cases/{seeded.case.id}", headers=EN).text
    assert "Dispatched" in page and "Filed → Dispatched" in page
    assert "sanitation HW-01 (HW-01)" in page and forms_offered(page) == ["dispatch", "cancel"]


def test_history_names_people_to_staff_only(
    session: Session, client: TestClient, seeded: Seeded
) -> None:
    log_in(client, add_user(session, Role.MANAGER, username="boss"))
    staff_view = client.get(f"/cases/{seeded.case.id}", headers=EN).text
    assert "citizen (Citizen)" in staff_view
    log_in(client, seeded.reporter)
    own_view = client.get(f"/cases/{seeded.case.id}", headers=EN).text
    assert "citizen (Citizen)" not in own_view and "(Citizen)" in own_view


@pytest.mark.parametrize(
    ("action", "status", "required", "department", "hours", "photos"),
    [
        (CaseAction.NOT_FILE, CaseStatus.REPORTED, True, False, False, False),
        (CaseAction.DISPATCH, CaseStatus.FILED, False, True, False, False),
        (CaseAction.DISPATCH, CaseStatus.DISPATCHED, True, True, False, False),
        (CaseAction.HANDLE, CaseStatus.ACCEPTED, True, False, False, True),
        (CaseAction.VERIFY_PASS, CaseStatus.HANDLED, False, False, False, True),
        (CaseAction.APPROVE_POSTPONEMENT, CaseStatus.ACCEPTED, False, False, True, False),
    ],
)
def test_action_form_fields(
    action: CaseAction,
    status: CaseStatus,
    required: bool,
    department: bool,
    hours: bool,
    photos: bool,
) -> None:
    (form,) = case_page.action_forms([action], status)
    shape = (form.reason_required, form.asks_department, form.asks_hours, form.asks_photos)
    assert shape == (required, department, hours, photos)


def test_timeline_hides_names_unless_asked() -> None:
    row = HistoryRow(
        id=1,
        case_id=7,
        merged_case=True,
        action="handle",
        from_status=CaseStatus.ACCEPTED,
        to_status=CaseStatus.HANDLED,
        actor_id=3,
        actor_role="department",
        reason="done",
        details={"photo_ids": [5]},
        at=datetime(2026, 11, 26, tzinfo=UTC),
    )
    (hidden,) = case_page.timeline([row], {3: "Crew 1"}, show_names=False)
    (shown,) = case_page.timeline([row], {3: "Crew 1"}, show_names=True)
    assert (hidden.actor, shown.actor) == (None, "Crew 1")
    assert (shown.merged_case_id, shown.photo_ids) == (7, [5])
