"""A page of a work list: the listing's rows (events.listing.service) for a WHERE clause made of
the listing's conditions and a list's own, in a listing sort, after a keyset cursor, with the
true total.

events.listing.service.list_cases builds its WHERE from the filters alone; the console's and the
desk's lists add their own (waiting for dispatch, held by a department, a request pending) and
page through the listing's case_page with it: the same select, order, cursor and count.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, RowMapping, select
from sqlalchemy.orm import Session

from events.listing import service as listing
from events.listing.schemas import CaseListItem, CasePage, CaseSort
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
    """The listing's page of the cases matching `where` (events.listing.service.case_page)."""
    return listing.case_page(
        session,
        where,
        sort=paged.sort,
        page_size=paged.page_size,
        after=paged.after,
        offset=offset,
    )


def listed_items(session: Session, ids: Collection[int]) -> dict[int, CaseListItem]:
    """The listing's row of each case, by id (one statement)."""
    if not ids:
        return {}
    statement = listing.listing_select(Case.id.in_(sorted(ids)), CaseSort.CREATED_AT)
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
