"""`citygrid dispatch escalations …` and `citygrid dispatch webhooks …`."""

from __future__ import annotations

import typer

escalations_app = typer.Typer(
    help="Escalation of cases near or past their deadline.", no_args_is_help=True
)
webhooks_app = typer.Typer(help="Webhook deliveries.", no_args_is_help=True)
