"""Object-level access to cases (events.visibility): for each role and each relation to a case,
the case is readable, or it answers 404 (as an id that does not exist) on read, history, every
action, photo upload, its photos and its page, and is absent from the listing and the export.
The rule itself is checked table-driven, without a database."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department, User
from citygrid.accounts.roles import Principal, Role
from events.lifecycle import CaseAction, CaseStatus
from events.models import Case, CaseAssignment, CasePhoto, CaseTransition, Category, Report
from events.photos import service as photos
from events.visibility import CaseFacts, Relation, may_see, relations_of
from tests.events.intake.support import Configure, headers_for
from tests.events.photos.images import image_bytes
from tests.events.seed import add_case, add_category, add_department, add_user

TEST_STANDARD = "object-access-test"
ME, SOMEONE, MY_DEPARTMENT, OTHER_DEPARTMENT = 7, 8, 70, 80
CASE_NAMES = ("reported", "held", "duplicate", "handled", "closed")
EVERY_CASE = frozenset(CASE_NAMES)
# Who sees which case of the cast: everything else must look as if it did not exist.
VISIBLE: dict[str, frozenset[str]] = {
    "citizen": frozenset({"reported"}),  # reported it
    "neighbour": frozenset({"duplicate", "held"}),  # reported the duplicate merged into held
    "stranger": frozenset(),  # a citizen who reported nothing
    "inspector": frozenset({"handled"}),  # waiting for on-site verification
    "verifier": frozenset({"handled", "closed"}),  # verified the closed case
    "ours": frozenset({"held", "duplicate", "handled"}),  # held by the department now
    "theirs": frozenset({"closed"}),  # held by the department until it was closed
    "before": frozenset({"held", "duplicate"}),  # held by the department before a return
    "dispatcher": EVERY_CASE,
    "manager": EVERY_CASE,
    "admin": EVERY_CASE,
}
EXPORTERS = frozenset({"ours", "theirs", "before", "dispatcher", "manager"})


# The rule (pure) --------------------------------------------------------------------------------


def facts(status: CaseStatus = CaseStatus.FILED, **changes: Any) -> CaseFacts:
    return replace(CaseFacts(status=status, merged=False), **changes)


def principal(role: Role, *, department_id: int | None = MY_DEPARTMENT) -> Principal:
    department = department_id if role is Role.DEPARTMENT else None
    return Principal(ME, "me", role, department)


@pytest.mark.parametrize(
    ("role", "case_facts", "visible"),
    [
        (Role.CITIZEN, facts(reporter_ids=frozenset({ME})), True),
        (Role.CITIZEN, facts(reporter_ids=frozenset({SOMEONE})), False),
        (Role.CITIZEN, facts(actor_ids=frozenset({ME})), False),
        (Role.CITIZEN, facts(CaseStatus.HANDLED), False),
        (Role.INSPECTOR, facts(reporter_ids=frozenset({ME})), True),
        (Role.INSPECTOR, facts(CaseStatus.CLOSED, actor_ids=frozenset({ME})), True),
        (Role.INSPECTOR, facts(CaseStatus.HANDLED), True),
        (Role.INSPECTOR, facts(CaseStatus.HANDLED, merged=True), False),
        (Role.INSPECTOR, facts(CaseStatus.CLOSED, actor_ids=frozenset({SOMEONE})), False),
        (Role.INSPECTOR, facts(department_ids=frozenset({MY_DEPARTMENT})), False),
        (Role.DEPARTMENT, facts(department_ids=frozenset({MY_DEPARTMENT})), True),
        (Role.DEPARTMENT, facts(department_ids=frozenset({OTHER_DEPARTMENT, MY_DEPARTMENT})), True),
        (Role.DEPARTMENT, facts(department_ids=frozenset({OTHER_DEPARTMENT})), False),
        (Role.DEPARTMENT, facts(CaseStatus.HANDLED, actor_ids=frozenset({ME})), False),
        (Role.DEPARTMENT, facts(reporter_ids=frozenset({ME})), False),
        (Role.DISPATCHER, facts(), True),
        (Role.MANAGER, facts(), True),
        (Role.ADMIN, facts(), True),
    ],
    ids=str,
)
def test_the_rule_by_role_and_relation(role: Role, case_facts: CaseFacts, visible: bool) -> None:
    assert may_see(principal(role), case_facts) is visible


@pytest.mark.parametrize(
    ("role", "survivor", "visible"),
    [
        (Role.CITIZEN, facts(reporter_ids=frozenset({ME})), True),
        (Role.DEPARTMENT, facts(department_ids=frozenset({MY_DEPARTMENT})), True),
        (Role.DEPARTMENT, facts(department_ids=frozenset({OTHER_DEPARTMENT})), False),
        (Role.INSPECTOR, facts(CaseStatus.HANDLED), True),
        (Role.INSPECTOR, facts(CaseStatus.ACCEPTED), False),
    ],
    ids=str,
)
def test_a_merged_case_is_seen_with_its_survivor(
    role: Role, survivor: CaseFacts, visible: bool
) -> None:
    merged = facts(CaseStatus.FILED, merged=True)
    assert may_see(principal(role), merged) is False
    assert may_see(principal(role), merged, survivor=survivor) is visible


def test_a_department_member_without_a_department_sees_nothing() -> None:
    """The database refuses such a user; a token claiming one must still see nothing."""
    nobody = principal(Role.DEPARTMENT, department_id=None)
    assert not may_see(nobody, facts(department_ids=frozenset({MY_DEPARTMENT})))


def test_relations_are_found_whatever_the_role() -> None:
    everything = facts(
        CaseStatus.HANDLED,
        reporter_ids=frozenset({ME}),
        actor_ids=frozenset({ME}),
        department_ids=frozenset({MY_DEPARTMENT}),
    )
    assert relations_of(principal(Role.DEPARTMENT), everything) == frozenset(Relation)
    assert relations_of(principal(Role.CITIZEN), facts()) == frozenset()


# The cast: users with every relation to five cases ----------------------------------------------


@dataclass(frozen=True)
class Cast:
    users: dict[str, User]
    cases: dict[str, Case]
    photo_ids: dict[str, int]

    def headers(self, name: str) -> dict[str, str]:
        return headers_for(self.users[name])

    def names_of(self, case_ids: set[int]) -> set[str]:
        by_id = {case.id: name for name, case in self.cases.items()}
        return {by_id[case_id] for case_id in case_ids if case_id in by_id}


def seed_users(session: Session, departments: dict[str, Department]) -> dict[str, User]:
    users = {
        name: add_user(session, role)
        for name, role in [
            ("citizen", Role.CITIZEN),
            ("neighbour", Role.CITIZEN),
            ("stranger", Role.CITIZEN),
            ("inspector", Role.INSPECTOR),
            ("verifier", Role.INSPECTOR),
            ("dispatcher", Role.DISPATCHER),
            ("manager", Role.MANAGER),
            ("admin", Role.ADMIN),
        ]
    }
    for name in ("ours", "theirs", "before"):
        users[name] = add_user(session, Role.DEPARTMENT, department=departments[name])
    return users


def assign(session: Session, case: Case, department: Department, *, ended: str | None) -> None:
    """An assignment of the case to the department, current or ended for the given reason."""
    now = datetime.now(UTC)
    session.add(
        CaseAssignment(
            case_id=case.id,
            department_id=department.id,
            dispatched_at=now - timedelta(hours=2 if ended else 1),
            ended_at=now - timedelta(hours=1) if ended else None,
            end_reason=ended,
        )
    )


def seed_cases(
    session: Session, category: Category, users: dict[str, User], depts: dict[str, Department]
) -> dict[str, Case]:
    """reported (citizen); held by ours, returned earlier by before; duplicate (neighbour)
    merged into held; handled by ours; closed by theirs after the verifier's verification."""
    cases = {
        "reported": add_case(session, category=category, reporter=users["citizen"]),
        "held": add_case(
            session, category=category, status=CaseStatus.ACCEPTED, department=depts["ours"]
        ),
        "duplicate": add_case(session, category=category, reporter=users["neighbour"]),
        "handled": add_case(
            session, category=category, status=CaseStatus.HANDLED, department=depts["ours"]
        ),
        "closed": add_case(
            session, category=category, status=CaseStatus.CLOSED, department=depts["theirs"]
        ),
    }
    assign(session, cases["held"], depts["before"], ended="returned")
    assign(session, cases["held"], depts["ours"], ended=None)
    assign(session, cases["handled"], depts["ours"], ended=None)
    assign(session, cases["closed"], depts["theirs"], ended="closed")
    held, duplicate = cases["held"], cases["duplicate"]
    duplicate.merged_into_id = held.id
    session.execute(update(Report).where(Report.case_id == duplicate.id).values(case_id=held.id))
    session.add(
        CaseTransition(
            case_id=cases["closed"].id,
            action="verify_pass",
            from_status=CaseStatus.HANDLED.value,
            to_status=CaseStatus.CLOSED.value,
            actor_id=users["verifier"].id,
            actor_role=Role.INSPECTOR.value,
        )
    )
    session.flush()
    return cases


