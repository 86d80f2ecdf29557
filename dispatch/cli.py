"""`citygrid dispatch …`: routing rules, and the scheduler's jobs run once from the command line
(escalations, webhook deliveries)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from citygrid import db
from citygrid.settings import get_settings
from dispatch import scheduler
from dispatch.rules.cli import rules_app
from dispatch.webhooks import service as webhooks

escalations_app = typer.Typer(
    help="Escalation of cases near or past their deadline.", no_args_is_help=True
)
webhooks_app = typer.Typer(help="Webhook deliveries.", no_args_is_help=True)

NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="The time to run at, ISO 8601 with offset (e.g. 2026-11-26T09:00:00+08:00); "
        "default: the current time.",
    ),
]
BUSY_EXIT_CODE = 75  # EX_TEMPFAIL: another process holds the job; try again later


def parse_now(raw: str | None) -> datetime:
    """The --now option as an aware datetime; the current time when absent."""
    if raw is None:
        return datetime.now(UTC)
    try:
        now = datetime.fromisoformat(raw)
    except ValueError as error:
        raise typer.BadParameter(f"not an ISO 8601 time: {raw!r}", param_hint="--now") from error
    if now.tzinfo is None:
        raise typer.BadParameter("give the offset too, e.g. +08:00 or Z", param_hint="--now")
    return now


@escalations_app.command("run")
def run_escalations(now: NowOption = None) -> None:
    """Fire the escalation steps due now (or at --now) and print what was done."""
    at = parse_now(now)
    with db.open_session() as session:
        report = scheduler.escalate_once(session, at, settings=get_settings())
    if report is None:
        typer.echo("another process is running escalations; nothing done")
        raise typer.Exit(BUSY_EXIT_CODE)
    by_step = ", ".join(f"{step} {count}" for step, count in sorted(report.fired.items()))
    typer.echo(
        f"examined {report.examined} assignments; fired {report.fired_total} steps"
        f"{f' ({by_step})' if by_step else ''}; wrote {report.notifications} notifications; "
        f"queued {report.deliveries} webhook deliveries"
    )


@webhooks_app.command("deliver")
def deliver(now: NowOption = None) -> None:
    """Post the webhook deliveries due now (or at --now) and print the outcome."""
    at = parse_now(now)
    total = webhooks.DeliveryReport()
    while True:
        with db.open_session() as session:
            batch = scheduler.deliver_batch(session, at, settings=get_settings())
        if batch is None:
            typer.echo("another process is delivering webhooks; nothing done")
            raise typer.Exit(BUSY_EXIT_CODE)
        total.add(batch)
        if batch.attempted < webhooks.DELIVERY_BATCH:
            break
    typer.echo(
        f"attempted {total.attempted}: delivered {total.delivered}, "
        f"retrying {total.retrying}, failed {total.failed}"
    )


dispatch_app = typer.Typer(
    help="Dispatch: routing rules, escalations, webhooks.", no_args_is_help=True
)
dispatch_app.add_typer(rules_app, name="rules")
dispatch_app.add_typer(escalations_app, name="escalations")
dispatch_app.add_typer(webhooks_app, name="webhooks")
