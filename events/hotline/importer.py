"""`citygrid hotline import FILE`: a CSV or Excel (.xlsx) export of the hotline's tickets.

All or nothing per file: every row is checked first, and a file with any problem is refused with
the list (row number as a spreadsheet shows it, column, reason); nothing is stored. A good file
is stored in one statement (tickets, callers and `received` events, ON CONFLICT on the ticket
number: importing the same file again adds nothing), then each new ticket is located and filed
as the API does it.

Columns are found by their header, in Chinese as the hotline's exports name them or in English
(the API's field names): see HEADERS. Times without an offset are the city's time.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.errors import ImportRejected, InvalidInput
from citygrid.settings import Settings
from events.hotline import statements as sql
from events.hotline.schemas import TicketCreate
from events.hotline.service import dispatch_due, received_data, wgs84_of
from events.hotline.standard import OPENS_NO_CASE, TYPE_NAMES, URGENCY_NAMES, TicketStatus
from grid.file_encoding import check_encoding, guess_encoding, how_to_import

MAX_ROWS = 100_000
MAX_PROBLEMS = 200
# field → the headers that name it (Chinese as the hotline exports them, then English).
HEADERS: dict[str, tuple[str, ...]] = {
    "ticket_number": ("工单编号", "工单号", "编号", "ticket_number"),
    "received_at": ("受理时间", "来电时间", "接收时间", "received_at"),
    "ticket_type": ("诉求类型", "工单类型", "类型", "ticket_type"),
    "urgency_class": ("紧急程度", "紧急类别", "urgency_class"),
    "content": ("诉求内容", "反映内容", "内容", "content"),
    "caller_name": ("来电人", "诉求人", "联系人", "caller_name"),
    "caller_phone": ("联系电话", "来电号码", "电话", "caller_phone"),
    "address_text": ("诉求地址", "事发地址", "地址", "address_text"),
    "lon": ("经度", "lon"),
    "lat": ("纬度", "lat"),
    "datum": ("坐标系", "datum"),
    "category_hint": ("问题分类", "类别", "category_hint"),
}
REQUIRED = ("ticket_number", "received_at", "ticket_type", "content")
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")
DATUM_NAMES = {"wgs84": "wgs84", "wgs-84": "wgs84", "gcj02": "gcj02", "gcj-02": "gcj02"}
DATUM_NAMES |= {"bd09": "bd09", "bd-09": "bd09", "百度": "bd09", "高德": "gcj02"}


@dataclass(frozen=True)
class ImportOutcome:
    rows: int
    added: int  # new tickets
    already: int  # ticket numbers stored before (a re-import)
    added_ids: list[int]


def read_table(path: Path, *, encoding: str | None) -> tuple[list[str], list[list[Any]]]:
    """The header and the rows of a CSV or .xlsx file."""
    if path.suffix.lower() == ".xlsx":
        return _read_xlsx(path)
    if path.suffix.lower() != ".csv":
        raise InvalidInput(f"{path.name}: the file name must end in .csv or .xlsx", field="file")
    data = path.read_bytes()
    chosen = check_encoding(encoding)
    try:
        decoded = data.decode(chosen or "utf-8-sig")
    except UnicodeDecodeError as error:
        guessed = guess_encoding(data)
        raise InvalidInput(
            f"{path.name} is not in {chosen or 'UTF-8'} (it seems to be {guessed}). "
            f"{how_to_import(path.name, guessed)}",
            field="encoding",
        ) from error
    rows = list(csv.reader(io.StringIO(decoded.lstrip("\ufeff"))))
    if not rows:
        raise InvalidInput(f"{path.name} is empty", field="file")
    return [cell.strip() for cell in rows[0]], [list(row) for row in rows[1:]]


def _read_xlsx(path: Path) -> tuple[list[str], list[list[Any]]]:
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a file that is not a workbook
        raise InvalidInput(
            f"{path.name} is not an Excel .xlsx workbook ({error})", field="file"
        ) from error
    try:
        sheet = workbook.worksheets[0]
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    if not rows:
        raise InvalidInput(f"{path.name} is empty", field="file")
    return [str(cell or "").strip() for cell in rows[0]], rows[1:]


def columns_of(header: Sequence[str]) -> dict[str, int]:
    """field → column index, from the header; InvalidInput naming a missing required column."""
    found: dict[str, int] = {}
    for field, names in HEADERS.items():
        for index, name in enumerate(header):
            if name in names or name.lower() in names:
                found[field] = index
                break
    missing = [field for field in REQUIRED if field not in found]
    if missing:
        wanted = " / ".join(HEADERS[missing[0]])
        raise InvalidInput(f"no column for {missing[0]} (a header {wanted})", field="file")
    return found


def parsed_rows(
    header: Sequence[str], rows: Iterable[Sequence[Any]], zone: tzinfo
) -> tuple[list[TicketCreate], list[dict[str, Any]]]:
    """The rows as tickets, and every problem (row number as the file shows it, column, why)."""
    columns = columns_of(header)
    tickets: list[TicketCreate] = []
    problems: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):
        if not any(cell not in (None, "") for cell in row):
            continue
        values = {f: _cell(row, i) for f, i in columns.items()}
        row_problems: list[dict[str, Any]] = []
        body = _body(values, zone, number, row_problems, header, columns)
        given_number = body.get("ticket_number")
        if isinstance(given_number, str) and given_number:
            earlier = seen.setdefault(given_number, number)
            if earlier != number:
                reason = f"ticket number repeats row {earlier}"
                row_problems.append(_problem(number, "ticket_number", reason, header, columns))
        if not row_problems:
            try:
                ticket = TicketCreate.model_validate(body)
                wgs84_of(ticket)
            except ValidationError as error:
                for item in error.errors():
                    field = str(item["loc"][0]) if item["loc"] else "row"
                    row_problems.append(_problem(number, field, item["msg"], header, columns))
            except InvalidInput as error:
                field = error.field or "lon"
                row_problems.append(_problem(number, field, error.message, header, columns))
            else:
                tickets.append(ticket)
        problems.extend(row_problems)
        if len(tickets) + len(problems) > MAX_ROWS:
            raise InvalidInput(f"at most {MAX_ROWS} rows per file", field="file")
    return tickets, problems


def _cell(row: Sequence[Any], index: int) -> Any:
    value = row[index] if index < len(row) else None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _problem(
    row: int, field: str, reason: str, header: Sequence[str], columns: dict[str, int]
) -> dict[str, Any]:
    column = header[columns[field]] if field in columns else field
    return {"row": row, "column": column, "reason": reason}


def _body(
    values: dict[str, Any],
    zone: tzinfo,
    row: int,
    problems: list[dict[str, Any]],
    header: Sequence[str],
    columns: dict[str, int],
) -> dict[str, Any]:
    body = {key: value for key, value in values.items() if value is not None}
    for field in REQUIRED:
        if field not in body:
            problems.append(_problem(row, field, "is empty", header, columns))
    if "ticket_number" in body:
        body["ticket_number"] = _plain_number(body["ticket_number"])
    if "received_at" in body:
        moment = _moment(body["received_at"], zone)
        if moment is None:
            reason = "is not a time (2026-12-06 09:30, or ISO 8601 with an offset)"
            problems.append(_problem(row, "received_at", reason, header, columns))
        else:
            body["received_at"] = moment.isoformat()
    for field, names in (("ticket_type", TYPE_NAMES), ("urgency_class", URGENCY_NAMES)):
        if field in body:
            given = str(body[field]).removesuffix("类")
            if given not in names:
                reason = f"{given!r} is not one of {', '.join(k for k in names if not k.isascii())}"
                problems.append(_problem(row, field, reason, header, columns))
            else:
                body[field] = names[given].value
    if "datum" in body:
        body["datum"] = DATUM_NAMES.get(str(body["datum"]).strip().lower(), body["datum"])
    for field in ("caller_phone", "caller_name", "content", "address_text", "category_hint"):
        if field in body and not isinstance(body[field], str):
            body[field] = _plain_number(body[field])
    return body


def _plain_number(value: Any) -> str:
    """A cell as text: an Excel number 13812345678.0 as 13812345678."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _moment(value: Any, zone: tzinfo) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    text_value = str(value).strip()
    try:
        moment = datetime.fromisoformat(text_value)
    except ValueError:
        for pattern in TIME_FORMATS:
            try:
                moment = datetime.strptime(text_value, pattern)
                break
            except ValueError:
                continue
        else:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


