"""Middleware every response passes through (hardening, request ids, logs).

One pure ASGI middleware (no BaseHTTPMiddleware: it buffers and costs a task per request)
does, per request: the request id (an incoming sane `X-Request-ID`, else a new one), the body
size limit (413 before reading a body whose Content-Length is too large, and as soon as a
chunked body grows past it), the security headers, and one access log line. Starlette's
CORSMiddleware sits inside it only when `cors_origins` lists origins, and its GZipMiddleware
innermost.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citygrid import logs
from citygrid.accounts import auth
from citygrid.errors import CitygridError
from citygrid.settings import Settings

ACCESS_LOG = logging.getLogger("citygrid.access")
MB = 1024 * 1024
REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")

FRAME_POLICY = "frame-ancestors 'none'"  # on every response: nothing frames us
STRICT_PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Folium writes each map as inline <script>s and <style>s whose text changes with every render
# (random element ids), so hashes would have to be computed per response from its body.
MAP_PAGE_POLICY = STRICT_PAGE_POLICY.replace(
    "script-src 'self'", "script-src 'self' 'unsafe-inline'"
).replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
MAP_PAGES = ("/maps/heatmap", "/maps/choropleth", "/maps/hotspots", "/maps/emerging")
# /docs (Swagger UI) and /redoc load their code from this server (citygrid.router) but start it
# with an inline script and style elements; ReDoc runs its search in a blob: worker.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:; img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_PAGES = ("/docs", "/docs/oauth2-redirect", "/redoc")
ALWAYS_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)
CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CORS_HEADERS = ("Authorization", "Content-Type", "Accept-Language", REQUEST_ID_HEADER)
CORS_EXPOSED = (REQUEST_ID_HEADER, "Retry-After", "Content-Disposition")
CORS_MAX_AGE_S = 600
# Pages, JSON, CSV and GeoJSON over 1 KB go out gzipped (map pages are repetitive: a fraction of
# their size). Level 6, zlib's default, is within 1 % of level 9's size and faster. Starlette's
# GZipMiddleware leaves alone what must not be buffered or is compressed already: it excludes
# text/event-stream, images and archives, and flushes each chunk of a streamed response (the CSV
# exports) as it goes; a Range answer (206) passes through unchanged.
GZIP_MIN_BYTES = 1024
GZIP_LEVEL = 6


def tile_source(tiles_url: str | None) -> str | None:
    """The CSP source of an XYZ tile URL template (`{s}` subdomains as `*`); None without one."""
    if not tiles_url:
        return None
    parts = urlsplit(tiles_url)
    host = parts.netloc.replace("{s}", "*")
    if parts.scheme not in ("http", "https") or not host or "{" in host:
        return "https:"  # a template we cannot read: any https host rather than a broken map
    return f"{parts.scheme}://{host}"


def request_id_from(incoming: bytes | None) -> str:
    """The incoming X-Request-ID when sane (1–64 of [A-Za-z0-9._-]); else a new uuid4 hex."""
    if incoming is not None and SANE_REQUEST_ID.fullmatch(incoming):
        return incoming.decode()
    return uuid.uuid4().hex


def with_tiles(policy: str, settings: Settings) -> str:
    """The policy allowing images from the city's tile server, when one is configured."""
    tiles = tile_source(settings.map_tiles_url)
    return policy.replace("img-src 'self'", f"img-src 'self' {tiles}") if tiles else policy


def strict_page_policy(settings: Settings) -> str:
    """The policy of every page without one of its own (the console, desk and report pages
    draw the city's tiles under their work-list maps)."""
    return with_tiles(STRICT_PAGE_POLICY, settings)


def page_policies(settings: Settings) -> dict[str, str]:
    """The Content-Security-Policy of the HTML pages that need other than the strict one."""
    map_policy = with_tiles(MAP_PAGE_POLICY, settings)
    return {**dict.fromkeys(MAP_PAGES, map_policy), **dict.fromkeys(DOCS_PAGES, DOCS_POLICY)}


def body_limits(settings: Settings) -> dict[str, int]:
    """The paths that accept bodies larger than `request_max_bytes`: file imports."""
    return {
        "/api/grid/imports": settings.grid_import_max_bytes,
        "/api/components/imports": settings.component_import_max_bytes,
    }


