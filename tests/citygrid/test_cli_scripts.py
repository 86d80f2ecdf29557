"""The CLI in scripts: a libpq URL the PostgreSQL tools take, output that never wraps when piped,
progress on stderr, and a database restart that the scheduler reports as one warning."""

from __future__ import annotations

import io
import logging
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import PoolTimeout
from rich.table import Table
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from citygrid import console as cli_console
from citygrid.cli import libpq_url
from dispatch.scheduler import DatabaseWatch, database_gone

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from citygrid.cli import main; main()"]


def run_piped(
    *args: str, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(environment or {})},
        timeout=60,
        check=False,
    )


def run_in_terminal(*args: str) -> str:
    """What a person sees in an 80-column terminal (a pseudo-terminal), escape codes and all."""
    controller, terminal = pty.openpty()
    environment = {**os.environ, "COLUMNS": "80", "LINES": "40", "TERM": "xterm"}
    process = subprocess.Popen(
        [*CLI, *args], cwd=ROOT, stdin=terminal, stdout=terminal, stderr=terminal, env=environment
    )
    os.close(terminal)
    output = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=30)
    os.close(controller)
    return output.decode(errors="replace")


def test_db_url_libpq_is_taken_by_psql(server_url: str) -> None:
    url = run_piped("db", "url", "--libpq", environment={"DATABASE_URL": server_url})
    assert url.returncode == 0, url.stderr
    printed = url.stdout.strip()
    assert printed.startswith("postgresql://") and "+psycopg" not in printed
    psql = subprocess.run(
        ["psql", printed, "-Atc", "SELECT 6 * 7"], capture_output=True, text=True, check=False
    )
    assert (psql.returncode, psql.stdout.strip()) == (0, "42"), psql.stderr


def test_db_psql_opens_psql_on_the_database_in_use(server_url: str) -> None:
    answer = run_piped(
        "db", "psql", "-Atc", "SELECT current_database()", environment={"DATABASE_URL": server_url}
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == make_url(server_url).database


def test_libpq_url_keeps_user_password_host_and_query() -> None:
    url = libpq_url("postgresql+psycopg://city:s3cret@db.example:6543/citygrid?sslmode=require")
    assert url == "postgresql://city:s3cret@db.example:6543/citygrid?sslmode=require"


def test_piped_help_is_plain_and_unwrapped_and_a_terminal_keeps_its_boxes() -> None:
    piped = run_piped("grid", "--help")
    assert piped.returncode == 0, piped.stderr
    assert "╭" not in piped.stdout
    long_lines = [line for line in piped.stdout.splitlines() if len(line) > 80]
    assert long_lines, piped.stdout  # the commands' descriptions stay on one line each
    in_terminal = re.sub(r"\x1b\[[0-9;]*m", "", run_in_terminal("grid", "--help"))
    assert "╭─ Options" in in_terminal and "Usage:" in in_terminal


def test_a_table_and_a_long_path_do_not_wrap_when_piped() -> None:
    output = io.StringIO()
    piped = cli_console.ScriptFriendlyConsole(file=output)
    path = "/var/lib/citygrid/clusters/" + "a" * 120 + "/run"
    piped.print(f"running: {path}, port 5432")
    table = Table(title="units")
    for column in ("code", "name", "folder"):
        table.add_column(column)
    table.add_row("110101001001", "东华门街道第一社区", path)
    piped.print(table)
    lines = output.getvalue().splitlines()
    assert lines[0] == f"running: {path}, port 5432"
    assert any(path in line and "110101001001" in line for line in lines)


def test_progress_when_piped_is_a_line_per_step_on_stderr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    errors = io.StringIO()
    monkeypatch.setattr(cli_console, "err_console", cli_console.ScriptFriendlyConsole(file=errors))
    with cli_console.progress("backing up", 3) as show:
        show("dumping the database", 0, 3)
        show("dumping the database", 0, 3)  # the same step again within seconds: no new line
        show("archiving the photos", 1, 3)
    lines = errors.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        "backing up: 0/3",
        "dumping the database: 0/3",
        "archiving the photos: 1/3",
    ]


def test_what_a_database_restart_raises_is_told_apart_from_a_statement_failure() -> None:
    dropped = psycopg.OperationalError("consuming input failed: server closed the connection")
    assert database_gone(dropped)
    assert database_gone(OperationalError("SELECT 1", {}, dropped))
    assert database_gone(PoolTimeout("couldn't get a connection after 30 s"))
    assert not database_gone(psycopg.errors.QueryCanceled("canceling statement due to timeout"))
    assert not database_gone(psycopg.errors.DeadlockDetected("deadlock detected"))
    assert not database_gone(ValueError("a bug"))


def test_an_outage_is_one_warning_and_its_end_one_info(caplog: pytest.LogCaptureFixture) -> None:
    watch = DatabaseWatch()
    gone = psycopg.OperationalError("server closed the connection unexpectedly\n\tdetails")
    with caplog.at_level(logging.INFO, logger="dispatch.scheduler"):
        for _ in range(5):  # five rounds while the database restarts
            watch.went_away("escalation run", gone)
        watch.answered()
        watch.answered()
    levels = [record.levelname for record in caplog.records]
    assert levels == ["WARNING", "INFO"]
    assert "\n" not in caplog.records[0].getMessage()
