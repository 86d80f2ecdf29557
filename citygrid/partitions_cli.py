"""`citygrid db partitions maintain` and `citygrid db archive` (monthly partitions)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import text

from citygrid import archive as archiving
from citygrid import db, partitions
from citygrid.console import console, fail
from citygrid.settings import get_settings

partitions_app = typer.Typer(
    help="Monthly partitions of the tables that grow with time.", no_args_is_help=True
)
archive_app = typer.Typer(
    help="Archive whole past months to checked files (--before YYYY-MM), or restore one.",
    invoke_without_command=True,
)


@partitions_app.command("maintain")
def partitions_maintain(
    months_ahead: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=24,
            help="Months after the current one to keep ready (pg_partman's premake, kept; "
            "default: as configured, 3).",
        ),
    ] = None,
) -> None:
    """Make the next months of every partitioned table where missing: pg_partman's
    run_maintenance in the city's time zone (citygrid's own creation where the database has no
    pg_partman). Idempotent; the scheduler also runs it daily."""
    settings = get_settings()
    with db.get_engine().begin() as connection:
        schema = partitions.partman_schema(connection)
        created = partitions.maintain(
            connection, now=datetime.now(UTC), zone=settings.city_zone, months_ahead=months_ahead
        )
    by = "pg_partman" if schema else "citygrid (no pg_partman extension in this database)"
    if created:
        console.print(f"created by {by}: " + ", ".join(created), highlight=False, soft_wrap=True)
    else:
        console.print(f"every partitioned table has its months ready ({by}).", highlight=False)


@partitions_app.command("list")
def partitions_list() -> None:
    """The partitioned tables, their months, whether their DEFAULT partition holds rows, and
    what maintains them."""
    with db.get_engine().connect() as connection:
        tables = partitions.partitioned_tables(connection)
        schema = partitions.partman_schema(connection)
        registered = partitions.registered(connection, schema) if schema else {}
        in_default = {
            table.name
            for table in tables
            if table.default is not None
            and connection.scalar(text(f'SELECT EXISTS (SELECT 1 FROM "{table.default.name}")'))
        }
    for table in tables:
        months = table.months
        span = f"{months[0].name} … {months[-1].name}" if months else "no months"
        default = table.default.name if table.default else "no default partition"
        if table.name in in_default:
            default += " (holds rows dated outside the months: see README, Monthly partitions)"
        if table.name in registered:
            by = f"pg_partman, {registered[table.name]} months ahead"
        elif schema:
            by = "not registered with pg_partman yet: `maintain` registers it"
        else:
            by = "citygrid (no pg_partman extension)"
        console.print(
            f"{table.name} (by {table.column}): {len(months)} months, {span}; {default}; {by}",
            highlight=False,
            soft_wrap=True,
        )


@archive_app.callback()
def archive_months(
    context: typer.Context,
    before: Annotated[
        str | None, typer.Option(help="Archive the months wholly before this one (YYYY-MM).")
    ] = None,
    to: Annotated[
        Path | None,
        typer.Option(help="The folder for the files (default: the state folder's archive/)."),
    ] = None,
) -> None:
    """Detach the month partitions before --before, write each to a checked file (CSV.gz and a
    SHA-256 manifest), verify it, and drop it. Months with open cases' rows stay."""
    if context.invoked_subcommand is not None:
        return
    if before is None:
        raise fail("--before YYYY-MM is required (e.g. --before 2024-01)")
    settings = get_settings()
    try:
        cutoff = partitions.parse_month(before, settings.city_zone)
    except ValueError as error:
        raise fail(f"--before: {error}") from error
    folder = to or settings.state_dir / "archive"
    try:
        done, skipped = archiving.archive(
            db.get_engine(), cutoff, folder, now=datetime.now(UTC), zone=settings.city_zone
        )
    except archiving.ArchiveError as error:
        raise fail(str(error)) from error
    for item in done:
        console.print(
            f"archived {item.partition}: {item.rows} rows, {item.bytes} bytes → {item.manifest}",
            highlight=False,
            soft_wrap=True,
        )
    for kept in skipped:
        console.print(f"kept {kept.partition}: {kept.reason}", highlight=False, soft_wrap=True)
    if not done and not skipped:
        console.print(f"no month partition ends before {before}: nothing to archive.")


@archive_app.command("restore")
def archive_restore(
    manifest: Annotated[
        Path, typer.Argument(help="The month's manifest (PARTITION.json) written by archive.")
    ],
) -> None:
    """Check the file's SHA-256 and attach the month again."""
    try:
        restored = archiving.restore(db.get_engine(), manifest)
    except archiving.ArchiveError as error:
        raise fail(str(error)) from error
    console.print(
        f"restored {restored['partition']} into {restored['table']}: {restored['rows']} rows",
        highlight=False,
    )
