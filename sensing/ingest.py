"""Ingest a batch of device messages: store each once, apply the rules, file or fold cases.

Set-based: one INSERT … SELECT FROM unnest … ON CONFLICT DO NOTHING stores the batch's messages
(a message already stored, by device, message id and time, is a duplicate and does nothing
more); one UPDATE marks the devices seen (and notes a returning device on its offline case);
one SELECT … FOR UPDATE and one upsert read and write the rule state of the devices with
readings; the alarms then fold into the devices' open cases (one statement for the open cases,
one that writes the alarms with their reports) and only a device without an open case files a
new one through intake. Flushes only: the caller commits, then acknowledges the messages.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.errors import CitygridError
from citygrid.settings import Settings, get_settings
from sensing.alarms import filing, verification
from sensing.alarms.filing import Device, Note
from sensing.messages import DeviceMessage
from sensing.rules import DeviceState, RuleEvent, apply_alarm_message, apply_telemetry, is_flapping


@dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    alarms: int = 0
    cases_filed: int = 0
    folded: int = 0
    refusals: list[str] = field(default_factory=list)  # why, per refused message (no data)


STORE = text("""
    INSERT INTO sensing_reading (device_id, message_id, at, kind, received_at, "values", body)
    SELECT m.device_id, m.message_id, m.at, m.kind, :now, CAST(m.vals AS jsonb),
           CAST(m.body AS jsonb)
    FROM unnest(CAST(:device_ids AS text[]), CAST(:message_ids AS text[]),
                CAST(:ats AS timestamptz[]), CAST(:kinds AS text[]), CAST(:vals AS text[]),
                CAST(:bodies AS text[])) AS m(device_id, message_id, at, kind, vals, body)
    ON CONFLICT DO NOTHING
    RETURNING device_id, message_id, at
""")
SEEN = text("""
    WITH seen AS (
        SELECT d.id, d.online AS was_online FROM sensing_device d
        WHERE d.id = ANY(:ids) FOR UPDATE
    )
    UPDATE sensing_device d SET last_seen_at = greatest(d.last_seen_at, :now), online = true
    FROM seen WHERE d.id = seen.id
    RETURNING d.id, seen.was_online
""")
STATES = text("""
    SELECT device_id, state FROM sensing_rule_state WHERE device_id = ANY(:ids) FOR UPDATE
""")
SAVE_STATES = text("""
    INSERT INTO sensing_rule_state (device_id, state, updated_at)
    SELECT s.device_id, CAST(s.state AS jsonb), :now
    FROM unnest(CAST(:ids AS text[]), CAST(:states AS text[])) AS s(device_id, state)
    ON CONFLICT (device_id) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at
""")
# The open case each device's alarms fold into: its own alarm case (per camera event type), or
# an open case of the same category on the component it watches; newest first.
OPEN_CASES = text("""
    SELECT DISTINCT ON (d.id, d.event_type) d.id AS device_id, d.event_type, c.id AS case_id,
           c.status, sc.redetection
    FROM unnest(CAST(:ids AS text[]), CAST(:event_types AS text[]),
                CAST(:component_ids AS bigint[]), CAST(:category_ids AS int[]))
         AS d(id, event_type, component_id, category_id)
    JOIN LATERAL (
        SELECT c.id, c.status, c.created_at
        FROM sensing_case sc JOIN event_case c ON c.id = sc.case_id
        WHERE sc.device_id = d.id AND sc.reason = 'alarm'
          AND sc.event_type IS NOT DISTINCT FROM d.event_type
          AND c.status = ANY(:open) AND c.merged_into_id IS NULL
        UNION ALL
        SELECT c.id, c.status, c.created_at FROM event_case c
        WHERE d.component_id IS NOT NULL AND c.component_id = d.component_id
          AND c.category_id = d.category_id
          AND c.status = ANY(:open) AND c.merged_into_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM sensing_case o WHERE o.case_id = c.id
                          AND o.reason = 'offline')
    ) c ON true
    LEFT JOIN sensing_case sc ON sc.case_id = c.id
    ORDER BY d.id, d.event_type, c.created_at DESC, c.id DESC
