"""The map pages' numbers as tables: an accessible HTML table view, paged, in the reader's
language, and a CSV download.

The CSV keeps machine-readable column names and codes (code, name, reports, class = hot99, …),
so a spreadsheet or script reads every export alike; the HTML table names its columns and the
hotspot classes and trends in the page's language. Neither carries a time of its own: the period
is the query's, shown in the city's time zone above the HTML table.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from citygrid.i18n import translations
from citygrid.web import N_
from maps import service as map_service
from maps.classification import format_value
from maps.pages.service import METRIC_LABELS, UNIT_NAMES, describe
from maps.render import HOTSPOT_LABELS, TREND_LABELS
from maps.schemas import ChoroplethOptions, MapFilters, Metric, Unit, UnitValue

TABLE_ROWS_MAX = 1_000
MAP = N_("Map")
Gettext = Callable[[str], str]
CLASS_NAMES: dict[str, str] = {cls.value: label for cls, label in HOTSPOT_LABELS.items()}
TREND_NAMES: dict[str, str] = {trend.value: label for trend, label in TREND_LABELS.items()}
COLUMN_LABELS = {
    "code": N_("Code"),
    "name": N_("Name"),
    "reports": N_("Reports"),
    "previous_reports": N_("Reports in the previous period"),
    "z": "z",
    "p": "p",
    "class": N_("Class"),
    "trend": N_("Trend"),
    **{metric.value: label for metric, label in METRIC_LABELS.items()},
}


@dataclass(frozen=True)
class Table:
    """A map's numbers: a title (an N_ message, with N_ messages for its placeholders), column
    codes, rows (formatted for display), and for some columns the names (N_) their codes show
    as in the HTML table."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    value_names: dict[int, Mapping[str, str]] = field(default_factory=dict)
    title_values: Mapping[str, str] = field(default_factory=dict)

    def title_in(self, gettext: Gettext) -> str:
        """The title in the page's language."""
        values = {name: gettext(message) for name, message in self.title_values.items()}
        return gettext(self.title) % values if values else gettext(self.title)


def value_table(title: str, column: str, values: Sequence[UnitValue], **title_values: str) -> Table:
    """Code, name and value of each unit."""
    rows = [[unit.code, unit.name, format_value(unit.value)] for unit in values]
    return Table(title, ["code", "name", column], rows, title_values=title_values)


def heatmap_table(session: Session, filters: MapFilters) -> Table:
    """The heatmap's numbers: reports per cell."""
    values = map_service.unit_values(session, Unit.CELL, Metric.REPORTS, filters)
    return value_table(N_("Reports per cell"), "reports", values)


def choropleth_table(session: Session, filters: MapFilters, options: ChoroplethOptions) -> Table:
    """The choropleth's numbers at the asked unit (all of them: a table has no drawing cap)."""
    values = map_service.unit_values(session, options.unit, options.metric, filters)
    return value_table(
        N_("%(metric)s by %(units)s"),
        options.metric,
        values,
        metric=METRIC_LABELS[options.metric],
        units=UNIT_NAMES[options.unit],
    )


def hotspots_table(session: Session, filters: MapFilters, confidence: float) -> Table:
    """Every cell's Gi* numbers."""
    result = map_service.hotspots(session, filters, confidence=confidence)
    columns = ["code", "name", "reports", "previous_reports", "z", "p", "class", "trend"]
    rows = [
        [c.code, c.name, str(c.count), str(c.previous_count), f"{c.z:.3f}", f"{c.p:.5f}",
         c.hotspot_class.value, c.trend.value]
        for c in result.cells
    ]  # fmt: skip
    return Table(N_("Hot spots (Getis-Ord Gi*)"), columns, rows, {6: CLASS_NAMES, 7: TREND_NAMES})


def shown_row(table: Table, row: list[str], gettext: Gettext) -> list[str]:
    """A row as the HTML table shows it: coded columns by their names."""
    return [
        gettext(table.value_names[index].get(cell, cell)) if index in table.value_names else cell
        for index, cell in enumerate(row)
    ]


@dataclass(frozen=True)
class TablePage:
    """What one page of the HTML table shows beside its rows."""

    page: int
    description: str
    links_html: str
    language: str


def table_html(table: Table, view: TablePage) -> str:
    """An accessible HTML table, TABLE_ROWS_MAX rows a page, with links to the map and CSV."""
    _ = translations(view.language).gettext
    title = html.escape(table.title_in(_))
    first = (view.page - 1) * TABLE_ROWS_MAX
    shown = table.rows[first : first + TABLE_ROWS_MAX]
    head = "".join(
        f'<th scope="col">{html.escape(_(COLUMN_LABELS.get(name, name)))}</th>'
        for name in table.columns
    )
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in shown_row(table, row, _))
        + "</tr>"
        for row in shown
    )  # fmt: skip
    position = _(N_("rows %(first)s–%(last)s of %(total)s")) % {
        "first": f"{first + 1:,}",
        "last": f"{first + len(shown):,}",
        "total": f"{len(table.rows):,}",
    }
    return (
        f'<!DOCTYPE html><html lang="{html.escape(view.language)}"><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body>"
        f"<h1>{title}</h1><p>{html.escape(view.description)}</p>"
        f"<p>{html.escape(position)} · {view.links_html}</p><table><caption>{title}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>"
    )


def csv_response(table: Table, filename: str) -> Response:
    """The table as a UTF-8 CSV download (with a BOM, so spreadsheets read the names right):
    column names and hotspot classes as codes."""
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
    table: Table,
    filters: MapFilters,
    request: Request,
    *,
    layer: str,
    page: int,
    language: str,
    zone: tzinfo,
) -> HTMLResponse:
    """The table view of one map page at `page`, linking the map, the CSV and its neighbours."""
    _ = translations(language).gettext
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    pages = max(1, -(-len(table.rows) // TABLE_ROWS_MAX))
    links = [
        f'<a href="/maps/{layer}?{html.escape(urlencode(query))}">{html.escape(_(MAP))}</a>',
        f'<a href="/maps/{layer}/csv?{html.escape(urlencode(query))}">CSV</a>',
    ]
    for number in (page - 1, page + 1):
        if 1 <= number <= pages:
            target = urlencode([*query, ("page", str(number))])
            label = html.escape(_(N_("page %(number)s")) % {"number": number})
            links.append(f'<a href="/maps/{layer}/table?{html.escape(target)}">{label}</a>')
    view = TablePage(page, describe(filters, zone, _), " · ".join(links), language)
    return HTMLResponse(table_html(table, view))