def add_stored_photo(session: Session, case: Case, media_dir: Any) -> int:
    """A photo of the case with both files on disk."""
    photo = CasePhoto(
        case_id=case.id,
        storage_key=uuid.uuid4(),
        content_type="image/jpeg",
        size_bytes=100,
        sha256="0" * 64,
    )
    session.add(photo)
    session.flush()
    for original in (False, True):
        path = photos.photo_path(
            media_dir, photo.storage_key, photo.content_type, original=original
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image_bytes())
    return photo.id


@pytest.fixture
def cast(session: Session, configure: Configure) -> Cast:
    media_dir = configure().media_dir
    departments = {
        name: add_department(session, code=f"OA-{name.upper()}")
        for name in ("ours", "theirs", "before")
    }
    users = seed_users(session, departments)
    category = add_category(session, code="9903", standard=TEST_STANDARD)
    cases = seed_cases(session, category, users, departments)
    photo_ids = {name: add_stored_photo(session, case, media_dir) for name, case in cases.items()}
    return Cast(users, cases, photo_ids)


# Through HTTP -----------------------------------------------------------------------------------


def status_of(client: TestClient, method: str, url: str, headers: dict[str, str], **kw: Any) -> int:
    status_code: int = client.request(method, url, headers=headers, **kw).status_code
    return status_code


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_a_case_reads_only_for_those_who_may_see_it(
    client: TestClient, cast: Cast, who: str
) -> None:
    headers = cast.headers(who)
    for name, case in cast.cases.items():
        expected = 200 if name in VISIBLE[who] else 404
        detail = client.get(f"/api/cases/{case.id}", headers=headers)
        assert detail.status_code == expected, (who, name, detail.text)
        history = client.get(f"/api/cases/{case.id}/history", headers=headers)
        assert history.status_code == expected, (who, name)
        photo = client.get(f"/api/photos/{cast.photo_ids[name]}", headers=headers)
        assert photo.status_code == expected, (who, name)


