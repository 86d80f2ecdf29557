"""The console on a busy day (a few hundred waiting cases): the newest report is on the first
page, the tabs count every matching case, the pages follow one another without gaps, the
search box and the filters of the URL narrow every list, and a report filed after the page was
shown comes in through /console/updates."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from events.lifecycle import CaseAction, CaseStatus
from events.models import Case, Report
from tests.citygrid.refusals import refused_field
from tests.conftest import token_for
from tests.dispatch.console.console_world import World, act, add_many_cases, seed_world
from tests.dispatch.console.worklist_pages import (
    case_ids,
    english_words,
    follow_pages,
    next_link,
    section,
    total_shown,
)
from tests.events.seed import add_case
from tests.grid.places import CELL_SE, CELL_SW, COMMUNITY
from tests.web.pages_support import EN, ZH, log_in, open_page

REPORTED_MANY = 130
FILED_MANY = 70


@dataclass(frozen=True)
class BusyDay:
    world: World
    reported: list[int]  # oldest first
    filed: list[int]
    newest: Case  # reported a moment ago, in the SE cell, with an address of its own


@pytest.fixture
def busy(session: Session) -> BusyDay:
    world = seed_world(session)
    reported = add_many_cases(
        session, count=REPORTED_MANY, status=CaseStatus.REPORTED, category=world.garbage
    )
    filed = add_many_cases(
        session, count=FILED_MANY, status=CaseStatus.FILED, category=world.garbage, place=CELL_SW
    )
    newest = add_case(session, category=world.garbage, place=CELL_SE, description="井盖松动")
    newest.address = "东城区王府井大街 88 号"
    session.flush()
    return BusyDay(world, reported, filed, newest)


def count_of(session: Session, *conditions: object) -> int:
    statement = select(func.count()).select_from(Case).where(*conditions)  # type: ignore[arg-type]
    return int(session.scalar(statement) or 0)


def waiting_to_file(session: Session) -> int:
    return count_of(session, Case.status == "reported", Case.merged_into_id.is_(None))


def console(client: TestClient, path: str = "/console") -> str:
    return open_page(client, path, ZH)


def selected_tab(page: str) -> str:
    found = re.search(r'id="tab-(\w+)"[^>]*aria-selected="true"', page)
    assert found is not None
    return found.group(1)


def test_the_newest_report_is_first_and_the_tabs_count_every_waiting_case(
    session: Session, client: TestClient, busy: BusyDay
) -> None:
    log_in(client, busy.world.dispatcher)
    page = console(client, "/console?tab=filing")
    filing = section(page, "panel-filing")
    assert case_ids(filing)[0] == busy.newest.id  # urgent first, then the newest
    assert len(case_ids(filing)) == 50
    to_file = waiting_to_file(session)
    queued = count_of(session, Case.status.in_(["filed", "returned"]))
    assert to_file == REPORTED_MANY + 2 and queued == FILED_MANY + 2  # more than a page
    assert f'data-count="filing">({to_file})</span>' in page
    assert total_shown(filing) == to_file and f"共 {to_file} 件" in filing
    queue = section(page, "panel-queue")
    assert f'data-count="queue">({queued})</span>' in page and total_shown(queue) == queued
    # The queue too: the newest first (a waiting case filed a moment ago is on top).
    just_filed = sorted([busy.world.filed.id, busy.world.duplicate.id], reverse=True)
    assert case_ids(queue, "tr")[:2] == just_filed


def test_the_pages_of_a_list_follow_one_another_without_gaps_or_repeats(
    session: Session, client: TestClient, busy: BusyDay
) -> None:
    log_in(client, busy.world.dispatcher)
    seen, pages = follow_pages(client, "/console?tab=filing", "panel-filing")
    newest_first = session.scalars(
        select(Case.id)
        .where(Case.status == "reported", Case.merged_into_id.is_(None))
        .order_by(Case.created_at.desc(), Case.id.desc())
    ).all()
    assert seen == list(newest_first) and pages == 3
    # A later page says where it is and links back to the first.
    first = console(client, "/console?tab=filing")
    second = console(client, next_link(section(first, "panel-filing")) or "")
    assert selected_tab(second) == "filing"
    assert 'rel="first"' in section(second, "panel-filing")
    assert total_shown(section(second, "panel-filing")) == len(newest_first)


def test_the_queue_pages_follow_one_another_too(
    session: Session, client: TestClient, busy: BusyDay
) -> None:
    log_in(client, busy.world.dispatcher)
    seen, pages = follow_pages(client, "/console?sort=created_at", "panel-queue", "tr")
    oldest_first = session.scalars(
        select(Case.id)
        .where(Case.status.in_(["filed", "returned"]))
        .order_by(Case.created_at, Case.id)
    ).all()
    assert seen == list(oldest_first) and pages == 2


@pytest.mark.parametrize(
    "query",
    ["number", "report_uuid", "王府井", "王府井大街 88", "cell"],
)
def test_the_search_box_finds_a_report_by_number_uuid_address_or_cell(
    session: Session, client: TestClient, busy: BusyDay, query: str
) -> None:
    report_uuid = session.scalar(select(Report.report_uuid).where(Report.case_id == busy.newest.id))
    typed = {
        "number": busy.newest.number,
        "report_uuid": str(report_uuid),
        "cell": CELL_SE.code,
    }.get(query, query)
    log_in(client, busy.world.dispatcher)
    page = console(client, f"/console?q={typed}")
    assert selected_tab(page) == "filing"  # the first list with a match is shown
    assert case_ids(section(page, "panel-filing")) == [busy.newest.id]
    assert 'data-count="filing">(1)</span>' in page
    assert 'data-count="queue">(0)</span>' in page
    assert f'value="{html.escape(typed)}"' in page  # the box keeps what was typed


def test_the_filters_in_the_url_narrow_every_list(
    session: Session, client: TestClient, busy: BusyDay
) -> None:
    urgent = busy.reported[:3] + busy.filed[:2]
    session.execute(update(Case).where(Case.id.in_(urgent)).values(urgency="urgent"))
    log_in(client, busy.world.dispatcher)
    to_file = waiting_to_file(session)
    page = console(client, "/console?urgency=urgent")
    assert sorted(case_ids(section(page, "panel-queue"), "tr")) == busy.filed[:2]
    assert 'data-count="filing">(3)</span>' in page  # counted; its tab loads it
    page = console(client, "/console?urgency=urgent&tab=filing")
    assert sorted(case_ids(section(page, "panel-filing"))) == busy.reported[:3]
    assert '<option value="urgent" selected>' in page
    # Urgent cases lead the lists by default, however old.
    mixed = console(client, "/console?tab=filing")
    assert case_ids(section(mixed, "panel-filing"))[:3] == busy.reported[:3][::-1]
    # A place: the SW cell holds only filed cases; the community holds them all.
    in_cell = console(client, f"/console?area_code={CELL_SW.code}")
    assert 'data-count="filing">(0)</span>' in in_cell
    assert f'data-count="queue">({FILED_MANY})</span>' in in_cell
    in_community = console(client, f"/console?area_code={COMMUNITY.code}&status=reported")
    assert f'data-count="filing">({to_file})</span>' in in_community
    assert 'data-count="queue">(0)</span>' in in_community
    # A period picked in city days, and the channel of the first report.
    tomorrow = (datetime.now(get_settings().city_zone) + timedelta(days=1)).date().isoformat()
    assert f"({to_file})</span>" in console(client, f"/console?created_to={tomorrow}")
    assert 'data-count="filing">(0)</span>' in console(client, f"/console?created_from={tomorrow}")
    assert 'data-count="filing">(0)</span>' in console(client, "/console?channel=open311")
    assert f'data-count="filing">({to_file})</span>' in console(client, "/console?channel=app")
    # A sort chosen in the select applies to every list: the oldest report first.
    oldest = console(client, "/console?sort=created_at&tab=filing")
    assert case_ids(section(oldest, "panel-filing"))[0] == busy.reported[0]
    assert '<option value="created_at" selected>' in oldest


def test_bad_filters_are_refused_naming_the_field(client: TestClient, busy: BusyDay) -> None:
    log_in(client, busy.world.dispatcher)
    for path, field in (
        ("/console?urgency=soon", "urgency"),
        ("/console?tab=filing&after=nonsense", "after"),
        ("/console?after=abc", "tab"),
        ("/console?sort=sideways", "sort"),
        ("/console/updates?since=yesterday", "since"),
    ):
        answer = client.get(path, headers={"Accept": "application/json"})
        assert answer.status_code == 422, path
        assert refused_field(answer) == field, path


def updates_of(client: TestClient, page: str, **extra: str) -> dict[str, object]:
    """What the page's script is answered when it asks for arrivals since the page was shown."""
    marker = re.search(r'id="console-updates"[^>]*data-url="([^"]*)" data-since="([^"]*)"', page)
    assert marker is not None
    url, since = html.unescape(marker.group(1)), marker.group(2)
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query)) | {"since": since} | extra
    answer = client.get(parts.path, params=params, headers={"Accept": "application/json"})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_report_filed_after_the_page_was_shown_comes_in_without_a_reload(
    session: Session, client: TestClient, busy: BusyDay
) -> None:
    log_in(client, busy.world.dispatcher)
    page = console(client)
    arrived = add_case(session, category=busy.world.garbage, place=CELL_SE, description="路灯不亮")
    act(session, busy.newest, CaseAction.FILE, busy.world.dispatcher)  # into the queue now
    answer = updates_of(client, page)
    filing, queue, totals = answer["filing"], answer["queue"], answer["totals"]
    assert isinstance(filing, dict) and isinstance(queue, dict) and isinstance(totals, dict)
    assert filing["ids"][0] == arrived.id
    assert f'data-case-id="{arrived.id}"' in filing["html"] and "新到" in filing["html"]
    assert arrived.number in filing["html"] and "路灯不亮" in filing["html"]
    assert busy.newest.id in queue["ids"]
    assert f'name="case_ids" value="{busy.newest.id}"' in queue["html"]  # a row of the queue
    assert totals == {
        "filing": waiting_to_file(session),
        "queue": count_of(session, Case.status.in_(["filed", "returned"])),
    }
    # The page's filters apply: an urgent-only console is told of no normal report.
    urgent_page = console(client, "/console?urgency=urgent")
    assert updates_of(client, urgent_page)["filing"] == {"ids": [], "html": ""}


