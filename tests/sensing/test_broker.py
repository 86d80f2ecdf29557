"""The embedded mosquitto: `citygrid broker start|stop|status`, MQTT_URL, its persistence."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from citygrid import cli
from citygrid.broker import Broker, MqttAddress, parse_mqtt_url
from citygrid.settings import Settings, get_settings
from tests.sensing.mqtt_fixtures import free_port, private_broker


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("mqtt://broker.city.example", MqttAddress("broker.city.example", 1883)),
        ("mqtt://127.0.0.1:31883", MqttAddress("127.0.0.1", 31883)),
        (
            "mqtts://ingest:s%40cret@mq.example:8884",
            MqttAddress("mq.example", 8884, tls=True, username="ingest", password="s@cret"),
        ),
        ("mqtts://mq.example", MqttAddress("mq.example", 8883, tls=True)),
        ("mqtt://[::1]:1884", MqttAddress("::1", 1884)),
    ],
)
def test_mqtt_urls_are_parsed(url: str, address: MqttAddress) -> None:
    assert parse_mqtt_url(url) == address


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://broker:1883", "must start with mqtt:// or mqtts://"),
        ("mqtt://", "names no host"),
        ("mqtt://broker:99999", "invalid port"),
        ("mqtt://broker/citygrid", "takes no path"),
    ],
)
def test_bad_mqtt_urls_say_why(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_mqtt_url(url)


def test_a_bad_mqtt_url_is_refused_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_URL", "broker.example:1883")
    with pytest.raises(ValidationError, match="MQTT_URL"):
        Settings()


def test_the_address_display_hides_the_password() -> None:
    address = parse_mqtt_url("mqtts://ingest:secret@mq.example")
    assert address.display() == "mqtts://ingest@mq.example:8883"


def test_two_checkouts_get_their_own_folder_and_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYGRID_BROKERS_DIR", str(tmp_path / "brokers"))
    one = Broker.for_state_dir(tmp_path / "one" / ".citygrid")
    other = Broker.for_state_dir(tmp_path / "other" / ".citygrid")
    assert one.root != other.root and one.port != other.port
    assert 30000 <= one.port < 40000
    assert one == Broker.for_state_dir(tmp_path / "one" / ".citygrid")  # stable


def test_the_configuration_keeps_sessions_and_drops_nothing(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "state", tmp_path / "broker", 31999)
    config = broker.config()
    assert "listener 31999 127.0.0.1\n" in config
    assert f"listener 0 {tmp_path / 'broker' / 'mqtt.sock'}\n" in config
    assert "persistence true\n" in config
    assert "max_queued_messages 1000000\n" in config
    assert ("user mosquitto\n" in config) == (os.geteuid() == 0)


def citygrid(*args: str) -> tuple[int, str]:
    cli.register_domain_commands()
    result = CliRunner().invoke(cli.app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A checkout's state folder of its own (and brokers folder, reachable when root)."""
    brokers = Path("/tmp") / f"citygrid-brokers-{os.getpid()}-{tmp_path.name}"
    brokers.mkdir()
    brokers.chmod(0o755)
    monkeypatch.delenv("MQTT_URL", raising=False)
    monkeypatch.setenv("CITYGRID_STATE_DIR", str(tmp_path / ".citygrid"))
    monkeypatch.setenv("CITYGRID_BROKERS_DIR", str(brokers))
    monkeypatch.setenv("CITYGRID_MQTT_PORT", str(free_port()))
    get_settings.cache_clear()
    yield tmp_path / ".citygrid"
    citygrid("broker", "stop", "--kill")
    get_settings.cache_clear()
    shutil.rmtree(brokers, ignore_errors=True)


def test_broker_start_status_stop(checkout: Path) -> None:
    exit_code, output = citygrid("broker", "status")
    assert exit_code == 1 and "stopped" in output
    exit_code, output = citygrid("broker", "start")
    assert exit_code == 0, output
    port = os.environ["CITYGRID_MQTT_PORT"]
    assert f"mqtt://127.0.0.1:{port}" in output
    assert citygrid("broker", "start")[0] == 0  # already running: nothing to do
    exit_code, output = citygrid("broker", "status")
    assert exit_code == 0 and "running (pid" in output
    assert (checkout / "broker.json").exists() and (checkout / "broker").is_symlink()
    exit_code, output = citygrid("broker", "stop")
    assert exit_code == 0 and "stopped" in output
    assert citygrid("broker", "status")[0] == 1


def test_with_mqtt_url_nothing_is_started(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_URL", "mqtts://ingest:secret@mq.city.example:8883")
    get_settings.cache_clear()
    try:
        cli.register_domain_commands()
        runner = CliRunner()
        for command in ("start", "stop", "status"):
            result = runner.invoke(cli.app, ["broker", command])
            assert result.exit_code == 0, result.output
            assert "MQTT_URL is set" in result.output
            assert "secret" not in result.output
        status = runner.invoke(cli.app, ["broker", "status"])
        assert "mqtts://ingest@mq.city.example:8883" in status.output
    finally:
        get_settings.cache_clear()


async def queued_across_a_restart(broker: Broker) -> list[bytes]:
    """QoS 1 messages published while a persistent session is away, the broker restarted in
    between, reach the session when it comes back."""
    address = broker.address()
    subscriber = {
        "identifier": "restart-test",
        "clean_session": False,
        "protocol": aiomqtt.ProtocolVersion.V311,
    }
    async with aiomqtt.Client(address.host, address.port, **subscriber) as client:  # type: ignore[arg-type]
        await client.subscribe("citygrid/devices/+/alarm", qos=1)
    async with aiomqtt.Client(address.host, address.port) as publisher:
        for number in range(3):
            await publisher.publish("citygrid/devices/M-1/alarm", f"{number}".encode(), qos=1)
    await asyncio.to_thread(broker.stop)
    await asyncio.to_thread(broker.start)
    received: list[bytes] = []
    async with aiomqtt.Client(address.host, address.port, **subscriber) as client:  # type: ignore[arg-type]
        async with asyncio.timeout(10):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                received.append(message.payload)
                if len(received) == 3:
                    break
    return received


def test_queued_messages_survive_a_broker_restart() -> None:
    with private_broker() as broker:
        assert asyncio.run(queued_across_a_restart(broker)) == [b"0", b"1", b"2"]
