"""`citygrid dispatch …`: routing rules, escalations and webhook deliveries."""

from __future__ import annotations

import typer

from dispatch.escalation.cli import escalations_app, webhooks_app
from dispatch.rules.cli import rules_app

dispatch_app = typer.Typer(
    help="Dispatch: routing rules, escalations, webhooks.", no_args_is_help=True
)
dispatch_app.add_typer(rules_app, name="rules")
dispatch_app.add_typer(escalations_app, name="escalations")
dispatch_app.add_typer(webhooks_app, name="webhooks")
