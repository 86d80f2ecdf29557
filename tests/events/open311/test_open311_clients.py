"""Third-party Open311 clients from PyPI against the API served on a local port.

`georeport` (read-only, current) reads in both formats; `three` (2013, Python 2 era) reads and
posts. `three` imports `itertools.ifilter`, gone in Python 3: the test puts `filter` in its
place before importing it, and uses its JSON format (its XML parsing calls `dict.keys()[0]`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from georeport import GeoReport
from sqlalchemy.orm import Session

from citygrid import db
from citygrid.app import create_app
from tests.events.open311.support import (
    COVER,
    GARBAGE,
    LAT,
    LON,
    seed_open311,
    served,
    stored_token,
)

itertools.ifilter = filter  # type: ignore[attr-defined]  # three is Python 2 code
from three import Three  # noqa: E402


@pytest.fixture
def endpoint(session: Session) -> Iterator[tuple[str, str]]:
    """The Open311 root of the app served over HTTP inside the test's transaction; and a key."""
    api_key = seed_open311(session)
    app = create_app()
    app.dependency_overrides[db.get_session] = lambda: session
    app.dependency_overrides[db.get_row_fetcher] = lambda: db.session_fetcher(session)
    app.dependency_overrides[db.get_writer] = lambda: db.SessionWriter(session)
    with served(app) as root:
        yield root, api_key


def three_client(root: str, api_key: str) -> Any:
    return Three(root, api_key=api_key, format="json", jurisdiction="citygrid")


def test_three_posts_and_follows_a_request(endpoint: tuple[str, str], session: Session) -> None:
    root, api_key = endpoint
    client = three_client(root, api_key)
    answer = client.post(
        GARBAGE,
        lat=str(LAT),
        long=str(LON),
        address="多福巷 1 号",
        name="小明 王",
        description="垃圾 <多> & 'x'",
        **{"attribute[bag_count]": "2"},
    )
    assert client.post_response.status_code == 200
    assert list(answer[0]) == ["service_request_id", "service_notice", "account_id"]  # no token
    request_id = answer[0]["service_request_id"]
    token = stored_token(session, request_id)
    assert client.token(token) == [{"service_request_id": request_id, "token": token}]
    request = client.request(request_id)[0]
    assert request["description"] == "垃圾 <多> & 'x'"
    assert request["address"] == "多福巷 1 号" and request["status"] == "open"
    assert request_id in [item["service_request_id"] for item in client.requests(GARBAGE)]
    services = {service["service_code"] for service in client.services()}
    assert {GARBAGE, COVER} <= services
    assert client.services(COVER)["attributes"][0]["code"] == "cover_state"


def test_three_sees_the_spec_errors(endpoint: tuple[str, str]) -> None:
    root, _ = endpoint
    client = three_client(root, "not-a-key")
    answer = client.post(GARBAGE, lat=str(LAT), long=str(LON), description="x")
    assert client.post_response.status_code == 403
    assert answer == [{"code": 403, "description": "api_key is not valid or was revoked"}]


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_georeport_reads_services_definitions_and_requests(
    endpoint: tuple[str, str], output_format: str
) -> None:
    root, api_key = endpoint
    request_id = three_client(root, api_key).post(
        COVER, lat=str(LAT), long=str(LON), **{"attribute[cover_state]": "missing"}
    )[0]["service_request_id"]
    client = GeoReport(root, jurisdiction="citygrid", output_format=output_format)
    codes = {service["service_code"] for service in client.get_service_list()}
    assert {GARBAGE, COVER} <= codes
    definition = client.get_service_definition(COVER)
    assert definition["service_code"] == COVER
    requests = client.get_service_requests(service_code=COVER, status="open")
    found = requests if isinstance(requests, list) else [requests]  # xmltodict: one is a dict
    assert [item["service_request_id"] for item in found] == [request_id]
    one = client.get_service_request(request_id)
    one = one if isinstance(one, dict) else one[0]
    assert one["service_request_id"] == request_id and one["status"] == "open"
