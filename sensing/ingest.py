"""Ingest a batch of device messages: store each once, apply the rules, file or fold cases.

Set-based: one INSERT … SELECT FROM unnest … ON CONFLICT DO NOTHING stores the batch's messages
(a message already stored, by device, message id and time, is a duplicate and does nothing
more); one UPDATE marks the devices seen (and notes a returning device on its offline case);
one SELECT … FOR UPDATE and one upsert read and write the rule state of the devices with
readings; the alarms then fold into the devices' open cases (one statement for the open cases,
one that writes the alarms with their reports). An alarm of a device without an open case is
stored 'pending': it owes a case, which `file_owed` files through intake (the worker: in a
transaction of its own right after the batch's commit; other callers: in theirs, at once),
folding the device's later pending alarms into it. A batch of heartbeats only is one
statement. Flushes only: the caller commits, then acknowledges the messages.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.errors import CitygridError
from citygrid.settings import Settings, get_settings
from sensing.alarms import filing, verification
from sensing.alarms.filing import Device, Note
from sensing.device_types import CategoryRef
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
    pending: int = 0  # alarms that owe a case, filed by `file_owed` after the commit
    refusals: list[str] = field(default_factory=list)  # why, per refused message (no data)


# The batch goes over as one JSON document (json_to_recordset): arrays of text would be
# quoted element by element on the client (regular expressions per element, the JSON values
# full of quotes), which measured as a third of the worker's time on telemetry.
STORE = text("""
    INSERT INTO sensing_reading (device_id, message_id, at, kind, received_at, "values", body)
    SELECT m.device_id, m.message_id, m.at, m.kind, :now, m.vals, m.body
    FROM json_to_recordset(CAST(:rows AS json))
         AS m(device_id text, message_id text, at timestamptz, kind text, vals jsonb, body jsonb)
    ON CONFLICT DO NOTHING
    RETURNING device_id, message_id
""")
# Devices seen: written when it changes something (offline → online) or is SEEN_EVERY_S old,
# not on every batch (a device reporting every second would rewrite its row every batch).
SEEN_EVERY_S = 5.0
SEEN = text("""
    WITH seen AS (
        SELECT d.id, d.online AS was_online FROM sensing_device d
        WHERE d.id = ANY(:ids)
          AND (NOT d.online OR d.last_seen_at IS NULL OR d.last_seen_at < :stale)
        FOR UPDATE
    )
    UPDATE sensing_device d SET last_seen_at = greatest(d.last_seen_at, :now), online = true
    FROM seen WHERE d.id = seen.id
    RETURNING d.id, seen.was_online
""")
# A batch of heartbeats only: the devices checked, the messages stored and the devices marked
# seen in one statement (no rules to apply, nothing to file).
HEARTBEATS = text("""
    WITH m AS (
        SELECT * FROM json_to_recordset(CAST(:rows AS json))
             AS m(device_id text, message_id text, at timestamptz, vals jsonb, body jsonb)
    ),
    d AS (
        SELECT d.id, d.status, d.online AS was_online FROM sensing_device d
        WHERE d.id = ANY(CAST(:ids AS text[])) FOR UPDATE
    ),
    stored AS (
        INSERT INTO sensing_reading (device_id, message_id, at, kind, received_at, "values",
                                     body)
        SELECT m.device_id, m.message_id, m.at, 'heartbeat', :now, m.vals, m.body
        FROM m JOIN d ON d.id = m.device_id AND d.status <> 'retired'
        ON CONFLICT DO NOTHING
        RETURNING device_id
    ),
    seen AS (
        UPDATE sensing_device x SET last_seen_at = greatest(x.last_seen_at, :now), online = true
        FROM d WHERE x.id = d.id AND d.status <> 'retired'
    )
    SELECT d.id, d.status, d.was_online, (SELECT count(*) FROM stored) AS stored FROM d
""")
STATES = text("""
    SELECT device_id, state FROM sensing_rule_state WHERE device_id = ANY(:ids) FOR UPDATE
""")
SAVE_STATES = text("""
    INSERT INTO sensing_rule_state (device_id, state, updated_at)
    SELECT s.key, s.value, :now FROM jsonb_each(CAST(:states AS jsonb)) AS s
    ON CONFLICT (device_id) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at
