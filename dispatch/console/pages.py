"""The dispatchers' console page, rendered on the server from the dispatchers' queue and the
console's reads (dispatch.console.service), and the new arrivals its script asks for every few
seconds. Its script (dispatch/static/) acts through the JSON API and shows its errors beside
the fields.

Every list of the console is searched and filtered by the same URL parameters as the case list
(events.listing.pages), each a keyset page with its true total; `tab` and `after` page one list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import IsoDateTime
from citygrid.db import SessionDep
from citygrid.errors import InvalidInput
from citygrid.settings import Settings, SettingsDep
from citygrid.web import N_, gettext_for, page_language, render
from dispatch.console import service as console
from dispatch.console.cards import ACTION_MESSAGES, LABELS, PAGE_SIZE, RUNNING, sort_choices
from dispatch.console.schemas import ArrivedRows, ConsoleCounts, ConsoleUpdates
from dispatch.console.service import CaseCard, DuplicatePair
from dispatch.console.worklist import ListPage, PageRequest
from dispatch.departments.service import active_departments
from dispatch.hotline import service as hotline
from dispatch.queue.schemas import QueueItem
from dispatch.queue.service import QueueKind
from events.cases.routing_reasons import routing_describer
from events.lifecycle import DISPATCHERS, WAITING_FOR_DISPATCH, WORKING_STATUSES, CaseStatus
from events.listing.pages import PageFilters, Paging, filter_choices, kept_parameters
from events.listing.params import AfterParam, as_utc, parse_sort
from events.listing.schemas import CaseFilters, CaseListItem, CaseSort

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

CONSOLE_ROLES = (Role.DISPATCHER, Role.MANAGER, Role.ADMIN)
Tab = Literal["queue", "filing", "duplicates", "approvals", "deadlines"]
TABS: tuple[Tab, ...] = ("queue", "filing", "duplicates", "approvals", "deadlines")
# Each list's order unless the user picks one: the newest and most urgent reports first, the
# nearest deadline first where a department holds the case.
DEFAULT_SORTS: dict[Tab, CaseSort] = {
    "queue": CaseSort.URGENCY,
    "filing": CaseSort.URGENCY,
    "duplicates": CaseSort.CREATED_AT_DESC,
    "approvals": CaseSort.DUE_AT,
    "deadlines": CaseSort.DUE_AT,
}
# The statuses each list holds: what its map shows (a list's own condition, such as a pending
# request, is not a listing filter: the map shows the statuses it narrows).
TAB_STATUSES: dict[Tab, tuple[str, ...]] = {
    "queue": tuple(sorted(WAITING_FOR_DISPATCH)),
    "filing": (CaseStatus.REPORTED.value,),
    "duplicates": tuple(sorted({CaseStatus.REPORTED, *WAITING_FOR_DISPATCH})),
    "approvals": tuple(sorted(WORKING_STATUSES)),
    "deadlines": tuple(RUNNING),
}
# Orders in which a new arrival belongs on top of a list's first page.
LIVE_SORTS = frozenset({CaseSort.URGENCY, CaseSort.CREATED_AT_DESC})
TIME_FILTERS = ("created", "dispatched", "closed")
QUEUE_KIND_LABELS = {
    QueueKind.NEW.value: N_("New"),
    QueueKind.UNROUTED.value: N_("Unrouted"),
    QueueKind.RETURNED.value: N_("Returned"),
}
CONSOLE_MESSAGES = {
    **ACTION_MESSAGES,
    "error.field.case_ids": N_("Nothing was dispatched: these cases cannot go."),
    "error.field.hours": N_("Grant at most the hours asked for."),
    "error.none_selected": N_("Select at least one case."),
    "selected": N_("{count} selected"),
    "refused": N_("{number}: cannot be dispatched now"),
    "list.total": N_("{total} cases in all"),
    "arrived": N_("New cases came in: {count}"),
}
EMPTY: ListPage[Any] = ListPage(0, None, [])
TabParam = Annotated[Tab | None, Query(description="the list that `after` pages")]
KindParam = Annotated[QueueKind, Query(description="the queue's kind of waiting case")]


@dataclass(frozen=True)
class ConsoleLists:
    """A page of each of the console's lists, and the count of each kind of waiting case."""

    queue: ListPage[QueueItem]
    queue_counts: dict[str, int]
    filing: ListPage[CaseCard]
    duplicates: ListPage[DuplicatePair] | None  # None: not read (see console_lists)
    approvals: ListPage[console.ApprovalCard]
    deadlines: ListPage[CaseListItem]
    shown: Tab  # the list read and rendered; the others only counted (their tab loads them)

    def by_tab(self) -> dict[Tab, ListPage[Any] | None]:
        return {name: getattr(self, name) for name in TABS}


