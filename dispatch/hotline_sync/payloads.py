"""What goes back to the hotline system for a ticket event (pure): its event id and payload.

The event id is a UUID 5 of the ticket number and the event's sequence number, so the same
event always has the same id: pushed twice (a replay, a retried delivery, a job run again), the
outbox keeps one row per webhook and the receiver recognises it by `X-Citygrid-Delivery`.
The payload never holds the caller's name or phone; ticket events never carry them either.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

EVENT_KIND = "hotline.ticket"
# A fixed namespace for the ids (uuid5 of the DNS namespace and "hotline.citygrid").
EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "hotline.citygrid")
PERSONAL_KEYS = frozenset({"caller", "caller_name", "caller_phone", "name", "phone"})


def event_id(ticket_number: str, seq: int) -> uuid.UUID:
    """The event's id: the same for the same ticket and sequence number, always."""
    return uuid.uuid5(EVENT_NAMESPACE, f"{ticket_number}#{seq}")


def payload(
    ticket_number: str, seq: int, kind: str, data: Mapping[str, Any], at: datetime
) -> dict[str, Any]:
    """The webhook payload of one ticket event; personal keys are dropped should one ever be
    in `data` (the ticket events are written without them)."""
    return {
        "ticket_number": ticket_number,
        "seq": seq,
        "kind": kind,
        "data": {key: value for key, value in data.items() if key not in PERSONAL_KEYS},
        "at": at.isoformat(),
    }