# Many tickets in one statement: each row's category as the API finds it (hint, default, other).
INSERT_TICKETS = f"""
WITH given AS (
    SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
        ticket_number text, received_at timestamptz, ticket_type text, urgency_class text,
        content text, address_text text, lon float8, lat float8, input_datum text, hint text,
        opens_case boolean, location_status text, status text, dispatch_due_at timestamptz,
        caller_name text, caller_phone text, event_data jsonb)
),
inserted AS (
    INSERT INTO hotline_ticket (
        ticket_number, source_id, received_at, ticket_type, urgency_class, content,
        address_text, lon, lat, input_datum, category_hint, category_id, location_status,
        status, dispatch_due_at, updated_at)
    SELECT g.ticket_number, :source_id, g.received_at, g.ticket_type, g.urgency_class,
           g.content, g.address_text, g.lon, g.lat, g.input_datum, g.hint, category.id,
           g.location_status, g.status, g.dispatch_due_at, now()
    FROM given g
    LEFT JOIN LATERAL (SELECT {
    sql.CATEGORY_OF_TICKET.replace("%(hint)s", "g.hint")
    .replace("%(suggested_id)s", "NULL")
    .replace("%(opens_case)s", "g.opens_case")
    .replace("%(default_code)s", "(CAST(:default_code AS text))")
} AS id) category
        ON TRUE
    ORDER BY g.received_at, g.ticket_number
    ON CONFLICT (ticket_number) DO NOTHING
    RETURNING id, ticket_number, status
),
callers AS (
    INSERT INTO hotline_caller (ticket_id, name, phone)
    SELECT i.id, g.caller_name, g.caller_phone
    FROM inserted i JOIN given g USING (ticket_number)
    WHERE g.caller_name IS NOT NULL OR g.caller_phone IS NOT NULL
),
received AS (
    INSERT INTO hotline_ticket_event (ticket_id, seq, kind, data, at)
    SELECT i.id, 1, 'received', g.event_data, :now
    FROM inserted i JOIN given g USING (ticket_number)
)
SELECT id, status FROM inserted ORDER BY id
"""