def test_the_queue_dispatches_with_a_select_of_department_names(
    client: TestClient, busy: BusyDay
) -> None:
    log_in(client, busy.world.dispatcher)
    queue = section(console(client), "panel-queue")
    case_id = busy.world.filed.id
    form = re.search(rf'<select id="dispatch-department-{case_id}".*?</select>', queue, re.S)
    assert form is not None
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', form.group(0))
    assert options == [
        ("", "", "选择部门"),
        ("CG-01", "", "urban_mgmt_enforcement CG-01（CG-01）"),
        ("HW-01", " selected", "sanitation HW-01（HW-01）"),  # the suggested one
    ]
    # A case no rule routes waits for a choice.
    bulk_row = re.search(
        rf'<select id="dispatch-department-{busy.filed[0]}".*?</select>', queue, re.S
    )
    assert bulk_row is None or '<option value="" selected>' in bulk_row.group(0)


def test_a_chinese_console_and_desk_show_no_english(
    session: Session, client: TestClient, busy: BusyDay
) -> None:
    world = busy.world
    act(session, world.filed, CaseAction.DISPATCH, world.dispatcher)
    session.execute(update(Case).values(description="垃圾满溢"))
    session.execute(update(Department).values(name="东城区环卫所"))
    # What users typed: their names, the test standard, a reason ("no lorry").
    typed = frozenset(
        {"console", "dispatcher", "desk", "worker", "citygrid", "test", "no", "lorry"}
    )
    log_in(client, world.dispatcher)
    for path in ("/console", "/console?tab=filing&q=垃圾", "/console?overdue=true"):
        assert english_words(console(client, path), typed) == set(), path
    log_in(client, world.worker)
    assert english_words(open_page(client, "/desk", ZH), typed) == set()
    assert "Dispatch console" in console_in_english(client, world)


def console_in_english(client: TestClient, world: World) -> str:
    log_in(client, world.dispatcher)
    return open_page(client, "/console", EN)


def test_the_queue_api_takes_the_same_filters_and_pages_by_cursor(
    client: TestClient, busy: BusyDay
) -> None:
    token = token_for(Role.DISPATCHER, user_id=busy.world.dispatcher.id)
    headers = {"Authorization": f"Bearer {token}"}
    params = {"limit": "40", "sort": "created_at"}
    first = client.get("/api/dispatch/queue", params=params, headers=headers)
    assert first.status_code == 200
    assert first.json()["total"] == FILED_MANY + 2 and len(first.json()["items"]) == 40
    following = re.fullmatch(r'<([^>]+)>; rel="next"', first.headers["link"])
    assert following is not None
    second = client.get(following.group(1), headers=headers)
    ids = [item["case_id"] for item in first.json()["items"] + second.json()["items"]]
    assert len(ids) == len(set(ids)) == FILED_MANY + 2 and "link" not in second.headers
    found = client.get(
        "/api/dispatch/queue", params={"q": busy.world.filed.number}, headers=headers
    )
    assert [item["case_id"] for item in found.json()["items"]] == [busy.world.filed.id]
