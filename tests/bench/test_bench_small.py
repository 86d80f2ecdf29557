"""Every benchmark runs at a tiny size from an empty bench database, so none can rot unnoticed.

Each command of bench/README.md runs as a subprocess with BENCH_DATABASE_URL pointing at a fresh,
empty database on the test server (dropped afterwards), with the sizes cut to about a thousand
cells and cases and the wrk runs cut to a second (skipped, with a line saying so, without wrk).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import throwaway_database

pytestmark = pytest.mark.heavy

ROOT = Path(__file__).resolve().parents[2]
TINY_CITY = ["--cells", "1000"]
# Each bench script's command at a tiny size; "{port}" becomes a free port.
COMMANDS: dict[str, list[str]] = {
    "locate.py": [*TINY_CITY, "--points", "1000", "--seconds", "1", "--connections", "2"],
    "intake.py": [*TINY_CITY, "--seconds", "1", "--connections", "2", "--check-reports", "50"],
    "dispatch_routing.py": [*TINY_CITY, "--cases", "1000", "--rules", "100", "--sample", "100"],
    "dispatch_evaluation.py": [*TINY_CITY, "--cases", "1000", "--repeat", "1"],
    "dispatch.py": ["evaluation", "--", *TINY_CITY, "--cases", "1000", "--repeat", "1"],
    "maps.py": [*TINY_CITY, "--reports", "1000", "--repeat", "1"],
    "pages.py": [*TINY_CITY, "--cases", "7000", "--seconds", "1"],
    "components_import.py": [*TINY_CITY, "--rows", "1000"],
    "components_match.py": [*TINY_CITY, "--components", "1000", "--reports", "30"],
    "components_queries.py": ["--components", "1000", "--cases", "1000"],
    "hotline_rates.py": [*TINY_CITY, "--tickets", "3000", "--repeat", "1"],
    # The drill itself runs in tests/citygrid/test_crash_safety.py (its own private cluster).
    "crash.py": ["--help"],
    "analysis_recurrence.py": [*TINY_CITY, "--cases", "2000", "--check", "50"],
    "analysis_forecast.py": ["--synthetic", *TINY_CITY, "--cases", "3000", "--compare", "2"],
    "analysis_emerging.py": ["--tiny"],
    "hotline.py": [
        *TINY_CITY,
        "--roads",
        "4",
        "--tickets",
        "100",
        "--replay",
        "20",
        "--workers",
        "1",
    ],
    "hotline_addresses.py": ["--small"],
    "sensing.py": ["--tiny"],
    "scale.py": ["--tiny"],
}
SERVES = {"locate.py", "intake.py"}  # start the app on --port, with --workers
NOT_SCRIPTS = {"harness.py"}
# Scripts whose tiny run is a test of their own that also checks what it prints.
TINY_RUN_TESTED_ELSEWHERE = {
    "grid_generate.py": "tests/grid/test_generate_city.py::test_the_bench_runs_at_its_tiny_size",
    "analysis_suggest.py": "tests/events/suggestions/test_suggestions.py",
    "fuzz_api.py": "tests/citygrid/test_api_contract.py",
    "analysis_all.py": "the four analysis_*.py scripts above, one after another",
    "failover.py": "tests/citygrid/test_failover.py (the drill's short form, same code)",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def empty_bench_database(server_url: str) -> Iterator[str]:
    """A fresh database with nothing in it, as a new clone's bench database is."""
    with throwaway_database(server_url) as url:
        yield url


def test_every_bench_script_has_a_tiny_command() -> None:
    scripts = {path.name for path in (ROOT / "bench").glob("*.py")}
    assert scripts - NOT_SCRIPTS == set(COMMANDS) | set(TINY_RUN_TESTED_ELSEWHERE)


@pytest.mark.parametrize("script", sorted(COMMANDS))
def test_bench_script_runs_at_a_tiny_size_on_an_empty_database(
    script: str, empty_bench_database: str
) -> None:
    arguments = COMMANDS[script]
    if script in SERVES:
        arguments = [*arguments, "--workers", "1", "--port", str(free_port())]
    env = {**os.environ, "BENCH_DATABASE_URL": empty_bench_database}
    finished = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert finished.returncode == 0, f"{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}"


def test_the_analysis_driver_runs_each_part_as_its_tiny_command_does() -> None:
    """bench/analysis_all.py runs the analysis_*.py scripts: its tiny arguments are theirs here."""
    driver = subprocess.run(
        [sys.executable, "-c", "import json, analysis_all; print(json.dumps(analysis_all.PARTS))"],
        cwd=ROOT / "bench",
        capture_output=True,
        text=True,
        check=True,
    )
    parts = json.loads(driver.stdout)
    for script, tiny in parts.values():
        assert script in COMMANDS or script in TINY_RUN_TESTED_ELSEWHERE
        if script in COMMANDS:
            assert tiny == COMMANDS[script], script
