"""Sensing pipeline: filing apart from ingest.

The ingest worker commits a batch's readings, alarms and folds first and files the new cases
in a second transaction right after. An alarm that owes a case is stored in the first one with
the outcome 'pending' (no case yet): the durable record that a case is owed, which a restarted
worker files. A case filed that way and not yet filed (立案) and dispatched by the sensing
account is marked `dispatch_owed` until it is.

* sensing_alarm: the outcome 'pending' is allowed; a partial index finds the pending alarms.
* sensing_case: `dispatch_owed` (false for every existing case) and a partial index on it.

Revision ID: c1a0e5a18003
Revises: c1a0e5a19001
Create Date: 2026-12-06 11:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c1a0e5a18003"
down_revision: str | None = "c1a0e5a19001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOMES = (
    "filed",
    "folded",
    "review",
    "confirmed",
    "rejected",
    "damped",
    "maintenance",
    "attached",
    "unattached",
    "unfiled",
)


def _values(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def upgrade() -> None:
    op.drop_constraint(op.f("ck_sensing_alarm_outcome_known"), "sensing_alarm", type_="check")
    op.create_check_constraint(
        op.f("ck_sensing_alarm_outcome_known"),
        "sensing_alarm",
        f"outcome IN ({_values((*OUTCOMES, 'pending'))})",
    )
    op.create_index(
        "ix_sensing_alarm_pending",
        "sensing_alarm",
        ["device_id"],
        postgresql_where=sa.text("outcome = 'pending'"),
    )
    op.add_column(
        "sensing_case",
        sa.Column("dispatch_owed", sa.Boolean(), server_default="false", nullable=False),
    )
    op.create_index(
        "ix_sensing_case_dispatch_owed",
        "sensing_case",
        ["case_id"],
        postgresql_where=sa.text("dispatch_owed"),
    )


def downgrade() -> None:
    op.drop_index("ix_sensing_case_dispatch_owed", table_name="sensing_case")
    op.drop_column("sensing_case", "dispatch_owed")
    op.drop_index("ix_sensing_alarm_pending", table_name="sensing_alarm")
    # A pending alarm has no case yet: it goes back to 'unfiled' (the old schema's nearest).
    op.execute("UPDATE sensing_alarm SET outcome = 'unfiled' WHERE outcome = 'pending'")
    op.drop_constraint(op.f("ck_sensing_alarm_outcome_known"), "sensing_alarm", type_="check")
    op.create_check_constraint(
        op.f("ck_sensing_alarm_outcome_known"), "sensing_alarm", f"outcome IN ({_values(OUTCOMES)})"
    )
