"""`citygrid hotline …`: hotline systems' keys, and ticket imports from the hotline's files.

Filing a case is dispatch's work (the FILE action routes the case); events cannot import it, so
the composition (citygrid/cli.py) hands the workflow in: `hotline_cli(DispatchWorkflow)`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from citygrid import db
from citygrid.errors import CitygridError, ImportRejected
from citygrid.settings import get_settings
from events.cases.workflow import CaseWorkflow
from events.hotline import keys, service
from events.hotline.importer import check_file, store_tickets

WorkflowOf = Callable[[str], CaseWorkflow]  # the default calendar code → the case workflow


def hotline_cli(workflow_of: WorkflowOf) -> typer.Typer:
    """The `hotline` command group, filing cases through `workflow_of(default calendar)`."""
    hotline_app = typer.Typer(help="12345 hotline tickets: keys, imports.", no_args_is_help=True)
    keys_app = typer.Typer(
        help="Issue, list and revoke hotline systems' keys.", no_args_is_help=True
    )
    hotline_app.add_typer(keys_app, name="keys")

    @keys_app.command("issue")
    def issue(
        name: Annotated[str, typer.Option("--name", help="The hotline system's name.")],
    ) -> None:
        """Issue a key for a hotline system: printed once, only its SHA-256 is stored."""
        with db.open_session() as session:
            try:
                issued = keys.issue_source(session, name=name)
            except CitygridError as error:
                typer.echo(error.message, err=True)
                raise typer.Exit(code=1) from error
            session.commit()
            typer.echo(f"hotline source {issued.source.id} ({issued.source.name})")
            typer.echo(issued.secret)
            typer.echo(
                f"Store it now: it cannot be shown again. Send it as the {keys.KEY_HEADER} header.",
                err=True,
            )

    @keys_app.command("list")
    def list_sources() -> None:
        """Every hotline source: id, key prefix, name, created, revoked."""
        with db.open_session() as session:
            for source in keys.list_sources(session):
                state = (
                    f"revoked {source.revoked_at:%Y-%m-%d %H:%M}" if source.revoked_at else "active"
                )
                typer.echo(
                    f"{source.id}\t{source.key_prefix}…\t{source.name}\t"
                    f"created {source.created_at:%Y-%m-%d %H:%M}\t{state}"
                )

    @keys_app.command("revoke")
    def revoke(
        source_id: Annotated[int, typer.Argument(help="The source's id (see keys list).")],
    ) -> None:
        """Revoke a source's key: tickets sent with it are refused (403) from now on."""
        with db.open_session() as session:
            try:
                source = keys.revoke_source(session, source_id)
            except CitygridError as error:
                typer.echo(error.message, err=True)
                raise typer.Exit(code=1) from error
            session.commit()
            typer.echo(f"hotline source {source.id} ({source.name}) revoked")

    @hotline_app.command("import")
    def import_file(
        path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".csv or .xlsx")],
        encoding: Annotated[
            str | None,
            typer.Option("--encoding", help="The CSV's encoding when not UTF-8 (e.g. GBK)."),
        ] = None,
    ) -> None:
        """Import tickets from a CSV or Excel export of the hotline: all or nothing per file,
        idempotent by ticket number; new tickets are located and filed as the API does it."""
        settings = get_settings()
        try:
            tickets = check_file(path, encoding=encoding, zone=settings.city_zone)
        except ImportRejected as error:
            typer.echo(error.message, err=True)
            for problem in error.problems:
                typer.echo(
                    f"  row {problem['row']}, column {problem['column']}: {problem['reason']}",
                    err=True,
                )
            raise typer.Exit(code=1) from error
        except CitygridError as error:
            typer.echo(error.message, err=True)
            raise typer.Exit(code=1) from error
        now = datetime.now(UTC)
        with db.open_session() as session:
            source = keys.import_source(session)
            added = store_tickets(
                session, tickets, source_id=source.source_id, settings=settings, now=now
            )
            session.commit()
            workflow = workflow_of(settings.default_calendar_code)
            filing = service.Filing(workflow, settings, session)
            writer = db.SessionWriter(session)
            waiting = [ticket_id for ticket_id, status in added if status == "received"]
            # Tickets a crashed earlier import of the same file left half-way are finished too.
            numbers = [ticket.ticket_number for ticket in tickets]
            waiting += service.unfinished_tickets(session, numbers, exclude=waiting)
            asyncio.run(_locate_all(writer, waiting, filing, source, now))
            counts = service.status_counts(session, numbers)
        typer.echo(
            json.dumps(
                {
                    "rows": len(tickets),
                    "added": len(added),
                    "already_stored": len(tickets) - len(added),
                    "by_status": counts,
                },
                ensure_ascii=False,
            )
        )

    return hotline_app


async def _locate_all(
    writer: db.SessionWriter,
    ticket_ids: list[int],
    filing: service.Filing,
    source: service.TicketSource,
    now: datetime,
) -> None:
    for ticket_id in ticket_ids:
        await service.locate_and_file(writer, ticket_id, filing=filing, source=source, now=now)