""")
# The open case each device's alarms fold into: its own alarm case (per camera event type), or
# an open case of the same category on the component it watches; newest first. `pending`: the
# key has alarms stored that still owe their case (filed by `file_owed` after the batch's
# commit); one statement, so a case filed meanwhile is seen either as open or as pending.
OPEN_CASES = text("""
    SELECT d.id AS device_id, d.event_type, o.case_id, o.status, o.redetection,
           EXISTS (SELECT 1 FROM sensing_alarm p
                   WHERE p.outcome = 'pending' AND p.device_id = d.id AND p.source_id IS NULL
                     AND p.event_type IS NOT DISTINCT FROM d.event_type) AS pending
    FROM unnest(CAST(:ids AS text[]), CAST(:event_types AS text[]),
                CAST(:component_ids AS bigint[]), CAST(:category_ids AS int[]))
         AS d(id, event_type, component_id, category_id)
    LEFT JOIN LATERAL (
        SELECT c.id AS case_id, c.status, sc.redetection
        FROM (
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
        ) c
        LEFT JOIN sensing_case sc ON sc.case_id = c.id
        ORDER BY c.created_at DESC, c.id DESC
        LIMIT 1
    ) o ON true
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
        -- One UPDATE per case for folds and recoveries alike: two in one statement would
        -- leave one of them unapplied (a row is updated once per statement).
        UPDATE sensing_case sc SET alarm_count = sc.alarm_count + f.n,
               last_alarm_at = coalesce(greatest(sc.last_alarm_at, f.last_at), sc.last_alarm_at),
               recovered_at = coalesce(f.recovered_at, sc.recovered_at)
        FROM (SELECT case_id, count(*) FILTER (WHERE outcome = 'folded') AS n,
                     max(at) FILTER (WHERE outcome = 'folded') AS last_at,
                     max(at) FILTER (WHERE kind = 'recovery') AS recovered_at
              FROM a WHERE case_id IS NOT NULL AND (outcome = 'folded' OR kind = 'recovery')
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
    file_later: bool = False,
) -> IngestResult:
    """Store `messages` exactly once (by device and message id) and act on them; flushes only.

    An alarm that owes a new case is stored 'pending'; with `file_later` (the worker, which
    commits and acknowledges the batch first) the caller files it with `file_owed` in a
    transaction of its own, else it is filed (and the case dispatched) here, in this one."""
    settings = settings or get_settings()
    if messages and all(m.kind == "heartbeat" for m in messages):
        return ingest_heartbeats(session, messages, now)
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
    if result.pending and not file_later:
        owed = file_all_owed(session, now=now, settings=settings, dispatch_now=True)
        result.cases_filed += owed.cases_filed
        result.folded += owed.folded
        result.refusals.extend(owed.refusals)
        result.pending = 0
    return result


def ingest_heartbeats(
    session: Session, messages: Sequence[DeviceMessage], now: datetime
) -> IngestResult:
    """A batch of heartbeats: stored once, their devices marked seen (and a returning one noted
    on its offline case), in one statement."""
    result = IngestResult()
    unique: dict[tuple[str, str], DeviceMessage] = {}
    for message in messages:
        unique.setdefault((message.device_id, message.message_id), message)
    batch = list(unique.values())
    rows = session.execute(
        HEARTBEATS,
        {
            "now": now,
            "ids": sorted({m.device_id for m in batch}),
            "rows": json.dumps(
                [
                    {
                        "device_id": m.device_id,
                        "message_id": m.message_id,
                        "at": m.device_time.isoformat(),
                        "vals": m.values,
                        "body": m.body,
                    }
                    for m in batch
                ],
                default=plain,
            ),
        },
    ).all()
    status = {row.id: row.status for row in rows}
    accepted = 0
    for message in messages:
        found = status.get(message.device_id)
        if found is None or found == "retired":
            result.refused += 1
            why = "unknown" if found is None else "retired"
            result.refusals.append(f"device {message.device_id} is {why}")
        else:
            accepted += 1
    result.stored = rows[0].stored if rows else 0
    result.duplicates = accepted - result.stored
    back = sorted(row.id for row in rows if row.status != "retired" and not row.was_online)
    note_back_online(session, back, now)
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
            "rows": json.dumps(
                [
                    {
                        "device_id": m.device_id,
                        "message_id": m.message_id,
                        "at": m.device_time.isoformat(),
                        "kind": m.kind,
                        "vals": m.values,
                        "body": m.body,
                    }
                    for m in messages
                ],
                default=plain,
            ),
        },
    ).all()
    stored = {(row.device_id, row.message_id) for row in rows}
    return [m for m in messages if (m.device_id, m.message_id) in stored]


def plain(value: object) -> object:
    """JSON for what `json` does not know: a mapping as an object, anything else as text."""
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)


