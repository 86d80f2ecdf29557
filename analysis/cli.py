"""`citygrid analysis …`: analysis over the city's cases from the command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from citygrid import db
from citygrid.console import console, fail, reported_errors
from citygrid.settings import get_settings

analysis_app = typer.Typer(help="Analysis: forecasts of the city's cases.", no_args_is_help=True)


def _figure(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.0f}%" if percent else f"{value:.2f}"


@analysis_app.command("forecast")
def forecast(
    history_days: Annotated[
        int, typer.Option(help="Days of history the model learns from (28 to 730).")
    ] = 182,
    street: Annotated[str | None, typer.Option(help="Only this street's code.")] = None,
    group: Annotated[str | None, typer.Option(help="Only this category group's code.")] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write every day of every row to FILE.")
    ] = None,
) -> None:
    """Expected cases per street × category group for the next 14 days with 80 % intervals,
    and the rolling-origin backtest (MASE against last week's numbers, interval coverage)."""
    from analysis.forecast import service  # statsmodels is loaded by this command only

    if not service.MIN_HISTORY_DAYS <= history_days <= service.MAX_HISTORY_DAYS:
        raise fail(
            f"--history-days must be {service.MIN_HISTORY_DAYS} to {service.MAX_HISTORY_DAYS}"
        )
    settings = get_settings()
    started = time.perf_counter()
    with db.open_session() as session, reported_errors():
        service.check_filters(session, street=street, group=group)
        report = service.forecast_report(
            session,
            zone=settings.city_zone,
            calendar_code=settings.default_calendar_code,
            history_days=history_days,
        )
    rows = service.chosen_rows(report.rows, street=street, group=group)
    overall = report.overall
    console.print(
        f"{len(report.rows)} street × group series from {report.first_day} to {report.last_day}"
        f" forecast in {time.perf_counter() - started:.1f} s; backtest over"
        f" {len(report.origins)} origins: MASE {_figure(overall.mase)} (last week's numbers:"
        f" {_figure(overall.naive_mase)}), 80 % interval coverage"
        f" {_figure(overall.coverage, percent=True)}"
    )
    table = Table(title=f"Next {report.horizon_days} days")
    for column in ("street", "group", "expected (80 % interval)", "MASE", "coverage"):
        table.add_column(column)
    for row in rows:
        f = row.forecast
        table.add_row(
            f"{row.street.name} ({row.street.code})",
            f"{row.group.code} {row.group.name_zh}",
            f"{f.total_mean:.1f} ({f.total_lower}–{f.total_upper})",
            _figure(f.accuracy.mase),
            _figure(f.accuracy.coverage, percent=True),
        )
    console.print(table)
    if csv_file is not None:
        csv_file.write_text(service.forecast_csv(rows), encoding="utf-8")
        console.print(f"{len(rows) * report.horizon_days} lines written to {csv_file}")
