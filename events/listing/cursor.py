"""Keyset cursors: the sort keys of the last row a page showed, as an opaque URL-safe token.

The token names its sort, so a cursor made for one order is refused by another; times travel as
ISO 8601 with their offset. A token that does not decode is the client's error, named `after`.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from citygrid.errors import InvalidInput
from events.listing.schemas import CaseSort

CURSOR_MAX_CHARS = 400


def _plain(value: Any) -> Any:
    return {"t": value.isoformat()} if isinstance(value, datetime) else value


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        return datetime.fromisoformat(value["t"])
    if value is None or isinstance(value, int | str):
        return value
    raise ValueError("unexpected cursor value")


def encode_cursor(sort: CaseSort, values: list[Any]) -> str:
    payload = json.dumps([sort.value, [_plain(value) for value in values]], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(token: str, sort: CaseSort) -> list[Any]:
    """The sort values a cursor carries; InvalidInput (field `after`) unless it was made by
    encode_cursor for this sort."""
    try:
        if len(token) > CURSOR_MAX_CHARS:
            raise ValueError("too long")
        padded = token + "=" * (-len(token) % 4)
        made_for, values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if made_for != sort.value or not isinstance(values, list) or not values:
            raise ValueError("another sort")
        return [_typed(value) for value in values]
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput(
            "after must be the next_cursor of a previous page with the same sort", field="after"
        ) from error
