"""The in-app inbox: notify() writes messages, each user reads and marks only their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citygrid.accounts.models import User
from citygrid.accounts.roles import Role
from dispatch.inbox import service as notifications
from dispatch.models import Notification
from tests.conftest import token_for
from tests.events.seed import add_case, add_category, add_department, add_user

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def headers_of(user: User) -> dict[str, str]:
    token = token_for(Role(user.role), user_id=user.id, department_id=user.department_id)
    return {"Authorization": f"Bearer {token}"}


def test_notify_writes_one_row_per_distinct_active_user(session: Session) -> None:
    first, second = add_user(session, Role.DISPATCHER), add_user(session, Role.MANAGER)
    retired = add_user(session, Role.DISPATCHER)
    retired.is_active = False
    session.flush()

    written = notifications.notify(
        session,
        [first.id, second.id, first.id, retired.id, 999_999],
        kind="case.dispatched",
        title="Case dispatched",
        body={"due_at": NOW + timedelta(hours=4)},
        now=NOW,
    )

    assert written == 2
    rows = session.scalars(select(Notification).where(Notification.kind == "case.dispatched"))
    assert sorted(row.user_id for row in rows) == sorted([first.id, second.id])


def test_notify_department_reaches_its_active_members_only(session: Session) -> None:
    department = add_department(session, code="HW-INBOX")
    members = [add_user(session, Role.DEPARTMENT, department=department) for _ in range(2)]
    add_user(session, Role.DEPARTMENT)  # a member of another department
    case = add_case(session, category=add_category(session))

    written = notifications.notify_department(
        session, department.id, kind="case.dispatched", title="New case", case_id=case.id, now=NOW
    )

    assert written == 2
    rows = session.scalars(select(Notification).where(Notification.case_id == case.id))
    assert sorted(row.user_id for row in rows) == sorted(member.id for member in members)


def test_inbox_lists_newest_first_with_unread_count_and_pages(
    client: TestClient, session: Session
) -> None:
    user = add_user(session, Role.INSPECTOR)
    for minute in range(3):
        notifications.notify(
            session, [user.id], kind="note", title=f"n{minute}", now=NOW + timedelta(minutes=minute)
        )

    first_page = client.get("/api/inbox?limit=2", headers=headers_of(user)).json()
    assert first_page["unread_count"] == 3
    assert [item["title"] for item in first_page["items"]] == ["n2", "n1"]
    before = first_page["next_before_id"]
    rest = client.get(f"/api/inbox?limit=2&before_id={before}", headers=headers_of(user)).json()
    assert [item["title"] for item in rest["items"]] == ["n0"]
    assert rest["next_before_id"] is None


def test_marking_read_counts_down_and_filters_unread(client: TestClient, session: Session) -> None:
    user = add_user(session, Role.CITIZEN)
    notifications.notify(session, [user.id], kind="note", title="old", now=NOW)
    notifications.notify(session, [user.id], kind="note", title="new", now=NOW)
    newest = client.get("/api/inbox", headers=headers_of(user)).json()["items"][0]

    marked = client.post(f"/api/inbox/{newest['id']}/read", headers=headers_of(user))

    assert marked.status_code == 200
    assert marked.json()["read_at"] is not None
    unread = client.get("/api/inbox?unread=true", headers=headers_of(user)).json()
    assert unread["unread_count"] == 1
    assert [item["title"] for item in unread["items"]] == ["old"]


def test_read_all_marks_only_the_callers(client: TestClient, session: Session) -> None:
    user, other = add_user(session, Role.DISPATCHER), add_user(session, Role.DISPATCHER)
    notifications.notify(session, [user.id, other.id], kind="note", title="x", now=NOW)
    notifications.notify(session, [user.id], kind="note", title="y", now=NOW)

    answer = client.post("/api/inbox/read-all", headers=headers_of(user))

    assert answer.json() == {"marked": 2}
    assert client.get("/api/inbox", headers=headers_of(user)).json()["unread_count"] == 0
    assert client.get("/api/inbox", headers=headers_of(other)).json()["unread_count"] == 1


def test_another_users_notification_is_not_found(client: TestClient, session: Session) -> None:
    owner, intruder = add_user(session, Role.MANAGER), add_user(session, Role.MANAGER)
    notifications.notify(session, [owner.id], kind="note", title="private", now=NOW)
    notification_id = client.get("/api/inbox", headers=headers_of(owner)).json()["items"][0]["id"]

    answer = client.post(f"/api/inbox/{notification_id}/read", headers=headers_of(intruder))

    assert answer.status_code == 404
    assert client.get("/api/inbox", headers=headers_of(intruder)).json()["items"] == []
    assert client.get("/api/inbox", headers=headers_of(owner)).json()["unread_count"] == 1