MISSING_ID = 987_654_321
CITIZENS = frozenset({"citizen", "neighbour", "stranger"})
ACTION_BODY = {"reason": "guessing", "department_code": "OA-OURS", "hours": 1}


def guessed_answers(client: TestClient, case_id: int, headers: dict[str, str]) -> list[int]:
    """The status codes of every way to touch a case by id: each action, a photo upload, the
    case's page."""
    answers = [
        status_of(
            client, "POST", f"/api/cases/{case_id}/actions/{action}", headers, json=ACTION_BODY
        )
        for action in CaseAction
    ]
    upload = [("photos", ("p.jpg", image_bytes(), "image/jpeg"))]
    answers.append(status_of(client, "POST", f"/api/cases/{case_id}/photos", headers, files=upload))
    answers.append(status_of(client, "GET", f"/cases/{case_id}", headers))
    return answers


@pytest.mark.parametrize(
    "who", sorted(name for name, seen in VISIBLE.items() if seen != EVERY_CASE)
)
def test_a_hidden_case_answers_every_action_its_upload_and_its_page_as_a_missing_one(
    client: TestClient, cast: Cast, who: str
) -> None:
    """404, or the 403 of an action the role never takes, on any id: nothing tells them apart."""
    headers = cast.headers(who)
    missing = guessed_answers(client, MISSING_ID, headers)
    assert set(missing) == ({403, 404} if who in CITIZENS else {404})
    for name in CASE_NAMES:
        if name not in VISIBLE[who]:
            assert guessed_answers(client, cast.cases[name].id, headers) == missing, (who, name)


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_the_original_photo_is_for_staff_who_see_the_case(
    client: TestClient, cast: Cast, who: str
) -> None:
    for name in CASE_NAMES:
        original = client.get(
            f"/api/photos/{cast.photo_ids[name]}/original", headers=cast.headers(who)
        )
        expected = 200 if name in VISIBLE[who] else 404
        assert original.status_code == (403 if who in CITIZENS else expected), (who, name)


def test_hidden_looks_exactly_like_missing(client: TestClient, cast: Cast) -> None:
    headers = cast.headers("stranger")
    hidden = client.get(f"/api/cases/{cast.cases['held'].id}", headers=headers).json()
    missing = client.get(f"/api/cases/{MISSING_ID}", headers=headers).json()
    assert hidden["detail"].replace(str(cast.cases["held"].id), "N") == (
        missing["detail"].replace(str(MISSING_ID), "N")
    )
    photo = client.get(f"/api/photos/{cast.photo_ids['held']}", headers=headers).json()
    assert photo["detail"] == f"no photo {cast.photo_ids['held']}"


