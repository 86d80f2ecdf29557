"""Local streaming standbys of the embedded cluster, for trying read replicas on one machine.

`citygrid db replica add` copies the running embedded cluster with pg_basebackup (through its
unix socket, with a replication slot of its own so the primary keeps the WAL the standby has not
received yet) into a sibling folder, and starts it as a hot standby that streams from the
primary. Like the embedded cluster it runs as `postgres` when we are root and listens only on a
unix socket in its own folder; its port number only names that socket. Its URL goes into
CITYGRID_REPLICA_URLS. `db replica remove` stops it, deletes its folder and drops its slot.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from citygrid.cluster import CHECKOUT_FILE, Cluster, ClusterError, pg_bin

REPLICAS_FILE = "replicas.json"
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,30}")
STANDBY_SETTINGS = {
    # Long map and evaluation queries are not cancelled by the vacuum of rows they still read.
    "hot_standby_feedback": "on",
    "max_standby_streaming_delay": "'30s'",
}


@dataclass(frozen=True)
class Standby(Cluster):
    """A hot standby of `primary`; its own folder beside the primary's, its own socket."""

    name: str = "replica_1"

    @classmethod
    def of(cls, primary: Cluster, name: str) -> Standby:
        if not NAME_PATTERN.fullmatch(name):
            raise ClusterError(
                f"replica name {name!r}: lower-case letters, digits and _ (at most 31), "
                "starting with a letter"
            )
        root = primary.root.with_name(f"{primary.root.name}-{name}")
        return cls(primary.state_dir, root, primary.port, name)

    @property
    def slot(self) -> str:
        return f"citygrid_{self.name}"

    def url(self, database: str = "citygrid") -> str:
        """The libpq URL for CITYGRID_REPLICA_URLS."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def create_from(self, primary: Cluster) -> None:
        """pg_basebackup of the running primary, configured as its standby, and started."""
        if self.is_initialised():
            raise ClusterError(f"replica {self.name} exists already in {self.root}")
        if not primary.is_running():
            raise ClusterError("the embedded cluster is not running; run `citygrid db start`")
        self.prepare_folders()
        basebackup = [
            str(pg_bin() / "pg_basebackup"),
            "-D", str(self.data_dir),
            "-h", str(primary.socket_dir),
            "-p", str(primary.port),
            "-U", "postgres",
            "--write-recovery-conf",
            "--wal-method=stream",
            "--checkpoint=fast",
            "--create-slot", "--slot", self.slot,
            "--no-password",
        ]  # fmt: skip
        self._run(basebackup)
        settings = {
            **STANDBY_SETTINGS,
            "unix_socket_directories": f"'{self.socket_dir}'",
            "port": str(self.port),
            "cluster_name": f"'{self.name}'",  # the walreceiver's application_name on the primary
        }
        lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
        self._append_conf(f"\n# citygrid streaming standby {self.name}\n{lines}")
        self.start()

    def prepare_folders(self) -> None:
        """The folder and socket folder, owned by `postgres` when we are root."""
        import os
        import pwd

        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.socket_dir.mkdir(exist_ok=True, mode=0o700)
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            for path in (self.root, self.socket_dir):
                os.chown(path, postgres.pw_uid, postgres.pw_gid)

    def _append_conf(self, text: str) -> None:
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as handle:
            handle.write(text)

    def _record(self) -> None:
        """Records itself in the checkout's replicas.json (never its cluster.json) and points
        back to the checkout, so `db prune` finds it when the checkout is gone."""
        recorded = recorded_standbys(self.state_dir)
        recorded[self.name] = {"root": str(self.root), "port": self.port}
        write_standbys(self.state_dir, recorded)
        owner = {"state_dir": str(self.state_dir.resolve()), "port": self.port}
        (self.root / CHECKOUT_FILE).write_text(json.dumps(owner, indent=2) + "\n")

    def remove(self, primary: Cluster) -> None:
        """Stops it, deletes its folder, and drops its slot on the primary (when running)."""
        self.stop("fast")
        shutil.rmtree(self.root, ignore_errors=True)
        recorded = recorded_standbys(self.state_dir)
        recorded.pop(self.name, None)
        write_standbys(self.state_dir, recorded)
        if primary.is_running():
            import psycopg

            with psycopg.connect(primary.libpq_dsn("postgres"), autocommit=True) as connection:
                connection.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                    "WHERE slot_name = %s",
                    (self.slot,),
                )


def recorded_standbys(state_dir: Path) -> dict[str, dict[str, object]]:
    path = state_dir / REPLICAS_FILE
    if not path.exists():
        return {}
    recorded: dict[str, dict[str, object]] = json.loads(path.read_text())
    return recorded


def write_standbys(state_dir: Path, recorded: dict[str, dict[str, object]]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / REPLICAS_FILE).write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")


def standbys(primary: Cluster) -> list[Standby]:
    """The standbys recorded for the primary's checkout."""
    return [
        Standby(primary.state_dir, Path(str(entry["root"])), primary.port, name)
        for name, entry in sorted(recorded_standbys(primary.state_dir).items())
    ]


def replication_lag(primary: Cluster) -> dict[str, tuple[str, float | None]]:
    """Per standby (by its cluster_name), its state and replay lag in seconds as the primary's
    pg_stat_replication reports them (None when the standby has nothing left to replay)."""
    import psycopg

    with psycopg.connect(primary.libpq_dsn("postgres")) as connection:
        rows = connection.execute(
            "SELECT application_name, state, extract(epoch FROM replay_lag)::float8 "
            "FROM pg_stat_replication"
        ).fetchall()
    return {str(name): (str(state), lag) for name, state, lag in rows}
