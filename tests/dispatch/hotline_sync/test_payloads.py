"""The sync's event ids and payloads as plain values."""

from __future__ import annotations

from datetime import UTC, datetime

from dispatch.hotline_sync.payloads import event_id, payload

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_event_id_is_stable_per_ticket_and_seq() -> None:
    assert event_id("BJ12345-1", 1) == event_id("BJ12345-1", 1)
    assert len({event_id("BJ12345-1", 1), event_id("BJ12345-1", 2), event_id("BJ12345-2", 1)}) == 3


def test_payload_carries_the_event_and_never_a_caller() -> None:
    body = payload("BJ1", 3, "reply", {"action": "cleaned", "phone": "13812345678"}, AT)
    assert body == {
        "ticket_number": "BJ1",
        "seq": 3,
        "kind": "reply",
        "data": {"action": "cleaned"},
        "at": "2026-11-02T09:00:00+00:00",
    }
