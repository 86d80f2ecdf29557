"""Search cases by text: pg_trgm, the search key function and its trigram index.

`case_search_key` spells every non-ASCII character as three letters (its code point in base
26), run together, so pg_trgm indexes Chinese whatever the database's LC_CTYPE (in the C locale
no Chinese character is a "word" character and would be dropped). events/listing/search.py spells
queries the same way. COST tells the planner the function is dear per row, so it reads the
index rather than computing the key while scanning.

Revision ID: 5c1d2e3f4a5b
Revises: 300a3dd042eb
Create Date: 2026-12-06 03:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5c1d2e3f4a5b"
down_revision: str | None = "300a3dd042eb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_KEY = """
CREATE FUNCTION case_search_key(content text) RETURNS text
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
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(SEARCH_KEY)
    op.execute(
        "CREATE INDEX ix_event_case_search ON event_case USING gin "
        "(case_search_key(coalesce(address, '') || ' ' || description) gin_trgm_ops)"
    )
    # Cases by the channel of their first report (the listing's channel filter).
    op.create_index("ix_report_channel_original_case", "report", ["channel", "original_case_id"])
    op.create_index("ix_event_case_dispatched_at", "event_case", ["dispatched_at"])


def downgrade() -> None:
    op.drop_index("ix_event_case_dispatched_at", table_name="event_case")
    op.drop_index("ix_report_channel_original_case", table_name="report")
    op.execute("DROP INDEX ix_event_case_search")
    op.execute("DROP FUNCTION case_search_key(text)")
    # pg_trgm stays: other objects of the database may have come to use it.
