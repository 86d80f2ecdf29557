"""The map pages' numbers as tables: an accessible HTML table view, paged, and a CSV download."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from maps import service as map_service
from maps.classification import format_value
from maps.pages.service import METRIC_LABELS, describe
from maps.schemas import ChoroplethOptions, MapFilters, Metric, Unit, UnitValue

TABLE_ROWS_MAX = 1_000


@dataclass(frozen=True)
class Table:
    """A map's numbers: a title, column names and rows (already formatted for display)."""

    title: str
    columns: list[str]
    rows: list[list[str]]


def value_table(title: str, label: str, values: Sequence[UnitValue]) -> Table:
    """Code, name and value of each unit."""
    rows = [[unit.code, unit.name, format_value(unit.value)] for unit in values]
    return Table(title, ["code", "name", label], rows)


def heatmap_table(session: Session, filters: MapFilters) -> Table:
    """The heatmap's numbers: reports per cell."""
    values = map_service.unit_values(session, Unit.CELL, Metric.REPORTS, filters)
    return value_table("Reports per cell", "reports", values)


def choropleth_table(session: Session, filters: MapFilters, options: ChoroplethOptions) -> Table:
    """The choropleth's numbers at the asked unit (all of them: a table has no drawing cap)."""
    values = map_service.unit_values(session, options.unit, options.metric, filters)
    label = METRIC_LABELS[options.metric]
    return value_table(f"{label} by {options.unit}", options.metric.value, values)


def hotspots_table(session: Session, filters: MapFilters, confidence: float) -> Table:
    """Every cell's Gi* numbers."""
    result = map_service.hotspots(session, filters, confidence=confidence)
    columns = ["code", "name", "reports", "previous_reports", "z", "p", "class", "trend"]
    rows = [
        [c.code, c.name, str(c.count), str(c.previous_count), f"{c.z:.3f}", f"{c.p:.5f}",
         c.hotspot_class.value, c.trend.value]
        for c in result.cells
    ]  # fmt: skip
    return Table("Hot spots (Getis-Ord Gi*)", columns, rows)


def table_html(table: Table, filters: MapFilters, *, page: int, links_html: str) -> str:
    """An accessible HTML table, TABLE_ROWS_MAX rows a page, with links to the map and CSV."""
    first = (page - 1) * TABLE_ROWS_MAX
    shown = table.rows[first : first + TABLE_ROWS_MAX]
    head = "".join(f'<th scope="col">{html.escape(name)}</th>' for name in table.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in shown
    )
    position = f"rows {first + 1:,}–{first + len(shown):,} of {len(table.rows):,}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(table.title)}</title></head><body>"
        f"<h1>{html.escape(table.title)}</h1><p>{html.escape(describe(filters))}</p>"
        f"<p>{position} · {links_html}</p><table><caption>{html.escape(table.title)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>"
    )


def csv_response(table: Table, filename: str) -> Response:
    """The table as a UTF-8 CSV download (with a BOM, so spreadsheets read the names right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return Response(
        "\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def table_response(
    table: Table, filters: MapFilters, request: Request, *, layer: str, page: int
) -> HTMLResponse:
    """The table view of one map page at `page`, linking the map, the CSV and its neighbours."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    pages = max(1, -(-len(table.rows) // TABLE_ROWS_MAX))
    links = [
        f'<a href="/maps/{layer}?{html.escape(urlencode(query))}">Map</a>',
        f'<a href="/maps/{layer}/csv?{html.escape(urlencode(query))}">CSV</a>',
    ]
    for number in (page - 1, page + 1):
        if 1 <= number <= pages:
            target = urlencode([*query, ("page", str(number))])
            links.append(f'<a href="/maps/{layer}/table?{html.escape(target)}">page {number}</a>')
    return HTMLResponse(table_html(table, filters, page=page, links_html=" · ".join(links)))
