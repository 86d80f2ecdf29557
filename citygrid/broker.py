"""The embedded MQTT broker (Debian's mosquitto) that `./dev` and `citygrid broker` manage.

It is run like the embedded PostgreSQL cluster (citygrid/cluster.py): its own configuration,
persistence folder, pid file and log, recorded in the checkout's state folder
(`.citygrid/broker.json`, with a `.citygrid/broker` link to the folder). When we are root,
mosquitto drops to its `mosquitto` system user (its own `user` option), so its folder lives under
/var/lib/citygrid/brokers, keyed by the checkout's path (a checkout under /root is not reachable
by `mosquitto`); CITYGRID_BROKERS_DIR moves that shared folder (the tests use a temporary one).
Otherwise the folder is `.citygrid/broker` and mosquitto runs as the current user.

It listens on 127.0.0.1 (CITYGRID_MQTT_BIND_ADDRESS) on a port derived from the checkout's path
(30000–39999, recorded on first start; CITYGRID_MQTT_PORT chooses another), and on a unix socket
`mqtt.sock` in its folder, so two checkouts never collide. `persistence true`: subscriptions of
persistent sessions and their queued QoS 1 messages are written to `mosquitto.db` when the
broker stops (and every `autosave_interval` seconds), so they survive a restart.

MQTT_URL (`mqtt://user:password@host:1883`, `mqtts://…:8883`) points at an existing broker
instead; then nothing is started here.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from citygrid.settings import Settings

MOSQUITTO = Path("/usr/sbin/mosquitto")
SYSTEM_BROKERS_DIR = Path("/var/lib/citygrid/brokers")
BROKER_USER = "mosquitto"
CHECKOUT_FILE = "checkout.json"
PORT_BASE, PORT_SPAN = 30000, 10000
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 30.0  # a large persistent queue takes a while to write on the way out


class BrokerError(RuntimeError): ...


@dataclass(frozen=True)
class MqttAddress:
    """Where an MQTT client connects: host and port, or a unix socket path, and credentials."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    unix_socket: Path | None = None

    def display(self) -> str:
        """The address without its password (for logs and status lines)."""
        if self.unix_socket is not None:
            return f"unix:{self.unix_socket}"
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> MqttAddress:
    """`mqtt://[user[:password]@]host[:port]` (1883) or `mqtts://…` (8883, TLS) → MqttAddress;
    ValueError naming what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"MQTT_URL must start with mqtt:// or mqtts:// (got {parts.scheme!r})")
    tls = parts.scheme in ("mqtts", "ssl")
    if not parts.hostname:
        raise ValueError("MQTT_URL names no host")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as error:
        raise ValueError(f"MQTT_URL has an invalid port: {error}") from error
    if parts.path not in ("", "/"):
        raise ValueError("MQTT_URL takes no path (topics are fixed: citygrid/devices/…)")
    return MqttAddress(
        host=parts.hostname,
        port=port,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


@dataclass(frozen=True)
class Broker:
    state_dir: Path
    root: Path
    port: int
    bind_address: str = "127.0.0.1"
    max_queued_messages: int = 1_000_000
    autosave_interval_s: int = 30
    max_inflight_messages: int = 5_000  # per client: the ingest worker's window (MQTT 3.1.1)

    @property
    def conf_file(self) -> Path:
        return self.root / "mosquitto.conf"

    @property
    def pid_file(self) -> Path:
        return self.root / "mosquitto.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "mosquitto.log"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_path(self) -> Path:
        return self.root / "mqtt.sock"

    @classmethod
    def for_state_dir(
        cls,
        state_dir: Path,
        *,
        port: int | None = None,
        bind_address: str = "127.0.0.1",
        max_queued_messages: int = 1_000_000,
        max_inflight_messages: int = 5_000,
    ) -> Broker:
        """The broker recorded in state_dir/broker.json, or where a new one would go."""
        key = hashlib.sha1(str(state_dir.resolve()).encode()).hexdigest()[:12]
        root = shared_brokers_dir() / key if os.geteuid() == 0 else state_dir / "broker"
        derived = PORT_BASE + int(key, 16) % PORT_SPAN
        state_file = state_dir / "broker.json"
        if state_file.exists():
            recorded = json.loads(state_file.read_text())
            root, derived = Path(recorded["root"]), int(recorded["port"])
        return cls(
            state_dir,
            root,
            port or derived,
            bind_address=bind_address,
            max_queued_messages=max_queued_messages,
            max_inflight_messages=max_inflight_messages,
        )

    def address(self) -> MqttAddress:
        """Where clients on this machine connect (TCP, which every MQTT client speaks)."""
        host = "127.0.0.1" if self.bind_address in ("0.0.0.0", "") else self.bind_address
        return MqttAddress(host=host, port=self.port)

    def config(self) -> str:
        """mosquitto.conf: one TCP listener and one unix socket, persistence, no drops."""
        lines = [
            "# Written by citygrid (citygrid/broker.py) on every start; edits are overwritten.",
            "per_listener_settings false",
            f"listener {self.port} {self.bind_address}",
            f"listener 0 {self.socket_path}",
            # The embedded broker serves this machine; a broker reachable by real devices
            # (passwords, TLS) is configured by its administrator and named by MQTT_URL.
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.data_dir}/",
            f"autosave_interval {self.autosave_interval_s}",
            # Queued QoS 1 messages of a persistent session that is offline (a worker being
            # restarted): the default 1000 would drop the rest, acknowledged to the publisher.
            f"max_queued_messages {self.max_queued_messages}",
            "max_queued_bytes 0",
            # QoS 1 messages sent to a client and not acknowledged yet: the ingest worker
            # acknowledges a batch after committing it, so this is its batching window (an
            # MQTT 5 client's receive maximum sets its own).
            f"max_inflight_messages {self.max_inflight_messages}",
            # Sessions of workers gone for good expire after a week.
            "persistent_client_expiration 7d",
            f"pid_file {self.pid_file}",
            f"log_dest file {self.log_file}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        ]
        if os.geteuid() == 0:
            lines.append(f"user {BROKER_USER}")
        return "\n".join(lines) + "\n"

    def pid(self) -> int | None:
        """The running mosquitto's process id, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        if not command or not command[0].endswith(b"mosquitto"):
            return None  # a stale pid file whose number now belongs to another process
        if str(self.conf_file).encode() not in command:
            return None
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None

    def accepts_connections(self) -> bool:
        address = self.address()
        try:
            with socket.create_connection((address.host, address.port), timeout=1):
                return True
        except OSError:
            return False

    def start(self) -> None:
        """Write the configuration and start mosquitto (as its system user when we are root);
        nothing when it runs already."""
        if not MOSQUITTO.exists():
            raise BrokerError(
                f"{MOSQUITTO} is not installed; run ./dev (it installs Debian's mosquitto)"
            )
        self._prepare()
        if self.is_running():
            return
        self.pid_file.unlink(missing_ok=True)
        self.conf_file.write_text(self.config())
        self.conf_file.chmod(0o644)
        result = subprocess.run(
            [str(MOSQUITTO), "-c", str(self.conf_file), "-d"],
            cwd=self.root,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise BrokerError(f"mosquitto did not start:\n{result.stderr}\n{self._log_tail()}")
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (self.is_running() and self.accepts_connections()):
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"mosquitto is not accepting connections on {self.address().display()}"
                    f" after {START_TIMEOUT_S:.0f} s:\n{self._log_tail()}"
                )
            time.sleep(0.05)

    def stop(self, *, kill: bool = False) -> None:
        """Stop mosquitto (SIGTERM: it writes its persistence file first; kill=True: SIGKILL,
        losing what arrived since the last autosave)."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while process_alive(pid):
            if time.monotonic() > deadline:
                raise BrokerError(f"mosquitto (pid {pid}) did not stop in {STOP_TIMEOUT_S:.0f} s")
            time.sleep(0.05)

    def _prepare(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.data_dir.mkdir(exist_ok=True, mode=0o700)
        if os.geteuid() == 0:
            user = pwd.getpwnam(BROKER_USER)
            for path in (self.root, self.data_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
            shared = shared_brokers_dir()
            if self.root.parent == shared:
                shared.parent.chmod(0o755)
                shared.chmod(0o755)
        state = {"root": str(self.root), "port": self.port}
        (self.state_dir / "broker.json").write_text(json.dumps(state, indent=2) + "\n")
        owner = {"state_dir": str(self.state_dir.resolve()), "port": self.port}
        checkout = self.root / CHECKOUT_FILE
        checkout.write_text(json.dumps(owner, indent=2) + "\n")
        checkout.chmod(0o644)
        link = self.state_dir / "broker"
        if self.root != link and not link.exists() and not link.is_symlink():
            link.symlink_to(self.root)

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-20:])


def process_alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (a daemon killed under an init that is
    slow to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def shared_brokers_dir() -> Path:
    """The folder of the brokers that run as `mosquitto` (CITYGRID_BROKERS_DIR moves it)."""
    return Path(os.environ.get("CITYGRID_BROKERS_DIR") or SYSTEM_BROKERS_DIR)


def embedded_broker(settings: Settings) -> Broker | None:
    """The checkout's own broker, or None when MQTT_URL points elsewhere."""
    if settings.mqtt_url:
        return None
    return Broker.for_state_dir(
        settings.state_dir,
        port=settings.mqtt_port,
        bind_address=settings.mqtt_bind_address,
        max_queued_messages=settings.mqtt_max_queued_messages,
        max_inflight_messages=settings.mqtt_receive_maximum,
    )


def mqtt_address(settings: Settings) -> MqttAddress:
    """Where the ingest worker connects: MQTT_URL when set, else the embedded broker."""
    broker = embedded_broker(settings)
    if broker is None:
        assert settings.mqtt_url is not None
        return parse_mqtt_url(settings.mqtt_url)
    return broker.address()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def temporary_broker(
    *, max_queued_messages: int = 1_000_000, max_inflight_messages: int = 5_000
) -> Iterator[Broker]:
    """A started broker in a fresh folder under /tmp (reachable by the `mosquitto` user when
    we are root) on a free port, killed and removed afterwards: for tests and benchmarks."""
    folder = Path(tempfile.mkdtemp(prefix="citygrid-broker-", dir="/tmp"))
    folder.chmod(0o755)
    broker = Broker(
        state_dir=folder / "state",
        root=folder / "broker",
        port=free_port(),
        max_queued_messages=max_queued_messages,
        max_inflight_messages=max_inflight_messages,
    )
    try:
        broker.start()
        yield broker
    finally:
        try:
            broker.stop(kill=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
