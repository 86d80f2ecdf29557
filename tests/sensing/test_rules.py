"""The pure parts: parsing device messages, threshold + hold rules, damping."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sensing.device_types import device_types
from sensing.messages import MessageRefused, encode_message, parse_message
from sensing.rules import (
    DeviceState,
    Threshold,
    apply_alarm_message,
    apply_telemetry,
    is_flapping,
)

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
TILT = Threshold("tilt_deg", 15.0, above=True, hold_s=3.0)


def payload(**fields: object) -> bytes:
    return json.dumps({"message_id": "m1", "time": "2026-12-06T08:00:00+08:00", **fields}).encode()


def test_a_message_is_parsed_and_encoded_back() -> None:
    message = parse_message(
        "citygrid/devices/TILT-1/alarm", payload(values={"tilt_deg": 17}, state="recovered")
    )
    assert (message.device_id, message.kind, message.values) == (
        "TILT-1",
        "alarm",
        {"tilt_deg": 17.0},
    )
    assert message.is_recovery and message.device_time == datetime(2026, 12, 6, 0, 0, tzinfo=UTC)
    assert parse_message(*encode_message(message)) == message


@pytest.mark.parametrize(
    ("topic", "body", "field"),
    [
        ("other/devices/X/alarm", payload(), "topic"),
        ("citygrid/devices/X/smell", payload(), "topic"),
        ("citygrid/devices/a b/alarm", payload(), "topic"),
        ("citygrid/devices/X/alarm", b"[1]", "payload"),
        ("citygrid/devices/X/alarm", b"\xff", "payload"),
        ("citygrid/devices/X/alarm", payload(message_id=None), "message_id"),
        ("citygrid/devices/X/alarm", payload(message_id="has space"), "message_id"),
        ("citygrid/devices/X/alarm", payload(time="2026-12-06T08:00:00"), "time"),
        ("citygrid/devices/X/alarm", payload(time=True), "time"),
        ("citygrid/devices/X/telemetry", payload(), "values"),
        ("citygrid/devices/X/telemetry", payload(values={"t": "hot"}), "values.t"),
        ("citygrid/devices/X/telemetry", payload(values={"t": True}), "values.t"),
    ],
)
def test_bad_messages_are_refused_naming_the_field(topic: str, body: bytes, field: str) -> None:
    with pytest.raises(MessageRefused) as refused:
        parse_message(topic, body)
    assert refused.value.field == field


def readings(state: DeviceState, *values: tuple[float, float]) -> list[str]:
    events = []
    for seconds, value in values:
        at = T0 + timedelta(seconds=seconds)
        found = apply_telemetry(
            state, [TILT], at=at, message_id=f"{seconds}", values={"tilt_deg": value}
        )
        events += [f"{event.kind}@{seconds:g}" for event in found]
    return events


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (((0, 20), (2, 20)), []),  # not held for 3 s
        (((0, 20), (3, 20)), ["alarm@3"]),
        (((0, 20), (1, 5), (2, 20), (4, 20)), []),  # the dip restarts the clock
        (((0, 20), (3, 20), (4, 20), (5, 5)), ["alarm@3", "recovery@5"]),
        (((0, 10), (3, 10)), []),
    ],
)
def test_an_alarm_needs_the_hold_time(
    values: tuple[tuple[float, float], ...], expected: list[str]
) -> None:
    assert readings(DeviceState(), *values) == expected


def test_the_state_round_trips_through_json() -> None:
    state = DeviceState()
    readings(state, (0, 20))
    restored = DeviceState.of_json(json.loads(json.dumps(state.to_json())))
    assert readings(restored, (3, 20)) == ["alarm@3"]
    assert readings(restored, (1, 20)) == []  # older than the newest applied: not judged


def test_flips_within_the_window_damp_the_device() -> None:
    state = DeviceState()
    for minute in range(2):
        apply_alarm_message(
            state, at=T0 + timedelta(minutes=minute), message_id="a", recovery=False
        )
        apply_alarm_message(
            state, at=T0 + timedelta(minutes=minute, seconds=30), message_id="r", recovery=True
        )
    window = timedelta(minutes=30)
    assert is_flapping(state, now=T0 + timedelta(minutes=2), flips=4, window=window)
    assert not is_flapping(state, now=T0 + timedelta(hours=1), flips=4, window=window)


def test_every_device_type_files_somewhere() -> None:
    for kind in device_types().values():
        assert kind.heartbeat_s > 0 and kind.category.code
        assert kind.channel in ("sensor", "video")
