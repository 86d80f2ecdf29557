"""A page of a work list: the listing's rows (events.listing.service) for a WHERE clause made of
the listing's conditions and a list's own, in a listing sort, after a keyset cursor, with the
true total.

events.listing.service.list_cases builds its WHERE from the filters alone; the console's and the
desk's lists add their own (waiting for dispatch, held by a department, a request pending), so
this is list_cases with the WHERE given: the same select, order, cursor and count.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, RowMapping, func, select
from sqlalchemy.orm import Session

from events.listing.cursor import decode_cursor, encode_cursor
from events.listing.schemas import CaseListItem, CasePage, CaseSort
from events.listing.service import after_condition, listing_select, sort_values
from events.models import Case

Card = TypeVar("Card")


@dataclass(frozen=True)
class ListPage(Generic[Card]):
    """A page of a work list as a page shows it: its cards, the true total, the next page's
    cursor (None on the last page)."""

    total: int
    next_cursor: str | None
    cards: list[Card]


@dataclass(frozen=True)
class PageRequest:
    """Which page of a list: its order, its size, and the cursor of the page before it."""

    sort: CaseSort
    page_size: int
    after: str | None = None


def case_page(
    session: Session, where: ColumnElement[bool], paged: PageRequest, *, offset: int = 0
) -> CasePage:
    """One page of the cases matching `where` and the count of all of them. One row more than
    the page is read, so a next cursor is given only when a next page has rows."""
    sort, page_size, after = paged.sort, paged.page_size, paged.after
    statement = listing_select(where, sort).limit(page_size + 1)
    if after is not None:
        statement = statement.where(after_condition(sort, decode_cursor(after, sort)))
    elif offset:
        statement = statement.offset(offset)
    rows = session.execute(statement).all()
    items = [CaseListItem.model_validate(row._asdict()) for row in rows[:page_size]]
    if after is None and len(rows) <= page_size and (rows or offset == 0):
        total = offset + len(rows)  # the whole list, or its last page, is on this page
    else:
        total = count_cases(session, where)
    following = len(rows) > page_size
    return CasePage(
        total=total,
        page=1,
        page_size=page_size,
        next_page=None,
        next_cursor=encode_cursor(sort, sort_values(items[-1], sort)) if following else None,
        items=items,
    )


def count_cases(session: Session, where: ColumnElement[bool]) -> int:
    """count(*) of the cases matching `where` (every condition is on event_case itself)."""
    return int(session.scalar(select(func.count()).select_from(Case).where(where)) or 0)


def listed_items(session: Session, ids: Collection[int]) -> dict[int, CaseListItem]:
    """The listing's row of each case, by id (one statement)."""
    if not ids:
        return {}
    statement = listing_select(Case.id.in_(sorted(ids)), CaseSort.CREATED_AT)
    return {
        row.id: CaseListItem.model_validate(row._asdict()) for row in session.execute(statement)
    }


def case_texts(session: Session, ids: Collection[int], *columns: Any) -> dict[int, RowMapping]:
    """What a card shows beyond the listing's columns (description, address…), by case id."""
    if not ids:
        return {}
    statement = select(Case.id, Case.description, Case.address, *columns).where(
        Case.id.in_(sorted(ids))
    )
    return {row["id"]: row for row in session.execute(statement).mappings()}
