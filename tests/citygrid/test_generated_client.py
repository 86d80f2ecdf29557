"""A client generated from the OpenAPI document works without hand edits.

openapi-python-client (a maintained generator from PyPI, installed beside the project's tools)
generates a Python package from the app's document, once for the module; the package is then
imported as it is and used against the app served by uvicorn on a local port: sign in, file a
report with a photo (multipart), page through the case list with `next_cursor`, download the
cases as CSV. Nothing is downloaded: the generator reads the document from a file.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import pkgutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy.orm import Session

from citygrid import db
from citygrid.accounts.roles import Role
from citygrid.app import create_app
from events.models import Category
from tests.events.intake.support import configure_app, seed_intake
from tests.events.photos.images import image_bytes
from tests.events.seed import PASSWORD, add_case, add_user
from tests.grid.places import CELL_NE, CELL_NW, centre_of
from tests.served_app import serve

# The generator pins an older typer than citygrid's, so ./dev installs it in a venv of its own.
GENERATOR = Path(__file__).resolve().parents[2] / ".venv-tools" / "bin" / "openapi-python-client"
PACKAGE = "citygrid_generated_client"
# The generator reads an answer as JSON (application/json, */*+json), text (text/*) or bytes
# (application/octet-stream) and skips any other; photos and icons are bytes, so every other
# media type of the document is read as octet-stream's are (its `content_type_overrides`).
READ_AS_BYTES = "application/octet-stream"
# No post hooks: the generator would otherwise format its output with ruff, when on PATH.
POST_HOOKS: list[str] = []
# openapi-python-client 0.29 types a required body of several media types (POST /api/reports
# takes JSON or a multipart form) `... | Unset = UNSET` without importing Unset, so the module
# fails to import (its issue #1451, open; fix proposed in PR #1478). Until a release fixes it,
# the generator runs with its own macros, this one line corrected, through its documented
# --custom-template-path; once the installed macros lack the line, they are used unchanged.
MACROS = "endpoint_macros.py.jinja"
UNSET_FOR_SEVERAL_BODIES = "{% if not body_required %} | Unset = UNSET{% endif %}"
UNSET_IF_ANY_BODY_OPTIONAL = (
    '{% if endpoint.bodies | rejectattr("prop.required") | list %} | Unset = UNSET{% endif %}'
)
SEEDED_CASES = 4
PAGE_SIZE = 2


def binary_media_types(document: dict[str, Any]) -> set[str]:
    """The media types of the document's answers that are neither JSON nor text."""
    types = {
        media_type.split(";")[0].strip()
        for operations in document["paths"].values()
        for operation in operations.values()
        for answer in operation["responses"].values()
        for media_type in answer.get("content", {})
    }
    return {
        media_type
        for media_type in types
        if not media_type.startswith("text/")
        and media_type != "application/json"
        and not media_type.endswith("+json")
    }


def installed_templates() -> Path:
    """The generator's own templates, in the environment its command runs from."""
    environment = GENERATOR.resolve().parent.parent
    found = sorted(
        environment.glob(f"lib/python*/site-packages/openapi_python_client/templates/{MACROS}")
    )
    assert len(found) == 1, found
    return found[0].parent


