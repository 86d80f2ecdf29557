"""Search and intake at ten million cases: an exact trigram index, open cases by place.

The search's index holds each case's trigrams as an array (`show_trgm` of its search key, GIN
array_ops) instead of pg_trgm's LIKE operator class: a query asks for the cases whose array
contains every trigram inside the query's words, which is exact, so the heap rows the index
finds are not rechecked by computing the key again (pg_trgm's LIKE is always rechecked, and the
key costs tens of microseconds a row: at ten million cases the thousands of candidates of a
common address cost more than the rest of the search). ILIKE on the text confirms, as before.
`case_search_key` gets a PL/pgSQL body that spells exactly as before (a test compares it with
events/listing/search.py) at half the cost: the index build and every intake compute it.

Intake's duplicate search (open cases of the category near the report in the last days) gets a
partial GiST index of the open, not merged cases' points, so it reads only the open backlog near
the point instead of every case ever reported there; intake's statement writes the same open
statuses as literals, so every plan (also psycopg's prepared, generic one) can use it.

Intake's report insert: the trigger that keeps `report_key` (2026-12-06_monthly_partitions)
looked for another report with the UUID in every monthly partition's index (37 at three years:
about 5 ms of a 15 ms intake at ten million cases, and growing with every month kept); it now
looks in the month the key records, the one partition such a report can be in (the key moves
with its report), as intake's own look-up by UUID already does.

Cost on a big database: the search index computes the key of every case (about 20 µs each:
minutes at ten million cases), the GiST index only the open ones. Both are built under a SHARE
lock (reads go on, writes wait until the migration commits); bench/scale.py --reuse times it.

Revision ID: c1a0e5a19003
Revises: c1a0e5a19002
Create Date: 2026-12-06 11:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c1a0e5a19003"
down_revision: str | None = "c1a0e5a19002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_STATUSES = (
    "'accepted', 'dispatched', 'filed', 'handled', 'reported', 'returned', 'rework', 'suspended'"
)
SEARCHED_TEXT = "coalesce(address, '') || ' ' || description"
KEY_IN_PLPGSQL = """
CREATE OR REPLACE FUNCTION case_search_key(content text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS $$
DECLARE
    spelled text := '';
    ch text;
    point int;
BEGIN
    FOREACH ch IN ARRAY string_to_array(content, NULL) LOOP
        point := ascii(ch);
        IF point < 128 THEN
            spelled := spelled || lower(ch);
        ELSE
            spelled := spelled || chr(97 + point / 676 % 26) || chr(97 + point / 26 % 26)
                || chr(97 + point % 26);
        END IF;
    END LOOP;
    RETURN spelled;
END
$$
"""
REPORT_KEY_CHECK = """
CREATE OR REPLACE FUNCTION report_key_written() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Every report has its key in report_key (unique across partitions). Intake writes the key
-- itself (ON CONFLICT DO NOTHING) in the statement that inserts the report; other writers get
-- it here. A UUID whose key exists is refused when a report already carries it.
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.report_uuid IS DISTINCT FROM OLD.report_uuid THEN
            RAISE EXCEPTION 'a report''s report_uuid never changes'
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.created_at IS DISTINCT FROM OLD.created_at THEN  -- the row moves: so does its key
            UPDATE report_key SET created_at = NEW.created_at WHERE report_uuid = NEW.report_uuid;
        END IF;
        RETURN NEW;
    END IF;
    INSERT INTO report_key (report_uuid, created_at) VALUES (NEW.report_uuid, NEW.created_at)
    ON CONFLICT (report_uuid) DO NOTHING;
    -- The key was there: intake's own (no report yet), or a report moving to another month
    -- (same id); another report with the UUID is a duplicate. It is in the key's month (the
    -- key moves with its report): one partition read, not every month's.
    IF NOT FOUND AND EXISTS (SELECT 1 FROM report WHERE report_uuid = NEW.report_uuid
                                                 AND id <> NEW.id
                                                 AND created_at = (
                                                     SELECT k.created_at FROM report_key k
                                                     WHERE k.report_uuid = NEW.report_uuid)) THEN
        RAISE unique_violation USING
            MESSAGE = 'duplicate key value violates unique constraint "pk_report_key"',
            DETAIL = format('Key (report_uuid)=(%s) already exists.', NEW.report_uuid);
    END IF;
    RETURN NEW;
END $$
"""
# As 2026-12-06_monthly_partitions made it (the downgrade).
REPORT_KEY_CHECK_EVERY_MONTH = REPORT_KEY_CHECK.replace(
    """
                                                 AND created_at = (
                                                     SELECT k.created_at FROM report_key k
                                                     WHERE k.report_uuid = NEW.report_uuid)) THEN""",
    ") THEN",
).replace(
    """ It is in the key's month (the
    -- key moves with its report): one partition read, not every month's.""",
    "",
)
KEY_IN_SQL = """
CREATE OR REPLACE FUNCTION case_search_key(content text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS $$
    SELECT coalesce(string_agg(
        CASE WHEN ascii(ch) < 128 THEN lower(ch)
             ELSE chr(97 + ascii(ch) / 676 % 26) || chr(97 + ascii(ch) / 26 % 26)
                  || chr(97 + ascii(ch) % 26)
        END, '' ORDER BY n), '')
    FROM unnest(string_to_array(content, NULL)) WITH ORDINALITY AS t(ch, n)
$$
"""


def upgrade() -> None:
    op.execute("SET LOCAL maintenance_work_mem = '512MB'")
    op.execute("DROP INDEX ix_event_case_search")
    op.execute(KEY_IN_PLPGSQL)
    op.execute(
        "CREATE INDEX ix_event_case_search ON event_case USING gin "
        f"(show_trgm(case_search_key({SEARCHED_TEXT})))"
    )
    op.execute(
        "CREATE INDEX ix_event_case_open_geom ON event_case USING gist (geom) "
        f"WHERE status IN ({OPEN_STATUSES}) AND merged_into_id IS NULL"
    )
    op.get_bind().exec_driver_sql(REPORT_KEY_CHECK.replace("%", "%%"))
    # The planner's statistics of the new index's expression (a sample: about a second at ten
    # million cases).
    op.execute("ANALYZE event_case")


def downgrade() -> None:
    op.get_bind().exec_driver_sql(REPORT_KEY_CHECK_EVERY_MONTH.replace("%", "%%"))
    op.execute("DROP INDEX ix_event_case_open_geom")
    op.execute("DROP INDEX ix_event_case_search")
    op.execute(KEY_IN_SQL)
    op.execute(
        "CREATE INDEX ix_event_case_search ON event_case USING gin "
        f"(case_search_key({SEARCHED_TEXT}) gin_trgm_ops)"
    )