def test_a_department_that_held_a_case_reads_it_but_may_not_act(
    client: TestClient, cast: Cast
) -> None:
    url = f"/api/cases/{cast.cases['held'].id}"
    detail = client.get(url, headers=cast.headers("before"))
    assert detail.status_code == 200 and detail.json()["allowed_actions"] == []
    refused = client.post(
        f"{url}/actions/handle", json={"reason": "done"}, headers=cast.headers("before")
    )
    assert refused.status_code == 403
    assert "another department" in refused.json()["detail"]


def test_the_survivor_lists_the_merged_case_and_its_photos_to_those_who_see_it(
    client: TestClient, cast: Cast
) -> None:
    detail = client.get(f"/api/cases/{cast.cases['held'].id}", headers=cast.headers("ours"))
    body = detail.json()
    assert body["merged_case_ids"] == [cast.cases["duplicate"].id]
    assert cast.photo_ids["duplicate"] in body["photo_ids"]


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_the_listing_holds_exactly_the_visible_cases(
    client: TestClient, cast: Cast, who: str
) -> None:
    response = client.get("/api/cases", params={"page_size": 500}, headers=cast.headers(who))
    assert response.status_code == 200, response.text
    listed = {item["id"] for item in response.json()["items"]}
    assert cast.names_of(listed) == VISIBLE[who]


@pytest.mark.parametrize(
    ("who", "reporter", "expected"),
    [
        ("citizen", "citizen", {"reported"}),  # one's own reports skip the scope: same answer
        ("neighbour", "neighbour", {"duplicate", "held"}),
        ("stranger", "citizen", set()),  # another's reports: still only what one may see
        ("ours", "neighbour", {"duplicate", "held"}),
        ("theirs", "neighbour", set()),
    ],
)
def test_the_reporter_filter_keeps_to_the_visible_cases(
    client: TestClient, cast: Cast, who: str, reporter: str, expected: set[str]
) -> None:
    params = {"reporter_id": cast.users[reporter].id}
    response = client.get("/api/cases", params=params, headers=cast.headers(who))
    assert response.status_code == 200, response.text
    assert cast.names_of({item["id"] for item in response.json()["items"]}) == expected


@pytest.mark.parametrize("who", sorted(EXPORTERS))
def test_the_export_holds_exactly_the_visible_cases(
    client: TestClient, cast: Cast, who: str
) -> None:
    response = client.get("/api/cases/export", params={"format": "csv"}, headers=cast.headers(who))
    assert response.status_code == 200, response.text
    rows = csv.DictReader(io.StringIO(response.text.lstrip("\ufeff")))
    assert cast.names_of({int(row["id"]) for row in rows}) == VISIBLE[who]


def test_open311_shows_no_person(client: TestClient, cast: Cast) -> None:
    """Open311 requests are public by the spec: the document carries nobody's id or name."""
    case = cast.cases["reported"]
    response = client.get(f"/open311/v2/requests/{case.id}.json")
    assert response.status_code == 200, response.text
    (document,) = response.json()
    assert not {"reporter_id", "reported_by", "actor_id", "username"} & set(document)
    citizen = cast.users["citizen"]
    assert citizen.username not in response.text


@pytest.mark.parametrize(
    ("who", "seen_actors"), [("neighbour", {"neighbour"}), ("ours", {"neighbour", "ours"})]
)
def test_the_history_names_others_only_to_staff(
    session: Session, client: TestClient, cast: Cast, who: str, seen_actors: set[str]
) -> None:
    """held's history holds the worker's step and the merged duplicate's report (by the
    neighbour): a citizen sees their own id there and nobody else's."""
    held, worker = cast.cases["held"], cast.users["ours"]
    session.add(
        CaseTransition(
            case_id=held.id,
            action="accept",
            from_status=CaseStatus.DISPATCHED.value,
            to_status=CaseStatus.ACCEPTED.value,
            actor_id=worker.id,
            actor_role=Role.DEPARTMENT.value,
        )
    )
    session.flush()
    response = client.get(f"/api/cases/{held.id}/history", headers=cast.headers(who))
    assert response.status_code == 200, response.text
    by_id = {user.id: name for name, user in cast.users.items()}
    assert {by_id[row["actor_id"]] for row in response.json() if row["actor_id"]} == seen_actors
