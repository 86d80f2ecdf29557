"""Tables of the Open311 interface: API keys, service attributes, and what a client sent."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from citygrid.db import Base

DATATYPES = "'string', 'number', 'datetime', 'text', 'singlevaluelist', 'multivaluelist'"


class Open311ApiKey(Base):
    """A client application's key: only its SHA-256 is stored; revoked keys stay for audit."""

    __tablename__ = "open311_api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_prefix: Mapped[str] = mapped_column(String(12))  # shown to admins to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    requests_per_minute: Mapped[int] = mapped_column(Integer, server_default="60")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ServiceAttribute(Base):
    """An extra question a category asks (an Open311 service definition attribute)."""

    __tablename__ = "service_attribute"
    __table_args__ = (
        UniqueConstraint("category_id", "code", name="one_code_per_category"),
        CheckConstraint(f"datatype IN ({DATATYPES})", name="datatype_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    variable: Mapped[bool] = mapped_column(Boolean, server_default="true")
    datatype: Mapped[str] = mapped_column(String(16))
    required: Mapped[bool] = mapped_column(Boolean, server_default="false")
    datatype_description: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, server_default="1")  # the spec's "order"
    description: Mapped[str] = mapped_column(Text)
    # [{"key": "open", "name": "井盖缺失 missing"}, …] for the list datatypes
    values: Mapped[list[dict[str, str]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))


class Open311Request(Base):
    """What an Open311 client sent with a report beyond the report itself.

    Written before the report (keyed by the report's UUID, not its id): once intake answers, the
    client's details are already stored, so an acknowledged request is never without them.
    """

    __tablename__ = "open311_request"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    report_uuid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("open311_api_key.id"), index=True)
    token: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    device_id: Mapped[str | None] = mapped_column(String(200))
    account_id: Mapped[str | None] = mapped_column(String(200))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(64))
    media_url: Mapped[str | None] = mapped_column(Text)
    address_string: Mapped[str | None] = mapped_column(Text)
    address_id: Mapped[str | None] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