def console_lists(
    session: Session,
    principal: Principal,
    settings: Settings,
    filters: CaseFilters,
    *,
    kind: QueueKind,
    sort: CaseSort | None,
    paged: Tab | None,
    after: str | None,
    searching: bool,
) -> ConsoleLists:
    """The queue (the console's first list) and the shown list, a page each: the first, or for
    the paged list the page after `after`; the other lists only counted, so a first page reads
    two lists however many cases the others hold (their tabs load them). The duplicate
    candidates take a spatial look-up per waiting case: read only when their tab is asked for,
    otherwise the page's script asks for their count."""

    def page_of(tab: Tab) -> PageRequest:
        return PageRequest(sort or DEFAULT_SORTS[tab], PAGE_SIZE, after if tab == paged else None)

    now = datetime.now(UTC)
    queue, counts = console.waiting_queue(
        session, principal, filters, page_of("queue"), kind=kind, now=now
    )
    totals = console.list_totals(session, principal, filters)
    shown = pick_tab(paged, {"queue": queue.total, **totals}, searching=searching)
    return ConsoleLists(
        queue=queue,
        queue_counts=counts,
        filing=console.reports_to_file(session, principal, filters, page_of("filing"))
        if shown == "filing"
        else ListPage(totals["filing"], None, []),
        duplicates=console.duplicate_pairs(
            session, principal, filters, settings, page_of("duplicates")
        )
        if shown == "duplicates"
        else None,
        approvals=console.requests_to_approve(session, principal, filters, page_of("approvals"))
        if shown == "approvals"
        else ListPage(totals["approvals"], None, []),
        deadlines=console.held_cases(session, principal, filters, page_of("deadlines"))
        if shown == "deadlines"
        else ListPage(totals["deadlines"], None, []),
        shown=shown,
    )


# Links ----------------------------------------------------------------------------------------


def console_url(parameters: Mapping[str, str], tab: Tab | None = None) -> str:
    query = urlencode(parameters)
    return ("/console?" + query if query else "/console") + (f"#{tab}" if tab else "")


def tab_paging(
    base: dict[str, str], tab: Tab, page: ListPage[Any] | None, *, paged: bool
) -> Paging | None:
    """The total of a list and links to its first page (once paged) and to its next page."""
    if page is None:
        return None
    here = {**base, "tab": tab}
    following = {**here, "after": page.next_cursor} if page.next_cursor else None
    return Paging(
        total=page.total,
        shown=len(page.cards),
        first_url=console_url(here, tab) if paged else None,
        next_url=console_url(following, tab) if following else None,
    )


def filter_query(kept: Mapping[str, str], filters: CaseFilters) -> dict[str, str]:
    """The URL's filters as the JSON API reads them: no sort, picked days as city times."""
    query = {name: value for name, value in kept.items() if name != "sort"}
    for name in TIME_FILTERS:
        for end in ("from", "to"):
            moment = getattr(filters, f"{name}_{end}")
            if moment is not None:
                query[f"{name}_{end}"] = moment.isoformat()
    return query


def map_query(query: Mapping[str, str], tab: Tab) -> str:
    """The /api/map/cases query of a list: its filters, narrowed to the list's statuses."""
    statuses = TAB_STATUSES[tab]
    chosen = query.get("status")
    if chosen is not None:
        statuses = tuple(status for status in chosen.split(",") if status in statuses) or (chosen,)
    return urlencode({**query, "status": ",".join(statuses)})


def console_links(
    kept: dict[str, str], base: dict[str, str], query: dict[str, str]
) -> dict[str, Any]:
    """The console's links: the queue's kinds, overdue or not, a list's map, the duplicates
    page, and what the script asks for (arrivals, pending totals), each keeping the filters."""
    every = {name: value for name, value in base.items() if name != "overdue"}
    return {
        "kind_urls": {
            each.value: console_url({**kept, "kind": each.value}, "queue") for each in QueueKind
        },
        "overdue_urls": {
            "every": console_url(every, "deadlines"),
            "overdue": console_url({**base, "overdue": "true", "tab": "deadlines"}, "deadlines"),
        },
        "map_queries": {name: map_query(query, name) for name in TABS},
        "duplicates_url": console_url({**base, "tab": "duplicates"}, "duplicates"),
        "updates_url": "/console/updates?" + urlencode(query),
        "counts_url": "/console/counts?" + urlencode(query),
    }


def pick_tab(tab: Tab | None, totals: Mapping[str, int], *, searching: bool) -> Tab:
    """The list shown: the one asked for; after a search, the first with a match."""
    if tab is not None:
        return tab
    if searching:
        return next((name for name in TABS if totals.get(name)), "queue")
    return "queue"


# Pages ----------------------------------------------------------------------------------------


