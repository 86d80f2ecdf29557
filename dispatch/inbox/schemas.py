"""Answers of the inbox API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    title: str
    case_id: int | None
    body: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class InboxRead(BaseModel):
    unread_count: int
    items: list[NotificationRead]
    # Pass as before_id for the next (older) page; None when this page is the last.
    next_before_id: int | None


class MarkedRead(BaseModel):
    marked: int