""")
# The alarms of the batch with what became of them; a folded alarm is a further report on its
# case (the device's position, channel sensor/video, a UUID derived from device and message).
WRITE_ALARMS = text("""
    WITH a AS (
        SELECT * FROM unnest(
            CAST(:device_ids AS text[]), CAST(:message_ids AS text[]), CAST(:kinds AS text[]),
            CAST(:outcomes AS text[]), CAST(:ats AS timestamptz[]), CAST(:metrics AS text[]),
            CAST(:vals AS float8[]), CAST(:event_types AS text[]), CAST(:case_ids AS bigint[]),
            CAST(:report_ids AS bigint[]), CAST(:uuids AS uuid[]), CAST(:channels AS text[]),
            CAST(:descriptions AS text[]))
        AS a(device_id, message_id, kind, outcome, at, metric, value, event_type, case_id,
             report_id, report_uuid, channel, description)
        WHERE NOT EXISTS (SELECT 1 FROM sensing_alarm x WHERE x.source_id IS NULL
                          AND x.device_id = a.device_id AND x.message_id = a.message_id)
    ),
    new_reports AS (
        INSERT INTO report (report_uuid, case_id, original_case_id, channel, geom, input_crs,
                            description)
        SELECT a.report_uuid, a.case_id, a.case_id, a.channel, d.geom, 'EPSG:4326',
               a.description
        FROM a JOIN sensing_device d ON d.id = a.device_id
        WHERE a.outcome = 'folded'
        ON CONFLICT DO NOTHING
        RETURNING id, report_uuid
    ),
    counted AS (
        UPDATE sensing_case sc SET alarm_count = sc.alarm_count + f.n,
               last_alarm_at = greatest(sc.last_alarm_at, f.last_at)
        FROM (SELECT case_id, count(*) AS n, max(at) AS last_at FROM a
              WHERE outcome = 'folded' GROUP BY case_id) f
        WHERE sc.case_id = f.case_id
    ),
    recovered AS (
        UPDATE sensing_case sc SET recovered_at = f.at
        FROM (SELECT case_id, max(at) AS at FROM a WHERE kind = 'recovery' AND case_id IS NOT NULL
              GROUP BY case_id) f
        WHERE sc.case_id = f.case_id
    )
    INSERT INTO sensing_alarm (device_id, message_id, kind, outcome, at, received_at, metric,
                               value, event_type, case_id, report_id)
    SELECT a.device_id, a.message_id, a.kind, a.outcome, a.at, :now, a.metric, a.value,
           a.event_type, a.case_id, coalesce(a.report_id, r.id)
    FROM a LEFT JOIN new_reports r ON r.report_uuid = a.report_uuid
    ON CONFLICT DO NOTHING
""")
OPEN_OFFLINE_CASES = text("""
    SELECT DISTINCT ON (sc.device_id) sc.device_id, sc.case_id FROM sensing_case sc
    JOIN event_case c ON c.id = sc.case_id
    WHERE sc.device_id = ANY(:ids) AND sc.reason = 'offline' AND c.status = ANY(:open)
    ORDER BY sc.device_id, sc.case_id DESC
""")


@dataclass
class Planned:
    """One alarm or recovery of the batch and what is to become of it."""

    device: Device
    event: RuleEvent
    event_type: str | None
    outcome: str = ""
    case_id: int | None = None
    report_id: int | None = None
    redetects: bool = False  # a detection while its camera case waits for verification


def ingest_batch(
    session: Session,
    messages: Sequence[DeviceMessage],
    *,
    now: datetime,
    settings: Settings | None = None,
) -> IngestResult:
    """Store `messages` exactly once (by device and message id) and act on them; flushes only."""
    settings = settings or get_settings()
    result = IngestResult()
    devices = filing.load_devices(session, sorted({m.device_id for m in messages}))
    accepted: list[DeviceMessage] = []
    seen_in_batch: set[tuple[str, str]] = set()
    for message in messages:
        device = devices.get(message.device_id)
        if device is None or device.status == "retired":
            result.refused += 1
            why = "unknown" if device is None else "retired"
            result.refusals.append(f"device {message.device_id} is {why}")
            continue
        key = (message.device_id, message.message_id)
        if key in seen_in_batch:
            result.duplicates += 1
            continue
        seen_in_batch.add(key)
        accepted.append(message)
    if not accepted:
        return result
    new = store(session, accepted, now)
    result.stored = len(new)
    result.duplicates += len(accepted) - len(new)
    back_online = mark_seen(session, sorted({m.device_id for m in accepted}), now)
    note_back_online(session, back_online, now)
    planned = apply_rules(session, new, devices, now, settings)
    result.alarms = sum(1 for plan in planned if plan.event.kind == "alarm")
    decide(session, planned, now, settings, result)
    write_alarms(session, planned, now)
    redetected(session, planned, now, settings)
    session.flush()
    return result


def redetected(session: Session, planned: list[Planned], now: datetime, settings: Settings) -> None:
    """Detections folded into a handled camera case: its re-detection check fails (rework)."""
    for plan in planned:
        if not plan.redetects or plan.case_id is None:
            continue
        alarm_id = session.scalar(
            text("""SELECT id FROM sensing_alarm WHERE source_id IS NULL
                    AND device_id = :device_id AND message_id = :message_id"""),
            {"device_id": plan.device.id, "message_id": alarm_message_id(plan)},
        )
        verification.fail_on_detection(
            session,
            plan.case_id,
            alarm_id=alarm_id or 0,
            at=plan.event.at,
            now=now,
            settings=settings,
        )


def store(session: Session, messages: list[DeviceMessage], now: datetime) -> list[DeviceMessage]:
    """The messages not stored before, in the batch's order."""
    rows = session.execute(
        STORE,
        {
            "now": now,
            "device_ids": [m.device_id for m in messages],
            "message_ids": [m.message_id for m in messages],
            "ats": [m.device_time for m in messages],
            "kinds": [m.kind for m in messages],
            "vals": [json.dumps(dict(m.values)) for m in messages],
            "bodies": [json.dumps(dict(m.body), default=str) for m in messages],
        },
    ).all()
    stored = {(row.device_id, row.message_id) for row in rows}
    return [m for m in messages if (m.device_id, m.message_id) in stored]


