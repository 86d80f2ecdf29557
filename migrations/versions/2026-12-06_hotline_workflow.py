"""Hotline unit workflow and summons (吹哨报到).

hotline_co_unit: the co-units (协办) of a ticket, one per department, with their own reply
deadline and the time they replied.
hotline_reply: every reply with its four elements (received at; whom of the caller's side was
contacted and when; what was done; by when the rest will be done, or done), lead or co-unit,
per work round (0, then one more after each rework).
hotline_unit_request: a unit's return (退单) or unreasonable-request flag (不合理诉求), pending
until a dispatcher approves or refuses it (a partial unique index: one pending per kind).
case_summons: the departments summoned to a case (a ticket's or a grid case), each with its
limit and deadline, its report-in with a photo, its answer and the street office's rating
(1–5, indexed by department and rating time for the monthly listing).

Revision ID: c1a0e5a17003
Revises: c1a0e5a17002
Create Date: 2026-12-06 08:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c1a0e5a17003"
down_revision: str | None = "c1a0e5a17002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, *, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _user(name: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [name], ["app_user.id"], name=op.f(f"fk_{table}_{name}_app_user")
    )


def _ticket(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["ticket_id"],
        ["hotline_ticket.id"],
        name=op.f(f"fk_{table}_ticket_id_hotline_ticket"),
        ondelete="CASCADE",
    )


def _department(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["department_id"], ["department.id"], name=op.f(f"fk_{table}_department_id_department")
    )


def upgrade() -> None:
    op.create_table(
        "hotline_co_unit",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=True),
        _at("added_at", nullable=False),
        _at("reply_due_at"),
        _at("replied_at"),
        _ticket("hotline_co_unit"),
        _department("hotline_co_unit"),
        _user("added_by", "hotline_co_unit"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_co_unit")),
        sa.UniqueConstraint("ticket_id", "department_id", name="one_co_unit_each"),
    )
    op.create_index(op.f("ix_hotline_co_unit_ticket_id"), "hotline_co_unit", ["ticket_id"])
    op.create_index(op.f("ix_hotline_co_unit_department_id"), "hotline_co_unit", ["department_id"])
    op.create_table(
        "hotline_reply",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("unit_role", sa.Text(), nullable=False),
        sa.Column("work_round", sa.Integer(), server_default="0", nullable=False),
        _at("received_at", nullable=False),
        sa.Column("contacted_person", sa.Text(), nullable=False),
        _at("contacted_at", nullable=False),
        sa.Column("action_taken", sa.Text(), nullable=False),
        _at("rest_due_at"),
        sa.Column("done", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("replied_by", sa.Integer(), nullable=True),
        _at("replied_at", nullable=False),
        sa.CheckConstraint(
            "unit_role IN ('lead', 'co')", name=op.f("ck_hotline_reply_unit_role_known")
        ),
        sa.CheckConstraint(
            "done OR rest_due_at IS NOT NULL", name=op.f("ck_hotline_reply_done_or_rest_due")
        ),
        _ticket("hotline_reply"),
        _department("hotline_reply"),
        _user("replied_by", "hotline_reply"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_reply")),
    )
    op.create_index(op.f("ix_hotline_reply_ticket_id"), "hotline_reply", ["ticket_id"])
    op.create_table(
        "hotline_unit_request",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        _at("requested_at", nullable=False),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        _at("decided_at"),
        sa.CheckConstraint(
            "kind IN ('return', 'unreasonable')", name=op.f("ck_hotline_unit_request_kind_known")
        ),
        sa.CheckConstraint(
            "decision IS NULL OR decision IN ('approved', 'refused')",
            name=op.f("ck_hotline_unit_request_decision_known"),
        ),
        _ticket("hotline_unit_request"),
        _department("hotline_unit_request"),
        _user("requested_by", "hotline_unit_request"),
        _user("decided_by", "hotline_unit_request"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_unit_request")),
    )
    op.create_index(
        op.f("ix_hotline_unit_request_ticket_id"), "hotline_unit_request", ["ticket_id"]
    )
    op.create_index(
        "ix_hotline_unit_request_pending",
        "hotline_unit_request",
        ["ticket_id", "kind"],
        unique=True,
        postgresql_where=sa.text("decision IS NULL"),
    )
    op.create_table(
        "case_summons",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("summoned_by", sa.Integer(), nullable=True),
        _at("summoned_at", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("limit_hours", sa.Float(), nullable=False),
        sa.Column("working_time", sa.Boolean(), nullable=False),
        _at("due_at", nullable=False),
        _at("reported_at"),
        sa.Column("reported_by", sa.Integer(), nullable=True),
        sa.Column("photo_id", sa.BigInteger(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        _at("answered_at"),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("rating_note", sa.Text(), nullable=True),
        sa.Column("rated_by", sa.Integer(), nullable=True),
        _at("rated_at"),
        sa.CheckConstraint(
            "rating IS NULL OR rating BETWEEN 1 AND 5", name=op.f("ck_case_summons_rating_in_range")
        ),
        sa.CheckConstraint(
            "answered_at IS NULL OR reported_at IS NOT NULL",
            name=op.f("ck_case_summons_reported_first"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["event_case.id"],
            name=op.f("fk_case_summons_case_id_event_case"),
            ondelete="CASCADE",
        ),
        _department("case_summons"),
        sa.ForeignKeyConstraint(
            ["photo_id"], ["case_photo.id"], name=op.f("fk_case_summons_photo_id_case_photo")
        ),
        _user("summoned_by", "case_summons"),
        _user("reported_by", "case_summons"),
        _user("answered_by", "case_summons"),
        _user("rated_by", "case_summons"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_summons")),
        sa.UniqueConstraint("case_id", "department_id", name="one_summons_per_department"),
    )
    op.create_index(op.f("ix_case_summons_case_id"), "case_summons", ["case_id"])
    op.create_index(
        "ix_case_summons_department_rated", "case_summons", ["department_id", "rated_at"]
    )


def downgrade() -> None:
    op.drop_table("case_summons")
    op.drop_table("hotline_unit_request")
    op.drop_table("hotline_reply")
    op.drop_table("hotline_co_unit")
