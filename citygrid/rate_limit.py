"""An in-process sliding-window rate limiter, one per app and purpose (kept in `app.state`)."""

from __future__ import annotations

import threading
from collections import deque

from fastapi import Request
from starlette.datastructures import State

RATE_WINDOW_S = 60.0
LIMITERS_STATE = "rate_limiters"  # the app.state attribute holding them, by purpose


class SlidingWindowLimiter:
    """At most `limit` hits per key in any window of `window_s` seconds (in-process)."""

    def __init__(self, window_s: float = RATE_WINDOW_S, keys_max: int = 100_000) -> None:
        self.window_s = window_s
        self.keys_max = keys_max
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after_s(self, key: str, *, limit: int, now: float) -> float | None:
        """None when the hit is admitted (and counted); else seconds until one would be."""
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= limit:
                return hits[0] + self.window_s - now
            hits.append(now)
            if len(self._hits) > self.keys_max:
                self._forget_idle(now)
            return None

    def _forget_idle(self, now: float) -> None:
        idle = [key for key, hits in self._hits.items() if hits[-1] <= now - self.window_s]
        for key in idle:
            del self._hits[key]


def app_limiter(request: Request, name: str) -> SlidingWindowLimiter:
    """The app's limiter for one purpose, made on first use. All of an app's limiters are kept in
    one dict in `app.state`, so that `forget_limiters` starts them all afresh."""
    limiters: dict[str, SlidingWindowLimiter] | None = getattr(
        request.app.state, LIMITERS_STATE, None
    )
    if limiters is None:
        limiters = {}
        setattr(request.app.state, LIMITERS_STATE, limiters)
    limiter = limiters.get(name)
    if limiter is None:
        limiter = limiters.setdefault(name, SlidingWindowLimiter())
    return limiter


def forget_limiters(state: State) -> None:
    """Drop every limiter of an app (its counts start from nothing, as in a new app)."""
    setattr(state, LIMITERS_STATE, {})
