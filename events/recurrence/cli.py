"""`citygrid recurrence link`: link the history's cases to the closed cases they repeat."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

import typer

from citygrid import db
from citygrid.console import console, reported_errors
from citygrid.errors import InvalidInput
from citygrid.settings import get_settings
from events.recurrence import rules
from events.recurrence import service as recurrence_service

recurrence_app = typer.Typer(
    help="Recurrences (复发): closed problems that come back at the same place.",
    no_args_is_help=True,
)


@recurrence_app.command("link")
def link(
    distance_m: Annotated[
        float, typer.Option(help="How near to the closed case, in metres.")
    ] = rules.DEFAULT_DISTANCE_M,
    period_days: Annotated[
        int, typer.Option(help="How soon after its closure, in days.")
    ] = rules.DEFAULT_PERIOD_DAYS,
    since: Annotated[
        datetime | None,
        typer.Option(help="Only cases reported from this time (the city's time if naive)."),
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(help="Only cases reported before this time.")
    ] = None,
    relink: Annotated[
        bool, typer.Option(help="Remove the period's links first and link again.")
    ] = False,
) -> None:
    """Link every case not linked yet to the closed case it repeats (idempotent)."""
    started = time.perf_counter()
    with reported_errors():
        definition = rules.definition(distance_m, period_days)
        if since and until and until <= since:
            raise InvalidInput("--until must be later than --since", field="until")
    zone = get_settings().city_zone
    since, until = (
        moment.replace(tzinfo=zone) if moment and moment.tzinfo is None else moment
        for moment in (since, until)
    )
    with db.open_session() as session:
        counts = recurrence_service.link_history(
            session, definition, since=since, until=until, relink=relink
        )
        session.commit()
    removed = f", {counts.unlinked} removed first" if relink else ""
    console.print(
        f"{counts.linked} recurrences linked{removed} "
        f"({definition.distance_m:g} m, {definition.period_days} days) "
        f"in {time.perf_counter() - started:.1f} s",
        highlight=False,
    )
