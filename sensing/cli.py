"""`citygrid devices import`, `citygrid sensing check-offline | settle-verifications | sources`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from citygrid import db
from citygrid.console import console, reported_errors
from citygrid.settings import get_settings
from grid.geometry import normalise_crs_name
from sensing.alarms.offline import check_offline
from sensing.alarms.verification import settle_windows
from sensing.devices.imports import import_devices
from sensing.sources import service as sources

sensing_app = typer.Typer(help="Sensing (感知): devices and their alarms.", no_args_is_help=True)
devices_app = typer.Typer(help="The devices registry (感知设备).", no_args_is_help=True)
sources_app = typer.Typer(help="Video-analytics sources posting alarms over HTTP.")
sensing_app.add_typer(sources_app, name="sources")


@devices_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or GeoJSON")],
    datum: Annotated[str, typer.Option(help="WGS-84, GCJ-02 or BD-09")] = "WGS-84",
) -> None:
    """Register the file's devices, all or none (every problem listed)."""
    settings = get_settings()
    with reported_errors(), db.open_session() as session:
        count = import_devices(
            session, file, datum=normalise_crs_name(datum), snap_m=settings.locate_snap_m
        )
        session.commit()
    console.print(f"{count} device(s) registered from {file.name}")


@sensing_app.command("check-offline")
def check_offline_command() -> None:
    """Mark devices silent past their heartbeat offline; each files one "device offline" case."""
    with db.open_session() as session:
        result = check_offline(session, datetime.now(UTC), settings=get_settings())
        session.commit()
    console.print(
        f"{result.offline} device(s) went offline; {result.cases_filed} case(s) filed, "
        f"{result.unfiled} not filed"
    )


@sensing_app.command("settle-verifications")
def settle_command() -> None:
    """Open re-detection windows of handled camera cases and decide those that ended."""
    with db.open_session() as session:
        result = settle_windows(session, datetime.now(UTC), settings=get_settings())
        session.commit()
    console.print(
        f"{result.opened} window(s) opened; {result.passed} passed, {result.failed} failed"
    )


@sources_app.command("issue")
def issue_command(
    code: Annotated[str, typer.Argument(help="A short name, e.g. county-ai")],
    name: Annotated[str, typer.Option(help="The platform's name")] = "",
    threshold: Annotated[
        float | None, typer.Option(help="Confidence at or above which a case files by itself")
    ] = None,
) -> None:
    """A new source and its API key (shown once)."""
    settings = get_settings()
    with reported_errors(), db.open_session() as session:
        issued = sources.issue(
            session,
            code=code,
            name=name or code,
            confidence_threshold=settings.sensing_source_threshold
            if threshold is None
            else threshold,
        )
        session.commit()
    console.print(f"source {code}: X-Api-Key {issued.secret}  (shown once; store it now)")


@sources_app.command("list")
def list_command() -> None:
    """Sources, their key prefixes and thresholds."""
    with db.open_session() as session:
        for source in sources.list_sources(session):
            state = f"revoked {source.revoked_at:%Y-%m-%d}" if source.revoked_at else "active"
            console.print(
                f"{source.code}\t{source.name}\t{source.key_prefix}…\t"
                f"threshold {source.confidence_threshold:g}\t{state}"
            )


@sources_app.command("revoke")
def revoke_command(code: Annotated[str, typer.Argument()]) -> None:
    """Revoke a source's key: its alarms are refused from now on."""
    with reported_errors(), db.open_session() as session:
        sources.revoke(session, code, now=datetime.now(UTC))
        session.commit()
    console.print(f"source {code} revoked")
