"""`citygrid open311 …`: API keys of Open311 client applications."""

from __future__ import annotations

from typing import Annotated

import typer

from citygrid import db
from citygrid.errors import NotFound
from events.open311 import keys

open311_app = typer.Typer(help="Open311 GeoReport v2: client API keys.", no_args_is_help=True)
keys_app = typer.Typer(help="Issue, list and revoke API keys.", no_args_is_help=True)
open311_app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="The client application's name.")],
    requests_per_minute: Annotated[
        int, typer.Option("--requests-per-minute", min=1, help="POSTs per minute with this key.")
    ] = 60,
) -> None:
    """Issue a key: printed once, only its SHA-256 is stored."""
    with db.open_session() as session:
        issued = keys.issue_key(session, name=name, requests_per_minute=requests_per_minute)
        session.commit()
        typer.echo(f"key {issued.key.id} for {name} ({requests_per_minute} requests per minute)")
        typer.echo(issued.secret)
        typer.echo("Store it now: it cannot be shown again.", err=True)


@keys_app.command("list")
def list_keys() -> None:
    """Every key: id, prefix, name, rate, created, revoked."""
    with db.open_session() as session:
        for key in keys.list_keys(session):
            revoked = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            typer.echo(
                f"{key.id}\t{key.key_prefix}…\t{key.name}\t{key.requests_per_minute}/min\t"
                f"created {key.created_at:%Y-%m-%d %H:%M}\t{revoked}"
            )


@keys_app.command("revoke")
def revoke(key_id: Annotated[int, typer.Argument(help="The key's id (see keys list).")]) -> None:
    """Revoke a key: POSTs with it are refused (403) from now on."""
    with db.open_session() as session:
        try:
            key = keys.revoke_key(session, key_id)
        except NotFound as error:
            typer.echo(error.message, err=True)
            raise typer.Exit(code=1) from error
        session.commit()
        typer.echo(f"key {key.id} ({key.name}) revoked")
