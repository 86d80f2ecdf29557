"""`citygrid suggestions ...`: train the category suggestion model, list and disable versions."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from citygrid import db
from citygrid.console import console, reported_errors
from events.suggestions import service

suggestions_app = typer.Typer(
    help="Category suggestions at intake: train, list, enable, disable.", no_args_is_help=True
)


@suggestions_app.command("train")
def train(
    floor: Annotated[
        float,
        typer.Option(
            envvar="CITYGRID_SUGGESTION_FLOOR",
            help="Held-out top-3 accuracy a version needs to be enabled.",
        ),
    ] = service.DEFAULT_FLOOR,
    held_out: Annotated[
        float,
        typer.Option(help="The latest fraction of cases measured on (between 0 and 1)."),
    ] = service.DEFAULT_HELD_OUT,
) -> None:
    """Train on closed cases never returned or re-categorised, and on corrected cases."""
    with db.open_session() as session, reported_errors():
        outcome = service.train(session, floor=floor, held_out_fraction=held_out)
        session.commit()
    version = outcome.version
    console.print(
        f"version {version.id}: trained on {version.cases} cases "
        f"({outcome.closed_cases} closed, {outcome.corrections} corrected), "
        f"{version.categories} categories, in {version.seconds:.1f} s",
        highlight=False,
    )
    console.print(
        f"held-out (latest {version.held_out} cases): top-1 {version.top1:.1%}, "
        f"top-3 {version.top3:.1%}",
        highlight=False,
    )
    verdict = "enabled" if version.enabled else "NOT enabled"
    console.print(
        f"{verdict}: top-3 {version.top3:.1%} against the floor {version.floor:.1%}",
        highlight=False,
    )


@suggestions_app.command("list")
def list_versions() -> None:
    """The latest versions, newest first; intake uses the newest enabled one."""
    with db.open_session() as session:
        rows = service.versions(session)
    table = Table(title="category suggestion models")
    for column in ("version", "trained at", "cases", "corrections", "top-1", "top-3", "enabled"):
        table.add_column(column)
    for version in rows:
        table.add_row(
            str(version.id),
            f"{version.trained_at:%Y-%m-%d %H:%M}",
            str(version.cases),
            str(version.corrections),
            f"{version.top1:.1%}",
            f"{version.top3:.1%}",
            "yes" if version.enabled else "no",
        )
    console.print(table)


@suggestions_app.command("enable")
def enable(version: Annotated[int, typer.Argument(help="The version to enable.")]) -> None:
    """Enable a version by hand (the newest enabled one is used)."""
    with db.open_session() as session, reported_errors():
        service.set_enabled(session, version, True)
        session.commit()
    console.print(f"version {version} enabled", highlight=False)


@suggestions_app.command("disable")
def disable(
    version: Annotated[
        int | None, typer.Argument(help="The version to disable (default: every version).")
    ] = None,
) -> None:
    """Disable a version, or all: intake then suggests nothing."""
    with db.open_session() as session, reported_errors():
        if version is None:
            count = service.disable_all(session)
            message = f"{count} versions disabled"
        else:
            service.set_enabled(session, version, False)
            message = f"version {version} disabled"
        session.commit()
    console.print(message, highlight=False)
