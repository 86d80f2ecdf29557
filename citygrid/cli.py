"""The `citygrid` command: the embedded database, migrations, users, the grid, the demo city."""

from __future__ import annotations

import getpass
import os
import shutil
from pathlib import Path
from typing import Annotated

import typer
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import URL, NullPool, create_engine, make_url

from citygrid import backup, db
from citygrid.accounts.roles import Role
from citygrid.cluster import (
    Cluster,
    ClusterError,
    orphaned_clusters,
    remove_cluster,
    shared_clusters_dir,
)
from citygrid.console import ClickStyleHelpGroup, console, fail, progress, reported_errors
from citygrid.settings import PROJECT_DIR, get_settings

app = typer.Typer(
    cls=ClickStyleHelpGroup,
    help="citygrid: grid-based city management (网格化城市管理).",
    no_args_is_help=True,
)
db_app = typer.Typer(
    help="The embedded PostgreSQL + PostGIS cluster and migrations.", no_args_is_help=True
)
users_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")


def embedded_cluster() -> Cluster | None:
    """The project's own cluster, or None when DATABASE_URL points elsewhere."""
    settings = get_settings()
    if settings.database_url:
        return None
    return Cluster.for_state_dir(settings.state_dir)


def alembic_config() -> Config:
    return Config(str(PROJECT_DIR / "alembic.ini"))


def migrate(url: str, revision: str = "head", *, down: bool = False) -> None:
    """Migrate the database at `url` up (or down) to `revision`, in one transaction."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)
    engine.dispose()


@db_app.command("start")
def db_start() -> None:
    """Create (first time) and start the embedded cluster, and create the `citygrid` database."""
    cluster = embedded_cluster()
    if cluster is None:
        console.print("DATABASE_URL is set: using that PostGIS, no embedded cluster started.")
        return
    try:
        cluster.start()
        cluster.ensure_database("citygrid")
    except ClusterError as error:
        raise fail(str(error)) from error
    console.print(f"PostgreSQL is running in {cluster.root} (socket port {cluster.port}).")
    orphans = orphaned_clusters(shared_clusters_dir())
    if orphans:
        console.print(
            orphans_notice(len(orphans), shared_clusters_dir()), highlight=False, soft_wrap=True
        )


def orphans_notice(count: int, clusters_dir: Path) -> str:
    """The one line `db start` prints about clusters whose checkout no longer exists."""
    clusters = "cluster" if count == 1 else "clusters"
    return (
        f"{count} {clusters} in {clusters_dir} belong to checkouts that no longer exist;"
        " `citygrid db prune` stops and removes them."
    )


@db_app.command("prune")
def db_prune(
    yes: Annotated[bool, typer.Option("--yes", help="Remove them without asking.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list them; remove nothing.")
    ] = False,
) -> None:
    """Stop and remove the clusters whose checkout no longer exists."""
    clusters_dir = shared_clusters_dir()
    orphans = orphaned_clusters(clusters_dir)
    if not orphans:
        console.print(
            f"no cluster in {clusters_dir} has lost its checkout.", highlight=False, soft_wrap=True
        )
        return
    for orphan in orphans:
        console.print(
            f"{orphan.root}: its checkout {orphan.state_dir.parent} is gone",
            highlight=False,
            soft_wrap=True,
        )
    if dry_run:
        return
    if not yes and not typer.confirm(f"stop and remove these {len(orphans)}?", default=False):
        raise fail("nothing removed (--yes removes them without asking)")
    try:
        for orphan in orphans:
            remove_cluster(orphan)
    except (ClusterError, OSError) as error:
        raise fail(str(error)) from error
    console.print(f"removed {len(orphans)} orphaned cluster(s).")


@db_app.command("stop")
def db_stop(
    immediate: Annotated[bool, typer.Option(help="Stop without a clean shutdown.")] = False,
) -> None:
    """Stop the embedded cluster."""
    cluster = embedded_cluster()
    if cluster is None:
        console.print("DATABASE_URL is set: there is no embedded cluster to stop.")
        return
    cluster.stop("immediate" if immediate else "fast")
    console.print("PostgreSQL stopped.")


@db_app.command("status")
def db_status() -> None:
    """Say whether the embedded cluster is running (exit 1 when it is not)."""
    cluster = embedded_cluster()
    if cluster is None:
        console.print("DATABASE_URL is set: using an external PostGIS.")
        return
    if not cluster.is_initialised():
        raise fail(f"no cluster yet (it would live in {cluster.root}); run `citygrid db start`")
    if not cluster.is_running():
        raise fail(f"the cluster in {cluster.root} is stopped; run `citygrid db start`")
    console.print(f"running: {cluster.root}, socket {cluster.socket_dir}, port {cluster.port}")


@db_app.command("url")
def db_url(
    libpq: Annotated[
        bool,
        typer.Option(
            "--libpq", help="Print the URL psql, pg_dump and other PostgreSQL tools take."
        ),
    ] = False,
) -> None:
    """Print the SQLAlchemy URL of the database in use (or, with --libpq, the libpq URL)."""
    url = get_settings().resolved_database_url()
    print(libpq_url(url) if libpq else url)


def libpq_url(sqlalchemy_url: str) -> str:
    """postgresql+psycopg://u:p@/db?host=… → postgresql://u:p@/db?host=… (what libpq parses)."""
    url = make_url(sqlalchemy_url)
    libpq = URL.create(
        "postgresql", url.username, url.password, url.host, url.port, url.database, url.query
    )
    return libpq.render_as_string(hide_password=False)


