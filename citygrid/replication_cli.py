"""`citygrid db replica …` (local streaming standbys) and `citygrid db ha …` (pg_auto_failover)."""

from __future__ import annotations

from typing import Annotated

import typer

from citygrid.cluster import Cluster, ClusterError
from citygrid.console import console, fail
from citygrid.ha import MONITOR, NODES, Formation
from citygrid.replicas import Standby, replication_lag, standbys
from citygrid.settings import PROJECT_DIR, get_settings, normalise_database_url

replica_app = typer.Typer(
    help="Local streaming standbys of the embedded cluster (read replicas, for trials).",
    no_args_is_help=True,
)
ha_app = typer.Typer(
    help="High availability for trials: a pg_auto_failover monitor and two data nodes here.",
    no_args_is_help=True,
)


def primary_cluster() -> Cluster:
    settings = get_settings()
    if settings.database_url:
        raise fail(
            "DATABASE_URL is set: `db replica` makes standbys of the embedded cluster only; "
            "make a standby of that server with pg_basebackup --write-recovery-conf"
        )
    return Cluster.for_state_dir(settings.state_dir)


@replica_app.command("add")
def replica_add(
    name: Annotated[str, typer.Option(help="The standby's name (its folder and slot).")] = "",
) -> None:
    """Copy the running embedded cluster into a hot standby that streams from it, start it,
    and print its URL for CITYGRID_REPLICA_URLS."""
    primary = primary_cluster()
    taken = {standby.name for standby in standbys(primary)}
    if not name:
        name = next(f"replica_{n}" for n in range(1, len(taken) + 2) if f"replica_{n}" not in taken)
    try:
        standby = Standby.of(primary, name)
        standby.create_from(primary)
    except ClusterError as error:
        raise fail(str(error)) from error
    urls = [standby.url() for standby in standbys(primary)]
    console.print(
        f"standby {name} streams from the embedded cluster; it runs in {standby.root}.\n"
        f"its URL: {standby.url()}\n"
        "read from it (and the other standbys) with:\n"
        f"  export CITYGRID_REPLICA_URLS='{json_list(urls)}'",
        highlight=False,
        soft_wrap=True,
    )


def json_list(urls: list[str]) -> str:
    import json

    return json.dumps(urls)


@replica_app.command("list")
def replica_list() -> None:
    """The standbys, whether they run, and their replay lag as the primary reports it."""
    primary = primary_cluster()
    found = standbys(primary)
    if not found:
        console.print("no standby; `citygrid db replica add` makes one.")
        return
    lags = replication_lag(primary) if primary.is_running() else {}
    for standby in found:
        running = "running" if standby.is_running() else "stopped"
        state, lag = lags.get(standby.name, ("not streaming", None))
        lag_text = "caught up" if lag is None else f"replay lag {lag:.3f} s"
        console.print(
            f"{standby.name}: {running}, {state}, {lag_text}; {standby.url()}",
            highlight=False,
            soft_wrap=True,
        )


@replica_app.command("remove")
def replica_remove(name: Annotated[str, typer.Argument(help="The standby's name.")]) -> None:
    """Stop a standby, delete its folder and drop its replication slot."""
    primary = primary_cluster()
    matching = [standby for standby in standbys(primary) if standby.name == name]
    if not matching:
        raise fail(f"no standby named {name!r} (`citygrid db replica list`)")
    try:
        matching[0].remove(primary)
    except ClusterError as error:
        raise fail(str(error)) from error
    console.print(f"standby {name} removed; take its URL out of CITYGRID_REPLICA_URLS.")


def formation() -> Formation:
    return Formation.for_state_dir(get_settings().state_dir)


@ha_app.command("init")
def ha_init(
    database: Annotated[str, typer.Option(help="The application's database.")] = "citygrid",
) -> None:
    """Create a monitor and two data nodes (primary and synchronous standby), start them,
    migrate the database on the primary, and print the multi-host DATABASE_URL."""
    ha = formation()
    try:
        ha.init(database, report=lambda step: console.print(step, highlight=False))
        migrate_primary(normalise_database_url(ha.database_url(database)))
    except ClusterError as error:
        raise fail(str(error)) from error
    console.print(
        f"pg_auto_failover formation in {ha.root}: monitor {ha.monitor_uri}\n"
        f"synchronous standby: {ha.synchronous_standby_names(NODES[0])}\n"
        "schema migrated on the primary. Point the app at both nodes:\n"
        f"  export DATABASE_URL='{ha.database_url(database)}'\n"
        f"(the same for psql: {ha.multi_host_url(database)})",
        highlight=False,
        soft_wrap=True,
    )


def migrate_primary(url: str) -> None:
    """`alembic upgrade head` on the formation's primary (PostGIS comes with the first
    migration), in one transaction, as `citygrid db upgrade` does."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import NullPool, create_engine

    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        config = Config(str(PROJECT_DIR / "alembic.ini"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    engine.dispose()


@ha_app.command("status")
def ha_status() -> None:
    """Each node's state as the monitor sees it (exit 1 when the monitor does not answer)."""
    ha = formation()
    if not ha.is_initialised():
        raise fail(f"no formation in {ha.root}; run `citygrid db ha init`")
    try:
        states = ha.states()
    except Exception as error:
        raise fail(f"the monitor does not answer ({error}); `citygrid db ha start`") from error
    console.print(f"monitor: {ha.monitor_uri}", highlight=False, soft_wrap=True)
    for state in states:
        health = "healthy" if state.healthy else "UNHEALTHY"
        goal = "" if state.settled else f" → {state.assigned}"
        console.print(
            f"{state.name}: port {state.port}, {state.current}{goal}, {health}", highlight=False
        )
    console.print(f"DATABASE_URL={ha.database_url()}", highlight=False, soft_wrap=True)


@ha_app.command("start")
def ha_start() -> None:
    """Start the monitor's and the nodes' keepers (each starts its PostgreSQL)."""
    ha = formation()
    try:
        ha.start()
    except ClusterError as error:
        raise fail(str(error)) from error
    console.print(f"started: {MONITOR}, {', '.join(NODES)} in {ha.root}", highlight=False)


@ha_app.command("stop")
def ha_stop() -> None:
    """Stop the nodes' keepers and PostgreSQL cleanly, then the monitor."""
    ha = formation()
    try:
        ha.stop()
    except ClusterError as error:
        raise fail(str(error)) from error
    console.print("stopped.")


@ha_app.command("remove")
def ha_remove(
    yes: Annotated[bool, typer.Option("--yes", help="Remove without asking.")] = False,
) -> None:
    """Stop the formation and delete its folders (every node's data)."""
    ha = formation()
    if not yes and not typer.confirm(f"delete {ha.root} and all its data?", default=False):
        raise fail("nothing removed (--yes removes it without asking)")
    ha.remove()
    console.print(f"removed {ha.root}.", highlight=False)
