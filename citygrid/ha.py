"""High availability for trials: a pg_auto_failover monitor and two data nodes on this machine.

`citygrid db ha init` builds what the README's three-machine layout runs on one machine: a
monitor (pg_auto_failover's own PostgreSQL, which health-checks the nodes and decides who is
primary) and two data nodes, each a PostgreSQL cluster under a `pg_autoctl run` keeper. Each
lives in its own folder under the formation's root (like the embedded cluster: under
/var/lib/citygrid/clusters, run as `postgres`, when we are root), listens on 127.0.0.1 on its own
port (replication and the monitor's health checks need TCP) and keeps its unix socket in the
formation's own `run` folder.

Replication is synchronous: pg_auto_failover sets `synchronous_standby_names` to
`ANY 1 (<the standby>)` while the standby is healthy (`replication-quorum` true, the default,
with number-sync-standbys 0: the one standby must confirm each commit), so a commit the app got
an answer for is on both nodes. When the standby is lost the primary goes to `wait_primary` and
commits on its own (availability first), until the standby is back.

The app connects with a multi-host URL (`host=a,b&port=p1,p2&target_session_attrs=read-write`):
libpq tries each node and keeps the one that accepts writes, so after a promotion every new
connection reaches the new primary by itself.

The timeouts are pg_auto_failover's, shortened for trials (TRIAL_MONITOR_SETTINGS on the
monitor, TRIAL_KEEPER_SETTINGS in each keeper's configuration): the defaults take about 50 s to
promote the standby after the primary is lost (20 s before a node is considered unhealthy, then
30 s for the lost primary to demote itself); these take about 10.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from citygrid.cluster import ClusterError, pg_bin, shared_clusters_dir

MONITOR = "monitor"
NODES = ("node_1", "node_2")
HOSTNAME = "127.0.0.1"
FORMATION_FILE = "ha.json"
MONITOR_DATABASE = "pg_auto_failover"
# A data node's own settings (pg_autoctl adds its replication settings beside them).
NODE_SETTINGS = {
    "max_connections": "200",
    "shared_buffers": "'128MB'",
    "work_mem": "'16MB'",
    "maintenance_work_mem": "'128MB'",
    "max_wal_size": "'1GB'",
    "timezone": "'UTC'",
}
# The monitor's health checks (milliseconds), for trials: a node that does not answer two checks
# a second apart and has not reported for 3 s is unhealthy, and a lost primary is given 4 s to
# demote itself before its standby is promoted (defaults: 5 s checks, 20 s, 30 s).
TRIAL_MONITOR_SETTINGS = {
    "pgautofailover.health_check_period": "1000",
    "pgautofailover.health_check_timeout": "1000",
    "pgautofailover.health_check_max_retries": "1",
    "pgautofailover.health_check_retry_delay": "500",
    "pgautofailover.node_considered_unhealthy_timeout": "3000",
    "pgautofailover.primary_demote_timeout": "4000",
}
# Each keeper's (seconds): a primary cut off from the monitor and its standby demotes itself
# after network_partition_timeout, which must stay below the monitor's primary_demote_timeout
# (defaults 20 s and 30 s): the old primary stops taking writes before its standby is promoted.
TRIAL_KEEPER_SETTINGS = {
    "timeout.network_partition_timeout": "3",
    "timeout.prepare_promotion_catchup": "10",
    "timeout.prepare_promotion_walreceiver": "2",
    "timeout.postgresql_restart_failure_timeout": "5",
}
STATE_TIMEOUT_S = 120.0


class FormationError(ClusterError): ...


@dataclass(frozen=True)
class NodeState:
    name: str
    port: int
    current: str
    assigned: str
    healthy: bool

    @property
    def settled(self) -> bool:
        return self.current == self.assigned


@dataclass(frozen=True)
class Formation:
    """The monitor and the two data nodes of one checkout (or of a drill's state dir)."""

    state_dir: Path
    root: Path
    monitor_port: int

    @classmethod
    def for_state_dir(cls, state_dir: Path) -> Formation:
        state_file = state_dir / FORMATION_FILE
        if state_file.exists():
            recorded = json.loads(state_file.read_text())
            return cls(state_dir, Path(recorded["root"]), int(recorded["monitor_port"]))
        key = hashlib.sha1(f"{state_dir.resolve()}:ha".encode()).hexdigest()[:12]
        root = shared_clusters_dir() / key if os.geteuid() == 0 else state_dir / "ha"
        return cls(state_dir, root, 30000 + (int(key, 16) % 5000) * 3)

    # --- where things are ---------------------------------------------------------------

    def port(self, name: str) -> int:
        return self.monitor_port if name == MONITOR else self.monitor_port + 1 + NODES.index(name)

    def pgdata(self, name: str) -> Path:
        return self.root / name

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    def log_file(self, name: str) -> Path:
        return self.root / f"{name}.log"

    @property
    def monitor_uri(self) -> str:
        return (
            f"postgres://autoctl_node@{HOSTNAME}:{self.port(MONITOR)}/{MONITOR_DATABASE}"
            "?sslmode=disable"
        )

    def node_dsn(self, name: str, database: str) -> str:
        return f"host={HOSTNAME} port={self.port(name)} user=postgres dbname={database}"

    def database_url(self, database: str = "citygrid") -> str:
        """The multi-host URL (libpq; SQLAlchemy takes it as is): every data node, and only a
        node that accepts writes is kept."""
        hosts = ",".join(HOSTNAME for _ in NODES)
        ports = ",".join(str(self.port(name)) for name in NODES)
        return (
            f"postgresql://postgres@/{database}?host={hosts}&port={ports}"
            "&target_session_attrs=read-write"
        )

    def multi_host_url(self, database: str = "citygrid") -> str:
        """The same in libpq's host:port,host:port form (psql and pg_dump take it too)."""
        hosts = ",".join(f"{HOSTNAME}:{self.port(name)}" for name in NODES)
        return f"postgresql://postgres@{hosts}/{database}?target_session_attrs=read-write"

    def is_initialised(self) -> bool:
        return all((self.pgdata(name) / "PG_VERSION").exists() for name in (MONITOR, *NODES))

    # --- building and running -------------------------------------------------------------

    def init(self, database: str, report: Callable[[str], None] = print) -> None:
        """Creates the monitor and both nodes, starts their keepers and waits until the first
        node is primary and the second its synchronous standby. `database` is created on the
        primary (empty: the caller adds PostGIS and migrates)."""
        if self.root.exists() and any(self.root.iterdir()):
            raise FormationError(
                f"{self.root} is not empty: `citygrid db ha remove` first, or use that formation"
            )
        self._make_folders()
        report(f"monitor on port {self.port(MONITOR)}")
        self._initdb(MONITOR)
        self._autoctl("create", "monitor", *self._create_options(MONITOR))
        self.start_keeper(MONITOR)
        self._wait_for_monitor()
        self._tune_monitor()
        self._record()
        first, second = NODES
        report(f"{first} (primary) on port {self.port(first)}")
        self._initdb(first)
        self._autoctl("create", "postgres", *self._create_options(first), "--dbname", database)
        self._tune_keeper(first)
        self.start_keeper(first)
        self.wait_for_states({first: {"single"}})
        report(f"{second} (synchronous standby) on port {self.port(second)}")
        self._autoctl("create", "postgres", *self._create_options(second), "--dbname", database)
        self._tune_keeper(second)
        self.start_keeper(second)
        self.wait_for_states({first: {"primary"}, second: {"secondary"}})

    def start(self) -> None:
        """Starts the keepers that are not running (each starts its PostgreSQL): the monitor,
        then the node that was primary when the formation was stopped, then the other. The
        monitor decides the roles: the other node may come back as primary (measured here:
        it often does after a stop and start); the multi-host URL follows either way."""
        if not self.is_initialised():
            raise FormationError(f"no formation in {self.root}; run `citygrid db ha init`")
        if not self.keeper_running(MONITOR):
            self.start_keeper(MONITOR)
        self._wait_for_monitor()
        last_primary = self._recorded().get("stopped_primary")
        first, second = sorted(NODES, key=lambda node: node != last_primary)
        if not self.keeper_running(first):
            self.start_keeper(first)
            # Its standby starts once it serves as primary again, so that the monitor does
            # not take the standby, back first, for the survivor.
            self.wait_for_states(
                {first: {"primary", "wait_primary", "single"}}, timeout_s=60, healthy=True
            )
        if not self.keeper_running(second):
            self.start_keeper(second)

    def start_keeper(self, name: str) -> None:
        """`pg_autoctl run` for one node, in the background, its output to the node's log."""
        with self.log_file(name).open("ab") as log:
            subprocess.Popen(
                self._as_postgres(["pg_autoctl", "run", "--pgdata", str(self.pgdata(name))]),
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self._environment(),
            )
        deadline = time.monotonic() + 30
        while not self.keeper_running(name):
            if time.monotonic() > deadline:
                raise FormationError(f"the keeper of {name} did not start:\n{self.log_tail(name)}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stops the monitor first (no failover is decided while the nodes go down), then the
        standby, then the primary: each keeper stops its PostgreSQL cleanly. The primary is
        recorded, and `start` starts it first."""
        primary = None
        if self.keeper_running(MONITOR):
            with contextlib.suppress(Exception):
                primary = self.primary()
        if primary is not None:
            self._record(stopped_primary=primary)
        order = [MONITOR, *sorted(NODES, key=lambda node: node == primary)]
        for name in order:
            if self.keeper_running(name):
                self._autoctl("stop", "--pgdata", str(self.pgdata(name)))
            deadline = time.monotonic() + 60
            while self.keeper_running(name) or self.postmaster_pid(name) is not None:
                if time.monotonic() > deadline:
                    raise FormationError(f"{name} did not stop:\n{self.log_tail(name)}")
                time.sleep(0.2)

    def remove(self) -> None:
        """Stops everything (hard, when asked nicely does not work) and deletes the folder."""
        try:
            self.stop()
        except (FormationError, OSError):
            for name in (*NODES, MONITOR):
                self.kill(name)
        shutil.rmtree(self.root, ignore_errors=True)
        (self.state_dir / FORMATION_FILE).unlink(missing_ok=True)

    def kill(self, name: str) -> None:
        """SIGKILL to the node's postmaster and its keeper: the machine is lost, nothing
        restarts it (a postmaster killed alone is restarted by its keeper within a second)."""
        postmaster = self.postmaster_pid(name)
        keeper = self.keeper_pid(name)
        for pid in (postmaster, keeper):
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while self.postmaster_pid(name) is not None and time.monotonic() < deadline:
            time.sleep(0.05)

    # --- what is going on -----------------------------------------------------------------

    def states(self) -> list[NodeState]:
        """The data nodes' states as the monitor sees them."""
        import psycopg

        with psycopg.connect(
            f"host={HOSTNAME} port={self.port(MONITOR)} user=autoctl_node "
            f"dbname={MONITOR_DATABASE} connect_timeout=3"
        ) as connection:
            rows = connection.execute(
                "SELECT nodename, nodeport, reportedstate::text, goalstate::text, health "
                "FROM pgautofailover.node ORDER BY nodeid"
            ).fetchall()
        return [
            NodeState(str(name), int(port), str(current), str(goal), health == 1)
            for name, port, current, goal, health in rows
        ]

    def primary(self) -> str | None:
        for state in self.states():
            if state.current in ("primary", "single", "wait_primary") and state.settled:
                return state.name
        return None

    def wait_for_states(
        self,
        wanted: Mapping[str, set[str]],
        *,
        timeout_s: float = STATE_TIMEOUT_S,
        healthy: bool = False,
    ) -> list[NodeState]:
        """Waits until each named node's reported and goal state are one of the wanted (and,
        when asked, the monitor's health check passed since the node came up)."""
        deadline = time.monotonic() + timeout_s
        states: list[NodeState] = []
        while time.monotonic() < deadline:
            try:
                states = self.states()
            except Exception:  # the monitor is starting
                states = []
            by_name = {state.name: state for state in states}
            if all(
                name in by_name
                and by_name[name].settled
                and by_name[name].current in wanted_states
                and (by_name[name].healthy or not healthy)
                for name, wanted_states in wanted.items()
            ):
                return states
            time.sleep(0.3)
        seen = ", ".join(f"{s.name} {s.current}→{s.assigned}" for s in states) or "nothing"
        logs = "\n".join(self.log_tail(name) for name in wanted)
        raise FormationError(f"the nodes did not reach {dict(wanted)} (now: {seen}):\n{logs}")

    def synchronous_standby_names(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.node_dsn(name, "postgres"), connect_timeout=3) as connection:
            row = connection.execute("SHOW synchronous_standby_names").fetchone()
        return str(row[0]) if row else ""

    def keeper_pid(self, name: str) -> int | None:
        result = self._run(
            self._as_postgres(
                ["pg_autoctl", "show", "file", "--pid", "--pgdata", str(self.pgdata(name))]
            ),
            check=False,
        )
        pid_file = Path(result.stdout.strip())
        if result.returncode != 0 or not pid_file.is_file():
            return None
        try:
            pid = int(pid_file.read_text().split()[0])
        except (ValueError, IndexError):
            return None
        return pid if _alive(pid) else None

    def keeper_running(self, name: str) -> bool:
        return self.keeper_pid(name) is not None

    def postmaster_pid(self, name: str) -> int | None:
        pid_file = self.pgdata(name) / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _alive(pid) else None

    def log_tail(self, name: str, lines: int = 15) -> str:
        log = self.log_file(name)
        if not log.exists():
            return ""
        return f"--- {log}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    # --- helpers --------------------------------------------------------------------------

    def _create_options(self, name: str) -> list[str]:
        options = [
            "--pgdata", str(self.pgdata(name)),
            "--pgport", str(self.port(name)),
            "--pgctl", str(pg_bin() / "pg_ctl"),
            "--hostname", HOSTNAME,
            "--listen", HOSTNAME,
            "--auth", "trust",
            "--no-ssl",
        ]  # fmt: skip
        if name != MONITOR:
            options += ["--pghost", str(self.socket_dir)]
            options += ["--name", name, "--monitor", self.monitor_uri, "--username", "postgres"]
        return options

    def _make_folders(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for folder in (self.socket_dir, self.root / "config", self.root / "share"):
            folder.mkdir(exist_ok=True, mode=0o700)
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            for path in (self.root, self.socket_dir, self.root / "config", self.root / "share"):
                os.chown(path, postgres.pw_uid, postgres.pw_gid)
            shared = shared_clusters_dir()
            if self.root.parent == shared:
                shared.parent.chmod(0o755)
                shared.chmod(0o755)

    def _initdb(self, name: str) -> None:
        """initdb as the embedded cluster does, with the socket in the formation's folder;
        pg_autoctl takes the folder as it is and adds its own settings."""
        pgdata = self.pgdata(name)
        initdb = [str(pg_bin() / "initdb"), "-D", str(pgdata), "-U", "postgres"]
        self._run(self._as_postgres([*initdb, "--auth=trust", "-E", "UTF8", "--no-locale"]))
        settings = {**NODE_SETTINGS, "unix_socket_directories": f"'{self.socket_dir}'"}
        lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
        conf = pgdata / "postgresql.conf"
        self._run(
            self._as_postgres(
                ["sh", "-c", f"cat >> '{conf}'"],
            ),
            input_text="\n# citygrid HA trial node\n" + lines,
        )

    def _wait_for_monitor(self) -> None:
        import psycopg

        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(
                    f"host={HOSTNAME} port={self.port(MONITOR)} user=autoctl_node "
                    f"dbname={MONITOR_DATABASE} connect_timeout=2"
                ) as connection:
                    connection.execute("SELECT 1")
                return
            except psycopg.Error:
                if time.monotonic() > deadline:
                    raise FormationError(
                        f"the monitor does not answer:\n{self.log_tail(MONITOR)}"
                    ) from None
                time.sleep(0.3)

    def _tune_monitor(self) -> None:
        import psycopg

        dsn = f"host={HOSTNAME} port={self.port(MONITOR)} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as connection:
            for setting, value in TRIAL_MONITOR_SETTINGS.items():
                connection.execute(f"ALTER SYSTEM SET {setting} = '{value}'")
            connection.execute("SELECT pg_reload_conf()")

    def _tune_keeper(self, name: str) -> None:
        for setting, value in TRIAL_KEEPER_SETTINGS.items():
            self._autoctl("config", "set", "--pgdata", str(self.pgdata(name)), setting, value)

    def _record(self, **extra: str) -> None:
        state: dict[str, object] = {
            **self._recorded(),
            "root": str(self.root),
            "monitor_port": self.monitor_port,
            **extra,
        }
        (self.state_dir / FORMATION_FILE).write_text(json.dumps(state, indent=2) + "\n")

    def _recorded(self) -> dict[str, object]:
        state_file = self.state_dir / FORMATION_FILE
        if not state_file.exists():
            return {}
        recorded: dict[str, object] = json.loads(state_file.read_text())
        return recorded

    def _environment(self) -> dict[str, str]:
        """pg_autoctl keeps its configuration and state files in XDG folders: the formation's
        own, so that two formations on one machine never share them."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "XDG_DATA_HOME": str(self.root / "share"),
            "XDG_RUNTIME_DIR": str(self.socket_dir),
            "PGHOST": str(self.socket_dir),
            "PG_CONFIG": str(pg_bin() / "pg_config"),
            "LANG": "C.UTF-8",
        }

    def _as_postgres(self, command: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *command]
        return command

    def _autoctl(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return self._run(self._as_postgres(["pg_autoctl", *arguments]))

    def _run(
        self, command: list[str], *, check: bool = True, input_text: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            command,
            cwd=self.root,
            capture_output=True,
            text=True,
            env=self._environment(),
            input=input_text,
            timeout=300,
        )
        if check and result.returncode != 0:
            raise FormationError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
        return result


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not reaped yet) is gone for our purpose.
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status