def mark_seen(session: Session, ids: list[str], now: datetime) -> list[str]:
    """Mark the devices seen now; the ids of those that were offline."""
    stale = now - timedelta(seconds=SEEN_EVERY_S)
    rows = session.execute(SEEN, {"ids": ids, "now": now, "stale": stale}).all()
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
                        values=message.values,
                        metrics=[rule.metric for rule in rules],
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
        {"states": json.dumps({i: states[i].to_json() for i in ids}), "now": now},
    )
    return planned


def decide(
    session: Session,
    planned: list[Planned],
    now: datetime,
    settings: Settings,
    result: IngestResult,
) -> None:
    """Fold each alarm into its device's open case; an alarm of a device without one owes a
    case ('pending': `file_owed` files it after the commit), and so do the device's later
    alarms and recoveries until it is filed; recoveries attach to an open case; damped alarms
    and devices in maintenance file nothing."""
    if not planned:
        return
    categories: dict[tuple[str, str | None], int | None] = {}
    found: dict[CategoryRef, int | None] = {}
    for plan in planned:
        key = (plan.device.id, plan.event_type)
        if key not in categories:
            categories[key] = filing.category_for(session, plan.device, plan.event_type, found)
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
        (row.device_id, row.event_type): row.case_id for row in rows if row.case_id is not None
    }
    pending = {(row.device_id, row.event_type) for row in rows if row.pending}
    handled = {row.case_id for row in rows if row.status == "handled" and row.redetection}
    notes: list[Note] = []
    for plan in planned:
        key = (plan.device.id, plan.event_type)
        case_id = open_cases.get(key)
        if plan.event.kind == "recovery":
            plan.case_id = case_id
            if case_id is not None:
                plan.outcome = "attached"
                notes.append(recovery_note(plan.device.id, plan.event, case_id))
            else:
                plan.outcome = "pending" if key in pending else "unattached"
            continue
        if case_id is not None:
            plan.case_id = case_id
            plan.outcome = "folded"
            plan.redetects = case_id in handled
            result.folded += 1
            continue
        if key in pending:
            plan.outcome = "pending"  # folds into the episode whose case is being filed
            result.pending += 1
            continue
        if plan.outcome == "damped":
            continue
        if plan.device.status == "maintenance":
            plan.outcome = "maintenance"
            continue
        if categories[key] is None:
            plan.outcome = "unfiled"
            continue
        plan.outcome = "pending"
        pending.add(key)
        result.pending += 1
    filing.add_notes(session, notes)


def planned_device(planned: list[Planned], device_id: str) -> Device:
    return next(plan.device for plan in planned if plan.device.id == device_id)


def recovery_note(device_id: str, event: RuleEvent, case_id: int) -> Note:
    what = f"{event.metric} = {event.value:g}" if event.metric and event.value is not None else ""
    reason = f"设备 {device_id} 报告恢复正常 {what} (recovered)".replace("  ", " ")
    details = {"device_id": device_id, "message_id": event.message_id, "at": event.at}
    if event.metric:
        details |= {"metric": event.metric, "value": event.value}
    return Note(case_id, "sensor_recovery", reason, json.dumps(details, default=str), event.at)


def alarm_description(plan: Planned) -> str:
    return describe_alarm(plan.device, plan.event, plan.event_type)


def describe_alarm(device: Device, event: RuleEvent, event_type: str | None) -> str:
    what = f"：{event.metric} = {event.value:g}" if event.metric and event.value is not None else ""
    seen = f"（{event_type}）" if event_type else ""
    return f"{device.type.zh} {device.id} 报警{seen}{what}。"  # the city's language, as a report


# The cases whose counts a statement changes, locked first and in one order: the batch's
# transaction and the filer's may fold into the same cases at once.
LOCK_CASES = text("""
    SELECT case_id FROM sensing_case WHERE case_id = ANY(:ids) ORDER BY case_id FOR NO KEY UPDATE
""")


def lock_cases(session: Session, case_ids: set[int | None]) -> None:
    ids = sorted(i for i in case_ids if i is not None)
    if ids:
        session.execute(LOCK_CASES, {"ids": ids})


def write_alarms(session: Session, planned: list[Planned], now: datetime) -> None:
    if not planned:
        return
    lock_cases(session, {p.case_id for p in planned})
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
    if event.metric is None or not event.per_metric:
        return event.message_id
    return f"{event.message_id}#{event.metric}"[:128]


