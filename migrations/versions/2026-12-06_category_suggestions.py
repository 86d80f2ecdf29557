"""Category suggestion models, the suggestions made at intake and dispatchers' corrections.

suggestion_model: one row per trained version (held-out accuracy, the floor, enabled, the model
as a NumPy archive of plain arrays). category_suggestion: the top three given for a report at
intake (one per report). category_correction: a case's category changed by a person, with what
had been suggested; the next training labels the case's text with the chosen category.

Revision ID: 9b2c3d4e5f6a
Revises: 8a1b2c3d4e5f
Create Date: 2026-12-06 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "9b2c3d4e5f6a"
down_revision: str | None = "8a1b2c3d4e5f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "suggestion_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "trained_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("corrections", sa.Integer(), nullable=False),
        sa.Column("held_out", sa.Integer(), nullable=False),
        sa.Column("held_out_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("categories", sa.Integer(), nullable=False),
        sa.Column("top1", sa.Float(), nullable=False),
        sa.Column("top3", sa.Float(), nullable=False),
        sa.Column("floor", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("model", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(
            "top1 BETWEEN 0 AND 1 AND top3 BETWEEN 0 AND 1",
            name=op.f("ck_suggestion_model_accuracy_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion_model")),
    )
    op.create_table(
        "category_suggestion",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("report_id", sa.BigInteger(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("suggested", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["event_case.id"], name=op.f("fk_category_suggestion_case_id_event_case")
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["suggestion_model.id"],
            name=op.f("fk_category_suggestion_model_id_suggestion_model"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["report.id"], name=op.f("fk_category_suggestion_report_id_report")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_suggestion")),
        sa.UniqueConstraint("report_id", name=op.f("uq_category_suggestion_report_id")),
    )
    op.create_index(
        op.f("ix_category_suggestion_case_id"), "category_suggestion", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_category_suggestion_model_id"), "category_suggestion", ["model_id"], unique=False
    )
    op.create_table(
        "category_correction",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("from_category_id", sa.Integer(), nullable=False),
        sa.Column("to_category_id", sa.Integer(), nullable=False),
        sa.Column("suggestion_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "suggested",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("via_suggestion", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["app_user.id"], name=op.f("fk_category_correction_actor_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["event_case.id"], name=op.f("fk_category_correction_case_id_event_case")
        ),
        sa.ForeignKeyConstraint(
            ["from_category_id"],
            ["category.id"],
            name=op.f("fk_category_correction_from_category_id_category"),
        ),
        sa.ForeignKeyConstraint(
            ["suggestion_id"],
            ["category_suggestion.id"],
            name=op.f("fk_category_correction_suggestion_id_category_suggestion"),
        ),
        sa.ForeignKeyConstraint(
            ["to_category_id"],
            ["category.id"],
            name=op.f("fk_category_correction_to_category_id_category"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_correction")),
    )
    op.create_index(
        op.f("ix_category_correction_case_id"), "category_correction", ["case_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_category_correction_case_id"), table_name="category_correction")
    op.drop_table("category_correction")
    op.drop_index(op.f("ix_category_suggestion_model_id"), table_name="category_suggestion")
    op.drop_index(op.f("ix_category_suggestion_case_id"), table_name="category_suggestion")
    op.drop_table("category_suggestion")
    op.drop_table("suggestion_model")