@dataclass(frozen=True)
class Hardening:
    """What the middleware applies, computed once from the settings."""

    default_max_bytes: int
    max_bytes_by_path: Mapping[str, int]
    page_policy: bytes
    page_policy_by_path: Mapping[str, bytes]
    secret_key: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Hardening:
        policies = {path: policy.encode() for path, policy in page_policies(settings).items()}
        return cls(
            default_max_bytes=settings.request_max_bytes,
            max_bytes_by_path=body_limits(settings),
            page_policy=strict_page_policy(settings).encode(),
            page_policy_by_path=policies,
            secret_key=settings.secret_key,
        )


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware to the app (called once by create_app)."""
    # Added first, so innermost: it compresses what the routes send; the others only add headers.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=GZIP_LEVEL)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSED,
            max_age=CORS_MAX_AGE_S,
        )
    # Added last: the outermost, so CORS answers get the headers and every request is logged.
    app.add_middleware(HardeningMiddleware, hardening=Hardening.from_settings(settings))


class HardeningMiddleware:
    """Request id, body size limit, security headers and access log for each HTTP request."""

    def __init__(self, app: ASGIApp, *, hardening: Hardening) -> None:
        self.app = app
        self.hardening = hardening

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = Exchange(scope, receive, send, self.hardening)
        reset_token = logs.REQUEST_ID.set(exchange.request_id)
        try:
            await exchange.run(self.app)
        finally:
            exchange.log_access()
            logs.REQUEST_ID.reset(reset_token)


class BodyTooLarge(Exception):
    """Raised from `receive` once a streamed body has passed its limit."""


class Exchange:
    """One request and its response, as the middleware sees them."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, hardening: Hardening) -> None:
        self.scope = scope
        self.hardening = hardening
        self._receive = receive
        self._send = send
        self.started_at = time.perf_counter()
        self.status: int | None = None
        self.body_bytes = 0
        self.too_large = False
        self.refused = False  # the 413 is sent
        self.max_bytes = hardening.max_bytes_by_path.get(scope["path"], hardening.default_max_bytes)
        self.declared_bytes: int | None = None
        self.authorization: bytes | None = None
        incoming_id = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                self.declared_bytes = int(value) if value.isdigit() else None
            elif name == b"x-request-id":
                incoming_id = value
            elif name == b"authorization":
                self.authorization = value
        self.request_id = request_id_from(incoming_id)

    async def run(self, app: ASGIApp) -> None:
        """Serve the request through `app`, or refuse it (413) when its body is too large."""
        if self.declared_bytes is not None and self.declared_bytes > self.max_bytes:
            await self.refuse_too_large()
            return
        # A declared length is enforced by the server; only a chunked body needs counting.
        receive = self._receive if self.declared_bytes is not None else self.counting_receive
        try:
            await app(self.scope, receive, self.send)
        except Exception:
            if self.too_large:  # BodyTooLarge, or what the app made of it
                if not self.refused:
                    await self.refuse_too_large()
                return
            if self.status is None:  # answered here to carry the request id; logged by uvicorn
                await self.send_json(500, {"detail": "internal server error"})
            raise

    async def counting_receive(self) -> Message:
        """The next message of the request; BodyTooLarge once the body passes the limit."""
        message = await self._receive()
        if message["type"] == "http.request":
            self.body_bytes += len(message.get("body", b""))
            if self.body_bytes > self.max_bytes:
                self.too_large = True
                raise BodyTooLarge(f"the body passed {self.max_bytes} bytes")
        return message

    async def send(self, message: Message) -> None:
        """Pass a response message on, with our headers on its start; once the body was found
        too large, whatever the app answers (e.g. its 400 for an unreadable body) becomes 413."""
        if self.too_large:
            if message["type"] == "http.response.start" and not self.refused:
                await self.refuse_too_large()
            return
        if message["type"] == "http.response.start":
            self.status = message["status"]
            message = {**message, "headers": self.with_headers(message.get("headers", []))}
        await self._send(message)

    def with_headers(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """The response's headers plus the request id and the security headers it lacks."""
        present = {name.lower(): value for name, value in headers}
        added = [(name, value) for name, value in ALWAYS_HEADERS if name not in present]
        if b"content-security-policy" not in present:  # a route may set its own
            is_page = present.get(b"content-type", b"").startswith(b"text/html")
            added.append((b"content-security-policy", self.policy(is_page)))
        added.append((b"x-request-id", self.request_id.encode()))
        return [*headers, *added]

    def policy(self, is_page: bool) -> bytes:
        """The Content-Security-Policy for this response."""
        if not is_page:
            return FRAME_POLICY.encode()
        by_path = self.hardening.page_policy_by_path
        return by_path.get(self.scope["path"], self.hardening.page_policy)

    async def refuse_too_large(self) -> None:
        """Answer 413 and close the connection (the rest of the body is never read)."""
        self.too_large = self.refused = True
        limit_mb = self.max_bytes / MB
        detail = f"the request body is larger than the {limit_mb:g} MB accepted here"
        await self.send_json(
            413, {"detail": detail, "field": "body", "max_bytes": self.max_bytes}, close=True
        )

    async def send_json(self, status: int, body: dict[str, object], *, close: bool = False) -> None:
        """Answer `status` with a JSON body (with the request id, and our headers) ourselves."""
        content = json.dumps({**body, "request_id": self.request_id}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
        ]
        if close:
            headers.append((b"connection", b"close"))
        self.status = status
        await self._send(
            {"type": "http.response.start", "status": status, "headers": self.with_headers(headers)}
        )
        await self._send({"type": "http.response.body", "body": content})

    def user_id(self) -> int | None:
        """The caller's user id when the request carried a valid bearer token; its signature
        check is cached per token (auth), so after a route that checked it this is a lookup."""
        if self.authorization is None or self.status == 401:
            return None
        scheme, _, token = self.authorization.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            return auth.read_token(token, secret=self.hardening.secret_key).user_id
        except CitygridError:
            return None

    def log_access(self) -> None:
        """One access log line: request id, method, path, query (secrets redacted), status,
        duration, client address and user id."""
        if not ACCESS_LOG.isEnabledFor(logging.INFO):
            return
        duration_ms = round((time.perf_counter() - self.started_at) * 1000, 2)
        method, path = self.scope["method"], self.scope["path"]
        query = self.scope.get("query_string", b"").decode("latin-1")
        client = self.scope.get("client")
        status = self.status if self.status is not None else 500
        fields = {
            "request_id": self.request_id,
            "method": method,
            "path": path,
            "query": logs.redacted_query(query) if query else None,
            "status": status,
            "duration_ms": duration_ms,
            "client": client[0] if client else None,
            "user_id": self.user_id(),
        }
        ACCESS_LOG.info("%s %s %d %.1f ms", method, path, status, duration_ms, extra=fields)