# Alarms that owe a case, oldest first; one filer at a time (the lock is the transaction's).
# The owed alarms are shared among OWED_PARTS filers by the component a device watches (else
# the device): the alarms that may fold into one case are always filed by the same one, and
# filings of different partitions overlap (intake's time is mostly PostgreSQL's).
OWED_PARTS = 2
OWED_LOCK = text(
    "SELECT pg_advisory_xact_lock(hashtext('citygrid.sensing.file_owed'), CAST(:part AS int))"
)
OWED = text("""
    SELECT a.id, a.device_id, a.message_id, a.kind, a.at, a.metric, a.value, a.event_type
    FROM sensing_alarm a JOIN sensing_device d ON d.id = a.device_id
    WHERE a.outcome = 'pending' AND a.source_id IS NULL
      AND mod(abs(hashtext(coalesce('c' || d.component_id, 'd' || d.id))), :parts) = :part
    ORDER BY a.id LIMIT :limit
    FOR UPDATE OF a
""")
# What became of owed alarms: the first of an episode filed its case, the others folded into it
# as further reports, recoveries attached; the case's counts follow (one UPDATE per case).
RESOLVE = text("""
    WITH a AS (
        SELECT a.*, x.device_id, x.kind, x.at FROM unnest(
            CAST(:ids AS bigint[]), CAST(:outcomes AS text[]), CAST(:case_ids AS bigint[]),
            CAST(:report_ids AS bigint[]), CAST(:uuids AS uuid[]), CAST(:channels AS text[]),
            CAST(:descriptions AS text[]))
        AS a(id, outcome, case_id, report_id, report_uuid, channel, description)
        JOIN sensing_alarm x ON x.id = a.id
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
               last_alarm_at = coalesce(greatest(sc.last_alarm_at, f.last_at), sc.last_alarm_at),
               recovered_at = coalesce(f.recovered_at, sc.recovered_at)
        FROM (SELECT case_id, count(*) FILTER (WHERE outcome = 'folded') AS n,
                     max(at) FILTER (WHERE outcome = 'folded') AS last_at,
                     max(at) FILTER (WHERE outcome = 'attached') AS recovered_at
              FROM a WHERE case_id IS NOT NULL GROUP BY case_id) f
        WHERE sc.case_id = f.case_id
    )
    UPDATE sensing_alarm x SET outcome = a.outcome, case_id = a.case_id,
           report_id = coalesce(a.report_id, r.id)
    FROM a LEFT JOIN new_reports r ON r.report_uuid = a.report_uuid
    WHERE x.id = a.id
""")
FILE_OWED_LIMIT = 200  # owed alarms per transaction of `file_owed`


@dataclass
class OwedResult:
    alarms: int = 0  # owed alarms resolved
    more: bool = False  # alarms may still owe cases (a limit was reached)
    cases_filed: int = 0
    folded: int = 0
    refusals: list[str] = field(default_factory=list)


@dataclass
class Resolved:
    id: int
    outcome: str
    case_id: int | None = None
    report_id: int | None = None
    report_uuid: uuid.UUID | None = None
    channel: str = ""
    description: str = ""


