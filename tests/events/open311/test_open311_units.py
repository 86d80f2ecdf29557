"""The pure parts of Open311: rendering, query parameters, attribute answers; and the CLI."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import Result

from citygrid.errors import InvalidInput
from events.open311.attributes import AttributeDefinition, answers_of_form, checked_answers
from events.open311.formats import Format, format_of, render
from events.open311.models import Open311ApiKey, ServiceAttribute
from events.open311.params import RequestQuery, date_range, parse_datetime, request_query
from events.open311.seed import seed_service_attributes

SHANGHAI = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [("json", Format.JSON), ("XML", Format.XML), ("yaml", None), ("", None)],
)
def test_format_of_suffix(suffix: str, expected: Format | None) -> None:
    assert format_of(suffix) is expected


def test_xml_has_declaration_escapes_and_names_list_items() -> None:
    document = [{"code": 400, "description": "<&>\"' 中文", "ok": True, "none": None}]
    body = render(document, root="errors", format=Format.XML)
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<errors><error>')
    assert "&lt;&amp;&gt;\"' 中文".encode() in body
    error = ElementTree.fromstring(body).find("error")
    assert error is not None
    assert [error.findtext(tag) for tag in ("code", "description", "ok", "none")] == [
        "400",
        "<&>\"' 中文",
        "true",
        "",
    ]


def test_json_keeps_types_and_chinese() -> None:
    body = render({"a": [1, "二"], "b": None}, root="x", format=Format.JSON)
    assert body.decode() == '{"a":[1,"二"],"b":null}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T08:30:00+08:00", datetime(2026, 11, 26, 0, 30, tzinfo=UTC)),
        ("2026-11-26T00:30:00Z", datetime(2026, 11, 26, 0, 30, tzinfo=UTC)),
        ("2026-11-26T08:30:00 08:00", datetime(2026, 11, 26, 0, 30, tzinfo=UTC)),
        ("2026-11-26T08:30:00", datetime(2026, 11, 26, 0, 30, tzinfo=UTC)),  # city time
        ("2026-11-26", datetime(2026, 11, 25, 16, 0, tzinfo=UTC)),
    ],
)
def test_parse_datetime(text: str, expected: datetime) -> None:
    assert parse_datetime(text, "start_date", zone=SHANGHAI) == expected


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, (NOW - timedelta(days=90), NOW)),
        (NOW - timedelta(days=10), None, (NOW - timedelta(days=10), NOW + timedelta(days=80))),
        (None, NOW - timedelta(days=1), (NOW - timedelta(days=91), NOW - timedelta(days=1))),
        (NOW - timedelta(days=90), NOW, (NOW - timedelta(days=90), NOW)),
    ],
)
def test_date_range_defaults_to_90_days(
    start: datetime | None, end: datetime | None, expected: tuple[datetime, datetime]
) -> None:
    assert date_range(start, end, now=NOW) == expected


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (NOW - timedelta(days=90, seconds=1), NOW, "at most 90 days"),
        (NOW, NOW - timedelta(seconds=1), "end_date is before start_date"),
    ],
)
def test_date_range_refuses(start: datetime, end: datetime, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        date_range(start, end, now=NOW)


def test_service_request_id_overrides_other_filters() -> None:
    params = {"service_request_id": "3, 5", "status": "bogus", "start_date": "x"}
    assert request_query(params, now=NOW, zone=SHANGHAI) == RequestQuery(ids=(3, 5))


def test_empty_parameters_are_absent_ones() -> None:
    empty = {name: "" for name in ("service_code", "status", "start_date", "end_date", "bbox")}
    assert request_query(empty, now=NOW, zone=SHANGHAI) == request_query({}, now=NOW, zone=SHANGHAI)


DEFINITIONS = [
    AttributeDefinition("state", "singlevaluelist", True, True, frozenset({"open", "broken"})),
    AttributeDefinition("kinds", "multivaluelist", False, True, frozenset({"a", "b"})),
    AttributeDefinition("count", "number", False, True, frozenset()),
    AttributeDefinition("since", "datetime", False, True, frozenset()),
    AttributeDefinition("note", "text", False, True, frozenset()),
    AttributeDefinition("info", "string", True, False, frozenset()),  # not a question
]


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ([("attribute[state]", "open")], {"state": "open"}),
        (
            [
                ("attribute[state]", "broken"),
                ("attribute[kinds][]", "a"),
                ("attribute[kinds][]", "b"),
                ("attribute[count]", "2.5"),
                ("attribute[since]", "2026-11-26T08:00:00+08:00"),
                ("attribute[note]", "旁边 <b>"),
                ("attribute[count2]x", "ignored: not an attribute field"),
            ],
            {
                "state": "broken",
                "kinds": ["a", "b"],
                "count": 2.5,
                "since": "2026-11-26T08:00:00+08:00",
                "note": "旁边 <b>",
            },
        ),
        ([("attribute[state]", "open"), ("attribute[count]", "")], {"state": "open"}),
    ],
)
def test_checked_answers(form: list[tuple[str, str]], expected: dict[str, Any]) -> None:
    answers = answers_of_form(form)
    assert checked_answers(DEFINITIONS, answers, zone=SHANGHAI) == expected


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ([], r"attribute\[state\] is required"),
        ([("attribute[state]", "gone")], r"'gone' is not one of broken, open"),
        ([("attribute[state]", "open"), ("attribute[state]", "broken")], "takes one value"),
        ([("attribute[state]", "open"), ("attribute[kinds][]", "c")], "'c' is not one of a, b"),
        ([("attribute[state]", "open"), ("attribute[count]", "nan")], "finite"),
        ([("attribute[state]", "open"), ("attribute[since]", "soon")], "W3C datetime"),
        ([("attribute[state]", "open"), ("attribute[info]", "x")], "not an attribute"),
    ],
)
def test_checked_answers_refuses(form: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        checked_answers(DEFINITIONS, answers_of_form(form), zone=SHANGHAI)


def test_seed_service_attributes_is_idempotent(session: Session) -> None:
    added = seed_service_attributes(session)
    assert added > 0
    assert seed_service_attributes(session) == 0
    count = session.scalar(select(func.count()).select_from(ServiceAttribute))
    assert count == added


def test_keys_cli_creates_lists_and_revokes(
    session: Session, run_cli: Callable[..., Result]
) -> None:
    created = run_cli(
        "open311", "keys", "create", "--name", "FixMyCity", "--requests-per-minute", "5"
    )
    assert created.exit_code == 0, created.output
    key_id, secret = created.stdout.split()[1], created.stdout.splitlines()[1]
    key = session.get(Open311ApiKey, int(key_id))
    assert key is not None and key.requests_per_minute == 5
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in key.key_hash and key.key_prefix == secret[:8]
    listed = run_cli("open311", "keys", "list").stdout
    assert "FixMyCity" in listed and "active" in listed and secret not in listed
    assert run_cli("open311", "keys", "revoke", key_id).exit_code == 0
    assert "revoked" in run_cli("open311", "keys", "list").stdout
    assert key.revoked_at is not None
    unknown = run_cli("open311", "keys", "revoke", "999999")
    assert unknown.exit_code == 1 and "no API key 999999" in unknown.output
