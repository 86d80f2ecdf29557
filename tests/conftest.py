"""A throwaway PostGIS database per run, built by `alembic upgrade head`; a transaction per test."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

os.environ.setdefault("CITYGRID_ENV", "test")
# Tests run escalations and deliveries themselves, with a clock they control.
os.environ.setdefault("CITYGRID_SCHEDULER_ENABLED", "false")

from citygrid import cli as citygrid_cli
from citygrid import db, rate_limit
from citygrid.accounts.auth import issue_token
from citygrid.accounts.roles import Principal, Role
from citygrid.app import create_app
from citygrid.settings import get_settings
from events import taxonomy
from events.categories import service as categories


def create_throwaway_database(server_url: str, name: str) -> str:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def server_url() -> str:
    return get_settings().resolved_database_url()


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    name = f"citygrid_test_{os.getpid()}_{secrets.token_hex(3)}"
    url = create_throwaway_database(server_url, name)
    try:
        yield url
    finally:
        drop_database(server_url, name)


@pytest.fixture(scope="session")
def empty_database_url(server_url: str) -> Iterator[str]:
    """A second throwaway database with no schema, for the migration tests."""
    with throwaway_database(server_url) as url:
        yield url


def without_autovacuum(engine: Engine) -> None:
    """Autovacuum off for the test database's tables. Every test rolls back, so an automatic
    ANALYZE would find tables of dead pages and no live rows, and record them as empty: the
    planner then expects one row from a table that a test has just filled with thousands and
    picks nested loops (a 0.6 s test took 50 s). Never analysed, a table is estimated from its
    current size instead."""
    with engine.connect() as connection:
        # Ordinary tables only: a partitioned parent has no storage of its own (its partitions,
        # ordinary tables, take the setting).
        tables = connection.scalars(
            text(
                "SELECT quote_ident(c.relname) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r'"
            )
        ).all()
        for table in tables:
            connection.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
        connection.commit()


@pytest.fixture(scope="session")
def engine(server_url: str) -> Iterator[Engine]:
    with throwaway_database(server_url) as url:
        citygrid_cli.migrate(url)
        engine = db.make_engine(url, pool_size=5)
        without_autovacuum(engine)
        # Committed once: every test sees the real taxonomy, as a set-up database has it.
        with Session(engine) as session:
            categories.load_taxonomy(session, taxonomy.read_taxonomy())
            session.commit()
        yield engine
        engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        yield session
        session.close()
        transaction.rollback()


@pytest.fixture(scope="session")
def served(engine: Engine) -> Iterator[tuple[FastAPI, TestClient]]:
    """One app for the whole run: its lifespan (gc.freeze, the statistics' warm-up) runs once."""
    app = create_app()
    with TestClient(app) as test_client:
        yield app, test_client


@pytest.fixture
def client(served: tuple[FastAPI, TestClient], session: Session) -> Iterator[TestClient]:
    """The shared app, with this test's session behind every request and no cookies left over."""
    app, test_client = served
    app.dependency_overrides.clear()
    app.dependency_overrides[db.get_session] = lambda: session
    app.dependency_overrides[db.get_row_fetcher] = lambda: db.session_fetcher(session)
    app.dependency_overrides[db.get_writer] = lambda: db.SessionWriter(session)
    test_client.cookies.clear()
    # Rate limiters count per app: each test starts with none, as with an app of its own.
    rate_limit.forget_limiters(app.state)
    yield test_client
    app.dependency_overrides.clear()
    test_client.cookies.clear()


def token_for(role: Role, *, user_id: int = 1, department_id: int | None = None) -> str:
    """A token for the role; it outlives a whole test run (some modules make theirs at import)."""
    if role is Role.DEPARTMENT and department_id is None:
        department_id = 1
    principal = Principal(user_id, f"test-{role}", role, department_id)
    return issue_token(principal, secret=get_settings().secret_key, ttl=timedelta(hours=2))


@pytest.fixture
def auth() -> Callable[[Role], dict[str, str]]:
    """Headers carrying a valid token for a role."""
    return lambda role: {"Authorization": f"Bearer {token_for(role)}"}


@pytest.fixture
def run_cli(session: Session, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run a `citygrid` command inside the test's transaction."""

    @contextmanager
    def test_session() -> Iterator[Session]:
        yield session

    # Every command opens its session through citygrid.db.open_session: one place to replace.
    monkeypatch.setattr(db, "open_session", test_session)
    citygrid_cli.register_domain_commands()
    runner = CliRunner()

    def run(*args: str, input_text: str | None = None) -> Result:
        return runner.invoke(citygrid_cli.app, list(args), input=input_text)

    return run
