"""The hotline's ticket vocabulary and its service standard (pure: no database, no web).

A ticket has a type (咨询 consultation … 表扬 praise), an urgency class (紧急, 水电气热, 一般) and a
status. Each urgency class has four time limits, each counted in clock time or in working time:

=========  =====================  ==================  ======================  =================
class      dispatch (派单)         sign for (签收)      first contact (联系)     reply (答复)
=========  =====================  ==================  ======================  =================
emergency  1 h clock              0.5 h clock         2 h clock               24 h clock
utilities  2 h clock              1 h clock           2 h clock               24 h clock
general    24 h clock             4 h working         24 h clock              168 h clock (7 日)
=========  =====================  ==================  ======================  =================

The defaults and where each comes from are in events/data/hotline_service_standard.yaml (the
same values; a test keeps them equal). A city changes them with that file's shape, in a file the
setting `CITYGRID_HOTLINE_SERVICE_STANDARD` points at, passed here as `overrides`.

Callers' phones are personal data: `mask_phone` is what every list, export and log shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class TicketType(StrEnum):
    CONSULTATION = "consultation"  # 咨询
    HELP = "help"  # 求助
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    SUGGESTION = "suggestion"  # 建议
    PRAISE = "praise"  # 表扬


OPENS_NO_CASE = frozenset({TicketType.CONSULTATION, TicketType.PRAISE})


class UrgencyClass(StrEnum):
    EMERGENCY = "emergency"  # 紧急
    UTILITIES = "utilities"  # 水电气热
    GENERAL = "general"  # 一般


class TicketStatus(StrEnum):
    RECEIVED = "received"
    TO_LOCATE = "to_locate"
    RECORDED = "recorded"  # consultation or praise: counted, no case
    FILED = "filed"
    DISPATCHED = "dispatched"
    SIGNED = "signed"
    RETURNED = "returned"
    REPLIED = "replied"
    REWORK = "rework"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class LocationStatus(StrEnum):
    LOCATED = "located"
    TO_LOCATE = "to_locate"
    NOT_NEEDED = "not_needed"  # a consultation or praise


class Datum(StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


# The names the hotline's exports use, Chinese and English, for each value.
TYPE_NAMES: dict[str, TicketType] = {
    "咨询": TicketType.CONSULTATION,
    "求助": TicketType.HELP,
    "投诉": TicketType.COMPLAINT,
    "举报": TicketType.REPORT,
    "建议": TicketType.SUGGESTION,
    "表扬": TicketType.PRAISE,
    **{member.value: member for member in TicketType},
}
URGENCY_NAMES: dict[str, UrgencyClass] = {
    "紧急": UrgencyClass.EMERGENCY,
    "水电气热": UrgencyClass.UTILITIES,
    "一般": UrgencyClass.GENERAL,
    **{member.value: member for member in UrgencyClass},
}


class StandardError(ValueError):
    """A service standard (file or overrides) that cannot be used; says where and why."""


@dataclass(frozen=True)
class Limit:
    hours: float
    working_time: bool  # True: counted in the working calendar's hours; False: clock time


@dataclass(frozen=True)
class ServiceLimits:
    dispatch: Limit  # the hotline centre dispatches the ticket to a unit
    sign_for: Limit  # the unit signs for it (签收), from dispatch
    first_contact: Limit  # the unit first contacts the caller, from dispatch
    reply: Limit  # the unit's final reply (答复), from dispatch


LIMIT_NAMES = ("dispatch", "sign_for", "first_contact", "reply")

DEFAULT_LIMITS: dict[UrgencyClass, ServiceLimits] = {
    UrgencyClass.EMERGENCY: ServiceLimits(
        dispatch=Limit(1, working_time=False),
        sign_for=Limit(0.5, working_time=False),
        first_contact=Limit(2, working_time=False),
        reply=Limit(24, working_time=False),
    ),
    UrgencyClass.UTILITIES: ServiceLimits(
        dispatch=Limit(2, working_time=False),
        sign_for=Limit(1, working_time=False),
        first_contact=Limit(2, working_time=False),
        reply=Limit(24, working_time=False),
    ),
    UrgencyClass.GENERAL: ServiceLimits(
        dispatch=Limit(24, working_time=False),
        sign_for=Limit(4, working_time=True),
        first_contact=Limit(24, working_time=False),
        reply=Limit(168, working_time=False),
    ),
}


def service_limits(
    urgency: UrgencyClass | str, overrides: Mapping[str, Any] | None = None
) -> ServiceLimits:
    """The four limits of an urgency class: the Beijing defaults, changed by `overrides`.

    `overrides` has the data file's shape, any part of it:
    ``{"emergency": {"reply": {"hours": 12, "working_time": false}}, …}`` (a top-level
    ``limits`` key, as in the file, is accepted too). StandardError names a wrong entry.
    """
    urgency = _urgency(urgency)
    limits = DEFAULT_LIMITS[urgency]
    if not overrides:
        return limits
    table = overrides.get("limits", overrides)
    if not isinstance(table, Mapping):
        raise StandardError("limits must be a mapping of urgency class to limits")
    unknown = set(table) - {member.value for member in UrgencyClass}
    if unknown:
        raise StandardError(f"unknown urgency class {sorted(unknown)[0]!r} in the standard")
    entry = table.get(urgency.value)
    if entry is None:
        return limits
    if not isinstance(entry, Mapping):
        raise StandardError(f"{urgency.value} must be a mapping of limit name to limit")
    changes: dict[str, Limit] = {}
    for name, value in entry.items():
        if name not in LIMIT_NAMES:
            raise StandardError(
                f"{urgency.value}.{name}: unknown limit (one of {', '.join(LIMIT_NAMES)})"
            )
        changes[name] = _limit(getattr(limits, name), value, where=f"{urgency.value}.{name}")
    return replace(limits, **changes)


def all_limits(overrides: Mapping[str, Any] | None = None) -> dict[UrgencyClass, ServiceLimits]:
    """Every class's limits (checks a whole standard at once, e.g. at start-up)."""
    return {urgency: service_limits(urgency, overrides) for urgency in UrgencyClass}