def mark_seen(session: Session, ids: list[str], now: datetime) -> list[str]:
    """Mark the devices seen now; the ids of those that were offline."""
    rows = session.execute(SEEN, {"ids": ids, "now": now}).all()
    return [row.id for row in rows if not row.was_online]


def note_back_online(session: Session, ids: list[str], now: datetime) -> None:
    """A returning device is noted on its open offline case, for the verifier."""
    if not ids:
        return
    rows = session.execute(
        OPEN_OFFLINE_CASES, {"ids": ids, "open": filing.OPEN_STATUS_VALUES}
    ).all()
    notes = [
        Note(
            row.case_id,
            "sensor_online",
            f"设备 {row.device_id} 恢复上线 (device back online)",
            json.dumps({"device_id": row.device_id, "at": now.isoformat()}),
            now,
        )
        for row in rows
    ]
    filing.add_notes(session, notes)
    if rows:
        session.execute(
            text("UPDATE sensing_case SET recovered_at = :now WHERE case_id = ANY(:ids)"),
            {"now": now, "ids": [row.case_id for row in rows]},
        )


def apply_rules(
    session: Session,
    messages: list[DeviceMessage],
    devices: dict[str, Device],
    now: datetime,
    settings: Settings,
) -> list[Planned]:
    """The alarms and recoveries of the new messages, per device in device-time order; rule
    state read (locked) and written once for the batch."""
    by_device: dict[str, list[DeviceMessage]] = defaultdict(list)
    for message in messages:
        if message.kind != "heartbeat":
            by_device[message.device_id].append(message)
    if not by_device:
        return []
    ids = sorted(by_device)
    rows = session.execute(STATES, {"ids": ids}).all()
    states = {row.device_id: DeviceState.of_json(row.state) for row in rows}
    planned: list[Planned] = []
    window = timedelta(minutes=settings.sensing_flap_window_minutes)
    for device_id in ids:
        device = devices[device_id]
        state = states.setdefault(device_id, DeviceState())
        rules = device.type.rules_for(device.thresholds, device.hold_s)
        for message in sorted(by_device[device_id], key=lambda m: (m.device_time, m.message_id)):
            event_type = message.body.get("event_type")
            event_type = str(event_type)[:64] if event_type is not None else None
            if message.kind == "telemetry":
                events = apply_telemetry(
                    state,
                    rules,
                    at=message.device_time,
                    message_id=message.message_id,
                    values=message.values,
                )
            else:
                events = [
                    apply_alarm_message(
                        state,
                        at=message.device_time,
                        message_id=message.message_id,
                        recovery=message.is_recovery,
                    )
                ]
            flapping = is_flapping(
                state, now=message.device_time, flips=settings.sensing_flap_flips, window=window
            )
            for event in events:
                plan = Planned(device, event, event_type)
                if event.kind == "alarm" and flapping:
                    plan.outcome = "damped"
                planned.append(plan)
    session.execute(
        SAVE_STATES,
        {"ids": ids, "states": [json.dumps(states[i].to_json()) for i in ids], "now": now},
    )
    return planned


