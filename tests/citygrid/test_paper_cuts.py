"""Issue 22's paper cuts: the served address, `./dev test`'s cluster, `db prune`, help metavars."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import uvicorn
from typer.testing import CliRunner

from citygrid import cli
from citygrid.cluster import CHECKOUT_FILE, ClusterError, orphaned_clusters, pg_bin
from citygrid.console import click_type_name

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: str = "") -> tuple[int, str]:
    cli.register_domain_commands()
    result = CliRunner().invoke(cli.app, list(args), input=stdin)
    return result.exit_code, result.output


# The served address


@pytest.mark.parametrize(
    ("options", "address"),
    [
        ([], "http://127.0.0.1:8000"),
        (["--port", "8020"], "http://127.0.0.1:8020"),
        (["--host", "0.0.0.0", "--port", "8021"], "http://0.0.0.0:8021"),
        (["--host", "::1", "--port", "8022"], "http://[::1]:8022"),
    ],
)
def test_serve_prints_the_address_it_serves(
    monkeypatch: pytest.MonkeyPatch, options: list[str], address: str
) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: served.update(kwargs))
    exit_code, output = run("serve", *options)
    assert exit_code == 0, output
    assert output.splitlines()[0].startswith(f"serving on {address} ")
    assert address == cli.served_address(served["host"], served["port"])


def test_dev_demo_leaves_the_address_to_serve() -> None:
    assert "127.0.0.1:8000" not in (ROOT / "dev").read_text()


# ./dev test stops the cluster it started, and only that one

FAKE_CITYGRID = """#!/usr/bin/env bash
echo "citygrid $*" >>"$FAKE_LOG"
case "$1 ${2:-}" in
  "db status") [ -f "$FAKE_RUNNING" ]; exit $? ;;
  "db start") touch "$FAKE_RUNNING" ;;
  "db stop") rm -f "$FAKE_RUNNING" ;;
