"""Hardening as a client sees it: security headers, CORS, body limits, request ids, logs."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import citygrid.app
from citygrid import db, logs, middleware
from citygrid.accounts.auth import PUBLIC, RoleCheckedRoute
from citygrid.accounts.roles import Role
from citygrid.settings import PROJECT_DIR, Settings, get_settings
from tests.conftest import token_for
from tests.events.intake.support import configure_app, headers_for, report_body, seed_intake
from tests.events.photos.images import image_bytes
from tests.events.seed import add_user
from tests.grid.places import CELL_NW, centre_of, seed_block

MB = 1024 * 1024
STRICT = middleware.STRICT_PAGE_POLICY
ALWAYS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}
EVIL = "http://evil.example"
FRIEND = "https://app.city.example"
FRAMED = STRICT.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
PREFLIGHT = {"Origin": EVIL, "Access-Control-Request-Method": "POST"}


def assert_hardened(response: httpx.Response, policy: str) -> None:
    for name, value in ALWAYS.items():
        assert response.headers[name] == value, name
    assert response.headers["content-security-policy"] == policy
    assert len(response.headers.get_list("x-content-type-options")) == 1


# --- security headers ------------------------------------------------------------------------


def test_a_json_answer_carries_the_security_headers_and_no_page_policy(
    client: TestClient,
) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert_hardened(response, "frame-ancestors 'none'")


def test_a_map_page_may_run_its_inline_scripts_and_nothing_else_is_relaxed(
    client: TestClient, session: Session
) -> None:
    seed_block(session)
    headers = {"Authorization": f"Bearer {token_for(Role.MANAGER)}"}
    response = client.get("/maps/heatmap", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "<script" in response.text
    policy = response.headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline';" in policy
    assert "style-src 'self' 'unsafe-inline';" in policy
    assert_hardened(response, policy)
    assert policy.replace(" 'unsafe-inline'", "") == STRICT


def test_a_plain_page_gets_the_strict_policy(client: TestClient, session: Session) -> None:
    seed_block(session)
    headers = {"Authorization": f"Bearer {token_for(Role.MANAGER)}"}
    response = client.get("/maps/heatmap/table", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert_hardened(response, STRICT)
    assert "unsafe-inline" not in STRICT and "default-src 'self'" in STRICT


def test_the_api_docs_load_their_assets_from_this_server(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "/docs/assets/swagger-ui-bundle.js" in response.text
    assert "https://" not in response.text and "https:" not in middleware.DOCS_POLICY
    assert_hardened(response, middleware.DOCS_POLICY)


def test_a_photo_is_served_inline_under_its_id_and_never_sniffed(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    category = seed_intake(session)
    configure_app(client.app, tmp_path / "media")  # type: ignore[arg-type]
    inspector = headers_for(add_user(session, Role.INSPECTOR))
    form = {k: str(v) for k, v in report_body(category, centre_of(CELL_NW)).items()}
    files = [("photos", ("holiday.png", image_bytes("PNG"), "image/png"))]
    filed = client.post("/api/reports", data=form, files=files, headers=inspector)
    assert filed.status_code == 201, filed.text
    photo_id = filed.json()["photo_ids"][0]
    response = client.get(f"/api/photos/{photo_id}", headers=inspector)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"] == f'inline; filename="photo-{photo_id}.png"'
    assert_hardened(response, "frame-ancestors 'none'")


# --- CORS ------------------------------------------------------------------------------------


@pytest.fixture
def app_with(session: Session, monkeypatch: pytest.MonkeyPatch) -> Callable[..., TestClient]:
    """A function building a TestClient over create_app() with some settings changed."""

    def build(**changes: object) -> TestClient:
        settings = get_settings().model_copy(update=changes)
        monkeypatch.setattr(citygrid.app, "get_settings", lambda: settings)
        app = citygrid.app.create_app()
        app.dependency_overrides[db.get_session] = lambda: session
        return TestClient(app)

    return build


def test_cors_is_closed_by_default(client: TestClient) -> None:
    preflight = client.options("/api/reports", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-methods" not in preflight.headers
    simple = client.get("/health", headers={"Origin": EVIL})
    assert simple.status_code == 200
    assert not any(name.startswith("access-control-") for name in simple.headers)


def test_cors_opens_for_the_configured_origins_only(app_with: Callable[..., TestClient]) -> None:
    client = app_with(cors_origins=[FRIEND])
    friendly = client.options(
        "/api/reports",
        headers={**PREFLIGHT, "Origin": FRIEND, "Access-Control-Request-Headers": "authorization"},
    )
    assert friendly.status_code == 200
    assert friendly.headers["access-control-allow-origin"] == FRIEND
    assert "POST" in friendly.headers["access-control-allow-methods"]
    assert "authorization" in friendly.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in friendly.headers
    simple = client.get("/health", headers={"Origin": FRIEND})
    assert simple.headers["access-control-allow-origin"] == FRIEND
    assert "X-Request-ID" in simple.headers["access-control-expose-headers"]
    hostile = client.options("/api/reports", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in hostile.headers
    assert "access-control-allow-origin" not in client.get("/health", headers=PREFLIGHT).headers


# --- body size limits ------------------------------------------------------------------------


def test_a_body_declared_larger_than_the_limit_is_refused_unread(client: TestClient) -> None:
    declared = {"Content-Length": str(100 * MB), "Content-Type": "application/json"}
    response = client.post("/api/reports", content=b"{}", headers=declared)
    assert response.status_code == 413
    body = response.json()
    assert body["field"] == "body" and body["max_bytes"] == get_settings().request_max_bytes
    assert "64 MB" in body["detail"]
    assert response.headers["connection"] == "close"
    assert body["request_id"] == response.headers["x-request-id"]
    assert_hardened(response, "frame-ancestors 'none'")


def test_the_import_routes_accept_more_than_the_default_limit(client: TestClient) -> None:
    size = {"Content-Type": "multipart/form-data; boundary=x"}
    grid_import = client.post(
        "/api/grid/imports", content=b"--x--\r\n", headers={**size, "Content-Length": str(100 * MB)}
    )
    assert grid_import.status_code != 413  # past the limit check: the route answers
    too_large = client.post(
        "/api/grid/imports", content=b"--x--\r\n", headers={**size, "Content-Length": str(201 * MB)}
    )
    assert too_large.status_code == 413
    assert "200 MB" in too_large.json()["detail"]


def streamed_upload(total_bytes: int, pulled: list[int]) -> AsyncIterator[bytes]:
    """A multipart report with one photo of `total_bytes`, sent chunk by chunk (no length)."""

    async def chunks() -> AsyncIterator[bytes]:
        yield (
            b'--edge\r\nContent-Disposition: form-data; name="photos"; filename="big.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n"
        )
        chunk = b"\0" * MB
        for _ in range(total_bytes // MB):
            pulled.append(len(chunk))
            yield chunk
        yield b"\r\n--edge--\r\n"

    return chunks()


def test_a_100_mb_chunked_upload_to_intake_is_cut_off_at_the_limit(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    media_dir = tmp_path / "media"
    configure_app(client.app, media_dir)  # type: ignore[arg-type]
    inspector = headers_for(add_user(session, Role.INSPECTOR))
    pulled: list[int] = []

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await http.post(
                "/api/reports",
                content=streamed_upload(100 * MB, pulled),
                headers={**inspector, "Content-Type": "multipart/form-data; boundary=edge"},
            )

    response = asyncio.run(post())
    assert response.status_code == 413, response.text
    assert response.json()["max_bytes"] == 64 * MB
    # The body was read up to the limit and no further: nothing past it reached memory or disk.
    assert 64 * MB <= sum(pulled) <= 65 * MB
    assert not media_dir.exists() or not any(media_dir.rglob("*.*"))


# --- request ids and errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("req-2026.11.26_abc", True),
        ("A" * 64, True),
        ("A" * 65, False),
        ("has space", False),
        ("semi;colon", False),
        ("ünïcode", False),
        ("", False),
    ],
)
def test_a_sane_request_id_is_echoed_and_any_other_replaced(
    client: TestClient, sent: str, kept: bool
) -> None:
    response = client.get("/health", headers={"X-Request-ID": sent.encode()})
    echoed = response.headers["x-request-id"]
    if kept:
        assert echoed == sent
    else:
        assert len(echoed) == 32 and int(echoed, 16) >= 0


def test_each_request_without_an_id_gets_a_new_one(client: TestClient) -> None:
    first, second = (client.get("/health").headers["x-request-id"] for _ in range(2))
    assert first != second and len(first) == 32


@pytest.fixture
def bare_client() -> TestClient:
    """A client over an app of two routes (an error, a page with its own framing policy)."""
    router = APIRouter(route_class=RoleCheckedRoute)

    @router.get("/boom", dependencies=[Depends(PUBLIC)])
    def boom() -> None:
        raise RuntimeError("something broke")

    @router.get("/framed", dependencies=[Depends(PUBLIC)])
    def framed() -> HTMLResponse:
        own = {"Content-Security-Policy": FRAMED, "X-Frame-Options": "SAMEORIGIN"}
        return HTMLResponse("<p>framed</p>", headers=own)

    app = FastAPI()
    middleware.install(app, Settings())
    app.include_router(router)
    return TestClient(app, raise_server_exceptions=False)


def test_an_unexpected_error_answers_500_with_the_request_id_and_headers(
    bare_client: TestClient,
) -> None:
    response = bare_client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {
        "detail": "internal server error",
        "request_id": response.headers["x-request-id"],
    }
    assert_hardened(response, "frame-ancestors 'none'")


def test_a_route_may_declare_its_own_policy_and_framing(bare_client: TestClient) -> None:
    response = bare_client.get("/framed")
    assert response.headers.get_list("content-security-policy") == [FRAMED]
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers["x-content-type-options"] == "nosniff"


# --- logs ------------------------------------------------------------------------------------


def access_lines(caplog: pytest.LogCaptureFixture, secret: str) -> list[str]:
    """The access records caplog saw, formatted as the configured handler would."""
    redact, add_id, formatter = (
        logs.RedactSecrets([secret]),
        logs.AddRequestId(),
        logs.JsonFormatter(),
    )
    lines = []
    for record in caplog.records:
        if record.name == "citygrid.access" and redact.filter(record) and add_id.filter(record):
            lines.append(formatter.format(record))
    return lines


def test_each_request_logs_one_json_line_without_secrets(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="citygrid.access")
    token = token_for(Role.MANAGER, user_id=4242)
    query = "page=2&token=hunter2hunter2&api_key=k-123456789&password=pw-123456789"
    response = client.get(
        f"/maps/heatmap/table?{query}",
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "trace-1"},
    )
    assert response.status_code == 200
    [line] = access_lines(caplog, get_settings().secret_key)
    entry = json.loads(line)
    assert entry["logger"] == "citygrid.access" and entry["level"] == "INFO"
    assert entry["request_id"] == "trace-1"
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/maps/heatmap/table", 200)
    assert entry["query"] == "page=2&token=[redacted]&api_key=[redacted]&password=[redacted]"
    assert entry["user_id"] == 4242 and entry["client"] == "testclient"
    assert entry["duration_ms"] >= 0
    for secret in (token, "hunter2hunter2", "k-123456789", "pw-123456789"):
        assert secret not in line


def test_a_refused_token_logs_no_user(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="citygrid.access")
    response = client.get("/maps/heatmap/table", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    [line] = access_lines(caplog, get_settings().secret_key)
    assert "user_id" not in json.loads(line) and "not-a-token" not in line


SERVE_LOGGING = """
import logging, sys
from citygrid.logs import configure_logging
from citygrid.settings import Settings
config = configure_logging(Settings(log_format=sys.argv[1], secret_key="the-signing-key-0042"))
logging.config.dictConfig(config)  # uvicorn applies it again in each worker
logging.getLogger("citygrid.accounts.service").warning(
    "login failed; headers %s; form password=hunter22 and the-signing-key-0042",
    {"Authorization": "Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl"},
)
logging.getLogger("httpx").info("HTTP Request: GET https://hook.example?api_key=abc")
"""


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_the_served_logs_redact_secrets(log_format: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SERVE_LOGGING, log_format],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        check=True,
    )
    [line] = result.stderr.splitlines()  # httpx's INFO line is below the root's level
    for secret in ("hunter22", "the-signing-key-0042", "eyJhbGciOi", "c2lnbmF0dXJl"):
        assert secret not in line
    assert "password=[redacted]" in line and "'Authorization': '[redacted]'" in line
    if log_format == "json":
        entry = json.loads(line)
        assert (entry["level"], entry["logger"]) == ("WARNING", "citygrid.accounts.service")
        assert entry["message"].startswith("login failed")
    else:
        assert " WARNING citygrid.accounts.service [-] login failed" in line


# --- pure parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def", "Authorization: [redacted]"),
        ("{'authorization': 'Basic dXNlcjpw'}", "{'authorization': '[redacted]'}"),
        ("sent bearer abc123", "sent bearer [redacted]"),
        ('{"password": "hunter22", "name": "li"}', '{"password": "[redacted]", "name": "li"}'),
        ("api_key=k1&x=2", "api_key=[redacted]&x=2"),
        ("X-API-Key: k1", "X-API-Key: [redacted]"),
        ("token_ttl_minutes=720", "token_ttl_minutes=720"),
        ("the token is not valid", "the token is not valid"),
        ("jwt eyJhbGciOi.eyJzdWIi.sig-nature_1 end", "jwt [redacted] end"),
        ("postgresql://citygrid:pa55@db:5432/x", "postgresql://citygrid:[redacted]@db:5432/x"),
        ("key the-signing-key-0042 used", "key [redacted] used"),
        ("short key abc", "short key abc"),  # a configured secret under 8 chars is not hunted
    ],
)
def test_redacted(text: str, expected: str) -> None:
    assert logs.redacted(text, ["the-signing-key-0042", "abc"]) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("page=2", "page=2"),
        ("token=t&page=2", "token=[redacted]&page=2"),
        ("page=2&API_KEY=k", "page=2&API_KEY=[redacted]"),
        ("password=&x=1", "password=[redacted]&x=1"),
        ("mytoken=t", "mytoken=t"),
    ],
)
def test_redacted_query(query: str, expected: str) -> None:
    assert logs.redacted_query(query) == expected


@pytest.mark.parametrize(
    ("tiles_url", "source"),
    [
        (None, None),
        ("https://tiles.city.example/{z}/{x}/{y}.png", "https://tiles.city.example"),
        ("https://{s}.tiles.city.example/{z}/{x}/{y}.png", "https://*.tiles.city.example"),
        ("http://10.0.0.5:8080/t/{z}/{x}/{y}.png", "http://10.0.0.5:8080"),
        ("//{a-c}.tiles/{z}/{x}/{y}", "https:"),
    ],
)
def test_tile_source(tiles_url: str | None, source: str | None) -> None:
    assert middleware.tile_source(tiles_url) == source


def test_a_tile_server_is_allowed_as_an_image_source_on_pages_with_maps_not_docs() -> None:
    settings = Settings(map_tiles_url="https://tiles.city.example/{z}/{x}/{y}.png")
    policies = middleware.page_policies(settings)
    assert "img-src 'self' https://tiles.city.example data: blob:;" in policies["/maps/heatmap"]
    assert "tiles.city.example" not in policies["/docs"]
    # The console's, desk's and report form's work-list maps draw them under the strict policy.
    strict = middleware.strict_page_policy(settings)
    assert "img-src 'self' https://tiles.city.example data: blob:;" in strict
    assert "tiles" not in middleware.strict_page_policy(Settings())
