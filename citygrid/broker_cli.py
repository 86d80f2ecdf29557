"""`citygrid broker start|stop|status|url`: the embedded mosquitto, managed like `citygrid db`."""

from __future__ import annotations

from typing import Annotated

import typer

from citygrid.broker import BrokerError, embedded_broker, mqtt_address
from citygrid.console import console, fail
from citygrid.settings import get_settings

broker_app = typer.Typer(
    help="The embedded MQTT broker (mosquitto) of the sensing intake.", no_args_is_help=True
)


@broker_app.command("start")
def broker_start() -> None:
    """Start the embedded broker (its folder and port are made on first start)."""
    settings = get_settings()
    broker = embedded_broker(settings)
    if broker is None:
        console.print(
            f"MQTT_URL is set: using {mqtt_address(settings).display()}, no broker started.",
            highlight=False,
        )
        return
    try:
        broker.start()
    except BrokerError as error:
        raise fail(str(error)) from error
    console.print(
        f"mosquitto is running in {broker.root} ({broker.address().display()},"
        f" socket {broker.socket_path}).",
        highlight=False,
        soft_wrap=True,
    )


@broker_app.command("stop")
def broker_stop(
    kill: Annotated[
        bool, typer.Option(help="SIGKILL: lose what arrived since the last autosave.")
    ] = False,
) -> None:
    """Stop the embedded broker (it saves its persistent sessions and queued messages first)."""
    settings = get_settings()
    broker = embedded_broker(settings)
    if broker is None:
        console.print("MQTT_URL is set: there is no embedded broker to stop.")
        return
    try:
        broker.stop(kill=kill)
    except BrokerError as error:
        raise fail(str(error)) from error
    console.print("mosquitto stopped.")


@broker_app.command("status")
def broker_status() -> None:
    """Say whether the embedded broker is running (exit 1 when it is not)."""
    settings = get_settings()
    broker = embedded_broker(settings)
    if broker is None:
        console.print(
            f"MQTT_URL is set: using {mqtt_address(settings).display()}.", highlight=False
        )
        return
    pid = broker.pid()
    if pid is None:
        raise fail(f"the broker in {broker.root} is stopped; run `citygrid broker start`")
    console.print(
        f"running (pid {pid}): {broker.address().display()}, socket {broker.socket_path},"
        f" folder {broker.root}",
        highlight=False,
        soft_wrap=True,
    )


@broker_app.command("url")
def broker_url() -> None:
    """Print where MQTT clients connect (without a password)."""
    print(mqtt_address(get_settings()).display())
