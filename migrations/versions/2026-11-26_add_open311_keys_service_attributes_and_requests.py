"""add open311 keys service attributes and requests

Revision ID: 65ea8ca1b311
Revises: 237a65c1ba55
Create Date: 2026-11-26 09:56:14.402172+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "65ea8ca1b311"
down_revision: str | None = "237a65c1ba55"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_attribute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("variable", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("datatype", sa.String(length=16), nullable=False),
        sa.Column("required", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("datatype_description", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), server_default="1", nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "values",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "datatype IN ('string', 'number', 'datetime', 'text', 'singlevaluelist', 'multivaluelist')",
            name=op.f("ck_service_attribute_datatype_known"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name=op.f("fk_service_attribute_category_id_category"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_attribute")),
        sa.UniqueConstraint("category_id", "code", name="one_code_per_category"),
    )
    op.create_table(
        "open311_api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_prefix", sa.String(length=12), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("requests_per_minute", sa.Integer(), server_default="60", nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_open311_api_key_created_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_api_key_key_hash")),
    )
    op.create_table(
        "open311_request",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("report_uuid", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("device_id", sa.String(length=200), nullable=True),
        sa.Column("account_id", sa.String(length=200), nullable=True),
        sa.Column("first_name", sa.String(length=200), nullable=True),
        sa.Column("last_name", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("media_url", sa.Text(), nullable=True),
        sa.Column("address_string", sa.Text(), nullable=True),
        sa.Column("address_id", sa.String(length=200), nullable=True),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["open311_api_key.id"],
            name=op.f("fk_open311_request_api_key_id_open311_api_key"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_request")),
        sa.UniqueConstraint("report_uuid", name=op.f("uq_open311_request_report_uuid")),
        sa.UniqueConstraint("token", name=op.f("uq_open311_request_token")),
    )
    op.create_index(
        op.f("ix_open311_request_api_key_id"), "open311_request", ["api_key_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_open311_request_api_key_id"), table_name="open311_request")
    op.drop_table("open311_request")
    op.drop_table("open311_api_key")
    op.drop_table("service_attribute")
