"""What the benchmarks share: the bench database and city, the server, tokens, wrk."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

# A script in bench/ has bench/ first on its path, where bench/dispatch.py would hide the
# `dispatch` package: the project's root goes first (every bench script imports this module
# before any project package).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import numpy as np
import shapely
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from citygrid.accounts.auth import issue_token
from citygrid.accounts.roles import Principal, Role
from citygrid.cli import migrate
from citygrid.settings import get_settings
from events import taxonomy
from events.categories import service as categories
from grid import service as grid_service
from grid.generate import GridLayout, generate_grid
from grid.imports import ImportOptions

ROOT = Path(__file__).resolve().parent.parent
WEST, SOUTH = 116.20, 39.75  # south-west corner of the bench city (around Beijing)


def bench_url(database: str = "citygrid_bench") -> str:
    """BENCH_DATABASE_URL, or the named database on the embedded cluster (created if missing)."""
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    server = get_settings().resolved_database_url()
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = text("SELECT 1 FROM pg_database WHERE datname = :name")
        if connection.scalar(exists, {"name": database}) is None:
            connection.execute(text(f"CREATE DATABASE {database}"))
    admin.dispose()
    return make_url(server).set(database=database).render_as_string(hide_password=False)


def bench_city(cells: int) -> shapely.Geometry:
    """A square city of about `cells` cells of 100 m."""
    side_m = (cells**0.5) * 100
    d_lat = side_m / 111_320
    d_lon = side_m / (111_320 * np.cos(np.radians(SOUTH + d_lat / 2)))
    return shapely.box(WEST, SOUTH, WEST + d_lon, SOUTH + d_lat)


def ensure_taxonomy(url: str) -> None:
    """Migrate, and load the component and event categories (`citygrid taxonomy load`)."""
    migrate(url)
    engine = create_engine(url)
    with Session(engine) as session:
        categories.load_taxonomy(session, taxonomy.read_taxonomy())
        session.commit()
    engine.dispose()


def ensure_grid(url: str, cells: int) -> None:
    """The migrated bench database with its taxonomy and a grid of about `cells` cells."""
    ensure_taxonomy(url)
    engine = create_engine(url)
    with Session(engine) as session:
        have = session.scalar(text("SELECT count(*) FROM grid_cell")) or 0
        if have >= cells * 0.95:
            print(f"grid: {have} cells already in citygrid_bench")
            return
        if have:  # a smaller grid from an earlier run (an empty database has nothing to clear)
            # The cases on the old grid go too: the bench database's history is disposable.
            session.execute(text("ALTER TABLE case_transition DISABLE TRIGGER USER"))
            session.execute(text("TRUNCATE grid_cell, grid_region, app_user CASCADE"))
            session.execute(text("ALTER TABLE case_transition ENABLE TRIGGER USER"))
        started = time.perf_counter()
        layout = GridLayout(cell_size_m=100, community_size=5, street_size=4)
        generated = generate_grid(
            bench_city(cells), district_code="110199", district_name="基准区", layout=layout
        )
        generated_at = time.perf_counter()
        written = grid_service.write_generated_grid(session, generated, ImportOptions())
        session.commit()
        done = time.perf_counter()
        print(
            f"grid: generated {len(generated.cells)} cells in {generated_at - started:.1f} s, "
            f"checked and written in {done - generated_at:.1f} s ({written})"
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE grid_cell"))
    engine.dispose()


def start_server(url: str, workers: int, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "CITYGRID_ENV": "development"}
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/citygrid"), "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        start_new_session=True,
    )
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


def token(user_id: int = 1, role: Role = Role.INSPECTOR) -> str:
    principal = Principal(user_id, "bench", role, None)
    return issue_token(principal, secret=get_settings().secret_key, ttl=timedelta(hours=1))


def have_wrk() -> bool:
    """Whether `wrk` is installed; when not, say in one line that its runs are skipped."""
    if shutil.which("wrk"):
        return True
    print("wrk is not installed (apt-get install wrk): skipping the wrk runs", flush=True)
    return False


def run_wrk(port: int, script: str, seconds: int, connections: int, auth_token: str) -> str:
    """wrk's output for a Lua script (1 thread: the other core serves)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script_file:
        script_file.write(script)
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        script_file.name,
        "-H",
        f"Authorization: Bearer {auth_token}",
        f"http://127.0.0.1:{port}",
    ]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def parse_wrk(output: str) -> dict[str, float]:
    def millis(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        assert match, output
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    assert rate, output
    return {
        "rps": float(rate.group(1)),
        "p50_ms": millis("50"),
        "p99_ms": millis("99"),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }
