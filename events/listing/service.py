"""Case queries: the staff listing and the public listing.

Every query is built from bound parameters and whitelisted ORDER BY clauses; the caller narrows
it in SQL (`visible_condition`: events.visibility's rule), never in Python after fetching.

Counting: the page is one statement (joins for the display columns); the total is a second
`count(*)` over `event_case` alone, since every filter is a condition on the case table itself
(IN sub-selects on category, cell, department and report use their indexes). When the page is
short it already shows the total, and the count is skipped.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Row,
    Select,
    and_,
    any_,
    bindparam,
    case,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute, Session, aliased
from sqlalchemy.types import BigInteger, Text

from citygrid.accounts.models import Department
from citygrid.accounts.roles import Principal
from events.lifecycle import WORKING_STATUSES, CaseStatus
from events.listing.cursor import decode_cursor, encode_cursor
from events.listing.schemas import (
    CaseFilters,
    CaseListItem,
    CasePage,
    CaseSort,
    PublicCaseItem,
    PublicCasePage,
)
from events.listing.search import SearchTerms, search_trigrams
from events.models import Case, CaseAssignment, CaseTransition, Category, Report
from events.visibility import Relation, relations_seen, sees_every_case
from grid.bbox import BBox
from grid.models import GridCell, GridRegion

# Only cases the city has taken on appear publicly; merged duplicates appear as their target.
PUBLIC_STATUSES = frozenset(CaseStatus) - {
    CaseStatus.REPORTED,
    CaseStatus.NOT_FILED,
    CaseStatus.CANCELLED,
}

Column = QueryableAttribute[Any] | ColumnElement[Any]

community = aliased(GridRegion, name="community")
street = aliased(GridRegion, name="street")
district = aliased(GridRegion, name="district")
STATUS_RANK = case(
    {status.value: rank for rank, status in enumerate(CaseStatus)}, value=Case.status
)
URGENCY_RANK = case((Case.urgency == "urgent", 0), else_=1)
ACCEPTED_RANK = case((Case.status == CaseStatus.DISPATCHED.value, 0), else_=1)
NEVER: ColumnElement[Any] = literal_column("'infinity'::timestamptz")
BEFORE_ALL: ColumnElement[Any] = literal_column("'-infinity'::timestamptz")
# Each sort as its keys, most significant first: (expression, descending). The keys end in the
# id, so the order is total and a page can start after the last row seen (keyset paging: no
# OFFSET that reads and drops every earlier row). A missing deadline sorts last either way.
SORT_KEYS: dict[CaseSort, tuple[tuple[Column, bool], ...]] = {
    CaseSort.CREATED_AT: ((Case.created_at, False), (Case.id, False)),
    CaseSort.CREATED_AT_DESC: ((Case.created_at, True), (Case.id, True)),
    CaseSort.DUE_AT: ((func.coalesce(Case.due_at, NEVER), False), (Case.id, False)),
    CaseSort.DUE_AT_DESC: ((func.coalesce(Case.due_at, BEFORE_ALL), True), (Case.id, True)),
    CaseSort.NUMBER: ((Case.number, False), (Case.id, False)),
    CaseSort.STATUS: ((STATUS_RANK, False), (Case.created_at, True), (Case.id, True)),
    CaseSort.URGENCY: ((URGENCY_RANK, False), (Case.created_at, True), (Case.id, True)),
    CaseSort.TO_ACCEPT: (
        (ACCEPTED_RANK, False),
        (func.coalesce(Case.due_at, NEVER), False),
        (Case.id, False),
    ),
}
ORDER_BY: dict[CaseSort, tuple[ColumnElement[Any], ...]] = {
    sort: tuple(key.desc() if descending else key.asc() for key, descending in keys)
    for sort, keys in SORT_KEYS.items()
}


# The listing's columns, in CaseListItem's order (the export writes them in this order too).
def light_column() -> ColumnElement[str | None]:
    """green / yellow / red while a department holds the case (80 % of the time is warn_at)."""
    running = [status.value for status in (*WORKING_STATUSES, CaseStatus.SUSPENDED)]
    clock = func.coalesce(Case.suspended_at, func.now())
    return case(
        (~Case.status.in_(running) | Case.due_at.is_(None), None),
        (Case.due_at < clock, "red"),
        (Case.warn_at <= clock, "yellow"),
        else_="green",
    )


LIST_COLUMNS: tuple[Column, ...] = (
    Case.id,
    Case.number,
    Case.status,
    Category.code.label("category_code"),
    Category.name_zh.label("category_name_zh"),
    Category.name_en.label("category_name_en"),
    Case.urgency,
    GridCell.code.label("cell_code"),
    community.code.label("community_code"),
    street.code.label("street_code"),
    district.code.label("district_code"),
    Department.code.label("department_code"),
    Case.created_at,
    Case.due_at,
    light_column().label("light"),
    Case.closed_at,
    func.ST_X(Case.geom).label("lon"),
    func.ST_Y(Case.geom).label("lat"),
    Case.merged_into_id,
)


# Conditions -----------------------------------------------------------------------------------


def reported_case_ids(user_id: int) -> list[Select[Any]]:
    """Ids of cases holding a report by the user (a report merged into another case counts
    there) and of the cases those reports were first filed as (a merged-away case stays visible)."""
    return [
        select(Report.case_id).where(Report.reporter_id == user_id),
        select(Report.original_case_id).where(Report.reporter_id == user_id),
    ]


def relation_case_ids(relation: Relation, principal: Principal) -> list[Select[Any]]:
    """Ids of the cases the principal has the relation to, each from an indexed look-up (the
    history's actor_id has no index: a scan of case_transition)."""
    user_id, department_id = principal.user_id, principal.department_id
    if relation is Relation.REPORTED:
        return [*reported_case_ids(user_id), select(Case.id).where(Case.reported_by == user_id)]
    if relation is Relation.ACTED:
        return [select(CaseTransition.case_id).where(CaseTransition.actor_id == user_id)]
    if relation is Relation.DEPARTMENT_HELD:
        return [
            select(CaseAssignment.case_id).where(CaseAssignment.department_id == department_id),
            select(Case.id).where(Case.department_id == department_id),
        ]
    waiting = (Case.status == CaseStatus.HANDLED.value, Case.merged_into_id.is_(None))
    return [select(Case.id).where(*waiting)]


def visible_case_ids(principal: Principal) -> CompoundSelect[Any] | None:
    """Ids of the cases the principal may see (events.visibility's rule in SQL, relation by
    relation), cases merged into them included; None: every case."""
    if sees_every_case(principal):
        return None
    direct = [
        select_
        for relation in sorted(relations_seen(principal))
        for select_ in relation_case_ids(relation, principal)
    ]
    if not direct:
        return union_all(select(Case.id).where(false()))
    # A CTE is computed once (PostgreSQL materializes one read twice), for itself and for the
    # cases merged into it (by ix_event_case_merged_into_id).
    seen = union_all(*direct).cte("visible_case")
    merged = aliased(Case, name="merged")
    merged_in = select(merged.id).where(merged.merged_into_id.in_(select(seen.c[0])))
    return union_all(select(seen.c[0]), merged_in)


# One IN over a UNION ALL (not an OR of conditions) lets PostgreSQL start from the user's reports
# (ix_report_reporter_id), the department's assignments and the handled cases
# (ix_event_case_status_created_at) and join to event_case by primary key, instead of testing
# every case.
def visible_condition(principal: Principal) -> ColumnElement[bool]:
    """The cases the principal may see, as a condition on event_case."""
    ids = visible_case_ids(principal)
    return true() if ids is None else Case.id.in_(ids)


def scope_of(principal: Principal, filters: CaseFilters) -> ColumnElement[bool]:
    """visible_condition, left out when the filters alone keep to visible cases: a reporter's
    own reports (their "my reports" pages) skip computing every case they may see."""
    own_reports = filters.reporter_id == principal.user_id
    if own_reports and Relation.REPORTED in relations_seen(principal):
        return true()
    return visible_condition(principal)


def case_id_in(*ids: Select[Any]) -> ColumnElement[bool]:
    return Case.id.in_(union_all(*ids))


def overdue_condition() -> ColumnElement[bool]:
    """With a department and past the deadline; a suspended case counts at its suspension
    (its clock stands still), a handled one no longer runs late."""
    running = [status.value for status in (*WORKING_STATUSES, CaseStatus.SUSPENDED)]
    # IS NOT NULL keeps the condition two-valued, so its negation includes cases without a due date.
    return and_(
        Case.due_at.is_not(None),
        Case.due_at < func.coalesce(Case.suspended_at, func.now()),
        Case.status.in_(running),
        Case.merged_into_id.is_(None),
    )


def _code_prefix(column: Any, code: str) -> ColumnElement[bool]:
    """Codes extend their parents' codes, so a prefix selects a unit and everything inside it."""
    return column.startswith(code, autoescape=True)  # type: ignore[no-any-return]


def _reference_conditions(filters: CaseFilters) -> list[ColumnElement[bool]]:
    """Filters on the tables a case refers to, as IN sub-selects on the case's own columns."""
    conditions: list[ColumnElement[bool]] = []
    if filters.category_id is not None:
        conditions.append(Case.category_id == filters.category_id)
    if filters.category_code is not None:
        by_code = select(Category.id).where(_code_prefix(Category.code, filters.category_code))
        conditions.append(Case.category_id.in_(by_code))
    if filters.area_code is not None:
        cells = select(GridCell.id).where(_code_prefix(GridCell.code, filters.area_code))
        conditions.append(Case.cell_id.in_(cells))
    if filters.department_code is not None:
        departments = select(Department.id).where(Department.code == filters.department_code)
        conditions.append(Case.department_id.in_(departments))
    if filters.reporter_id is not None:
        conditions.append(case_id_in(*reported_case_ids(filters.reporter_id)))
    return conditions


def _time_conditions(filters: CaseFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for column, start, end in (
        (Case.created_at, filters.created_from, filters.created_to),
        (Case.filed_at, filters.filed_from, filters.filed_to),
        (Case.dispatched_at, filters.dispatched_from, filters.dispatched_to),
        (Case.closed_at, filters.closed_from, filters.closed_to),
    ):
        if start is not None:
            conditions.append(column >= start)
        if end is not None:
            conditions.append(column < end)
    return conditions


def _bbox_condition(bbox: BBox) -> ColumnElement[bool]:
    envelope = func.ST_MakeEnvelope(*bbox, 4326)
    return func.ST_Intersects(Case.geom, envelope)


def search_text() -> ColumnElement[str]:
    """A case's searched text, written as the index's expression is (its constants literal, so
    a generic plan still matches the index)."""
    return (
        func.coalesce(Case.address, literal_column("''"))
        + literal_column("' '")
        + (Case.description)
    )


def text_condition(query: str, trigrams: tuple[str, ...] | None = None) -> ColumnElement[bool]:
    """Cases whose address or description contains the query (case-insensitively): the
    trigram index narrows (exactly: every trigram asked for in the case's key, no recheck;
    by default every trigram of the query's words), ILIKE on the text itself confirms. A query
    shorter than one trigram has only the ILIKE."""
    text = search_text()
    confirmed = text.icontains(query, autoescape=True)
    trigrams = tuple(search_trigrams(query)) if trigrams is None else trigrams
    if not trigrams:
        return confirmed
    indexed = func.show_trgm(func.case_search_key(text)).op("@>")(
        bindparam(None, list(trigrams), type_=ARRAY(Text))
    )
    return and_(indexed, confirmed)


def _other_readings(terms: SearchTerms) -> list[ColumnElement[bool]]:
    """Every reading of a query but its words, each a condition on the case row."""
    category_named = select(Category.id).where(
        or_(
            Category.name_zh.icontains(terms.text, autoescape=True),
            Category.name_en.icontains(terms.text, autoescape=True),
        )
    )
    readings: list[ColumnElement[bool]] = [Case.category_id.in_(category_named)]
    if terms.number is not None:
        readings.append(Case.number == terms.number)
    if terms.report_uuid is not None:
        reported = select(Report.case_id).where(Report.report_uuid == terms.report_uuid)
        readings.append(Case.id.in_(reported))
    if terms.area_code is not None:
        cells = select(GridCell.id).where(_code_prefix(GridCell.code, terms.area_code))
        readings.append(Case.cell_id.in_(cells))
    if terms.category_code is not None:
        coded = select(Category.id).where(_code_prefix(Category.code, terms.category_code))
        readings.append(Case.category_id.in_(coded))
    return readings


def search_condition(terms: SearchTerms) -> ColumnElement[bool]:
    """Cases matching any reading of a search query, each reading through its own index
    (united ids, not an OR of conditions the planner could only test row by row)."""
    matches: list[Select[Any]] = [select(Case.id).where(text_condition(terms.text, terms.trigrams))]
    matches += [select(Case.id).where(reading) for reading in _other_readings(terms)]
    return Case.id.in_(union_all(*matches))


def search_filter(terms: SearchTerms) -> ColumnElement[bool]:
    """The same readings as one condition tested row by row: for a walk of the newest cases
    that stops at a page, when the query is too common for its index to pay (a sixth of all
    cases match a street's name: the walk reads a few hundred rows for a page, the index would
    read every match to rank them)."""
    words = search_text().icontains(terms.text, autoescape=True)
    return or_(words, *_other_readings(terms))


def light_condition(light: str) -> ColumnElement[bool]:
    """Cases showing this light now (the listing's `light` column as a condition)."""
    running = [status.value for status in (*WORKING_STATUSES, CaseStatus.SUSPENDED)]
    clock = func.coalesce(Case.suspended_at, func.now())
    held = and_(Case.status.in_(running), Case.due_at.is_not(None), Case.merged_into_id.is_(None))
    if light == "red":
        return and_(held, Case.due_at < clock)
    if light == "yellow":
        return and_(held, Case.due_at >= clock, Case.warn_at <= clock)
    return and_(held, Case.due_at >= clock, or_(Case.warn_at.is_(None), Case.warn_at > clock))


def filter_conditions(filters: CaseFilters) -> list[ColumnElement[bool]]:
    """Every filter as a condition on event_case (bound parameters only)."""
    conditions = _reference_conditions(filters) + _time_conditions(filters)
    if filters.search is not None:
        conditions.append(search_condition(filters.search))
    if filters.light is not None:
        conditions.append(light_condition(filters.light))
    if filters.channel is not None:
        first_reports = select(Report.original_case_id).where(Report.channel == filters.channel)
        conditions.append(Case.id.in_(first_reports))
    if filters.statuses is not None:
        conditions.append(Case.status.in_([status.value for status in filters.statuses]))
    if filters.urgency is not None:
        conditions.append(Case.urgency == filters.urgency)
    if filters.overdue is not None:
        overdue = overdue_condition()
        conditions.append(overdue if filters.overdue else ~overdue)
    if filters.bbox is not None:
        conditions.append(_bbox_condition(filters.bbox))
    return conditions


def where_clause(principal: Principal, filters: CaseFilters) -> ColumnElement[bool]:
    return and_(scope_of(principal, filters), *filter_conditions(filters))


# Queries --------------------------------------------------------------------------------------


def listing_select(where: ColumnElement[bool], sort: CaseSort) -> Select[Any]:
    """The listing's rows for a WHERE clause, in a whitelisted order."""
    return (
        select(*LIST_COLUMNS)
        .join(Category, Category.id == Case.category_id)
        .join(GridCell, GridCell.id == Case.cell_id)
        .join(community, community.id == GridCell.community_id)
        .join(street, street.id == community.parent_id)
        .join(district, district.id == street.parent_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .where(where)
        .order_by(*ORDER_BY[sort])
    )


def counted_total(
    session: Session, where: ColumnElement[bool], *, offset: int, page_size: int, returned: int
) -> int:
    """The number of matching cases; a short, non-empty page (or a short first page) shows it."""
    if returned < page_size and (returned > 0 or offset == 0):
        return offset + returned
    return int(session.scalar(select(func.count()).select_from(Case).where(where)) or 0)


def next_page(page: int, page_size: int, total: int) -> int | None:
    return page + 1 if page * page_size < total else None


def sort_values(item: CaseListItem, sort: CaseSort) -> list[Any]:
    """The sort keys' values of a listed case (what a page after it starts from)."""
    values: dict[CaseSort, list[Any]] = {
        CaseSort.CREATED_AT: [item.created_at],
        CaseSort.CREATED_AT_DESC: [item.created_at],
        CaseSort.DUE_AT: [item.due_at],
        CaseSort.DUE_AT_DESC: [item.due_at],
        CaseSort.NUMBER: [item.number],
        CaseSort.STATUS: [list(CaseStatus).index(item.status), item.created_at],
        CaseSort.URGENCY: [0 if item.urgency == "urgent" else 1, item.created_at],
        CaseSort.TO_ACCEPT: [0 if item.status is CaseStatus.DISPATCHED else 1, item.due_at],
    }
    return [*values[sort], item.id]


# What a missing deadline stands for in a sort key (only deadlines may be missing).
MISSING_AS = {CaseSort.DUE_AT: NEVER, CaseSort.DUE_AT_DESC: BEFORE_ALL, CaseSort.TO_ACCEPT: NEVER}


def _bound(sort: CaseSort, key: Column, value: Any) -> ColumnElement[Any]:
    """A cursor value, compared like its key."""
    return MISSING_AS[sort] if value is None else literal(value, type_=key.type)


def after_condition(sort: CaseSort, values: list[Any]) -> ColumnElement[bool]:
    """Rows after the given sort values: (k1 > v1) or (k1 = v1 and k2 > v2) or …, each
    comparison turned for a descending key."""
    keys = SORT_KEYS[sort]
    alternatives = []
    for position, (key, descending) in enumerate(keys):
        equal = [
            earlier == _bound(sort, earlier, value)
            for (earlier, _), value in zip(keys[:position], values, strict=False)
        ]
        bound = _bound(sort, key, values[position])
        alternatives.append(and_(*equal, key < bound if descending else key > bound))
    return or_(*alternatives)


# A search's matches, when at most this many, are read once: the page and the total come from
# that one read instead of the search running twice (the trigram index is the dear part).
SEARCH_IDS_MAX = 10_000


# A trigram in more than this share of all cases narrows a search too little to be worth its
# index entries (every address has "号", most "大街" or "路": at ten million cases the index
# would walk millions of entries to confirm what every candidate has); the rarer ones do.
COMMON_TRIGRAM_SHARE = 0.3
TRIGRAM_SHARES = """
    SELECT e.trigram, s.most_common_elem_freqs[e.n]
    FROM pg_stats s,
         unnest(CAST(CAST(s.most_common_elems AS text) AS text[])) WITH ORDINALITY e(trigram, n)
    WHERE s.schemaname = current_schema() AND s.tablename = 'ix_event_case_search'
      AND e.trigram = ANY(CAST(:trigrams AS text[]))
"""


def trigram_shares(session: Session, trigrams: list[str]) -> dict[str, float]:
    """The share of cases having each of these trigrams, for those common enough to be in the
    search index's statistics (ANALYZE keeps its most common elements)."""
    rows = session.execute(sql_text(TRIGRAM_SHARES), {"trigrams": trigrams}).all()
    return {trigram: float(share) for trigram, share in rows}


def narrowed(session: Session, terms: SearchTerms) -> SearchTerms:
    """The query with the trigrams the index is asked for: all but the common ones (at least
    the least common one stays)."""
    trigrams = search_trigrams(terms.text)
    if len(trigrams) < 2:
        return terms
    shares = trigram_shares(session, trigrams)
    kept = [trigram for trigram in trigrams if shares.get(trigram, 0.0) <= COMMON_TRIGRAM_SHARE]
    if not kept:
        kept = [min(trigrams, key=lambda trigram: shares[trigram])]
    return replace(terms, trigrams=tuple(kept))


# Memory for a search's bitmaps: at ten million cases a term a sixth of all cases match marks
# every page of event_case, which in a few MB turns the bitmap lossy, and every row of a lossy
# page is rechecked by computing its search key (minutes); 64 MB keeps a million pages exact.
SEARCH_WORK_MEM = "64MB"


def _reading_selects(others: ColumnElement[bool], terms: SearchTerms) -> list[Select[Any]]:
    """Each reading's matching ids within the other conditions, through its own index."""
    readings = [text_condition(terms.text, terms.trigrams), *_other_readings(terms)]
    return [select(Case.id).where(others, reading) for reading in readings]


def searched_ids(
    session: Session, others: ColumnElement[bool], terms: SearchTerms
) -> list[int] | None:
    """The ids of the cases matching the search within the other conditions, when at most
    SEARCH_IDS_MAX; None when more. The readings' ids are read one after the other up to
    SEARCH_IDS_MAX + 1 rows (UNION ALL under the limit stops reading there; a UNION would
    first gather every match of a common term to remove duplicates)."""
    session.execute(select(func.set_config("work_mem", SEARCH_WORK_MEM, True)))
    # JIT would compile the search's statements (the planner's estimate of a text reading is
    # high): tens of milliseconds for queries that take about as long.
    session.execute(select(func.set_config("jit", "off", True)))
    united = union_all(*_reading_selects(others, terms)).limit(SEARCH_IDS_MAX + 1)
    rows = session.scalars(united).all()
    return None if len(rows) > SEARCH_IDS_MAX else sorted(set(rows))


def count_searched(session: Session, others: ColumnElement[bool], terms: SearchTerms) -> int:
    """The number of cases matching the search within the other conditions: the readings' ids
    united (each through its index), not joined back to the cases one by one."""
    united = union(*_reading_selects(others, terms)).subquery()
    return int(session.scalar(select(func.count()).select_from(united)) or 0)


def count_cases(session: Session, where: ColumnElement[bool]) -> int:
    """count(*) of the cases matching `where` (every condition is on event_case itself)."""
    return int(session.scalar(select(func.count()).select_from(Case).where(where)) or 0)


def case_page(
    session: Session,
    where: ColumnElement[bool],
    *,
    sort: CaseSort,
    page_size: int,
    after: str | None = None,
    offset: int = 0,
    total: int | None = None,
) -> CasePage:
    """One page of the cases matching `where` (after a keyset cursor, or at an offset) and the
    number of them all (`total` when the caller knows it). One row more than the page is read,
    so a next cursor is given only when a next page has rows, and a page that ends the list
    tells its total without a count. Every work list pages through here: the listing, and the
    console's and desk's lists with their own conditions."""
    statement = listing_select(where, sort).limit(page_size + 1)
    if after is not None:
        statement = statement.where(after_condition(sort, decode_cursor(after, sort)))
    elif offset:
        statement = statement.offset(offset)
    rows = session.execute(statement).all()
    items = [CaseListItem.model_validate(row._asdict()) for row in rows[:page_size]]
    if total is None:
        ends_here = after is None and len(rows) <= page_size and (rows or offset == 0)
        total = offset + len(rows) if ends_here else count_cases(session, where)
    following = len(rows) > page_size
    return CasePage(
        total=total,
        page=1,
        page_size=page_size,
        next_page=None,
        next_cursor=encode_cursor(sort, sort_values(items[-1], sort)) if following else None,
        items=items,
    )


def list_cases(
    session: Session,
    principal: Principal,
    filters: CaseFilters,
    *,
    sort: CaseSort,
    page: int = 1,
    page_size: int,
    after: str | None = None,
) -> CasePage:
    """One page of the cases the principal may see that match the filters: by page number
    (OFFSET), or, given a cursor from the previous page, the page after it (keyset)."""
    where = where_clause(principal, filters)
    known_total = None
    if filters.search is not None:
        terms = narrowed(session, filters.search)
        others = where_clause(principal, replace(filters, search=None))
        ids = searched_ids(session, others, terms)
        if ids is not None:  # few: the page and the total from that one read
            where = Case.id == any_(bindparam("searched_ids", ids, type_=ARRAY(BigInteger)))
            known_total = len(ids)
        else:
            # A common query: counted through its indexes; newest first, paged by a walk of
            # the newest cases that stops at the page.
            known_total = count_searched(session, others, terms)
            newest_first = sort is CaseSort.CREATED_AT_DESC
            where = and_(others, search_filter(terms) if newest_first else search_condition(terms))
    offset = (page - 1) * page_size if after is None else 0
    found = case_page(
        session,
        where,
        sort=sort,
        page_size=page_size,
        after=after,
        offset=offset,
        total=known_total,
    )
    numbered = next_page(page, page_size, found.total) if after is None else None
    return found.model_copy(update={"page": page, "next_page": numbered})


# Public listing -------------------------------------------------------------------------------

PUBLIC_COLUMNS: tuple[Column, ...] = (
    Case.number,
    Case.status,
    Category.code.label("category_code"),
    Category.name_zh.label("category_name_zh"),
    Category.name_en.label("category_name_en"),
    GridCell.code.label("cell_code"),
    func.ST_X(func.ST_Centroid(GridCell.geom)).label("cell_lon"),
    func.ST_Y(func.ST_Centroid(GridCell.geom)).label("cell_lat"),
)


def public_where(filters: CaseFilters) -> ColumnElement[bool]:
    """Filed, not merged-away cases that match the filters."""
    shown = [status.value for status in PUBLIC_STATUSES]
    return and_(Case.status.in_(shown), Case.merged_into_id.is_(None), *filter_conditions(filters))


def public_item(row: Row[*tuple[Any, ...]]) -> PublicCaseItem:
    values = row._asdict()
    values["cell_lon"] = round(values["cell_lon"], 6)
    values["cell_lat"] = round(values["cell_lat"], 6)
    return PublicCaseItem.model_validate(values)


def list_public_cases(
    session: Session, filters: CaseFilters, *, page: int, page_size: int
) -> PublicCasePage:
    """One page of cases at cell resolution, newest first: no point, description or person."""
    where = public_where(filters)
    offset = (page - 1) * page_size
    statement = (
        select(*PUBLIC_COLUMNS)
        .join(Category, Category.id == Case.category_id)
        .join(GridCell, GridCell.id == Case.cell_id)
        .where(where)
        .order_by(*ORDER_BY[CaseSort.CREATED_AT_DESC])
        .limit(page_size)
        .offset(offset)
    )
    rows = session.execute(statement).all()
    total = counted_total(session, where, offset=offset, page_size=page_size, returned=len(rows))
    return PublicCasePage(
        total=total,
        page=page,
        page_size=page_size,
        next_page=next_page(page, page_size, total),
        items=[public_item(row) for row in rows],
    )
