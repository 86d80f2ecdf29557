"""When readings become alarms, and when a device flaps (pure: no database, no web).

A rule watches one metric: a reading is *over* when it is above (or below) the threshold. An
alarm is raised when readings stay over for the hold time (the first reading over starts the
clock; a later reading still over, `hold_s` or more after it, raises the alarm; hold 0 raises at
once). A reading no longer over after an alarm is a recovery. A device's own alarm message is an
alarm at once (the device applied its hold), and one whose state says "recovered" a recovery.

Damping: each raise and each recovery is a flip; a device with `flips` or more flips within the
window is flapping, and files no new case until it is quiet for a window.

The state is plain data (`DeviceState.to_json`) kept per device in the database, so a restarted
worker goes on where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

EventKind = Literal["alarm", "recovery"]


@dataclass(frozen=True)
class Threshold:
    metric: str
    limit: float
    above: bool
    hold_s: float

    def over(self, value: float) -> bool:
        return value > self.limit if self.above else value < self.limit


@dataclass
class MetricState:
    over_since: datetime | None = None
    alarmed: bool = False


@dataclass
class DeviceState:
    metrics: dict[str, MetricState] = field(default_factory=dict)
    alarmed: bool = False  # the device's own alarm messages
    last_at: datetime | None = None  # the newest reading applied
    flips: list[datetime] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": {
                name: {
                    "over_since": m.over_since.isoformat() if m.over_since else None,
                    "alarmed": m.alarmed,
                }
                for name, m in self.metrics.items()
            },
            "alarmed": self.alarmed,
            "last_at": self.last_at.isoformat() if self.last_at else None,
            "flips": [flip.isoformat() for flip in self.flips],
        }

    @classmethod
    def of_json(cls, data: Mapping[str, Any] | None) -> DeviceState:
        if not data:
            return cls()
        metrics = {
            name: MetricState(
                over_since=_moment(value.get("over_since")), alarmed=bool(value.get("alarmed"))
            )
            for name, value in (data.get("metrics") or {}).items()
        }
        flips = [moment for raw in data.get("flips") or [] if (moment := _moment(raw))]
        return cls(metrics, bool(data.get("alarmed")), _moment(data.get("last_at")), flips)


def _moment(raw: object) -> datetime | None:
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None


@dataclass(frozen=True)
class RuleEvent:
    kind: EventKind
    at: datetime
    message_id: str
    metric: str | None = None
    value: float | None = None
    per_metric: bool = False  # raised by a rule on one metric of a reading (not a device's alarm)


def apply_telemetry(
    state: DeviceState,
    thresholds: Iterable[Threshold],
    *,
    at: datetime,
    message_id: str,
    values: Mapping[str, float],
) -> list[RuleEvent]:
    """The alarms and recoveries one reading causes; `state` is updated in place. A reading
    older than the newest one applied changes nothing (it is stored, not judged)."""
    if state.last_at is not None and at < state.last_at:
        return []
    state.last_at = at
    events: list[RuleEvent] = []
    for rule in thresholds:
        value = values.get(rule.metric)
        if value is None:
            continue
        metric = state.metrics.setdefault(rule.metric, MetricState())
        if rule.over(value):
            if metric.over_since is None:
                metric.over_since = at
            held = (at - metric.over_since).total_seconds() >= rule.hold_s
            if held and not metric.alarmed:
                metric.alarmed = True
                state.flips.append(at)
                events.append(RuleEvent("alarm", at, message_id, rule.metric, value, True))
        else:
            metric.over_since = None
            if metric.alarmed:
                metric.alarmed = False
                state.flips.append(at)
                events.append(RuleEvent("recovery", at, message_id, rule.metric, value, True))
    return events


def apply_alarm_message(
    state: DeviceState,
    *,
    at: datetime,
    message_id: str,
    recovery: bool,
    values: Mapping[str, float] | None = None,
    metrics: Iterable[str] = (),
) -> RuleEvent:
    """A device's own alarm (or recovery) message: always an event; a flip when it changes the
    device's alarm state. The value it carries is the event's: the first of the type's
    `metrics` present in `values`, else its first value."""
    if state.last_at is None or at > state.last_at:
        state.last_at = at
    metric, value = carried_value(values or {}, metrics)
    if recovery:
        if state.alarmed:
            state.flips.append(at)
        state.alarmed = False
        return RuleEvent("recovery", at, message_id, metric, value)
    if not state.alarmed:
        state.flips.append(at)
    state.alarmed = True
    return RuleEvent("alarm", at, message_id, metric, value)


def carried_value(
    values: Mapping[str, float], metrics: Iterable[str]
) -> tuple[str | None, float | None]:
    for name in metrics:
        if name in values:
            return name, values[name]
    for name, value in values.items():
        return name, value
    return None, None


def is_flapping(state: DeviceState, *, now: datetime, flips: int, window: timedelta) -> bool:
    """Whether the device flipped `flips` times or more within `window` before `now`; older
    flips are forgotten."""
    state.flips = sorted(flip for flip in state.flips if flip > now - window)[-(flips * 4) :]
    return len(state.flips) >= flips