esac
"""
FAKE_PYTHON = """#!/usr/bin/env bash
echo "python $*" >>"$FAKE_LOG"
exit "$FAKE_PYTEST_EXIT"
"""


def fake_checkout(folder: Path) -> Path:
    """A copy of `dev` whose .venv holds stand-ins for citygrid and pytest (installed already)."""
    (folder / ".venv/bin").mkdir(parents=True)
    (folder / "dev").write_text((ROOT / "dev").read_text())
    (folder / "pyproject.toml").write_text("[project]\nname = 'fake'\n")
    stamp = hashlib.sha256((folder / "pyproject.toml").read_bytes()).hexdigest()[:16]
    (folder / ".venv/.citygrid-installed").write_text(stamp + "\n")
    for name, script in (("citygrid", FAKE_CITYGRID), ("python", FAKE_PYTHON)):
        (folder / ".venv/bin" / name).write_text(script)
        (folder / ".venv/bin" / name).chmod(0o755)
    for browser in ("chromium", "chromedriver"):  # so ensure_browser installs nothing
        (folder / "bin").mkdir(exist_ok=True)
        (folder / "bin" / browser).write_text("#!/bin/sh\n")
        (folder / "bin" / browser).chmod(0o755)
    return folder


@pytest.mark.parametrize("running_before", [False, True], ids=["not running", "running"])
def test_dev_test_stops_only_a_cluster_it_started(tmp_path: Path, running_before: bool) -> None:
    try:
        pg_bin()  # without PostGIS, ./dev would install it
    except ClusterError:
        pytest.skip("no PostgreSQL with PostGIS installed here")
    checkout = fake_checkout(tmp_path / "clone")
    log, running = tmp_path / "calls.log", tmp_path / "running"
    if running_before:
        running.touch()
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env |= {"FAKE_LOG": str(log), "FAKE_RUNNING": str(running), "FAKE_PYTEST_EXIT": "3"}
    env["PATH"] = f"{checkout / 'bin'}:{env['PATH']}"
    result = subprocess.run(
        ["bash", str(checkout / "dev"), "test", "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3, result.stderr  # pytest's exit code, kept
    calls = log.read_text().splitlines()
    assert "python -m pytest -q" in calls
    if running_before:
        assert "citygrid db stop" not in calls
        assert running.exists()
    else:
        assert calls[-1] == "citygrid db stop"
        assert not running.exists()


# citygrid db prune


def record_cluster(clusters_dir: Path, key: str, checkout: Path) -> Path:
    """A cluster folder as Cluster._record leaves it (no server: none is initialised)."""
    root = clusters_dir / key
    root.mkdir(parents=True)
    owner = {"state_dir": str(checkout / ".citygrid"), "port": 20001}
    (root / CHECKOUT_FILE).write_text(json.dumps(owner))
    return root


@pytest.fixture
def clusters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """A shared clusters folder with the cluster of a deleted checkout and of a present one."""
    clusters_dir = tmp_path / "clusters"
    monkeypatch.setenv("CITYGRID_CLUSTERS_DIR", str(clusters_dir))
    present = tmp_path / "present"
    (present / ".citygrid").mkdir(parents=True)
    orphan = record_cluster(clusters_dir, "0123456789ab", tmp_path / "deleted")
    kept = record_cluster(clusters_dir, "ba9876543210", present)
    (clusters_dir / "unrecorded").mkdir()  # no checkout.json: not ours to judge
    yield orphan, kept


def test_orphaned_clusters_are_those_whose_checkout_is_gone(clusters: tuple[Path, Path]) -> None:
    orphan, _kept = clusters
    assert [cluster.root for cluster in orphaned_clusters(orphan.parent)] == [orphan]
    assert orphaned_clusters(orphan.parent / "missing") == []


def test_db_prune_removes_the_cluster_of_a_deleted_checkout(clusters: tuple[Path, Path]) -> None:
    orphan, kept = clusters
    exit_code, output = run("db", "prune", "--dry-run")
    assert exit_code == 0, output
    assert str(orphan) in output and orphan.exists()
    exit_code, output = run("db", "prune", stdin="n\n")
    assert exit_code == 1 and orphan.exists()
    exit_code, output = run("db", "prune", "--yes")
    assert exit_code == 0, output
    assert not orphan.exists()
    assert kept.exists() and (orphan.parent / "unrecorded").exists()
    exit_code, output = run("db", "prune", "--yes")
    assert exit_code == 0 and "no cluster" in output


def test_db_start_names_prune_in_one_line(tmp_path: Path) -> None:
    notice = cli.orphans_notice(3, tmp_path)
    assert "\n" not in notice
    assert "3 clusters" in notice and "`citygrid db prune`" in notice


# Help metavars


def command_paths(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from command_paths(command, (*prefix, name))


def all_command_paths() -> list[tuple[str, ...]]:
    cli.register_domain_commands()
    return [(), *command_paths(typer.main.get_command(cli.app))]


@pytest.mark.parametrize("path", all_command_paths(), ids=lambda path: " ".join(path) or "citygrid")
def test_help_shows_click_style_metavars(path: tuple[str, ...]) -> None:
    exit_code, output = run(*path, "--help")
    assert exit_code == 0, output
    assert "<bool>" not in output
    assert not re.search(r"\{[a-z_]+\}", output), output
    assert not re.search(r"<[a-z_]+[^>]*>", output), output


@pytest.mark.parametrize(
    ("typer_label", "is_choice", "click_name"),
    [
        ("<str>", False, "TEXT"),
        ("<int>", False, "INTEGER"),
        ("<int range>", False, "INTEGER RANGE"),
        ("<path>", False, "PATH"),
        ("<file>", False, "FILENAME"),
        ("<list[str]>", False, "TEXT"),
        ("<cell|street>", True, "[cell|street]"),
    ],
)
def test_click_type_names(typer_label: str, is_choice: bool, click_name: str) -> None:
    assert click_type_name(typer_label, is_choice=is_choice) == click_name


def test_usage_line_shows_arguments_in_capitals() -> None:
    _exit_code, output = run("db", "backup", "--help")
    assert "db backup [OPTIONS] FILE" in output