def store_tickets(
    session: Session,
    tickets: Sequence[TicketCreate],
    *,
    source_id: int | None,
    settings: Settings,
    now: datetime,
) -> list[tuple[int, str]]:
    """Insert the tickets not stored yet (one statement); (id, status) of the new ones."""
    rows = []
    for ticket in tickets:
        point = wgs84_of(ticket)
        opens_case = ticket.ticket_type not in OPENS_NO_CASE
        rows.append(
            {
                "ticket_number": ticket.ticket_number,
                "received_at": ticket.received_at.isoformat(),
                "ticket_type": ticket.ticket_type.value,
                "urgency_class": ticket.urgency_class.value,
                "content": ticket.content,
                "address_text": ticket.address_text,
                "lon": point[0] if point else None,
                "lat": point[1] if point else None,
                "input_datum": ticket.datum.value if point else None,
                "hint": ticket.category_hint,
                "opens_case": opens_case,
                "location_status": "to_locate" if opens_case else "not_needed",
                "status": (
                    TicketStatus.RECEIVED.value if opens_case else TicketStatus.RECORDED.value
                ),
                "dispatch_due_at": _iso(
                    dispatch_due(ticket.received_at, ticket.urgency_class, settings)
                    if opens_case
                    else None
                ),
                "caller_name": ticket.caller_name,
                "caller_phone": ticket.caller_phone,
                "event_data": received_data(ticket),
            }
        )
    if not rows:
        return []
    params = {
        "rows": json.dumps(rows, ensure_ascii=False),
        "source_id": source_id,
        "default_code": settings.hotline_default_category,
        "now": now,
    }
    result = session.execute(text(INSERT_TICKETS), params)
    return [(int(row.id), str(row.status)) for row in result]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def check_file(path: Path, *, encoding: str | None, zone: tzinfo) -> list[TicketCreate]:
    """The file's tickets; ImportRejected listing every problem (nothing is stored then)."""
    header, rows = read_table(path, encoding=encoding)
    tickets, problems = parsed_rows(header, rows, zone)
    if problems:
        raise ImportRejected(
            f"{path.name}: {len(problems)} problem(s); nothing was imported",
            problems=problems[:MAX_PROBLEMS],
        )
    return tickets
