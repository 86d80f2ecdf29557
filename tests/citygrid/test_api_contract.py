"""The API's contract: what the OpenAPI document says a parameter takes is what the server
accepts (citygrid/api_types.py declares both at once), and every answer documents its media type.
The fuzzing test (test_fuzz_api.py) checks the same over the whole document with generated cases;
these are the readable examples."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citygrid.accounts.roles import Role
from citygrid.api_types import (
    AWARE_DATE_TIME_PATTERN,
    BBOX_PATTERN,
    DATE_OR_DATE_TIME_PATTERN,
    JSON_SAFE_MAX,
    comma_list_of,
)

Auth = Callable[[Role], dict[str, str]]


@pytest.mark.parametrize(
    ("text", "fits"),
    [
        ("116.40,39.90,116.42,39.92", True),
        ("-180,-90,180,90", True),
        ("1e3,0,1,1", False),  # float() reads it; the pattern (and so the server) does not
        ("181,0,182,1", False),
        ("0,91,1,92", False),
        ("1,2,3", False),
        ("nan,0,1,1", False),
    ],
)
def test_a_bbox_is_four_plain_decimals_on_the_globe(text: str, fits: bool) -> None:
    assert bool(re.fullmatch(BBOX_PATTERN, text)) is fits


@pytest.mark.parametrize(
    ("text", "date_or_time", "aware"),
    [
        ("2026-11-26", True, False),
        ("2026-11-26T09:30", True, False),
        ("2026-11-26T09:30:15.250+08:00", True, True),
        ("2026-11-26T01:30:00Z", True, True),
        ("2026-02-30", False, False),  # no 30 February
        ("2026-04-31T10:00:00Z", False, False),
        ("1899-12-31T10:00:00Z", False, False),  # outside 1900-2199
        ("1700000000", False, False),  # a Unix time: Pydantic would read it, the pattern refuses
        ("2026-11-26 09:30:00+08:00", False, False),
        ("２０２６-11-26", False, False),  # full-width digits: \\d would match them
    ],
)
def test_dates_and_times_are_iso_8601_in_1900_to_2199(
    text: str, date_or_time: bool, aware: bool
) -> None:
    assert bool(re.fullmatch(DATE_OR_DATE_TIME_PATTERN, text)) is date_or_time
    assert bool(re.fullmatch(AWARE_DATE_TIME_PATTERN, text)) is aware


def test_a_comma_list_takes_known_words_only() -> None:
    pattern = comma_list_of(["filed", "closed"])
    assert re.fullmatch(pattern, "filed,closed")
    assert not re.fullmatch(pattern, "filed,")
    assert re.fullmatch(pattern, " filed , closed ")  # spaces around a word are read


def parameter(document: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    for found in document["paths"][path]["get"]["parameters"]:
        if found["name"] == name:
            return dict(found["schema"])
    raise AssertionError(f"{path} has no parameter {name}")


def success_media_types(document: dict[str, Any], path: str, method: str = "get") -> set[str]:
    responses = document["paths"][path][method]["responses"]
    return {
        media_type
        for status, answer in responses.items()
        if status.startswith("2")
        for media_type in answer.get("content", {})
    }


def test_the_document_states_what_the_listing_checks(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    case_id = parameter(document, "/api/cases/{case_id}", "case_id")
    assert (case_id["minimum"], case_id["maximum"]) == (1, JSON_SAFE_MAX)
    bbox = parameter(document, "/api/cases", "bbox")["anyOf"][0]
    assert bbox["pattern"] == BBOX_PATTERN
    created_from = parameter(document, "/api/cases", "created_from")["anyOf"][0]
    assert created_from["pattern"] == DATE_OR_DATE_TIME_PATTERN
    limit = parameter(document, "/api/dispatch/queue", "limit")
    assert limit["maximum"] == 500


@pytest.mark.parametrize(
    ("path", "method", "media_types"),
    [
        ("/login", "get", {"text/html"}),
        ("/console", "get", {"text/html"}),
        ("/api/cases/export", "get", {"text/csv", "application/geo+json"}),
        ("/maps/heatmap/csv", "get", {"text/csv"}),
        ("/api/photos/{photo_id}", "get", {"image/jpeg", "image/png", "image/webp"}),
        ("/open311/v2/services.{fmt}", "get", {"application/json", "text/xml"}),
        ("/logout", "post", set()),  # a 303 to /login, no body
    ],
)
def test_every_answer_documents_its_media_type(
    client: TestClient, path: str, method: str, media_types: set[str]
) -> None:
    document = client.get("/openapi.json").json()
    assert success_media_types(document, path, method) == media_types


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("bbox=1e3,0,1,1", "bbox"),
        ("created_from=2026-02-30", "created_from"),
        ("created_from=1700000000", "created_from"),
        ("status=filed,", "status"),
        ("area_code=12345", "area_code"),
        ("sort=", "sort"),
    ],
)
def test_a_value_outside_its_declaration_is_refused_naming_it(
    client: TestClient, auth: Auth, query: str, field: str
) -> None:
    response = client.get(f"/api/cases?{query}", headers=auth(Role.DISPATCHER))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", field]


@pytest.mark.parametrize(
    "path", ["/api/cases/9007199254740992", "/api/photos/0", "/api/categories/2147483648"]
)
def test_an_id_past_its_column_is_refused_before_the_database(
    client: TestClient, auth: Auth, path: str
) -> None:
    response = client.get(path, headers=auth(Role.DISPATCHER))
    assert response.status_code == 422, response.text
    assert "out of range" not in response.text  # the declaration refused it, not PostgreSQL


def test_values_inside_their_declarations_are_served(client: TestClient, auth: Auth) -> None:
    query = "bbox=116.40,39.90,116.42,39.92&created_from=2026-11-26&status=filed,dispatched"
    response = client.get(f"/api/cases?{query}", headers=auth(Role.DISPATCHER))
    assert response.status_code == 200, response.text


def test_a_list_page_checks_its_form_with_the_apis_declarations(
    client: TestClient, auth: Auth
) -> None:
    response = client.get("/cases?created_from=2026-02-30", headers=auth(Role.DISPATCHER))
    assert response.status_code == 422
    assert "created_from" in response.text


@pytest.mark.fuzz
def test_the_fuzzing_bench_runs_in_its_tiny_mode() -> None:
    """bench/fuzz_api.py --tiny: the suite's fuzzing test over a few operations, with a seed."""
    finished = subprocess.run(
        [sys.executable, "bench/fuzz_api.py", "--tiny", "--seeds", "7"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "| failures outside the reviewed list | 0 |" in finished.stdout
    assert "seeds: derandomized + 7" in finished.stdout
