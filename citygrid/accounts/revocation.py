"""Token revocation: which tokens are refused before they expire (logout, disabled users,
password changes, "log out everywhere").

Revocation is checked on every authenticated request, so it is answered from memory: each
process keeps the revoked token ids, the disabled users and each user's `tokens_valid_after`,
re-read from the database at most every `revocation_refresh_s` seconds, and changed at once
when this process makes the change (logout, disable, password change). Another process sees a
change within that many seconds.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.db import RowFetcher

LOG = logging.getLogger(__name__)
# A revocation is read by the time its row was written; a transaction committing later than
# this after it began would be missed by the incremental read (logouts take milliseconds).
REVOKED_OVERLAP_S = 60.0

REVOKED_SINCE_SQL = """
SELECT token_id::text AS token_id, extract(epoch FROM expires_at)::float8 AS expires_at,
       extract(epoch FROM revoked_at)::float8 AS revoked_at
FROM revoked_token
WHERE revoked_at > to_timestamp(%(since)s) AND expires_at > now()
"""
# Users whose tokens are refused in part: disabled ones, and those with a valid-after instant
# recent enough for a token issued before it to be still unexpired.
USER_RULES_SQL = """
SELECT id, is_active, extract(epoch FROM tokens_valid_after)::float8 AS valid_after
FROM app_user
WHERE NOT is_active OR tokens_valid_after > now() - make_interval(secs => %(token_ttl_s)s)
"""


@dataclass
class UserRule:
    active: bool
    valid_after: float | None  # epoch seconds


class RevocationState:
    """What this process knows of refused tokens; see the module's docstring."""

    def __init__(self) -> None:
        self.revoked_until: dict[str, float] = {}  # token id → its expiry (epoch seconds)
        self.users: dict[int, UserRule] = {}
        self.loaded = False
        self.refreshed_at = -math.inf  # time.monotonic()
        self.newest_revoked_at = 0.0
        # What this process changed while the rows were read: they may be older than that.
        self._changed_while_reading: dict[int, UserRule] = {}
        self._revoked_while_reading: dict[str, float] = {}
        self._reading = asyncio.Lock()

    def refusal(self, *, user_id: int, token_id: str, issued_at: float) -> str | None:
        """Why a token is refused, or None when it is not."""
        if token_id in self.revoked_until:
            return "the token was revoked (logged out); log in again"
        rule = self.users.get(user_id)
        if rule is None:
            return None
        if not rule.active:
            return "the user is disabled"
        if rule.valid_after is not None and issued_at < rule.valid_after:
            return "the token was revoked (password change or log out everywhere); log in again"
        return None

    def revoke(self, token_id: str, expires_at: float) -> None:
        self.revoked_until[token_id] = expires_at
        self._revoked_while_reading[token_id] = expires_at

    def set_user(self, user_id: int, *, active: bool, valid_after: datetime | None) -> None:
        rule = UserRule(active, valid_after.timestamp() if valid_after else None)
        self.users[user_id] = rule
        self._changed_while_reading[user_id] = rule

    def is_stale(self, max_age_s: float) -> bool:
        return time.monotonic() - self.refreshed_at >= max_age_s

    async def ensure_fresh(
        self, fetch: RowFetcher, *, max_age_s: float, token_ttl_s: float
    ) -> None:
        """Re-read the state when it is older than `max_age_s`. While one request reads it,
        the others go on with the previous state; only the very first read is waited for."""
        if time.monotonic() - self.refreshed_at < max_age_s:
            return
        if self.loaded and self._reading.locked():
            return
        async with self._reading:
            if time.monotonic() - self.refreshed_at < max_age_s:
                return
            try:
                await self._read(fetch, token_ttl_s)
            except Exception:
                if not self.loaded:
                    raise
                LOG.warning("revocation state not refreshed; using the previous one", exc_info=True)
            self.refreshed_at = time.monotonic()

    async def _read(self, fetch: RowFetcher, token_ttl_s: float) -> None:
        self._changed_while_reading, self._revoked_while_reading = {}, {}
        since = max(self.newest_revoked_at - REVOKED_OVERLAP_S, 0.0)
        revoked = await fetch(REVOKED_SINCE_SQL, {"since": since})
        rules = await fetch(USER_RULES_SQL, {"token_ttl_s": token_ttl_s})
        now = time.time()
        # A copy: a sync route may revoke a token from another thread meanwhile.
        kept = {jti: until for jti, until in self.revoked_until.copy().items() if until > now}
        kept.update((row.token_id, row.expires_at) for row in revoked)
        kept.update(self._revoked_while_reading)
        self.revoked_until = kept
        self.newest_revoked_at = max([self.newest_revoked_at, *(r.revoked_at for r in revoked)])
        users = {row.id: UserRule(row.is_active, row.valid_after) for row in rules}
        users.update(self._changed_while_reading)
        self.users = users
        self.loaded = True


_creating_state = threading.Lock()


def revocations_in(holder: Any) -> RevocationState:
    """The app's revocation state (kept as `holder.revocations`, made on first use)."""
    state: RevocationState | None = getattr(holder, "revocations", None)
    if state is None:
        with _creating_state:
            state = getattr(holder, "revocations", None)
            if state is None:
                state = RevocationState()
                holder.revocations = state
    return state


def revoke_token(
    session: Session, *, token_id: str, user_id: int, expires_at: datetime, now: datetime
) -> None:
    """Record a token as revoked until it expires (rows of expired tokens are dropped)."""
    session.execute(
        text(
            "INSERT INTO revoked_token (token_id, user_id, expires_at) "
            "SELECT CAST(:token_id AS uuid), id, :expires_at FROM app_user WHERE id = :user_id "
            "ON CONFLICT DO NOTHING"
        ),
        {"token_id": token_id, "user_id": user_id, "expires_at": expires_at},
    )
    session.execute(text("DELETE FROM revoked_token WHERE expires_at < :now"), {"now": now})
    session.flush()