def template_options(folder: Path) -> list[str]:
    """--custom-template-path with the corrected macros, while the installed ones need it."""
    macros = (installed_templates() / MACROS).read_text(encoding="utf-8")
    if UNSET_FOR_SEVERAL_BODIES not in macros:
        return []
    corrected = folder / "templates"
    corrected.mkdir()
    fixed = macros.replace(UNSET_FOR_SEVERAL_BODIES, UNSET_IF_ANY_BODY_OPTIONAL)
    (corrected / MACROS).write_text(fixed, encoding="utf-8")
    return ["--custom-template-path", str(corrected)]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The package generated from the app's document, imported (its modules by name:
    `api.api.users.log_in`, `api.models.BodyLogIn`)."""
    folder = tmp_path_factory.mktemp("generated")
    document = folder / "openapi.json"
    openapi = create_app().openapi()
    document.write_text(json.dumps(openapi), encoding="utf-8")
    config = folder / "config.json"
    overrides = dict.fromkeys(binary_media_types(openapi), READ_AS_BYTES)
    settings = {"content_type_overrides": overrides, "post_hooks": POST_HOOKS}
    config.write_text(json.dumps(settings), encoding="utf-8")
    generated = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(folder / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
            *template_options(folder),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = generated.stdout + generated.stderr
    assert generated.returncode == 0, report
    # A warning means a piece of the document was skipped (an endpoint, a model, a body).
    assert "Warning" not in report and "Error" not in report, report
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def generated(api: ModuleType, name: str) -> Any:
    """A module of the generated package, e.g. `api.users.log_in`."""
    return importlib.import_module(f"{api.__name__}.{name}")


@pytest.fixture
def site(session: Session, tmp_path: Path) -> Iterator[tuple[str, str, Category]]:
    """The app on a local port inside the test's transaction: its URL, a dispatcher's user
    name (password PASSWORD), and a category with a few cases on the test block."""
    category = seed_intake(session)
    dispatcher = add_user(session, Role.DISPATCHER)
    for _ in range(SEEDED_CASES):
        add_case(session, category=category, place=CELL_NE)
    app = create_app()
    app.dependency_overrides[db.get_session] = lambda: session
    app.dependency_overrides[db.get_row_fetcher] = lambda: db.session_fetcher(session)
    app.dependency_overrides[db.get_writer] = lambda: db.SessionWriter(session)
    configure_app(app, tmp_path / "media")
    with serve(app) as server:
        yield server, dispatcher.username, category


def test_the_generated_client_signs_in_reports_pages_and_exports(
    api: ModuleType, site: tuple[str, str, Category]
) -> None:
    server, username, category = site
    models = generated(api, "models")
    types = generated(api, "types")

    # Sign in (OAuth2 password form) with the plain client.
    anonymous = api.Client(base_url=server, raise_on_unexpected_status=True)
    form = models.BodyLogIn(username=username, password=PASSWORD)
    token = generated(api, "api.users.log_in").sync(client=anonymous, body=form)
    assert isinstance(token, models.TokenRead), token
    client = api.AuthenticatedClient(
        base_url=server, token=token.access_token, raise_on_unexpected_status=True
    )
    me = generated(api, "api.users.who_am_i").sync(client=client)
    assert isinstance(me, models.UserRead) and me.username == username

    # File a report with a photo: the multipart body.
    lon, lat = centre_of(CELL_NW)
    photo = types.File(
        payload=io.BytesIO(image_bytes()), file_name="photo.jpg", mime_type="image/jpeg"
    )
    fields: dict[str, Any] = {
        "report_uuid": uuid.uuid4(),
        "description": "井盖缺失 a missing manhole cover",
        "category_id": category.id,
        "lon": lon,
        "lat": lat,
    }
    report = models.CreateReportFilesBody(**fields, photos=[photo])
    create_report = generated(api, "api.intake.create_report")
    filed = create_report.sync_detailed(client=client, body=report)
    assert filed.status_code == 201, filed.content
    accepted = filed.parsed
    assert isinstance(accepted, models.ReportAccepted), accepted
    assert len(accepted.photo_ids) == 1 and accepted.cell.code == CELL_NW.code
    assert not accepted.replayed
    photo_id = accepted.photo_ids[0]
    stored = generated(api, "api.intake.get_photo").sync(client=client, photo_id=photo_id)
    assert isinstance(stored, types.File) and stored.payload.read(3) == b"\xff\xd8\xff"  # JPEG
    # A retry (the same report UUID, here as the JSON body) answers 200 with the same case.
    retry = create_report.sync_detailed(
        client=client, body=models.CreateReportJsonReportCreate(**fields)
    )
    assert retry.status_code == 200, retry.content
    assert isinstance(retry.parsed, models.ReportAccepted) and retry.parsed.replayed
    assert retry.parsed.case_id == accepted.case_id

    # Page through the cases with next_cursor.
    list_cases = generated(api, "api.cases.list_cases_route")
    numbers: list[str] = []
    pages = 0
    after: Any = types.UNSET
    while True:
        page = list_cases.sync(client=client, page_size=PAGE_SIZE, after=after)
        assert isinstance(page, models.CasePage), page
        assert len(page.items) <= PAGE_SIZE
        numbers += [item.number for item in page.items]
        pages += 1
        if not page.next_cursor:
            break
        after = page.next_cursor
    assert pages == -(-len(numbers) // PAGE_SIZE) and pages >= 3
    assert max(Counter(numbers).values()) == 1  # no case twice, none skipped below
    assert accepted.number in numbers and len(numbers) == SEEDED_CASES + 1

    # Download the cases as CSV.
    export = generated(api, "api.cases.export_cases")
    download = export.sync_detailed(client=client, format_=models.ExportCasesFormat.CSV)
    assert download.status_code == 200, download.content
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert sorted(row["number"] for row in rows) == sorted(numbers)


def test_every_generated_module_imports(api: ModuleType) -> None:
    """The whole client is usable as generated, not only the modules the flow above uses."""
    names = [
        module.name
        for module in pkgutil.walk_packages(api.__path__, prefix=f"{api.__name__}.")
        if not module.ispkg
    ]
    for name in names:
        importlib.import_module(name)
    operations = [name for name in names if ".api." in name]
    assert len(operations) == len(operation_ids(create_app().openapi()))


def operation_ids(document: dict[str, Any]) -> list[str]:
    return [
        operation["operationId"]
        for operations in document["paths"].values()
        for operation in operations.values()
    ]


def test_operation_ids_are_unique_function_names() -> None:
    """Generated clients name their functions and body models after the operation ids."""
    document = create_app().openapi()
    ids = operation_ids(document)
    assert [name for name, count in Counter(ids).items() if count > 1] == []
    assert {"log_in", "create_report", "list_cases_route", "export_cases"} <= set(ids)
    assert "Body_log_in" in document["components"]["schemas"]
