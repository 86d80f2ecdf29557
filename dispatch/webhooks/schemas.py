"""Bodies and answers of the webhooks API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

EventKind = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_.]*$")]
Secret = Annotated[str, Field(min_length=16, max_length=200)]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl  # http or https only
    secret: Secret | None = None  # generated when absent, and shown once
    event_kinds: list[EventKind] = Field(default_factory=list, max_length=50)  # empty: all


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl | None = None
    secret: Secret | None = None
    event_kinds: list[EventKind] | None = Field(default=None, max_length=50)
    is_active: bool | None = None


class WebhookRead(BaseModel):
    """A webhook as listed: never with its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    event_kinds: list[str]
    is_active: bool
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str  # shown only in the answer to the creation (or a change of secret)


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    created_at: datetime
    log: list[AttemptRead] = []


class PingQueued(BaseModel):
    event_id: uuid.UUID