@db_app.command("psql", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def db_psql(context: typer.Context) -> None:
    """Open psql on the database in use; further arguments go to psql (e.g. -c 'SELECT 1')."""
    target = backup.LibpqTarget.from_sqlalchemy_url(get_settings().resolved_database_url())
    psql = shutil.which("psql")
    if psql is None:
        raise fail("psql is not installed; install postgresql-client")
    # Replaces this process: psql gets the terminal, its exit status is the command's.
    os.execve(psql, [psql, target.uri, *context.args], target.environment())


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    command.upgrade(alembic_config(), revision)
    console.print(f"database schema at {revision}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
) -> None:
    """Revert migrations down to REVISION."""
    command.downgrade(alembic_config(), revision)
    console.print(f"database schema at {revision}")


@db_app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="The backup file to write (must not exist).")],
) -> None:
    """Write the whole database and the photos folder to FILE (pg_dump + tar, with a manifest)."""
    settings = get_settings()
    with reported_errors(), progress(f"backing up to {file}", 4) as show:
        summary = backup.backup_database(
            settings.resolved_database_url(), file, settings.media_dir, progress=show
        )
    console.print(
        f"backup written to {summary.path}: {len(summary.tables)} tables, {summary.rows:,} rows,"
        f" {summary.photo_files:,} photo files, {summary.size_bytes / 1e6:,.1f} MB"
        f" in {summary.elapsed_s:.1f} s (schema {summary.schema_revision or 'not migrated'})",
        highlight=False,
    )


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="A file written by `citygrid db backup`.")],
    force: Annotated[
        bool, typer.Option(help="Replace a database and photos folder that are not empty.")
    ] = False,
) -> None:
    """Restore the database and the photos folder from FILE, after checking its checksums."""
    settings = get_settings()
    with reported_errors(), progress(f"restoring {file}", 3) as show:
        summary = backup.restore_database(
            settings.resolved_database_url(), file, settings.media_dir, force=force, progress=show
        )
    console.print(
        f"restored {summary.source} (made {summary.created_at:%Y-%m-%d %H:%M} UTC):"
        f" {len(summary.tables)} tables, {summary.rows:,} rows, {summary.photo_files:,} photo"
        f" files in {summary.elapsed_s:.1f} s; row counts match the backup's",
        highlight=False,
    )
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if summary.schema_revision != head:
        console.print(
            f"schema at {summary.schema_revision}, this code expects {head}:"
            " run `citygrid db upgrade`",
            highlight=False,
        )


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[Role, typer.Option(help="The user's role.")],
    password: Annotated[
        str | None, typer.Option(help="Password; asked for when omitted.", show_default=False)
    ] = None,
    display_name: Annotated[str | None, typer.Option(help="Name shown in the UI.")] = None,
    department: Annotated[
        str | None, typer.Option(help="Department code (role `department` only).")
    ] = None,
) -> None:
    """Create a user with a role."""
    from citygrid.accounts.schemas import UserCreate
    from citygrid.accounts.service import create_user

    if password is None:
        password = getpass.getpass(f"password for {username}: ")
    try:
        user_in = UserCreate(
            username=username,
            password=password,
            role=role,
            display_name=display_name,
            department_code=department,
        )
    except ValueError as error:
        raise fail(str(error)) from error
    with db.open_session() as session, reported_errors():
        user = create_user(session, user_in)
        session.commit()
        console.print(f"created user {user.username} ({user.role}), id {user.id}")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the API (OpenAPI docs at /docs)."""
    import uvicorn

    from citygrid.logs import configure_logging

    console.print(serving_message(host, port), highlight=False, soft_wrap=True)
    uvicorn.run(
        "citygrid.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        # Each worker process applies it again; the app logs each request itself (middleware).
        log_config=configure_logging(get_settings()),
        access_log=False,
    )


def served_address(host: str, port: int) -> str:
    """The URL a browser opens for `serve --host HOST --port PORT`."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serving_message(host: str, port: int) -> str:
    """The line `citygrid serve` prints before it starts listening."""
    address = served_address(host, port)
    return f"serving on {address} (API docs: {address}/docs); Ctrl-C stops"


