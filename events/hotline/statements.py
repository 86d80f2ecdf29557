"""The statements of the ticket intake's hot path (psycopg %(name)s placeholders: they run on the
app's async pool, and through a Session in tests and the CLI)."""

from __future__ import annotations

from sqlalchemy import text

ACTIVE_SOURCE = """
    SELECT s.id, s.user_id, u.username
    FROM hotline_source s JOIN app_user u ON u.id = s.user_id
    WHERE s.key_hash = %(key_hash)s AND s.revoked_at IS NULL
"""

# The category of a ticket: the hint (a code, or a name in Chinese or English), else the
# classifier's suggestion, else the configured default code, else the first current event
# category named 其他 (other), else the first current event category.
_CURRENT = "level = 'minor' AND retired_at IS NULL"
CATEGORY_OF_TICKET = f"""
    COALESCE(
        (SELECT id FROM category
         WHERE {_CURRENT} AND %(hint)s::text IS NOT NULL
           AND (code = %(hint)s::text OR name_zh = %(hint)s::text
                OR lower(name_en) = lower(%(hint)s::text))
         ORDER BY (code = %(hint)s::text) DESC, (kind = 'event') DESC, id LIMIT 1),
        (SELECT id FROM category WHERE {_CURRENT} AND id = %(suggested_id)s::int),
        (SELECT id FROM category
         WHERE {_CURRENT} AND %(opens_case)s AND code = %(default_code)s::text
         ORDER BY (kind = 'event') DESC, id LIMIT 1),
        (SELECT id FROM category
         WHERE {_CURRENT} AND %(opens_case)s AND kind = 'event'
         ORDER BY (name_zh LIKE '%%其他%%') DESC, code, id LIMIT 1)
    )
"""

# A new ticket with its caller and its first event, in one statement; nothing when the number
# is stored already (a replay, or a racing duplicate: ON CONFLICT waits for the other insert
# to commit, then leaves this one out, so a number is stored exactly once).
INSERT_TICKET = f"""
WITH inserted AS (
    INSERT INTO hotline_ticket (
        ticket_number, source_id, received_at, ticket_type, urgency_class, content,
        address_text, lon, lat, input_datum, category_hint, category_id, location_status,
        status, dispatch_due_at, updated_at)
    VALUES (
        %(ticket_number)s, %(source_id)s, %(received_at)s, %(ticket_type)s, %(urgency_class)s,
        %(content)s, %(address_text)s, %(lon)s, %(lat)s, %(input_datum)s, %(hint)s,
        {CATEGORY_OF_TICKET}, %(location_status)s, %(status)s, %(dispatch_due_at)s, now())
    ON CONFLICT (ticket_number) DO NOTHING
    RETURNING id, category_id
),
caller AS (
    INSERT INTO hotline_caller (ticket_id, name, phone)
    SELECT id, %(caller_name)s, %(caller_phone)s FROM inserted
    WHERE %(caller_name)s::text IS NOT NULL OR %(caller_phone)s::text IS NOT NULL
),
received AS (
    INSERT INTO hotline_ticket_event (ticket_id, seq, kind, data, at)
    SELECT id, 1, 'received', CAST(%(event_data)s AS jsonb), %(now)s FROM inserted
)
SELECT id, category_id FROM inserted
"""

TICKET_BY_NUMBER = """
    SELECT id, status, case_id, category_id, lon, lat, address_text
    FROM hotline_ticket WHERE ticket_number = %(ticket_number)s
"""

TO_LOCATE = """
    UPDATE hotline_ticket
    SET status = 'to_locate', location_status = 'to_locate',
        candidates = CAST(%(candidates)s AS jsonb), location_confidence = %(confidence)s,
        updated_at = now()
    WHERE id = %(id)s AND status = 'received'
    RETURNING id
"""

# A ticket as the lists show it (the caller masked by the service, never here in full).
TICKET_COLUMNS = """
    t.id, t.ticket_number, t.received_at, t.ticket_type, t.urgency_class, t.status,
    t.location_status, t.content, t.address_text, t.lon, t.lat, t.location_confidence,
    t.place_id, g.code AS cell_code, cat.code AS category_code, cat.name_zh AS category_name,
    cat.name_en AS category_name_en, t.case_id, ec.number AS case_number,
    t.lead_department_id, t.candidates, hc.name AS caller_name, hc.phone AS caller_phone
"""
TICKET_FROM = """
    hotline_ticket t
    LEFT JOIN hotline_caller hc ON hc.ticket_id = t.id
    LEFT JOIN grid_cell g ON g.id = t.cell_id
    LEFT JOIN category cat ON cat.id = t.category_id
    LEFT JOIN event_case ec ON ec.id = t.case_id
"""
TICKET_READ = f"SELECT {TICKET_COLUMNS} FROM {TICKET_FROM} WHERE t.id = %(id)s"

# The filing of a located ticket, in its session's transaction (events.hotline.service).
LOCK_TICKET = text("SELECT case_id FROM hotline_ticket WHERE id = :id FOR UPDATE")
CASE_STATUS = text("SELECT status FROM event_case WHERE id = :id")
# The ticket linked to its filed case, and its `located` and `filed` events, in one statement.
# The ticket row is locked (LOCK_TICKET) by this transaction, so max(seq) is the last event.
LINK_FILED_CASE = text(
    """
WITH linked AS (
    UPDATE hotline_ticket t
    SET case_id = c.id, cell_id = c.cell_id, status = 'filed', location_status = 'located',
        location_confidence = :confidence, place_id = :place_id,
        lon = coalesce(t.lon, :lon), lat = coalesce(t.lat, :lat), updated_at = :now
    FROM event_case c JOIN grid_cell g ON g.id = c.cell_id
    WHERE t.id = :id AND c.id = :case_id
    RETURNING t.id, c.number, g.code AS cell_code
),
last AS (SELECT coalesce(max(seq), 0) AS seq FROM hotline_ticket_event WHERE ticket_id = :id)
INSERT INTO hotline_ticket_event (ticket_id, seq, kind, data, at)
SELECT linked.id, last.seq + step.n, step.kind, step.data, :now
FROM linked, last, LATERAL (VALUES
    (1, 'located', jsonb_strip_nulls(jsonb_build_object(
        'cell_code', linked.cell_code, 'lon', CAST(:lon AS float8), 'lat', CAST(:lat AS float8),
        'place', CAST(:place AS text), 'confidence', CAST(:confidence AS float8)))),
    (2, 'filed', jsonb_build_object('case_number', linked.number, 'case_id', :case_id))
) AS step(n, kind, data)
"""
)
