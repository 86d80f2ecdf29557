"""Signing and retrying webhook deliveries (pure; receivers may copy `verify_signature`)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="
BACKOFF_CAP_S = 6 * 3600.0


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Citygrid-Signature` header: sha256=<hex HMAC-SHA256(secret, timestamp.body)>."""
    signed = timestamp.encode() + b"." + body
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """True when `header` is the signature of `timestamp` and the raw `body` under `secret`."""
    return hmac.compare_digest(signature(secret, timestamp, body).encode(), header.encode())


def retry_delay_s(attempts: int, *, backoff_s: float, cap_s: float = BACKOFF_CAP_S) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: backoff doubled each time, capped."""
    return float(min(cap_s, backoff_s * 2 ** max(attempts - 1, 0)))
