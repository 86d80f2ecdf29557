"""Offline and lean: gzip where it pays (and never on event streams), the favicon, and the API
documentation pages on assets served by the application itself."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid import middleware
from citygrid.accounts.roles import Role
from citygrid.settings import Settings
from tests.events.seed import add_case, add_category

GZIP = {"Accept-Encoding": "gzip"}


def raw_body(
    client: TestClient, path: str, headers: dict[str, str]
) -> tuple[bytes, dict[str, str]]:
    """The bytes as sent (not decoded) and the headers of a GET."""
    with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, response.read()
        return b"".join(response.iter_raw()), dict(response.headers)


def test_a_large_answer_goes_out_gzipped_and_much_smaller(client: TestClient) -> None:
    sent, headers = raw_body(client, "/openapi.json", GZIP)
    assert headers["content-encoding"] == "gzip"
    assert "accept-encoding" in headers["vary"].lower()
    plain = gzip.decompress(sent)
    assert plain.startswith(b'{"openapi"') and len(sent) * 3 < len(plain)
    assert int(headers["content-length"]) == len(sent)


def test_a_page_is_gzipped_for_a_browser_that_asks(client: TestClient) -> None:
    sent, headers = raw_body(client, "/login", {**GZIP, "Accept": "text/html"})
    assert headers["content-encoding"] == "gzip"
    assert b"<!doctype html>" in gzip.decompress(sent)


def test_small_answers_and_clients_that_do_not_ask_get_plain_bytes(client: TestClient) -> None:
    sent, headers = raw_body(client, "/health", GZIP)
    assert "content-encoding" not in headers and sent.startswith(b"{")
    sent, headers = raw_body(client, "/openapi.json", {"Accept-Encoding": "identity"})
    assert "content-encoding" not in headers and sent.startswith(b'{"openapi"')


def test_a_streamed_csv_export_is_gzipped_chunk_by_chunk(
    client: TestClient, session: Session, auth: Callable[[Role], dict[str, str]]
) -> None:
    category = add_category(session)
    numbers = {add_case(session, category=category).number for _ in range(30)}
    sent, headers = raw_body(client, "/api/cases/export?format=csv", {**auth(Role.MANAGER), **GZIP})
    assert headers["content-encoding"] == "gzip" and "content-length" not in headers
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(sent).decode("utf-8-sig"))))
    assert numbers <= {row["number"] for row in rows}


@pytest.fixture
def event_stream_app() -> Iterator[TestClient]:
    """An app with citygrid's middleware and one server-sent event stream of 3 × 2 KB."""
    app = FastAPI()
    middleware.install(app, Settings())

    def events() -> Iterator[bytes]:
        for number in range(3):
            yield f"id: {number}\ndata: {'x' * 2048}\n\n".encode()

    @app.get("/events")
    def stream() -> StreamingResponse:
        return StreamingResponse(events(), media_type="text/event-stream")

    with TestClient(app) as client:
        yield client


def test_server_sent_events_are_never_compressed(event_stream_app: TestClient) -> None:
    sent, headers = raw_body(event_stream_app, "/events", GZIP)
    assert "content-encoding" not in headers
    assert sent.count(b"data: ") == 3 and sent.startswith(b"id: 0\n")


def test_the_favicon_is_a_real_icon_kept_in_cache(client: TestClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/x-icon"
    assert response.content.startswith(b"\x00\x00\x01\x00")  # the ICO header
    assert "max-age=" in response.headers["cache-control"]
    page = client.get("/login", headers={"Accept": "text/html"}).text
    assert '<link rel="icon" href="/favicon.ico"' in page


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", ["swagger-ui-bundle.js", "swagger-ui.css"]),
        ("/redoc", ["redoc.standalone.js"]),
    ],
)
def test_the_api_docs_come_with_their_own_assets(
    client: TestClient, page: str, assets: list[str]
) -> None:
    html = client.get(page).text
    assert "https://" not in html and "http://" not in html
    assert "/favicon.ico" in html
    for name in assets:
        assert f"/docs/assets/{name}?v=" in html
        asset = client.get(f"/docs/assets/{name}")
        assert asset.status_code == 200 and len(asset.content) > 100_000
        assert b"https://cdn." not in asset.content  # ReDoc's logo is no longer fetched
        assert "max-age=" in asset.headers["cache-control"]


def test_only_the_docs_assets_are_served_from_the_package(client: TestClient) -> None:
    for name in ("favicon.png", "..%2Fcore.py", "nothing.js"):
        assert client.get(f"/docs/assets/{name}").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 200
