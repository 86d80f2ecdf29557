"""What an inbox notice says, in the reader's language (plain values in, text out).

A notice is stored with its `kind` and a structured `body`; the sentence is made here, when it
is read, so it is in the reader's language and the city's time. The English title written with
the notice is only the fallback for a kind this module does not know.

| kind              | title                                      | detail                          |
| ----------------- | ------------------------------------------ | ------------------------------- |
| `case.dispatched` | case N was dispatched to your department   | due time; "automatically"       |
| `escalation`      | case N is nearing its time limit / overdue | its department; due time        |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from citygrid.web import N_, local_time

Gettext = Callable[[str], str]

DISPATCHED = N_("Case %(number)s was dispatched to your department")
DISPATCHED_AUTOMATICALLY = N_("Dispatched automatically by the routing rules")
NEARING_LIMIT = N_("Case %(number)s is nearing its time limit")
OVERDUE = N_("Case %(number)s is overdue")
DUE_AT = N_("Due %(time)s")
OF_DEPARTMENT = N_("Department: %(department)s")
DETAIL_SEPARATOR = " · "


@dataclass(frozen=True)
class NoticeFacts:
    """A stored notice and the names it refers to (looked up when it is read)."""

    kind: str
    stored_title: str
    body: Mapping[str, Any]
    case_number: str | None
    department_name: str | None


@dataclass(frozen=True)
class NoticeText:
    title: str
    detail: str


def notice_text(facts: NoticeFacts, gettext: Gettext, zone: tzinfo) -> NoticeText:
    """The notice's title and detail line in the reader's language, times in `zone`."""
    if facts.case_number is None or facts.kind not in WORDING:
        return NoticeText(title=facts.stored_title, detail="")
    title, details = WORDING[facts.kind](facts, gettext, zone)
    return NoticeText(title=title, detail=DETAIL_SEPARATOR.join(part for part in details if part))


def _dispatched(facts: NoticeFacts, gettext: Gettext, zone: tzinfo) -> tuple[str, list[str]]:
    title = gettext(DISPATCHED) % {"number": facts.case_number}
    automatic = gettext(DISPATCHED_AUTOMATICALLY) if facts.body.get("auto") else ""
    return title, [_due(facts.body, gettext, zone), automatic]


def _escalation(facts: NoticeFacts, gettext: Gettext, zone: tzinfo) -> tuple[str, list[str]]:
    due_at, threshold_at = (
        _moment(facts.body.get("due_at")),
        _moment(facts.body.get("threshold_at")),
    )
    nearing = due_at is not None and threshold_at is not None and threshold_at < due_at
    title = gettext(NEARING_LIMIT if nearing else OVERDUE) % {"number": facts.case_number}
    department = facts.department_name or facts.body.get("department_code")
    of_department = gettext(OF_DEPARTMENT) % {"department": department} if department else ""
    return title, [of_department, _due(facts.body, gettext, zone)]


WORDING: dict[str, Callable[[NoticeFacts, Gettext, tzinfo], tuple[str, list[str]]]] = {
    "case.dispatched": _dispatched,
    "escalation": _escalation,
}


def _due(body: Mapping[str, Any], gettext: Gettext, zone: tzinfo) -> str:
    due_at = _moment(body.get("due_at"))
    return gettext(DUE_AT) % {"time": local_time(due_at, zone)} if due_at else ""


def _moment(value: object) -> datetime | None:
    """An aware datetime from a body's ISO 8601 text; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