def _urgency(urgency: UrgencyClass | str) -> UrgencyClass:
    if isinstance(urgency, UrgencyClass):
        return urgency
    try:
        return URGENCY_NAMES[urgency]
    except KeyError:
        raise StandardError(f"unknown urgency class {urgency!r}") from None


def _limit(default: Limit, value: object, *, where: str) -> Limit:
    if isinstance(value, int | float) and not isinstance(value, bool):
        hours: object = value
        working_time = default.working_time
    elif isinstance(value, Mapping):
        hours = value.get("hours", default.hours)
        working_time = value.get("working_time", default.working_time)
    else:
        raise StandardError(f"{where}: give hours or {{hours, working_time}}")
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 8760:
        raise StandardError(f"{where}.hours must be a number of hours above 0, at most 8760")
    if not isinstance(working_time, bool):
        raise StandardError(f"{where}.working_time must be true or false")
    return Limit(float(hours), working_time=working_time)


PHONE_DIGITS = re.compile(r"\d")


def mask_phone(phone: str | None) -> str:
    """A phone number as lists show it: 13812345678 (or +86 138 1234 5678) → 138****5678,
    010-65123456 → 010****3456; 7 to 10 digits keep only their last four (65123456 →
    ****3456), shorter ones none: no list shows a whole number."""
    if not phone:
        return ""
    digits = "".join(PHONE_DIGITS.findall(phone))
    if len(digits) == 13 and digits.startswith("86"):  # +86: China's country code
        digits = digits[2:]
    if len(digits) >= 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 7:
        return f"{'*' * (len(digits) - 4)}{digits[-4:]}"
    return "*" * max(len(digits), 4)


def mask_name(name: str | None) -> str:
    """A caller's name as lists show it: 张三 → 张*, 欧阳娜娜 → 欧***, Li Lei → L*****."""
    if not name:
        return ""
    name = name.strip()
    return name[:1] + "*" * max(len(name) - 1, 1)
