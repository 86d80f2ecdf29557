"""Hotline tickets, their callers apart, the hotline systems that send them, and ticket events.

hotline_source: a hotline system, its API key (SHA-256 only, like open311_api_key) and the
inactive service account its tickets are filed as.
hotline_ticket: one row per ticket number (UNIQUE: intake inserts ON CONFLICT DO NOTHING, so a
replayed or racing ticket is stored once), with where it is (place, cell), its case (UNIQUE) and
the workflow columns the dispatch side fills. Indexed for the lists: received_at, status,
(lead_department_id, received_at), cell_id.
hotline_caller: the caller's name and phone (personal data), one row per ticket, cascading.
hotline_ticket_event: what goes back to the hotline system, (ticket_id, seq) unique, with a
partial index on the rows not yet pushed.

Revision ID: c1a0e5a17002
Revises: c1a0e5a17001
Create Date: 2026-12-06 08:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c1a0e5a17002"
down_revision: str | None = "c1a0e5a17001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TICKET_TYPES = "'consultation', 'help', 'complaint', 'report', 'suggestion', 'praise'"
URGENCY_CLASSES = "'emergency', 'utilities', 'general'"
TICKET_STATUSES = (
    "'received', 'to_locate', 'recorded', 'filed', 'dispatched', 'signed', 'returned', "
    "'replied', 'rework', 'closed', 'cancelled'"
)
LOCATION_STATUSES = "'located', 'to_locate', 'not_needed'"
DATUMS = "'wgs84', 'gcj02', 'bd09'"


def _at(name: str, *, nullable: bool = True, now: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.func.now() if now else None,
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "hotline_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_prefix", sa.String(length=12), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _at("created_at", nullable=False, now=True),
        _at("revoked_at"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_hotline_source_user_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_hotline_source_created_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_source")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_hotline_source_key_hash")),
    )
    op.create_table(
        "hotline_ticket",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("ticket_number", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        _at("received_at", nullable=False),
        sa.Column("ticket_type", sa.Text(), nullable=False),
        sa.Column("urgency_class", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("address_text", sa.Text(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("input_datum", sa.Text(), nullable=True),
        sa.Column("category_hint", sa.Text(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("location_status", sa.Text(), nullable=False),
        sa.Column("location_confidence", sa.REAL(), nullable=True),
        sa.Column("place_id", sa.BigInteger(), nullable=True),
        sa.Column("cell_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("lead_department_id", sa.Integer(), nullable=True),
        _at("dispatch_due_at"),
        _at("sign_due_at"),
        _at("first_contact_due_at"),
        _at("reply_due_at"),
        _at("dispatched_at"),
        _at("signed_at"),
        _at("first_contacted_at"),
        _at("replied_at"),
        _at("closed_at"),
        sa.Column("unreasonable", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("unreasonable_reason", sa.Text(), nullable=True),
        sa.Column(
            "candidates",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        _at("created_at", nullable=False, now=True),
        _at("updated_at", nullable=False, now=True),
        sa.CheckConstraint(
            f"ticket_type IN ({TICKET_TYPES})", name=op.f("ck_hotline_ticket_type_known")
        ),
        sa.CheckConstraint(
            f"urgency_class IN ({URGENCY_CLASSES})", name=op.f("ck_hotline_ticket_urgency_known")
        ),
        sa.CheckConstraint(
            f"status IN ({TICKET_STATUSES})", name=op.f("ck_hotline_ticket_status_known")
        ),
        sa.CheckConstraint(
            f"location_status IN ({LOCATION_STATUSES})",
            name=op.f("ck_hotline_ticket_location_known"),
        ),
        sa.CheckConstraint(
            f"input_datum IS NULL OR input_datum IN ({DATUMS})",
            name=op.f("ck_hotline_ticket_datum_known"),
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["hotline_source.id"],
            name=op.f("fk_hotline_ticket_source_id_hotline_source"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_hotline_ticket_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["place_id"], ["place.id"], name=op.f("fk_hotline_ticket_place_id_place")
        ),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["grid_cell.id"], name=op.f("fk_hotline_ticket_cell_id_grid_cell")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["event_case.id"], name=op.f("fk_hotline_ticket_case_id_event_case")
        ),
        sa.ForeignKeyConstraint(
            ["lead_department_id"],
            ["department.id"],
            name=op.f("fk_hotline_ticket_lead_department_id_department"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_ticket")),
        sa.UniqueConstraint("ticket_number", name=op.f("uq_hotline_ticket_ticket_number")),
        sa.UniqueConstraint("case_id", name=op.f("uq_hotline_ticket_case_id")),
    )
    op.create_index(op.f("ix_hotline_ticket_received_at"), "hotline_ticket", ["received_at"])
    op.create_index(op.f("ix_hotline_ticket_status"), "hotline_ticket", ["status"])
    op.create_index(op.f("ix_hotline_ticket_cell_id"), "hotline_ticket", ["cell_id"])
    op.create_index(
        "ix_hotline_ticket_lead_department_id_received_at",
        "hotline_ticket",
        ["lead_department_id", "received_at"],
    )
    op.create_table(
        "hotline_caller",
        sa.Column("ticket_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["hotline_ticket.id"],
            name=op.f("fk_hotline_caller_ticket_id_hotline_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_hotline_caller")),
    )
    op.create_table(
        "hotline_ticket_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        _at("at", nullable=False),
        _at("pushed_at"),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["hotline_ticket.id"],
            name=op.f("fk_hotline_ticket_event_ticket_id_hotline_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_ticket_event")),
        sa.UniqueConstraint("ticket_id", "seq", name="one_seq_per_ticket"),
    )
    op.create_index(
        "ix_hotline_ticket_event_unpushed",
        "hotline_ticket_event",
        ["ticket_id", "seq"],
        postgresql_where=sa.text("pushed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("hotline_ticket_event")
    op.drop_table("hotline_caller")
    op.drop_table("hotline_ticket")
    op.drop_table("hotline_source")
