"""`citygrid sensing worker`: runs the MQTT ingest worker in the foreground until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Annotated

import typer

from citygrid import db
from citygrid.broker import mqtt_address
from citygrid.console import console, fail
from citygrid.logs import configure_logging
from citygrid.settings import Settings, get_settings
from sensing.alarms.offline import check_offline
from sensing.worker import IngestWorker, run_until_signalled, worker_sessions


def worker(
    client_id: Annotated[
        str | None,
        typer.Option(help="The persistent session's client id (default CITYGRID_MQTT_CLIENT_ID)."),
    ] = None,
    batch_max: Annotated[
        int | None, typer.Option(min=1, help="Messages per batch (CITYGRID_MQTT_BATCH_MAX).")
    ] = None,
    batch_wait_ms: Annotated[
        float | None,
        typer.Option(
            min=0, help="Wait for more after a batch's first (CITYGRID_MQTT_BATCH_WAIT_MS)."
        ),
    ] = None,
) -> None:
    """Ingest device messages from the MQTT broker until SIGTERM or Ctrl-C (QoS 1, exactly once)."""
    settings = get_settings()
    changes: dict[str, object] = {}
    if client_id is not None:
        changes["mqtt_client_id"] = client_id
    if batch_max is not None:
        changes["mqtt_batch_max"] = batch_max
    if batch_wait_ms is not None:
        changes["mqtt_batch_wait_ms"] = batch_wait_ms
    settings = settings.model_copy(update=changes)
    configure_logging(settings)
    logging.getLogger("sensing").setLevel(logging.INFO)
    try:
        address = mqtt_address(settings)
    except ValueError as error:
        raise fail(str(error)) from error
    console.print(
        f"ingesting from {address.display()} as {settings.mqtt_client_id}; SIGTERM or Ctrl-C stops",
        highlight=False,
        soft_wrap=True,
    )
    ingest = IngestWorker(
        settings,
        address,
        check_offline=lambda: offline_round(settings),
        open_session=worker_sessions(settings),
    )
    stats = asyncio.run(run_until_signalled(ingest))
    console.print(stats.summary(), highlight=False, soft_wrap=True)


def offline_round(settings: Settings) -> None:
    """One offline check (devices silent past their heartbeat file one case each), committed."""
    with db.open_session() as session:
        result = check_offline(session, datetime.now(UTC), settings=settings)
        session.commit()
    if result.offline:
        logging.getLogger("sensing.worker").info(
            "sensing worker: %d device(s) went offline, %d case(s) filed",
            result.offline,
            result.cases_filed,
        )


def main() -> None:
    typer.run(worker)


if __name__ == "__main__":
    main()