def register_domain_commands() -> None:
    """Domain packages add their own sub-commands (grid import/generate, demo), once."""
    from analysis.cli import analysis_app
    from citygrid.broker_cli import broker_app
    from citygrid.demo.city import demo_app
    from components.cli import components_app
    from dispatch.actions.workflow import DispatchWorkflow
    from dispatch.cli import dispatch_app
    from events.cli import taxonomy_app
    from events.hotline.cli import hotline_cli
    from events.open311.cli import open311_app
    from events.recurrence.cli import recurrence_app
    from events.suggestions.cli import suggestions_app
    from grid.cli import grid_app
    from grid.places.cli import places_app
    from maps.cli import maps_app
    from sensing.cli import devices_app, sensing_app

    registered = {group.name for group in app.registered_groups}
    for name, sub_app in (
        ("grid", grid_app),
        ("places", places_app),
        ("demo", demo_app),
        ("taxonomy", taxonomy_app),
        ("dispatch", dispatch_app),
        ("open311", open311_app),
        ("hotline", hotline_cli(DispatchWorkflow)),
        ("maps", maps_app),
        ("components", components_app),
        ("suggestions", suggestions_app),
        ("recurrence", recurrence_app),
        ("analysis", analysis_app),
        ("broker", broker_app),
        ("sensing", sensing_app),
        ("devices", devices_app),
    ):
        if name not in registered:
            app.add_typer(sub_app, name=name)
    # `db replica …` and `db ha …` (citygrid/replication_cli.py).
    from citygrid.partitions_cli import archive_app, partitions_app  # monthly partitions
    from citygrid.replication_cli import ha_app, replica_app

    db_groups = {group.name for group in db_app.registered_groups}
    for name, sub_app in (
        ("replica", replica_app),
        ("ha", ha_app),
        ("partitions", partitions_app),
        ("archive", archive_app),
    ):
        if name not in db_groups:
            db_app.add_typer(sub_app, name=name)


def main() -> None:
    register_domain_commands()
    app()