def file_owed(
    session: Session,
    *,
    now: datetime,
    settings: Settings | None = None,
    limit: int = FILE_OWED_LIMIT,
    max_cases: int | None = None,
    dispatch_now: bool = False,
    part: int = 0,
) -> OwedResult:
    """File the cases owed by up to `limit` pending alarms (the oldest): per device and event
    type the first alarm files a case through intake (or, when an open case appeared
    meanwhile, folds into it), the later ones fold into it and recoveries attach. The pending
    alarm rows were committed with the batch that brought them, so a worker that died before
    this ran files them when it (or its next periodic round) runs again. A new case is
    filed (立案) and dispatched at once with `dispatch_now`, else it owes that to
    `filing.dispatch_owed`. With `max_cases`, stops after filing that many (the caller commits
    so they are seen sooner; `more` says alarms were left owing). `part`: the filer's share
    (0 … OWED_PARTS - 1). Flushes only."""
    settings = settings or get_settings()
    result = OwedResult()
    session.execute(OWED_LOCK, {"part": part})
    rows = session.execute(OWED, {"limit": limit, "parts": OWED_PARTS, "part": part}).all()
    if not rows:
        return result
    groups: dict[tuple[str, str | None], list[Any]] = defaultdict(list)
    for row in rows:
        groups[(row.device_id, row.event_type)].append(row)
    keys = list(groups)  # the oldest owed alarm first
    devices: dict[str, Device] = {}
    found_categories: dict[CategoryRef, int | None] = {}
    categories: dict[tuple[str, str | None], int | None] = {}
    open_cases: dict[tuple[str, str | None], int] = {}
    handled: set[int] = set()

    def look_up(chunk: list[tuple[str, str | None]]) -> None:
        """Devices, categories and open cases of the next keys (not of all the rows read: a
        transaction that stops after `max_cases` filings would have looked them up for
        nothing)."""
        devices.update(filing.load_devices(session, sorted({k[0] for k in chunk})))
        for key in chunk:
            categories[key] = filing.category_for(
                session, devices[key[0]], key[1], found_categories
            )
        found = session.execute(
            OPEN_CASES,
            {
                "ids": [k[0] for k in chunk],
                "event_types": [k[1] for k in chunk],
                "component_ids": [devices[k[0]].component_id for k in chunk],
                "category_ids": [categories[k] for k in chunk],
                "open": filing.OPEN_STATUS_VALUES,
            },
        ).all()
        open_cases.update(
            {(r.device_id, r.event_type): r.case_id for r in found if r.case_id is not None}
        )
        handled.update(r.case_id for r in found if r.status == "handled" and r.redetection)

    step = max(max_cases or len(keys), 1)
    # A case filed here for one device is the open case of the others on its component.
    on_component: dict[tuple[int, int | None], int] = {}
    resolved: list[Resolved] = []
    notes: list[Note] = []
    detections: list[tuple[int, int, datetime]] = []  # (case, alarm, at): re-detections
    for index, key in enumerate(keys):
        if max_cases is not None and result.cases_filed >= max_cases:
            result.more = True  # the rest stay pending for the next transaction
            break
        if key not in categories:
            look_up(keys[index : index + step])
        device = devices[key[0]]
        category_id = categories[key]
        case_id = open_cases.get(key)
        if case_id is None and device.component_id is not None:
            case_id = on_component.get((device.component_id, category_id))
        refused = False
        for row in sorted(groups[key], key=lambda r: (r.at, r.id)):
            event = RuleEvent(row.kind, row.at, row.message_id, row.metric, row.value)
            if row.kind == "recovery":
                if case_id is None:
                    resolved.append(Resolved(row.id, "unattached"))
                else:
                    resolved.append(Resolved(row.id, "attached", case_id))
                    notes.append(recovery_note(device.id, event, case_id))
                continue
            if case_id is None:
                if refused or category_id is None:
                    resolved.append(Resolved(row.id, "unfiled"))
                    continue
                try:
                    with session.begin_nested():
                        filed = filing.file_case(
                            session,
                            device,
                            report_uuid=filing.report_uuid_of(device.id, row.message_id),
                            category_id=category_id,
                            description=describe_alarm(device, event, key[1]),
                            reason="alarm",
                            at=row.at,
                            now=now,
                            settings=settings,
                            event_type=key[1],
                            dispatch_now=dispatch_now,
                        )
                except CitygridError as error:
                    refused = True
                    resolved.append(Resolved(row.id, "unfiled"))
                    result.refusals.append(f"device {device.id}: {error.message}")
                    continue
                case_id = filed.case_id
                if device.component_id is not None:
                    on_component[(device.component_id, category_id)] = case_id
                resolved.append(Resolved(row.id, "filed", case_id, filed.report_id))
                result.cases_filed += 0 if filed.replayed else 1
                continue
            resolved.append(
                Resolved(
                    row.id,
                    "folded",
                    case_id,
                    report_uuid=filing.report_uuid_of(device.id, row.message_id),
                    channel=device.type.channel,
                    description=describe_alarm(device, event, key[1]),
                )
            )
            result.folded += 1
            if case_id in handled:
                detections.append((case_id, row.id, row.at))
    result.alarms = len(resolved)
    result.more = result.more or len(rows) == limit
    lock_cases(session, {r.case_id for r in resolved})
    session.execute(
        RESOLVE,
        {
            "ids": [r.id for r in resolved],
            "outcomes": [r.outcome for r in resolved],
            "case_ids": [r.case_id for r in resolved],
            "report_ids": [r.report_id for r in resolved],
            "uuids": [r.report_uuid for r in resolved],
            "channels": [r.channel for r in resolved],
            "descriptions": [r.description for r in resolved],
        },
    )
    filing.add_notes(session, notes)
    for case_id, alarm_id, at in detections:
        verification.fail_on_detection(
            session, case_id, alarm_id=alarm_id, at=at, now=now, settings=settings
        )
    session.flush()
    return result


def file_all_owed(
    session: Session, *, now: datetime, settings: Settings | None = None, dispatch_now: bool = False
) -> OwedResult:
    """`file_owed` for every partition until nothing is owed, in the caller's transaction."""
    total = OwedResult()
    for part in range(OWED_PARTS):
        while True:
            owed = file_owed(
                session, now=now, settings=settings, dispatch_now=dispatch_now, part=part
            )
            total.alarms += owed.alarms
            total.cases_filed += owed.cases_filed
            total.folded += owed.folded
            total.refusals.extend(owed.refusals)
            if not owed.more:
                break
    return total