def decide(
    session: Session,
    planned: list[Planned],
    now: datetime,
    settings: Settings,
    result: IngestResult,
) -> None:
    """Fold each alarm into its device's open case; file a case for a device without one;
    attach recoveries; damped alarms and devices in maintenance file nothing."""
    if not planned:
        return
    categories: dict[tuple[str, str | None], int | None] = {}
    for plan in planned:
        key = (plan.device.id, plan.event_type)
        if key not in categories:
            categories[key] = filing.category_for(session, plan.device, plan.event_type)
    keys = sorted(categories, key=lambda k: (k[0], k[1] or ""))
    rows = session.execute(
        OPEN_CASES,
        {
            "ids": [k[0] for k in keys],
            "event_types": [k[1] for k in keys],
            "component_ids": [planned_device(planned, k[0]).component_id for k in keys],
            "category_ids": [categories[k] for k in keys],
            "open": filing.OPEN_STATUS_VALUES,
        },
    ).all()
    open_cases: dict[tuple[str, str | None], int] = {
        (row.device_id, row.event_type): row.case_id for row in rows
    }
    handled = {row.case_id for row in rows if row.status == "handled" and row.redetection}
    notes: list[Note] = []
    for plan in planned:
        key = (plan.device.id, plan.event_type)
        case_id = open_cases.get(key)
        if plan.event.kind == "recovery":
            plan.case_id = case_id
            plan.outcome = "attached" if case_id is not None else "unattached"
            if case_id is not None:
                notes.append(recovery_note(plan, case_id))
            continue
        if case_id is not None:
            plan.case_id = case_id
            plan.outcome = "folded"
            plan.redetects = case_id in handled
            result.folded += 1
            continue
        if plan.outcome == "damped":
            continue
        if plan.device.status == "maintenance":
            plan.outcome = "maintenance"
            continue
        category_id = categories[key]
        if category_id is None:
            plan.outcome = "unfiled"
            continue
        try:
            with session.begin_nested():
                filed = filing.file_case(
                    session,
                    plan.device,
                    report_uuid=filing.report_uuid_of(plan.device.id, alarm_message_id(plan)),
                    category_id=category_id,
                    description=alarm_description(plan),
                    reason="alarm",
                    at=plan.event.at,
                    now=now,
                    settings=settings,
                    event_type=plan.event_type,
                )
        except CitygridError as error:
            plan.outcome = "unfiled"
            result.refusals.append(f"device {plan.device.id}: {error.message}")
            continue
        plan.case_id, plan.report_id, plan.outcome = filed.case_id, filed.report_id, "filed"
        open_cases[key] = filed.case_id
        result.cases_filed += 0 if filed.replayed else 1
    filing.add_notes(session, notes)


def planned_device(planned: list[Planned], device_id: str) -> Device:
    return next(plan.device for plan in planned if plan.device.id == device_id)


def recovery_note(plan: Planned, case_id: int) -> Note:
    event = plan.event
    what = f"{event.metric} = {event.value:g}" if event.metric and event.value is not None else ""
    reason = f"设备 {plan.device.id} 报告恢复正常 {what} (recovered)".replace("  ", " ")
    details = {"device_id": plan.device.id, "message_id": event.message_id, "at": event.at}
    if event.metric:
        details |= {"metric": event.metric, "value": event.value}
    return Note(case_id, "sensor_recovery", reason, json.dumps(details, default=str), event.at)


def alarm_description(plan: Planned) -> str:
    kind = plan.device.type
    event = plan.event
    what = f"：{event.metric} = {event.value:g}" if event.metric and event.value is not None else ""
    seen = f"（{plan.event_type}）" if plan.event_type else ""
    return f"{kind.zh} {plan.device.id} 报警{seen}{what}。"  # the city's language, as a report


def write_alarms(session: Session, planned: list[Planned], now: datetime) -> None:
    if not planned:
        return
    session.execute(
        WRITE_ALARMS,
        {
            "now": now,
            "device_ids": [p.device.id for p in planned],
            "message_ids": [alarm_message_id(p) for p in planned],
            "kinds": [p.event.kind for p in planned],
            "outcomes": [p.outcome for p in planned],
            "ats": [p.event.at for p in planned],
            "metrics": [p.event.metric for p in planned],
            "vals": [None if p.event.value is None else float(p.event.value) for p in planned],
            "event_types": [p.event_type for p in planned],
            "case_ids": [p.case_id for p in planned],
            "report_ids": [p.report_id for p in planned],
            "uuids": [
                filing.report_uuid_of(p.device.id, alarm_message_id(p))
                if p.outcome == "folded"
                else None
                for p in planned
            ],
            "channels": [p.device.type.channel for p in planned],
            "descriptions": [alarm_description(p) for p in planned],
        },
    )


def alarm_message_id(plan: Planned) -> str:
    """A telemetry reading can raise an alarm on one metric and recover on another: the alarm
    rows are keyed by message and metric then."""
    event = plan.event
    if event.metric is None:
        return event.message_id
    return f"{event.message_id}#{event.metric}"[:128]
