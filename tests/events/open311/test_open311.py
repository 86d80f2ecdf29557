"""Open311 GeoReport v2 over HTTP: every method in both formats, the errors, the spec's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.settings import get_settings
from events.lifecycle import CaseStatus
from events.models import Case, Category, Report
from events.open311.models import Open311Request
from tests.events.intake.support import Configure
from tests.events.open311.support import (
    BASE,
    COVER,
    GARBAGE,
    LAT,
    LON,
    NOISE,
    errors_of,
    form,
    only,
    seed_open311,
    stored_token,
    xml_of,
)
from tests.events.photos.images import jpeg_with_gps
from tests.events.seed import add_case, add_department

FORMATS = ("json", "xml")


@pytest.fixture
def api_key(session: Session) -> str:
    return seed_open311(session)


def post(client: TestClient, fmt: str, fields: dict[str, str], **kwargs: Any) -> Any:
    return client.post(f"{BASE}/requests.{fmt}", data=fields, **kwargs)


def posted_id(client: TestClient, fmt: str, fields: dict[str, str]) -> str:
    """The service_request_id of a successful POST, whose answer carries no token (the spec's
    either/or: the case is filed within the request)."""
    response = post(client, fmt, fields)
    assert response.status_code == 200, response.text
    if fmt == "json":
        item = only(response.json())
        assert "token" not in item
        return str(item["service_request_id"])
    request = only(list(xml_of(response)))
    assert request.find("token") is None
    return request.findtext("service_request_id") or ""


def requests_of(response: Any, fmt: str) -> list[dict[str, str | None]]:
    """The requests of a service_requests answer, every field as text (None when empty)."""
    assert response.status_code == 200, response.text
    if fmt == "json":
        return [
            {key: None if value is None else str(value) for key, value in item.items()}
            for item in response.json()
        ]
    root = xml_of(response)
    assert root.tag == "service_requests"
    return [{child.tag: child.text for child in request} for request in root]


# --- discovery and services ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_names_the_endpoint_formats_and_extensions(client: TestClient, fmt: str) -> None:
    response = client.get(f"{BASE}/discovery.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        endpoint = only(response.json()["endpoints"])
        assert endpoint["formats"] == ["text/xml", "application/json"]
        assert endpoint["url"].endswith("/open311/v2")
        assert any("bbox" in extension for extension in response.json()["extensions"])
    else:
        root = xml_of(response)
        assert [f.text for f in root.iter("format")] == ["text/xml", "application/json"]
        assert root.findtext("endpoints/endpoint/specification") == (
            "http://wiki.open311.org/GeoReport_v2"
        )


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_are_current_minor_categories_with_string_codes(
    client: TestClient, session: Session, api_key: str, fmt: str
) -> None:
    response = client.get(f"{BASE}/services.{fmt}", params={"jurisdiction_id": "citygrid"})
    assert response.status_code == 200
    if fmt == "json":
        services = {service["service_code"]: service for service in response.json()}
        garbage = services[GARBAGE]
        assert garbage["metadata"] is True and garbage["type"] == "realtime"
    else:
        root = xml_of(response)
        services = {s.findtext("service_code"): {c.tag: c.text for c in s} for s in root}
        garbage = services[GARBAGE]
        assert garbage["metadata"] == "true"
    assert garbage["service_name"] == "暴露垃圾"
    assert garbage["group"] == "市容环境"
    assert services["event-0101"]["metadata"] in (False, "false")
    minors = session.scalars(
        select(Category).where(Category.level == "minor", Category.retired_at.is_(None))
    ).all()
    assert len(services) == len({(c.kind, c.code) for c in minors})


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition_lists_attributes_with_values(
    client: TestClient, api_key: str, fmt: str
) -> None:
    response = client.get(f"{BASE}/services/{COVER}.{fmt}", params={"jurisdiction_id": ""})
    assert response.status_code == 200
    if fmt == "json":
        definition = response.json()
        assert definition["service_code"] == COVER
        cover_state = definition["attributes"][0]
        assert cover_state["required"] is True and cover_state["order"] == 1
        assert cover_state["values"][0] == {"key": "missing", "name": "井盖缺失 missing"}
    else:
        root = xml_of(response)
        assert root.tag == "service_definition"
        attribute = root.find("attributes/attribute")
        assert attribute is not None
        assert attribute.findtext("datatype") == "singlevaluelist"
        assert attribute.findtext("required") == "true"
        assert [v.findtext("key") for v in attribute.iter("value")] == [
            "missing",
            "broken",
            "displaced",
            "noisy",
        ]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("code", ["event-9999", "0102", "nothing"])
def test_unknown_service_is_404_in_the_spec_error_format(
    client: TestClient, fmt: str, code: str
) -> None:
    response = client.get(f"{BASE}/services/{code}.{fmt}")
    assert response.status_code == 404
    assert errors_of(response, fmt) == [("404", f"no service {code}")]


def test_unknown_format_is_404_as_xml(client: TestClient) -> None:
    response = client.get(f"{BASE}/services.yaml")
    assert response.status_code == 404
    assert "use .json or .xml" in only(errors_of(response, "xml"))[1]


# --- POST requests -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_files_a_report_through_intake_and_keeps_the_client_details(
    client: TestClient, session: Session, api_key: str, fmt: str
) -> None:
    fields = form(
        api_key,
        email="a@example.org",
        device_id="phone-1",
        first_name="小明",
        last_name="王",
        phone="13800000000",
        address_string="多福巷 1 号",
        jurisdiction_id="citygrid",
        **{"attribute[bag_count]": "3", "attribute[waste_kinds][]": "household"},
    )
    request_id = posted_id(client, fmt, fields)
    case = session.get(Case, int(request_id))
    assert case is not None
    assert case.status == CaseStatus.REPORTED and case.address == "多福巷 1 号"
    report = session.scalars(select(Report).where(Report.case_id == case.id)).one()
    details = session.scalars(
        select(Open311Request).where(Open311Request.report_uuid == report.report_uuid)
    ).one()
    assert report.channel == "open311"
    assert details.email == "a@example.org" and details.first_name == "小明"
    assert details.attributes == {"bag_count": 3.0, "waste_kinds": ["household"]}


def test_post_accepts_several_values_of_a_multivaluelist(
    client: TestClient, session: Session, api_key: str
) -> None:
    fields = [
        *form(api_key).items(),
        ("attribute[waste_kinds][]", "household"),
        ("attribute[waste_kinds][]", "bulky"),
    ]
    response = client.post(
        f"{BASE}/requests.json",
        content="&".join(f"{k}={v}" for k, v in fields).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    details = session.scalars(select(Open311Request)).one()
    assert details.attributes == {"waste_kinds": ["household", "bulky"]}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("key", "description"),
    [
        (None, "api_key is required to submit a request"),
        ("", "api_key is required to submit a request"),
        ("wrong", "api_key is not valid or was revoked"),
    ],
)
def test_post_without_a_valid_key_is_403(
    client: TestClient, api_key: str, fmt: str, key: str | None, description: str
) -> None:
    response = post(client, fmt, form(key))
    assert response.status_code == 403
    assert errors_of(response, fmt) == [("403", description)]


def test_post_with_a_revoked_key_is_403(client: TestClient, session: Session, run_cli: Any) -> None:
    seed_open311(session)
    created = run_cli("open311", "keys", "create", "--name", "revoked app")
    key_id = created.stdout.split()[1]
    secret = created.stdout.splitlines()[1]
    assert post(client, "json", form(secret)).status_code == 200
    assert run_cli("open311", "keys", "revoke", key_id).exit_code == 0
    response = post(client, "json", form(secret))
    assert response.status_code == 403


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("changes", "status", "fragment"),
    [
        ({"service_code": ""}, 400, "service_code is required"),
        ({"service_code": "event-9999"}, 404, "no service event-9999"),
        ({"lat": "", "long": ""}, 400, "give lat and long"),
        ({"lat": "", "long": "", "address_string": "多福巷"}, 400, "not geocoded"),
        ({"lat": "north"}, 400, "lat"),
        ({"lat": "95"}, 400, "lat: Input should be less than or equal to 90"),
        ({"lat": "10", "long": "10"}, 400, "outside the managed area"),
        ({"description": "x" * 4001}, 400, "at most 4000"),
        ({"attribute[bag_count]": "many"}, 400, "attribute[bag_count] must be a number"),
        ({"attribute[waste_kinds][]": "gold"}, 400, "attribute[waste_kinds]: 'gold' is not one"),
        ({"attribute[colour]": "red"}, 400, "attribute[colour] is not an attribute"),
        ({"email": "a" * 321}, 400, "email is longer than 320"),
    ],
)
def test_post_errors(
    client: TestClient,
    session: Session,
    api_key: str,
    fmt: str,
    changes: dict[str, str],
    status: int,
    fragment: str,
) -> None:
    response = post(client, fmt, {**form(api_key), **changes})
    assert response.status_code == status, response.text
    code, description = only(errors_of(response, fmt))
    assert code == str(status) and fragment in description
    # Nothing half-written: no client details without their report.
    assert session.scalar(select(func.count()).select_from(Open311Request)) == 0


@pytest.mark.parametrize(
    ("service_code", "attributes", "fragment"),
    [
        (COVER, {}, "attribute[cover_state] is required"),
        (COVER, {"attribute[cover_state]": "stolen"}, "'stolen' is not one of"),
        (NOISE, {"attribute[noise_since]": "yesterday"}, "attribute[noise_since] must be a W3C"),
    ],
)
def test_post_checks_the_service_attributes(
    client: TestClient,
    api_key: str,
    service_code: str,
    attributes: dict[str, str],
    fragment: str,
) -> None:
    response = post(client, "json", form(api_key, service_code, **attributes))
    assert response.status_code == 400
    assert fragment in only(errors_of(response, "json"))[1]


def test_post_rate_limit_is_per_key_and_answers_in_the_spec_format(
    client: TestClient, session: Session
) -> None:
    seed_open311(session)
    from events.open311 import keys

    slow = keys.issue_key(session, name="slow app", requests_per_minute=1).secret
    assert post(client, "json", form(slow)).status_code == 200
    response = post(client, "xml", form(slow))
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert only(errors_of(response, "xml"))[0] == "429"


# --- GET requests, one request, tokens -----------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_request_shows_the_case_as_an_open311_request(
    client: TestClient, session: Session, api_key: str, fmt: str
) -> None:
    request_id = posted_id(client, "json", form(api_key, address_string="多福巷 1 号"))
    response = client.get(f"{BASE}/requests/{request_id}.{fmt}", params={"jurisdiction_id": "x"})
    request = only(requests_of(response, fmt))
    assert request["service_request_id"] == request_id
    assert request["status"] == "open" and request["status_notes"] == "reported"
    assert request["service_code"] == GARBAGE and request["service_name"] == "暴露垃圾"
    assert request["address"] == "多福巷 1 号"
    assert request["cell_code"] == "110101001001001"
    assert float(request["lat"] or 0) == pytest.approx(LAT)
    assert float(request["long"] or 0) == pytest.approx(LON)
    requested = datetime.fromisoformat(request["requested_datetime"] or "")
    assert requested.utcoffset() is not None and (request["requested_datetime"] or "").endswith(
        "+08:00"
    )
    assert request["expected_datetime"] is None and request["agency_responsible"] is None


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("request_id", ["999999999", "abc"])
def test_unknown_request_is_404(client: TestClient, fmt: str, request_id: str) -> None:
    response = client.get(f"{BASE}/requests/{request_id}.{fmt}")
    assert response.status_code == 404
    assert only(errors_of(response, fmt)) == ("404", f"no service request {request_id}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_stored_token_gives_the_request_id(
    client: TestClient, session: Session, api_key: str, fmt: str
) -> None:
    request_id = posted_id(client, "xml", form(api_key))
    token = stored_token(session, request_id)
    response = client.get(f"{BASE}/tokens/{token}.{fmt}")
    assert only(requests_of(response, fmt)) == {"service_request_id": request_id, "token": token}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("token", ["not-a-token", "0b8a3e0e-3c59-4d3e-9a0b-5bb1c1f2a001"])
def test_unknown_token_is_404(client: TestClient, fmt: str, token: str) -> None:
    response = client.get(f"{BASE}/tokens/{token}.{fmt}")
    assert response.status_code == 404
    assert only(errors_of(response, fmt))[0] == "404"


def test_dispatched_case_shows_department_deadline_and_reason(
    client: TestClient, session: Session, api_key: str
) -> None:
    category = session.scalars(
        select(Category).where(Category.kind == "event", Category.code == "0102")
    ).first()
    assert category is not None
    department = add_department(session, code="HW-O311")
    case = add_case(session, category=category, status=CaseStatus.DISPATCHED, department=department)
    case.due_at = datetime.fromisoformat("2026-11-27T09:30:00+08:00")
    cancelled = add_case(session, category=category, status=CaseStatus.CANCELLED)
    session.flush()
    ids = f"{case.id},{cancelled.id}"
    found = requests_of(
        client.get(f"{BASE}/requests.xml", params={"service_request_id": ids}), "xml"
    )
    by_id = {request["service_request_id"]: request for request in found}
    dispatched = by_id[str(case.id)]
    assert dispatched["agency_responsible"] == department.name
    assert dispatched["expected_datetime"] == "2026-11-27T09:30:00+08:00"
    assert dispatched["status"] == "open" and dispatched["status_notes"] == "dispatched"
    assert by_id[str(cancelled.id)]["status"] == "closed"


# --- GET requests filters ------------------------------------------------------------------


@pytest.fixture
def three_requests(client: TestClient, session: Session, api_key: str) -> list[str]:
    """Ids of two garbage requests and one cover request, oldest first."""
    ids = [
        posted_id(client, "json", form(api_key)),
        posted_id(client, "json", form(api_key)),
        posted_id(client, "json", form(api_key, COVER, **{"attribute[cover_state]": "missing"})),
    ]
    return ids


def ids_found(client: TestClient, fmt: str, **params: str) -> list[str]:
    response = client.get(f"{BASE}/requests.{fmt}", params=params)
    return [request["service_request_id"] or "" for request in requests_of(response, fmt)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_filters(client: TestClient, three_requests: list[str], fmt: str) -> None:
    first, second, cover = three_requests
    newest_first = [cover, second, first]
    assert ids_found(client, fmt)[:3] == newest_first
    assert ids_found(client, fmt, service_code=COVER) == [cover]
    assert ids_found(client, fmt, service_code=f"{COVER},{GARBAGE}")[:3] == newest_first
    assert ids_found(client, fmt, status="closed") == []
    assert ids_found(client, fmt, status="open,closed")[:3] == newest_first
    # service_request_id overrides every other filter
    assert ids_found(client, fmt, service_request_id=f"{first}", status="closed") == [first]
    # empty parameters are absent ones
    empty = {"service_code": "", "status": "", "start_date": "", "end_date": "", "page": ""}
    assert ids_found(client, fmt, **empty)[:3] == newest_first


def test_requests_date_span_and_timezones(client: TestClient, three_requests: list[str]) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=5)
    soon_in_shanghai = soon.astimezone(get_settings().city_zone).isoformat(timespec="seconds")
    assert set(three_requests) <= set(ids_found(client, "json", end_date=soon_in_shanghai))
    assert ids_found(client, "json", start_date=soon_in_shanghai) == []
    # Z and an unencoded "+" (a space after decoding) both read as offsets
    past = "2020-01-01T00:00:00Z"
    assert ids_found(client, "json", start_date=past, end_date="2020-02-01T08:00:00 08:00") == []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
        ({"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "before"),
        ({"start_date": "last week"}, "start_date must be a W3C datetime"),
        ({"status": "pending"}, "status must be open or closed"),
        ({"service_request_id": "1,x"}, "service_request_id 'x'"),
        ({"page_size": "5000"}, "page_size must be a whole number from 1 to 1000"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"cell_code": "12"}, "cell_code"),
    ],
)
def test_requests_bad_parameters_are_400(
    client: TestClient, fmt: str, params: dict[str, str], fragment: str
) -> None:
    response = client.get(f"{BASE}/requests.{fmt}", params=params)
    assert response.status_code == 400
    code, description = only(errors_of(response, fmt))
    assert code == "400" and fragment in description


def test_requests_extensions_page_bbox_cell_and_updated_after(
    client: TestClient, three_requests: list[str]
) -> None:
    first, second, cover = three_requests
    assert ids_found(client, "json", page_size="2") == [cover, second]
    assert ids_found(client, "json", page_size="2", page="2")[:1] == [first]
    around = f"{LON - 0.0001},{LAT - 0.0001},{LON + 0.0001},{LAT + 0.0001}"
    assert ids_found(client, "json", bbox=around)[:3] == [cover, second, first]
    assert ids_found(client, "json", bbox="0,0,1,1") == []
    assert ids_found(client, "json", cell_code="110101001001001")[:3] == [cover, second, first]
    assert ids_found(client, "json", cell_code="110101001001004") == []
    assert ids_found(client, "json", updated_after="2999-01-01T00:00:00+08:00") == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_request_updates_list_status_changes(
    client: TestClient, three_requests: list[str], fmt: str
) -> None:
    response = client.get(f"{BASE}/servicerequestupdates.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        found = {update["service_request_id"] for update in response.json()}
    else:
        root = xml_of(response)
        assert root.tag == "service_request_updates"
        found = {u.findtext("service_request_id") for u in root.iter("request_update")}
    assert set(three_requests) <= found


# --- XML and JSON rendering ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_description_with_markup_characters_and_chinese_round_trips(
    client: TestClient, api_key: str, fmt: str
) -> None:
    description = "井盖 <missing> & \"open\" 'here' ]]> 危险"
    request_id = posted_id(client, "json", form(api_key, description=description))
    response = client.get(f"{BASE}/requests/{request_id}.{fmt}")
    assert only(requests_of(response, fmt))["description"] == description
    if fmt == "xml":
        assert "井盖 &lt;missing&gt; &amp;".encode() in response.content
    else:
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        assert "井盖".encode() in response.content


def test_role_tokens_are_not_needed_and_do_not_matter(
    client: TestClient, auth: Any, api_key: str
) -> None:
    assert client.get(f"{BASE}/services.json", headers=auth(Role.CITIZEN)).status_code == 200
    response = post(client, "json", form(api_key), headers=auth(Role.INSPECTOR))
    assert response.status_code == 200


# --- extension: multipart photo upload -----------------------------------------------------


def test_media_upload_is_located_by_its_gps_and_served_as_media_url(
    client: TestClient, api_key: str, configure: Configure
) -> None:
    configure()
    fields = {key: value for key, value in form(api_key).items() if key not in ("lat", "long")}
    photo = ("media", ("photo.jpg", jpeg_with_gps(LON, LAT), "image/jpeg"))
    response = client.post(f"{BASE}/requests.json", data=fields, files=[photo])
    assert response.status_code == 200, response.text
    request_id = only(response.json())["service_request_id"]
    request = only(requests_of(client.get(f"{BASE}/requests/{request_id}.json"), "json"))
    media_url = request["media_url"] or ""
    assert media_url.startswith("http://testserver/open311/v2/media/")
    photo_response = client.get(media_url)
    assert photo_response.status_code == 200
    assert photo_response.headers["content-type"] == "image/jpeg"


def test_client_media_url_is_shown_when_no_photo_was_uploaded(
    client: TestClient, api_key: str
) -> None:
    url = "https://photos.example.org/1.jpg"
    request_id = posted_id(client, "json", form(api_key, media_url=url))
    request = only(requests_of(client.get(f"{BASE}/requests/{request_id}.json"), "json"))
    assert request["media_url"] == url
