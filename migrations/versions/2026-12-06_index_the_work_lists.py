"""Index the work lists: the reports and cases waiting for the dispatchers, urgent first and
then the newest (the console's queue and reports to file); the cases departments hold, by
deadline (the deadlines tab) and by department (the desk); the few waiting for an approval.

All partial indexes: each holds only the cases it serves (the open ones, a few percent of a
city's history), so a first page is an ordered read of a small index and a total an index-only
count, however many closed cases the table holds. Their expressions and predicates match the
listing's (events/listing/service.py SORT_KEYS, dispatch/console and dispatch/desk).

Revision ID: 7e3f4a5b6c7d
Revises: 5c1d2e3f4a5b
Create Date: 2026-12-06 04:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7e3f4a5b6c7d"
down_revision: str | None = "5c1d2e3f4a5b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HELD = "status IN ('accepted', 'dispatched', 'rework', 'suspended') AND merged_into_id IS NULL"
INDEXES = {
    "ix_event_case_waiting_by_urgency": (
        "ON event_case ((CASE WHEN urgency = 'urgent' THEN 0 ELSE 1 END), created_at DESC, "
        "id DESC) WHERE status IN ('reported', 'filed', 'returned') AND merged_into_id IS NULL"
    ),
    "ix_event_case_held_by_deadline": (
        f"ON event_case (coalesce(due_at, 'infinity'::timestamptz), id) WHERE {HELD}"
    ),
    "ix_event_case_held_by_department": (
        f"ON event_case (department_id, coalesce(due_at, 'infinity'::timestamptz), id) WHERE {HELD}"
    ),
    "ix_event_case_postponement_asked": (
        "ON event_case (id) WHERE postponement_hours_requested IS NOT NULL"
    ),
    "ix_case_transition_suspension_asked": (
        "ON case_transition (case_id) WHERE action = 'request_suspension'"
    ),
}


def upgrade() -> None:
    for name, definition in INDEXES.items():
        op.execute(f"CREATE INDEX {name} {definition}")


def downgrade() -> None:
    for name in reversed(INDEXES):
        op.execute(f"DROP INDEX {name}")
