"""The `citygrid` command: help everywhere, database commands, health with the database down."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid import cli, db
from citygrid.app import create_app
from citygrid.settings import get_settings


def command_paths(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every sub-command below a group (typer vendors its own click, so duck-typed)."""
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from command_paths(command, (*prefix, name))


def all_command_paths() -> list[tuple[str, ...]]:
    cli.register_domain_commands()
    root = typer.main.get_command(cli.app)
    return [(), *command_paths(root)]


@pytest.mark.parametrize("path", all_command_paths(), ids=lambda path: " ".join(path) or "citygrid")
def test_every_command_has_help(run_cli: Callable[..., Result], path: tuple[str, ...]) -> None:
    result = run_cli(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_expected_commands_exist() -> None:
    paths = {" ".join(path) for path in all_command_paths()}
    expected = {
        "db start",
        "db stop",
        "db status",
        "db url",
        "db upgrade",
        "db downgrade",
        "users create",
        "grid import",
        "grid generate",
        "demo load",
        "serve",
    }
    assert expected <= paths


def test_db_url_and_status(run_cli: Callable[..., Result]) -> None:
    url = run_cli("db", "url")
    assert url.exit_code == 0
    assert url.output.strip() == get_settings().resolved_database_url()
    status = run_cli("db", "status")
    assert status.exit_code == 0, status.output
    expected = "external PostGIS" if get_settings().database_url else "running"
    assert expected in status.output


def test_health_is_503_with_retry_after_when_the_database_does_not_answer() -> None:
    unreachable = create_engine("postgresql+psycopg://nobody@/none?host=/nonexistent&port=1")

    def dead_session() -> Iterator[Session]:
        with Session(unreachable) as session:
            yield session

    app = create_app()
    app.dependency_overrides[db.get_session] = dead_session
    with TestClient(app) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["database"] == "not answering"
