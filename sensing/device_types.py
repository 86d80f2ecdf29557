"""Device types and their default rules, read from data/device_types.yaml (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from sensing.rules import Threshold

DEVICE_TYPES_FILE = Path(__file__).parent / "data" / "device_types.yaml"


@dataclass(frozen=True)
class CategoryRef:
    kind: str
    code: str
    standard: str


@dataclass(frozen=True)
class EventType:
    category: CategoryRef
    redetection: bool


@dataclass(frozen=True)
class DeviceType:
    code: str
    zh: str
    en: str
    channel: str  # sensor | video
    category: CategoryRef
    category_from_component: bool
    thresholds: tuple[Threshold, ...]
    heartbeat_s: int
    event_types: Mapping[str, EventType] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def rules_for(
        self, overrides: Mapping[str, Any] | None, hold_s: float | None
    ) -> tuple[Threshold, ...]:
        """The type's thresholds with a device's overrides ({metric: limit}, one hold time)."""
        overrides = overrides or {}
        return tuple(
            Threshold(
                rule.metric,
                float(overrides.get(rule.metric, rule.limit)),
                rule.above,
                rule.hold_s if hold_s is None else hold_s,
            )
            for rule in self.thresholds
        )


def _category(raw: Mapping[str, Any]) -> CategoryRef:
    return CategoryRef(str(raw["kind"]), str(raw["code"]), str(raw["standard"]))


def _threshold(raw: Mapping[str, Any]) -> Threshold:
    above = "above" in raw
    return Threshold(
        metric=str(raw["metric"]),
        limit=float(raw["above"] if above else raw["below"]),
        above=above,
        hold_s=float(raw.get("hold_s", 0)),
    )


def parse_device_types(document: Mapping[str, Any]) -> dict[str, DeviceType]:
    types = {}
    for code, raw in document["types"].items():
        types[code] = DeviceType(
            code=code,
            zh=str(raw["zh"]),
            en=str(raw["en"]),
            channel=str(raw["channel"]),
            category=_category(raw["category"]),
            category_from_component=bool(raw.get("category_from_component", False)),
            thresholds=tuple(_threshold(rule) for rule in raw.get("rules") or []),
            heartbeat_s=int(raw["heartbeat_s"]),
            event_types={
                name: EventType(_category(value["category"]), bool(value.get("redetection")))
                for name, value in (raw.get("event_types") or {}).items()
            },
            provenance=raw.get("provenance") or {},
        )
    return types


@lru_cache(maxsize=1)
def device_types() -> dict[str, DeviceType]:
    return parse_device_types(yaml.safe_load(DEVICE_TYPES_FILE.read_text(encoding="utf-8")))
