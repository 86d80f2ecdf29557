"""Hotline tickets: intake (idempotent by ticket number), location, filing, events, callers.

A ticket is stored once with its caller and its `received` event (one statement, ON CONFLICT on
the number). A consultation or praise stops there (status `recorded`). Any other ticket is
located: its coordinates, else its address through the gazetteer's matcher (grid.places); below
the matcher's threshold it waits as `to_locate` with the candidates, for a dispatcher to pick.
A located ticket becomes a case through the ordinary intake (events.intake, channel `hotline`,
report UUID derived from the ticket number, so a replay never makes a second case) and is filed
at once (立案: the hotline accepted it already) through the case workflow's FILE action, the
dispatcher's own path. Every step is idempotent, so a replay of a ticket left half-way (a crash
between statements) finishes it.

The caller's name and phone are stored apart (hotline_caller), shown masked everywhere, and in
full only through `caller_of`, audited; they are never logged and never in ticket events.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml  # type: ignore[import-untyped]
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from citygrid.accounts.audit import AuditEntry, RequestOrigin, add_audit_event
from citygrid.accounts.roles import Principal, Role
from citygrid.db import Writer
from citygrid.errors import Conflict, InvalidInput, NotFound, OutsideGrid, PermissionDenied
from citygrid.settings import Settings
from events.cases.schemas import CaseActionBody
from events.cases.workflow import CaseWorkflow
from events.hotline import statements as sql
from events.hotline.models import HotlineCaller, HotlineTicket, HotlineTicketEvent
from events.hotline.schemas import LocationPick, PlaceChoice, TicketCreate, TicketRead
from events.hotline.standard import (
    OPENS_NO_CASE,
    Datum,
    LocationStatus,
    ServiceLimits,
    StandardError,
    TicketStatus,
    TicketType,
    UrgencyClass,
    all_limits,
    mask_name,
    mask_phone,
    service_limits,
)
from events.intake import service as intake
from events.intake.schemas import ReportCreate
from events.lifecycle import CaseAction, CaseStatus
from events.suggestions.service import MODELS
from grid import service as grid_service
from grid.geometry import BD09, GCJ02, WGS84
from grid.places import service as places
from grid.places.addresses import normalise_address
from grid.places.statements import MATCH_ADDRESS_SQL

# Report UUIDs of hotline tickets: uuid5(TICKET_NAMESPACE, ticket number).
TICKET_NAMESPACE = uuid.UUID("0c7f3e52-12a4-4e3b-9d45-123451234500")
CHANNEL = "hotline"
CRS_OF_DATUM = {Datum.WGS84: WGS84, Datum.GCJ02: GCJ02, Datum.BD09: BD09}
DEFAULT_STANDARD = Path(__file__).resolve().parent.parent / "data" / "hotline_service_standard.yaml"
CALLER_VIEWED = "caller_viewed"  # the audit log's kind for a view of a caller's name and phone
# Who may see a caller in full: dispatchers, and members of the ticket's lead department.
CALLER_ROLES = frozenset({Role.DISPATCHER, Role.DEPARTMENT})


# --- the service standard -------------------------------------------------------------------


@lru_cache(maxsize=4)
def _standard_file(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise StandardError(f"{path}: cannot read the service standard ({error})") from error
    if not isinstance(loaded, dict):
        raise StandardError(f"{path}: the service standard must be a mapping")
    all_limits(loaded)  # checks every entry now, naming the wrong one
    return loaded


def standard_overrides(settings: Settings) -> dict[str, Any]:
    """The service standard in force: the setting's file, else the shipped defaults' file."""
    return _standard_file(settings.hotline_service_standard or DEFAULT_STANDARD)


def limits_of(settings: Settings, urgency: UrgencyClass | str) -> ServiceLimits:
    return service_limits(urgency, standard_overrides(settings))


def dispatch_due(
    received_at: datetime, urgency: UrgencyClass, settings: Settings
) -> datetime | None:
    """When the ticket must be dispatched: its clock-time limit from receipt. A standard that
    counts dispatch in working time needs a unit's calendar, which the workflow (dispatch/hotline)
    has: None here, the workflow sets it."""
    limit = limits_of(settings, urgency).dispatch
    if limit.working_time:
        return None
    return received_at + timedelta(hours=limit.hours)


# --- events and callers ---------------------------------------------------------------------


def record_event(
    session: Session, ticket_id: int, kind: str, data: Mapping[str, Any], *, now: datetime
) -> int:
    """Append an event of the ticket for the hotline system; its seq (1, 2, 3… per ticket).
    The ticket row is locked first, so concurrent writers number their events in turn."""
    if any(key in data for key in ("caller_name", "caller_phone", "phone", "name")):
        raise ValueError("a ticket event never carries the caller")
    locked = session.execute(
        text("SELECT id FROM hotline_ticket WHERE id = :id FOR NO KEY UPDATE"), {"id": ticket_id}
    ).first()
    if locked is None:
        raise NotFound(f"no hotline ticket has id {ticket_id}", field="ticket_id")
    seq = int(
        session.execute(
            text(
                "SELECT coalesce(max(seq), 0) + 1 FROM hotline_ticket_event WHERE ticket_id = :id"
            ),
            {"id": ticket_id},
        ).scalar_one()
    )
    session.add(
        HotlineTicketEvent(ticket_id=ticket_id, seq=seq, kind=kind, data=dict(data), at=now)
    )
    session.flush()
    return seq


@dataclass(frozen=True)
class Caller:
    ticket_id: int
    name: str | None
    phone: str | None


def caller_of(
    session: Session,
    ticket_id: int,
    *,
    principal: Principal,
    reason: str,
    origin: RequestOrigin | None = None,
) -> Caller:
    """The caller in full, for a dispatcher or a member of the ticket's lead department; the view
    is written to the audit log (in the session's transaction). PermissionDenied otherwise."""
    ticket = session.get(HotlineTicket, ticket_id)
    if ticket is None:
        raise NotFound(f"no hotline ticket has id {ticket_id}", field="ticket_id")
    allowed = principal.role is Role.DISPATCHER or (
        principal.role is Role.DEPARTMENT
        and principal.department_id is not None
        and principal.department_id == ticket.lead_department_id
    )
    if not allowed:
        raise PermissionDenied(
            "only dispatchers and members of the ticket's lead department see the caller"
        )
    row = session.get(HotlineCaller, ticket_id)
    entry = AuditEntry(
        CALLER_VIEWED,
        origin or RequestOrigin(),
        user_id=principal.user_id,
        username=principal.username,
        details={
            "ticket_id": ticket_id,
            "ticket_number": ticket.ticket_number,
            "reason": reason[:200],
        },
    )
    add_audit_event(session, entry)
    session.flush()
    return Caller(ticket_id, row.name if row else None, row.phone if row else None)


# --- reading tickets --------------------------------------------------------------------------


def ticket_read(row: Any, *, replayed: bool = False) -> TicketRead:
    """A ticket row (statements.TICKET_COLUMNS) as lists show it: the caller masked."""
    return TicketRead(
        id=row.id,
        ticket_number=row.ticket_number,
        received_at=row.received_at,
        ticket_type=TicketType(row.ticket_type),
        urgency_class=UrgencyClass(row.urgency_class),
        status=row.status,
        location_status=row.location_status,
        content=row.content,
        address_text=row.address_text,
        lon=row.lon,
        lat=row.lat,
        location_confidence=row.location_confidence,
        place_id=row.place_id,
        cell_code=row.cell_code,
        category_code=row.category_code,
        category_name=row.category_name,
        case_id=row.case_id,
        case_number=row.case_number,
        lead_department_id=row.lead_department_id,
        caller_name=mask_name(row.caller_name),
        caller_phone=mask_phone(row.caller_phone),
        candidates=[PlaceChoice.model_validate(item) for item in row.candidates or []],
        replayed=replayed,
    )


async def read_ticket(writer: Writer, ticket_id: int, *, replayed: bool = False) -> TicketRead:
    rows = await writer.execute(sql.TICKET_READ, {"id": ticket_id})
    if not rows:
        raise NotFound(f"no hotline ticket has id {ticket_id}", field="ticket_id")
    return ticket_read(rows[0], replayed=replayed)


def get_ticket(session: Session, ticket_id: int) -> TicketRead:
    row = session.connection().exec_driver_sql(sql.TICKET_READ, {"id": ticket_id}).first()
    if row is None:
        raise NotFound(f"no hotline ticket has id {ticket_id}", field="ticket_id")
    return ticket_read(row)


# --- intake -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketSource:
    """Who sends: the hotline system's row and the service account its cases are filed as."""

    source_id: int | None
    principal: Principal


@dataclass(frozen=True)
class Filing:
    """What filing needs besides the ticket: the case workflow and its settings."""

    workflow: CaseWorkflow
    settings: Settings
    session: Session


def source_principal(user_id: int, username: str) -> Principal:
    return Principal(user_id, username, Role.DISPATCHER, None)


def wgs84_of(ticket: TicketCreate) -> tuple[float, float] | None:
    """The ticket's point in WGS-84, or None without coordinates; InvalidInput for half a
    point or one off the globe after conversion."""
    if ticket.lon is None and ticket.lat is None:
        return None
    if ticket.lon is None or ticket.lat is None:
        missing = "lon" if ticket.lon is None else "lat"
        raise InvalidInput(
            f"{missing} is missing: give both lon and lat, or neither", field=missing
        )
    converted = grid_service.checked_wgs84(
        np.array([[ticket.lon, ticket.lat]], dtype=float),
        CRS_OF_DATUM[ticket.datum],
        field="lon/lat",
    )
    return float(converted[0, 0]), float(converted[0, 1])


async def suggested_category(writer: Writer, content: str) -> int | None:
    """The classifier's first suggestion for the content, when a model is enabled."""
    loaded = await MODELS.current(writer)
    if loaded is None:
        return None
    suggestions = loaded.model.suggest(content)
    return int(suggestions[0].category_id) if suggestions else None


async def receive_ticket(
    writer: Writer,
    ticket: TicketCreate,
    *,
    source: TicketSource,
    filing: Filing,
    now: datetime,
) -> TicketRead:
    """The stored ticket (new: `replayed` false; a replay: the stored one, finished if a crash
    left it half-way). Consultations and praise are recorded; others located and filed."""
    point = wgs84_of(ticket)
    opens_case = ticket.ticket_type not in OPENS_NO_CASE
    suggested = await suggested_category(writer, ticket.content) if opens_case else None
    status = TicketStatus.RECEIVED.value if opens_case else TicketStatus.RECORDED.value
    params = {
        "ticket_number": ticket.ticket_number,
        "source_id": source.source_id,
        "received_at": ticket.received_at,
        "ticket_type": ticket.ticket_type.value,
        "urgency_class": ticket.urgency_class.value,
        "content": ticket.content,
        "address_text": ticket.address_text,
        "lon": point[0] if point else None,
        "lat": point[1] if point else None,
        "input_datum": ticket.datum.value if point else None,
        "hint": ticket.category_hint,
        "suggested_id": suggested,
        "opens_case": opens_case,
        "default_code": filing.settings.hotline_default_category,
        "location_status": (
            LocationStatus.TO_LOCATE.value if opens_case else LocationStatus.NOT_NEEDED.value
        ),
        "status": status,
        "dispatch_due_at": (
            dispatch_due(ticket.received_at, ticket.urgency_class, filing.settings)
            if opens_case
            else None
        ),
        "caller_name": ticket.caller_name,
        "caller_phone": ticket.caller_phone,
        "event_data": json.dumps(received_data(ticket), ensure_ascii=False),
        "now": now,
    }
    inserted = await writer.execute(sql.INSERT_TICKET, params)
    facts: TicketFacts | None = None
    if inserted:
        ticket_id, replayed = int(inserted[0].id), False
        facts = TicketFacts(
            ticket_id=ticket_id,
            ticket_number=ticket.ticket_number,
            status=status,
            content=ticket.content,
            address_text=ticket.address_text,
            urgency_class=ticket.urgency_class.value,
            category_id=inserted[0].category_id,
            lon=point[0] if point else None,
            lat=point[1] if point else None,
        )
    else:
        rows = await writer.execute(sql.TICKET_BY_NUMBER, {"ticket_number": ticket.ticket_number})
        if not rows:  # deleted between the two statements: nothing a client could act on
            raise Conflict("the ticket changed meanwhile; send it again", field="ticket_number")
        ticket_id, replayed = int(rows[0].id), True
        if rows[0].status != TicketStatus.RECEIVED.value:
            return await read_ticket(writer, ticket_id, replayed=True)
    if opens_case:
        await locate_and_file(writer, ticket_id, filing=filing, source=source, now=now, facts=facts)
    return await read_ticket(writer, ticket_id, replayed=replayed)


def received_data(ticket: TicketCreate) -> dict[str, Any]:
    """The `received` event's data: what the hotline sent, without the caller."""
    return {
        "ticket_number": ticket.ticket_number,
        "ticket_type": ticket.ticket_type.value,
        "urgency_class": ticket.urgency_class.value,
        "received_at": ticket.received_at.isoformat(),
    }


@dataclass(frozen=True)
class Whereabouts:
    """Where a ticket was found: a point in WGS-84, and the place when the gazetteer said so."""

    lon: float
    lat: float
    place: places.PlaceCandidate | None
    confidence: float | None


@dataclass(frozen=True)
class TicketFacts:
    """What locating and filing a ticket read of it."""

    ticket_id: int
    ticket_number: str
    status: str
    content: str
    address_text: str | None
    urgency_class: str
    category_id: int | None
    lon: float | None
    lat: float | None


TICKET_FACTS = """
    SELECT id AS ticket_id, ticket_number, status, content, address_text, urgency_class,
           category_id, lon, lat
    FROM hotline_ticket WHERE id = %(id)s
"""


async def facts_of(writer: Writer, ticket_id: int) -> TicketFacts:
    rows = await writer.execute(TICKET_FACTS, {"id": ticket_id})
    if not rows:
        raise NotFound(f"no hotline ticket has id {ticket_id}", field="ticket_id")
    return TicketFacts(**rows[0]._asdict())


async def locate_and_file(
    writer: Writer,
    ticket_id: int,
    *,
    filing: Filing,
    source: TicketSource,
    now: datetime,
    facts: TicketFacts | None = None,
) -> None:
    """Locate a received ticket (its point, else its address) and file its case; without a
    place above the threshold it waits as to_locate, with the matcher's candidates. `facts`
    spares reading the ticket when the caller has just stored it."""
    row = facts or await facts_of(writer, ticket_id)
    if row.status != TicketStatus.RECEIVED.value:
        return
    candidates: list[places.PlaceCandidate] = []
    if row.lon is not None and row.lat is not None:
        found = Whereabouts(row.lon, row.lat, None, None)
        if await file_at(writer, row, found, filing=filing, source=source, now=now):
            return
    if row.address_text:
        match = await match_address(writer, filing, row.address_text)
        candidates = match.candidates
        if match.located is not None:
            best = match.located
            found = Whereabouts(best.lon, best.lat, best, best.confidence)
            if await file_at(writer, row, found, filing=filing, source=source, now=now):
                return
    await writer.execute(
        sql.TO_LOCATE,
        {
            "id": ticket_id,
            "candidates": json.dumps([candidate_json(c) for c in candidates], ensure_ascii=False),
            "confidence": candidates[0].confidence if candidates else None,
        },
    )


def candidate_json(candidate: places.PlaceCandidate) -> dict[str, Any]:
    return {
        "place_id": candidate.place_id,
        "label": candidate.label,
        "lon": candidate.lon,
        "lat": candidate.lat,
        "cell_id": candidate.cell_id,
        "confidence": round(float(candidate.confidence), 4),
    }


async def match_address(writer: Writer, filing: Filing, address: str) -> places.AddressMatch:
    """The gazetteer's candidates for the address, best first, in one statement on the async
    path (grid.places' MATCH_ADDRESS_SQL); located when the best reaches the threshold."""
    params = {"address": address, "normalised": normalise_address(address), "district_code": None}
    rows = await writer.execute(MATCH_ADDRESS_SQL, params)
    candidates = [places.candidate_of(row._asdict()) for row in rows]
    return places.address_match(candidates, filing.settings.address_match_threshold)


async def file_at(
    writer: Writer,
    ticket: TicketFacts,
    found: Whereabouts,
    *,
    filing: Filing,
    source: TicketSource,
    now: datetime,
) -> bool:
    """The ticket's case at the point, filed; False when the point is outside the grid."""
    ticket_id = ticket.ticket_id
    if ticket.category_id is None:
        raise InvalidInput(
            "no category for the ticket: load the taxonomy (citygrid taxonomy load) or set "
            "CITYGRID_HOTLINE_DEFAULT_CATEGORY",
            field="category_hint",
        )
    settings = filing.settings
    report = ReportCreate(
        report_uuid=uuid.uuid5(TICKET_NAMESPACE, ticket.ticket_number),
        category_id=ticket.category_id,
        description=ticket.content[: settings.description_max_chars],
        address=(ticket.address_text or "")[:500] or None,
        urgency="urgent" if ticket.urgency_class != UrgencyClass.GENERAL.value else "normal",
    )
    point = intake.Point(found.lon, found.lat, WGS84)
    answer = await intake.run_intake(
        writer,
        report,
        point,
        wgs84=(found.lon, found.lat),
        reporter=source.principal,
        stored=[],
        settings=settings,
        channel=CHANNEL,
    )
    if answer.earlier is not None:
        case_id = answer.earlier.case_id
    else:
        intake.reported_category(answer.categories, report)
        try:
            intake.located(answer.place, found.lon, found.lat, snap_m=settings.locate_snap_m)
        except OutsideGrid:
            return False
        if answer.filed is not None:
            case_id = answer.filed.case_id
        else:  # a racing replay filed the report first
            earlier = await intake.existing_report(writer.execute, report.report_uuid)
            assert earlier is not None, "ON CONFLICT saw a report that is now gone"
            case_id = earlier.case_id
    await run_in_threadpool(
        file_located_ticket,
        filing.session,
        ticket_id,
        case_id=case_id,
        found=found,
        principal=source.principal,
        filing=filing,
        now=now,
    )
    return True


def file_located_ticket(
    session: Session,
    ticket_id: int,
    *,
    case_id: int,
    found: Whereabouts,
    principal: Principal,
    filing: Filing,
    now: datetime,
) -> None:
    """File the case (the FILE action, as a dispatcher files it: routing included), link it to
    the ticket, record `located` and `filed`, and commit. The ticket row is locked first: a
    racing replay that comes second finds the case linked and does nothing."""
    try:
        linked = session.execute(sql.LOCK_TICKET, {"id": ticket_id}).scalar_one()
        if linked is not None:
            session.commit()
            return
        status = session.execute(sql.CASE_STATUS, {"id": case_id}).scalar_one()
        if status == CaseStatus.REPORTED.value:
            filing.workflow.act(
                session,
                case_id,
                CaseAction.FILE,
                principal,
                CaseActionBody(),
                now,
                reopen_window=timedelta(days=filing.settings.reopen_window_days),
            )
        place = found.place
        session.execute(
            sql.LINK_FILED_CASE,
            {
                "id": ticket_id,
                "case_id": case_id,
                "lon": found.lon,
                "lat": found.lat,
                "confidence": found.confidence,
                "place_id": place.place_id if place else None,
                "place": place.label if place else None,
                "now": now,
            },
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise


# --- the dispatcher's pick for a ticket waiting to be located --------------------------------


async def pick_location(
    writer: Writer,
    ticket_id: int,
    pick: LocationPick,
    *,
    by: Principal,
    filing: Filing,
    now: datetime,
) -> TicketRead:
    """Locate a to_locate ticket at a candidate place or a point the dispatcher chose, and file
    its case. Conflict when the ticket no longer waits; OutsideGrid for a point off the grid."""
    rows = await writer.execute(
        "SELECT status, candidates FROM hotline_ticket WHERE id = %(id)s", {"id": ticket_id}
    )
    if not rows:
        raise NotFound(f"no hotline ticket has id {ticket_id}", field="ticket_id")
    if rows[0].status != TicketStatus.TO_LOCATE.value:
        raise Conflict(
            f"the ticket is {rows[0].status}, not waiting to be located", field="ticket_id"
        )
    found = await picked_whereabouts(writer, pick, rows[0].candidates or [])
    # A racing pick by another dispatcher makes no second case: the report UUID is the ticket's,
    # and file_located_ticket finds the case linked already.
    source = TicketSource(None, by)
    facts = await facts_of(writer, ticket_id)
    if not await file_at(writer, facts, found, filing=filing, source=source, now=now):
        raise OutsideGrid("the point is outside the city's grid", distance_m=None)
    return await read_ticket(writer, ticket_id)


async def picked_whereabouts(
    writer: Writer, pick: LocationPick, candidates: Sequence[Mapping[str, Any]]
) -> Whereabouts:
    if pick.place_id is not None:
        chosen = next((c for c in candidates if int(c["place_id"]) == pick.place_id), None)
        if chosen is None:
            rows = await writer.execute(
                "SELECT id AS place_id, name AS label, ST_X(geom) AS lon, ST_Y(geom) AS lat, "
                "cell_id, 1.0 AS confidence FROM place WHERE id = %(id)s",
                {"id": pick.place_id},
            )
            if not rows:
                raise InvalidInput(f"no place has id {pick.place_id}", field="place_id")
            chosen = rows[0]._asdict()
        place = places.PlaceCandidate(
            place_id=int(chosen["place_id"]),
            label=str(chosen["label"]),
            lon=float(chosen["lon"]),
            lat=float(chosen["lat"]),
            cell_id=chosen["cell_id"],
            confidence=float(chosen["confidence"]),
        )
        return Whereabouts(place.lon, place.lat, place, 1.0)
    if pick.lon is None or pick.lat is None:
        raise InvalidInput("give place_id, or lon and lat", field="place_id")
    converted = grid_service.checked_wgs84(
        np.array([[pick.lon, pick.lat]], dtype=float), CRS_OF_DATUM[pick.datum], field="lon/lat"
    )
    return Whereabouts(float(converted[0, 0]), float(converted[0, 1]), None, 1.0)


# --- lists --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketFilter:
    status: str | None = None
    ticket_type: str | None = None
    urgency_class: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    with_case: bool = False  # only tickets that became cases


def ticket_rows(
    session: Session,
    where: TicketFilter,
    *,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[Any]:
    """Tickets newest first (received_at, id), from after the keyset `after`; `limit` rows."""
    conditions = ["TRUE"]
    params: dict[str, Any] = {"limit": limit}
    for column, value in (
        ("status", where.status),
        ("ticket_type", where.ticket_type),
        ("urgency_class", where.urgency_class),
    ):
        if value is not None:
            conditions.append(f"t.{column} = :{column}")
            params[column] = value
    if where.with_case:
        conditions.append("t.case_id IS NOT NULL")
    if where.received_from is not None:
        conditions.append("t.received_at >= :received_from")
        params["received_from"] = where.received_from
    if where.received_to is not None:
        conditions.append("t.received_at < :received_to")
        params["received_to"] = where.received_to
    if after is not None:
        conditions.append("(t.received_at, t.id) < (:after_at, :after_id)")
        params |= {"after_at": after[0], "after_id": after[1]}
    statement = (
        f"SELECT {sql.TICKET_COLUMNS} FROM {sql.TICKET_FROM} WHERE {' AND '.join(conditions)} "
        "ORDER BY t.received_at DESC, t.id DESC LIMIT :limit"
    )
    return list(session.execute(text(statement), params))


def unfinished_tickets(
    session: Session, numbers: Sequence[str], *, exclude: Sequence[int]
) -> list[int]:
    """Ids of the tickets with these numbers still `received` (left half-way), but `exclude`."""
    rows = session.execute(
        text(
            "SELECT id FROM hotline_ticket WHERE ticket_number = ANY(:numbers) "
            "AND status = 'received' AND NOT (id = ANY(:exclude)) ORDER BY id"
        ),
        {"numbers": list(numbers), "exclude": list(exclude)},
    )
    return [int(row.id) for row in rows]


def status_counts(session: Session, numbers: Sequence[str]) -> dict[str, int]:
    """How many of the tickets with these numbers are in each status."""
    rows = session.execute(
        text(
            "SELECT status, count(*) AS n FROM hotline_ticket WHERE ticket_number = ANY(:numbers) "
            "GROUP BY status ORDER BY status"
        ),
        {"numbers": list(numbers)},
    )
    return {str(row.status): int(row.n) for row in rows}


def tab_totals(session: Session) -> dict[str, int]:
    """How many tickets wait to be located, became cases, were recorded, and in all."""
    row = session.execute(
        text(
            "SELECT count(*) FILTER (WHERE status = 'to_locate') AS to_locate, "
            "count(*) FILTER (WHERE case_id IS NOT NULL) AS filed, "
            "count(*) FILTER (WHERE status = 'recorded') AS recorded, count(*) AS total "
            "FROM hotline_ticket"
        )
    ).one()
    totals = {key: int(value) for key, value in row._asdict().items()}
    totals["all"] = totals.pop("total")
    return totals
