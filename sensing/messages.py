"""What a device sends: topics and JSON payloads, parsed into `DeviceMessage` (pure).

A device publishes on ``citygrid/devices/{device_id}/{kind}`` where kind is ``telemetry``,
``alarm`` or ``heartbeat``; the payload is one JSON object:

======================  ========================================================================
``message_id``          required; a string (or integer) unique per device, 1–128 printable
                        characters without spaces. A message delivered twice (QoS 1 redelivery,
                        a replay) carries the same id and is stored once.
``time``                required; when the device measured, ISO 8601 with a zone
                        (``2026-12-06T08:00:00+08:00``, ``…Z``) or Unix seconds (a number).
``values``              an object of numeric readings (``{"tilt_deg": 17.5}``); required and
                        non-empty for telemetry, optional for alarms and heartbeats.
anything else           kept as ``body`` (an alarm's ``"state": "recovered"`` marks a recovery,
                        ``"event_type"`` names what a camera saw, ``"battery"`` …).
======================  ========================================================================

`parse_message` refuses bad input with `MessageRefused`, which names the field and the reason;
the ingest worker counts refusals and never retries them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

TOPIC_PREFIX = "citygrid/devices"

MessageKind = Literal["telemetry", "alarm", "heartbeat"]
KINDS: tuple[MessageKind, ...] = get_args(MessageKind)

MAX_PAYLOAD_BYTES = 64 * 1024
DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")
MESSAGE_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
# Devices' clocks are wrong sometimes, but a year outside this range is a broken payload.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
RECOVERY_STATES = frozenset({"recovered", "recovery", "cleared", "normal", "ok"})
RESERVED = frozenset({"message_id", "time", "values"})


class MessageRefused(ValueError):
    """A message that cannot be stored: `field` names the part at fault, the text says why."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


@dataclass(frozen=True)
class DeviceMessage:
    device_id: str
    kind: MessageKind
    message_id: str
    device_time: datetime
    values: Mapping[str, float] = field(default_factory=dict)
    body: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_recovery(self) -> bool:
        """An alarm message saying the condition has ended ("cover back level")."""
        state = self.body.get("state")
        return self.kind == "alarm" and isinstance(state, str) and state.lower() in RECOVERY_STATES


def topic_for(device_id: str, kind: MessageKind) -> str:
    return f"{TOPIC_PREFIX}/{device_id}/{kind}"


def split_topic(topic: str) -> tuple[str, MessageKind]:
    """``citygrid/devices/M-1/alarm`` → ("M-1", "alarm"); MessageRefused otherwise."""
    prefix = TOPIC_PREFIX + "/"
    if not topic.startswith(prefix):
        raise MessageRefused(f"must start with {prefix}", field="topic")
    parts = topic[len(prefix) :].split("/")
    if len(parts) != 2:
        raise MessageRefused(f"must be {prefix}{{device_id}}/{{kind}}", field="topic")
    device_id, kind = parts
    if not DEVICE_ID.match(device_id):
        raise MessageRefused(
            "device id must be 1–64 letters, digits or . _ : - (starting with a letter or digit)",
            field="topic",
        )
    if kind not in KINDS:
        raise MessageRefused(f"kind must be one of {', '.join(KINDS)}", field="topic")
    return device_id, kind


def parse_time(raw: object) -> datetime:
    if isinstance(raw, bool):
        raise MessageRefused("must be ISO 8601 with a zone or Unix seconds", field="time")
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise MessageRefused("must be a finite number of Unix seconds", field="time")
        try:
            moment = datetime.fromtimestamp(raw, tz=UTC)
        except (OverflowError, OSError, ValueError) as error:
            raise MessageRefused("is out of range", field="time") from error
    elif isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw.strip())
        except ValueError as error:
            reason = "must be ISO 8601 with a zone or Unix seconds"
            raise MessageRefused(reason, field="time") from error
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise MessageRefused("must say its zone (…Z or …+08:00)", field="time")
    else:
        raise MessageRefused("is required (ISO 8601 with a zone or Unix seconds)", field="time")
    if not EARLIEST <= moment < LATEST:
        raise MessageRefused("is out of range (2000–2099)", field="time")
    return moment


def parse_values(raw: object, *, required: bool) -> dict[str, float]:
    if raw is None:
        if required:
            raise MessageRefused("telemetry needs at least one numeric value", field="values")
        return {}
    if not isinstance(raw, dict):
        raise MessageRefused("must be an object of numbers", field="values")
    values: dict[str, float] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not 1 <= len(name) <= 64:
            raise MessageRefused("names must be 1–64 characters", field="values")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MessageRefused("must be a number", field=f"values.{name}")
        number = float(value)
        if not math.isfinite(number):
            raise MessageRefused("must be finite", field=f"values.{name}")
        values[name] = number
    if required and not values:
        raise MessageRefused("telemetry needs at least one numeric value", field="values")
    return values


def parse_message(topic: str, payload: bytes) -> DeviceMessage:
    """One MQTT message → `DeviceMessage`; `MessageRefused` names the field and the reason."""
    device_id, kind = split_topic(topic)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MessageRefused(f"is larger than {MAX_PAYLOAD_BYTES} bytes", field="payload")
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MessageRefused("must be a JSON object in UTF-8", field="payload") from error
    if not isinstance(document, dict):
        raise MessageRefused("must be a JSON object", field="payload")
    return message_from_document(device_id, kind, document)


def message_from_document(
    device_id: str, kind: MessageKind, document: Mapping[str, Any]
) -> DeviceMessage:
    """A decoded payload → `DeviceMessage` (also used by the HTTP path and the tests)."""
    raw_id = document.get("message_id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        raise MessageRefused("is required (a string or an integer)", field="message_id")
    message_id = str(raw_id)
    if not MESSAGE_ID.match(message_id):
        reason = "must be 1–128 printable characters without spaces"
        raise MessageRefused(reason, field="message_id")
    device_time = parse_time(document.get("time"))
    values = parse_values(document.get("values"), required=kind == "telemetry")
    body = {key: value for key, value in document.items() if key not in RESERVED}
    return DeviceMessage(
        device_id=device_id,
        kind=kind,
        message_id=message_id,
        device_time=device_time,
        values=values,
        body=body,
    )


def encode_message(message: DeviceMessage) -> tuple[str, bytes]:
    """The topic and payload a device would publish for `message` (load generators, tests)."""
    document: dict[str, Any] = {
        **message.body,
        "message_id": message.message_id,
        "time": message.device_time.isoformat(),
    }
    if message.values:
        document["values"] = dict(message.values)
    return topic_for(message.device_id, message.kind), json.dumps(
        document, ensure_ascii=False, separators=(",", ":")
    ).encode()
