"""The embedded PostgreSQL + PostGIS cluster that `./dev` and `citygrid db` manage.

PostgreSQL refuses to run as root, so when we are root the server runs as the `postgres` user and
its folder lives under /var/lib/citygrid (a checkout under /root is not reachable by `postgres`),
keyed by the checkout's path; `.citygrid/cluster.json` points to it, and the cluster's own
`checkout.json` points back, so a cluster whose checkout was deleted can be found and pruned.
CITYGRID_CLUSTERS_DIR moves that shared folder (the tests use a temporary one). Otherwise the
cluster lives in `.citygrid/cluster` and runs as the current user. The server listens only on a
unix socket inside its own folder, so two checkouts never collide; the port only names the socket.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SYSTEM_CLUSTERS_DIR = Path("/var/lib/citygrid/clusters")
CHECKOUT_FILE = "checkout.json"
SERVER_SETTINGS = {
    "listen_addresses": "''",
    "max_connections": "200",
    "shared_buffers": "'256MB'",
    "work_mem": "'16MB'",
    "maintenance_work_mem": "'256MB'",
    "max_wal_size": "'2GB'",
    "timezone": "'UTC'",
}


class ClusterError(RuntimeError): ...


@dataclass(frozen=True)
class Cluster:
    state_dir: Path
    root: Path
    port: int

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_file(self) -> Path:
        return self.root / "postgresql.log"

    @classmethod
    def for_state_dir(cls, state_dir: Path) -> Cluster:
        """The cluster recorded in state_dir/cluster.json, or where a new one would go."""
        state_file = state_dir / "cluster.json"
        if state_file.exists():
            recorded = json.loads(state_file.read_text())
            return cls(state_dir, Path(recorded["root"]), int(recorded["port"]))
        key = hashlib.sha1(str(state_dir.resolve()).encode()).hexdigest()[:12]
        root = shared_clusters_dir() / key if os.geteuid() == 0 else state_dir / "cluster"
        return cls(state_dir, root, 20000 + int(key, 16) % 10000)

    def sqlalchemy_url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        result = self._run(
            [str(pg_bin() / "pg_ctl"), "status", "-D", str(self.data_dir)], check=False
        )
        return result.returncode == 0

    def initialise(self) -> None:
        """initdb a fresh cluster, trusting only the private unix socket."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.socket_dir.mkdir(exist_ok=True, mode=0o700)
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            for path in (self.root, self.socket_dir):
                os.chown(path, postgres.pw_uid, postgres.pw_gid)
            shared = shared_clusters_dir()
            if self.root.parent == shared:
                shared.parent.chmod(0o755)
                shared.chmod(0o755)
        initdb = [str(pg_bin() / "initdb"), "-D", str(self.data_dir), "-U", "postgres"]
        self._run([*initdb, "--auth=trust", "-E", "UTF8", "--no-locale"])
        settings = {**SERVER_SETTINGS, "unix_socket_directories": f"'{self.socket_dir}'"}
        settings["port"] = str(self.port)
        lines = "".join(f"{name} = {value}\n" for name, value in settings.items())
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# citygrid embedded cluster\n" + lines)
        self._record()

    def start(self) -> None:
        if not self.is_initialised():
            self.initialise()
        self._record()
        if self.is_running():
            return
        pg_ctl = [str(pg_bin() / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file)]
        result = self._run([*pg_ctl, "-w", "-t", "60", "start"], check=False)
        if result.returncode != 0:
            tail = self._log_tail()
            raise ClusterError(f"PostgreSQL did not start:\n{result.stderr}\n{tail}")
        self._wait_for_socket()

    def stop(self, mode: str = "fast") -> None:
        if self.is_running():
            self._run([str(pg_bin() / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "stop"])

    def ensure_database(self, name: str) -> None:
        """Create the database (with PostGIS) when it does not exist yet."""
        import psycopg

        with psycopg.connect(self.libpq_dsn("postgres"), autocommit=True) as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is None:
                connection.execute(f'CREATE DATABASE "{name}"')

    def libpq_dsn(self, database: str) -> str:
        return f"host={self.socket_dir} port={self.port} user=postgres dbname={database}"

    def _record(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state = {"root": str(self.root), "port": self.port}
        (self.state_dir / "cluster.json").write_text(json.dumps(state, indent=2) + "\n")
        owner = {"state_dir": str(self.state_dir.resolve()), "port": self.port}
        (self.root / CHECKOUT_FILE).write_text(json.dumps(owner, indent=2) + "\n")
        link = self.state_dir / "cluster"
        if self.root != link and not link.exists():
            link.symlink_to(self.root)

    def _wait_for_socket(self) -> None:
        socket = self.socket_dir / f".s.PGSQL.{self.port}"
        deadline = time.monotonic() + 30
        while not socket.exists():
            if time.monotonic() > deadline:
                raise ClusterError(f"no socket at {socket} after start:\n{self._log_tail()}")
            time.sleep(0.1)

    def _log_tail(self) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-20:])

    def _run(self, command: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a server command, as `postgres` when we are root (PostgreSQL refuses root)."""
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, cwd=self.root, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise ClusterError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
        return result


def shared_clusters_dir() -> Path:
    """The folder of the clusters that run as `postgres` (CITYGRID_CLUSTERS_DIR moves it)."""
    return Path(os.environ.get("CITYGRID_CLUSTERS_DIR") or SYSTEM_CLUSTERS_DIR)


def orphaned_clusters(clusters_dir: Path) -> list[Cluster]:
    """The clusters under clusters_dir whose checkout (recorded in checkout.json) is gone."""
    if not clusters_dir.is_dir():
        return []
    orphans = []
    for owner_file in sorted(clusters_dir.glob(f"*/{CHECKOUT_FILE}")):
        try:
            owner = json.loads(owner_file.read_text())
            state_dir, port = Path(owner["state_dir"]), int(owner["port"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a record this code wrote: leave that folder alone
        if not state_dir.exists():
            orphans.append(Cluster(state_dir, owner_file.parent, port))
    return orphans


def remove_cluster(cluster: Cluster) -> None:
    """Stop the cluster (when it runs) and delete its folder."""
    if cluster.is_running():
        cluster.stop("fast")
    shutil.rmtree(cluster.root)


def pg_bin() -> Path:
    """The newest installed PostgreSQL whose PostGIS extension is installed too."""
    candidates = []
    for initdb in Path("/usr/lib/postgresql").glob("*/bin/initdb"):
        version = initdb.parent.parent.name
        if re.fullmatch(r"\d+", version) and postgis_installed(version):
            candidates.append((int(version), initdb.parent))
    if not candidates:
        found = shutil.which("initdb")
        raise ClusterError(
            "no PostgreSQL with PostGIS found under /usr/lib/postgresql"
            + (f" (initdb on PATH: {found})" if found else "")
            + "; run ./dev, which installs postgresql and postgresql-NN-postgis-3"
        )
    return max(candidates)[1]


def postgis_installed(version: str) -> bool:
    return Path(f"/usr/share/postgresql/{version}/extension/postgis.control").exists()