def row_context(request: Request, session: Session, principal: Principal) -> dict[str, Any]:
    """What the rows of the console need: the departments to choose, the words, the reasons."""
    departments = active_departments(session)
    language = page_language(request)
    return {
        "departments": departments,
        "department_names": {row["code"]: row["name"] for row in departments},
        "can_act": principal.role in DISPATCHERS,
        "labels": LABELS,
        "queue_kind_labels": QUEUE_KIND_LABELS,
        "describe_routing": routing_describer(gettext_for(request), language=language),
    }


def console_statuses() -> dict[str, str]:
    """The statuses the console's lists hold, for its status filter."""
    shown = {CaseStatus.REPORTED.value, *TAB_STATUSES["queue"], *TAB_STATUSES["deadlines"]}
    return {status: label for status, label in LABELS["status"].items() if status in shown}


@router.get("/console", response_class=HTMLResponse)
def console_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*CONSOLE_ROLES))],
    filters: PageFilters,
    tab: TabParam = None,
    after: AfterParam = None,
    kind: KindParam = QueueKind.ALL,
) -> HTMLResponse:
    """The dispatchers' console: queues, reports to file, duplicates, approvals, deadlines;
    each searched and filtered alike, a page at a time, with its true total."""
    if after is not None and tab is None:
        raise InvalidInput("after pages one list: name it with tab", field="tab")
    kept = kept_parameters(request)
    sort = parse_sort(kept["sort"]) if "sort" in kept else None
    since = console.database_now(session)  # before the reads: a later arrival is not missed
    lists = console_lists(
        session,
        principal,
        settings,
        filters,
        kind=kind,
        sort=sort,
        paged=tab,
        after=after,
        searching="q" in kept,
    )
    base = {**kept, **({"kind": kind.value} if kind is not QueueKind.ALL else {})}
    pages = lists.by_tab()
    choices = filter_choices(session, page_language(request), filters.area_code)
    choices |= {"statuses": console_statuses()}
    context = (
        row_context(request, session, principal)
        | console_links(kept, base, filter_query(base, filters))
        | {
            "lists": lists,
            "queue_counts": lists.queue_counts,
            "queue_kind": kind.value,
            "paging": {
                name: tab_paging(base, name, pages[name], paged=tab == name) for name in TABS
            },
            "live": {
                name: not (tab == name and after) and (sort or DEFAULT_SORTS[name]) in LIVE_SORTS
                for name in TABS
            },
            "active_tab": lists.shown,
            "tab_urls": {name: console_url({**base, "tab": name}, name) for name in TABS},
            "values": kept,
            "choices": choices,
            "sorts": sort_choices(None),
            "overdue_only": filters.overdue is True,
            "since": since.isoformat(),
            "js_messages": CONSOLE_MESSAGES,
            # Returns and unreasonable-request flags of hotline tickets (dispatch/hotline).
            "hotline_requests": hotline.pending_requests(session),
            "hotline_tickets": hotline.desk_tickets(session, None, datetime.now(UTC), limit=20),
        }
    )
    return render(request, "dispatch/console.html", context, principal=principal)


def rendered_rows(
    request: Request, principal: Principal, context: dict[str, Any], list_name: str, cards: Any
) -> str:
    """New rows of a list as the console renders them."""
    values = context | {"list_name": list_name, "cards": cards}
    answer = render(request, "dispatch/console_arrivals.html", values, principal=principal)
    return bytes(answer.body).decode()


@router.get("/console/updates")
def console_updates(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Allow(*CONSOLE_ROLES))],
    filters: PageFilters,
    since: Annotated[IsoDateTime, Query(description="ISO 8601: the last answer's since")],
    kind: KindParam = QueueKind.ALL,
) -> ConsoleUpdates:
    """Reports and queue entries that came in since `since` and match the console's filters
    (newest first, as rows of the page), and the lists' totals now."""
    moment = as_utc(since)
    assert moment is not None
    found = console.arrivals(
        session, principal, filters, kind=kind, since=moment, now=datetime.now(UTC)
    )
    context = row_context(request, session, principal) if found.queue or found.to_file else {}
    return ConsoleUpdates(
        since=found.next_since,
        totals={"queue": found.queue_total, "filing": found.to_file_total},
        queue=ArrivedRows(
            ids=[item.case_id for item in found.queue],
            html=rendered_rows(request, principal, context, "queue", found.queue)
            if found.queue
            else "",
        ),
        filing=ArrivedRows(
            ids=[card.item.id for card in found.to_file],
            html=rendered_rows(request, principal, context, "filing", found.to_file)
            if found.to_file
            else "",
        ),
    )


@router.get("/console/counts")
def console_counts(
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*CONSOLE_ROLES))],
    filters: PageFilters,
) -> ConsoleCounts:
    """The totals the console's first page leaves to its script: the duplicate candidates."""
    return ConsoleCounts(duplicates=console.duplicate_count(session, principal, filters, settings))
