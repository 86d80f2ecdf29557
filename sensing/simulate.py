"""Simulated devices: publish many device messages at full speed over MQTT, QoS 1, and keep
count of what the broker acknowledged (PUBACK), for the reliability drill and the benchmark.

A publish the broker acknowledged is a message the broker owns: it must end up stored exactly
once. One that was not acknowledged (the broker went away while it was in flight) is published
again, with the same message id, after reconnecting, so the broker may see it twice; the
ingest stores it once all the same. `PublishReport.acknowledged` lists, per message, when its
first acknowledgement came back.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiomqtt

from citygrid.broker import MqttAddress
from sensing.messages import MessageKind, topic_for
from sensing.worker import BufferedReads

PUBLISH_TIMEOUT_S = 5.0  # an acknowledgement later than this: the connection is taken as lost


@dataclass(frozen=True)
class Outgoing:
    device_id: str
    message_id: str
    topic: str
    payload: bytes


@dataclass
class PublishReport:
    sent_at: list[float] = field(default_factory=list)  # first attempt (time.monotonic)
    acknowledged_at: list[float | None] = field(default_factory=list)
    attempts: int = 0
    reconnects: int = 0
    elapsed_s: float = 0.0

    @property
    def acknowledged(self) -> int:
        return sum(1 for at in self.acknowledged_at if at is not None)


def device_messages(
    kind: MessageKind,
    count: int,
    devices: Sequence[str],
    *,
    start: datetime,
    values: Callable[[int], dict[str, float]] | None = None,
    body: dict[str, object] | None = None,
    prefix: str = "m",
) -> Iterator[Outgoing]:
    """`count` messages spread round-robin over `devices`, one second apart per device, with
    message ids `{prefix}{n}` unique per device."""
    for number in range(count):
        device_id = devices[number % len(devices)]
        document: dict[str, object] = {
            **(body or {}),
            "message_id": f"{prefix}{number}",
            "time": (start + timedelta(seconds=number // len(devices))).isoformat(),
        }
        if values is not None:
            document["values"] = values(number)
        payload = json.dumps(document, separators=(",", ":")).encode()
        yield Outgoing(device_id, f"{prefix}{number}", topic_for(device_id, kind), payload)


async def publish_all(
    address: MqttAddress,
    messages: Sequence[Outgoing],
    *,
    in_flight: int = 500,
    rate: float | None = None,
    on_progress: Callable[[int], None] | None = None,
    client_id: str | None = None,
) -> PublishReport:
    """Publish every message at QoS 1 with up to `in_flight` awaiting their PUBACK (and at most
    `rate` a second when given), reconnecting and publishing again what was not acknowledged
    when the broker goes away. Returns when every message is acknowledged."""
    report = PublishReport(sent_at=[0.0] * len(messages), acknowledged_at=[None] * len(messages))
    waiting: deque[int] = deque(range(len(messages)))
    started = time.monotonic()
    done = 0
    interval = 1 / rate if rate else 0.0
    next_slot = [started]

    async def lane(client: aiomqtt.Client) -> None:
        nonlocal done
        while waiting:
            index = waiting.popleft()
            try:
                if interval:
                    slot = next_slot[0] = max(next_slot[0] + interval, time.monotonic())
                    await asyncio.sleep(max(0.0, slot - time.monotonic()))
                message = messages[index]
                report.attempts += 1
                if not report.sent_at[index]:
                    report.sent_at[index] = time.monotonic()
                await client.publish(
                    message.topic, message.payload, qos=1, timeout=PUBLISH_TIMEOUT_S
                )
            except BaseException:
                waiting.appendleft(index)  # not acknowledged: publish it again
                raise
            if report.acknowledged_at[index] is None:
                report.acknowledged_at[index] = time.monotonic()
                done += 1
                if on_progress is not None:
                    on_progress(done)

    while waiting:
        client = aiomqtt.Client(
            address.host,
            address.port,
            username=address.username,
            password=address.password,
            identifier=client_id,
            max_inflight_messages=in_flight,
            keepalive=30,
            tls_params=aiomqtt.TLSParameters() if address.tls else None,
        )
        BufferedReads(client._client)  # the PUBACKs read in chunks, as the worker reads
        try:
            async with client:
                client.pending_calls_threshold = in_flight * 2
                async with asyncio.TaskGroup() as lanes:
                    for _ in range(in_flight):
                        lanes.create_task(lane(client))
        except* aiomqtt.MqttError:
            report.reconnects += 1
            await asyncio.sleep(0.2)
    report.elapsed_s = time.monotonic() - started
    return report
