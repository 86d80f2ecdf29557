"""Logging for `citygrid serve`: one JSON object (or a text line) per record, secrets redacted.

Every record carries the request id of the request it was logged in (a contextvar the
middleware sets). `logging_config(settings)` is a `logging.config.dictConfig` dictionary, so
uvicorn can apply it again in each worker process it spawns.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from citygrid.settings import Settings

REDACTED = "[redacted]"
# Names whose values are secrets, in a query string, a form, a JSON body or a repr.
SECRET_NAMES = (
    r"password|passwd|pwd|secret|secret_key|client_secret|token|access_token|refresh_token"
    r"|api_key|apikey|api-key|x-api-key"
)
SECRET_MIN_CHARS = 8  # a configured secret shorter than this would redact ordinary words
REQUEST_ID: ContextVar[str | None] = ContextVar("citygrid_request_id", default=None)

# Each pattern keeps its first group (the name) and replaces the rest with REDACTED.
_SECRET_PATTERNS = (
    # Authorization: Bearer x / 'authorization': 'Basic x' / authorization=x
    re.compile(
        r"""(\bauthorization["']?\s*[:=]\s*["']?)(?:(?:bearer|basic)\s+)?[^\s"',;}&]+""", re.I
    ),
    re.compile(r"(\bbearer\s+)[A-Za-z0-9._~+/=-]+", re.I),
    # password=x, "api_key": "x", token: x (the name ends where a word does: not `tokens`)
    re.compile(rf"""((?<![A-Za-z0-9])(?:{SECRET_NAMES})["']?\s*[:=]\s*["']?)[^\s"'&,;}}]+""", re.I),
    # a JWT anywhere (three base64url parts, the first a JSON header: `eyJ`)
    re.compile(r"()\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"),
    # the password of a database URL: scheme://user:password@host
    re.compile(r"(://[^:/@\s]+:)[^@\s]+(?=@)"),
)
# Every pattern above needs one of these (lower-cased) in the text: most texts need no regex.
_SECRET_HINTS = ("auth", "bearer", "pass", "pwd", "secret", "token", "key", "eyj", "://")
_QUERY_SECRET = re.compile(rf"((?:^|&)(?:{SECRET_NAMES})=)[^&]*", re.I)
# The attributes every LogRecord has; the others came as `extra=` and are logged as fields.
_RECORD_ATTRIBUTES = frozenset(
    [*vars(logging.LogRecord("", 0, "", 0, "", None, None)), "message", "asctime", "taskName"]
)


def redacted(text: str, secrets: Iterable[str] = ()) -> str:
    """The text with credentials (headers, name=value pairs, JWTs, URL passwords) and the given
    secret values replaced by REDACTED."""
    for secret in secrets:
        if len(secret) >= SECRET_MIN_CHARS:
            text = text.replace(secret, REDACTED)
    lowered = text.lower()
    if not any(hint in lowered for hint in _SECRET_HINTS):
        return text
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


def redacted_query(query: str) -> str:
    """A query string with the values of secret-looking parameters replaced by REDACTED."""
    return _QUERY_SECRET.sub(lambda match: match.group(1) + REDACTED, query)


class RedactSecrets(logging.Filter):
    """Rewrites each record's message, string fields and traceback with `redacted`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redacted(record.getMessage(), self.secrets)
        record.args = None
        for name, value in list(vars(record).items()):
            if name not in _RECORD_ATTRIBUTES and isinstance(value, str):
                setattr(record, name, redacted(value, self.secrets))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redacted(record.exc_text, self.secrets)
        return True


class AddRequestId(logging.Filter):
    """Sets `record.request_id` to the id of the request being served (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the request id,
    every `extra=` field, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and value is not None:
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


APP_PACKAGES = ("citygrid", "grid", "events", "dispatch", "maps", "sensing")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT lines; `-` as the request id of a record logged outside any request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = getattr(record, "request_id", None) or "-"
        return super().format(record)


def logging_config(settings: Settings) -> dict[str, Any]:
    """The dictConfig for the app and uvicorn: one stderr handler in `settings.log_format`,
    filtered by AddRequestId and RedactSecrets (which also hides `settings.secret_key`)."""
    formatter: dict[str, Any] = {
        "()": JsonFormatter if settings.log_format == "json" else TextFormatter
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": AddRequestId},
            "secrets": {"()": RedactSecrets, "secrets": [settings.secret_key]},
        },
        "formatters": {"main": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "main",
                "filters": ["request_id", "secrets"],
            }
        },
        "loggers": {
            # uvicorn's own loggers go through our handler; its access log is ours instead.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
            **{package: {"level": "INFO"} for package in APP_PACKAGES},
        },
        # Other libraries only above INFO: httpx, for one, logs every request's URL at INFO.
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }


def configure_logging(settings: Settings) -> dict[str, Any]:
    """Applies `logging_config(settings)` to this process; returns it (for uvicorn's workers)."""
    config = logging_config(settings)
    logging.config.dictConfig(config)
    return config
