"""Property-based fuzzing of the whole OpenAPI surface with schemathesis.

Every operation is called, for every role its `x-roles` admits (a seeded user each), with cases
schemathesis derives from the published schema: inside it (positive) and outside it (negative).
A response must not be a 5xx, must match the schema documented for its status code, and its
status code must be documented. The database work happens in one transaction for the module
(seeded once, rolled back at the end), each operation's writes undone by a savepoint. The
budget is bounded and derandomized, so CI runs the same cases every time (about a minute).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, note, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.case import Case
from schemathesis.generation.modes import GenerationMode
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from citygrid import db, error_responses
from citygrid.accounts.roles import Role
from citygrid.app import create_app
from tests.conftest import token_for
from tests.events.intake.support import configure_app, seed_intake
from tests.events.seed import add_case, add_department, add_user

pytestmark = [
    pytest.mark.fuzz,
    # Hotspot statistics over a block of four cells with random filters divide by zero variance.
    pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning"),
]

# Cases per operation (each sent once for every role the operation admits): within data the
# schema describes, and outside it (which must be refused with a documented 4xx).
EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 8}
Operation = APIOperation[Any, Any, Any, Any]
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
PUBLIC_MARK = "anyone"

# One app for the module: schemathesis starts its lifespan once and keeps it for the process;
# each test points its database dependencies at that test's session.
APP = create_app()
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)


def roles_admitted(operation: Operation) -> list[Role | None]:
    """The roles an operation publishes in `x-roles`; [None] (no token) for a public one."""
    published = operation.definition.raw.get("x-roles", [])
    if published == [PUBLIC_MARK]:
        return [None]
    return [Role(role) for role in published]


def all_operations() -> list[Operation]:
    found = []
    for result in SCHEMA.get_all_operations():
        assert isinstance(result, Ok), result
        found.append(result.ok())
    return found


def accepts_invalid_input(operation: Operation) -> bool:
    """Whether some request outside the schema exists: a body, or a parameter whose schema
    constrains it (any string fits an unconstrained string parameter)."""
    raw = operation.definition.raw
    if "requestBody" in raw:
        return True
    return any(constrains(parameter.get("schema", {})) for parameter in raw.get("parameters", []))


def constrains(schema: dict[str, Any]) -> bool:
    constraints = {"pattern", "enum", "const", "minLength", "maxLength", "format", "anyOf"}
    return schema.get("type", "string") != "string" or bool(constraints & schema.keys())


OPERATIONS = all_operations()
TARGETS = [
    (operation, mode)
    for operation in OPERATIONS
    for mode in EXAMPLES
    if mode is GenerationMode.POSITIVE or accepts_invalid_input(operation)
]


@dataclass(frozen=True)
class Caller:
    role: Role
    user_id: int
    department_id: int | None

    def headers(self) -> dict[str, str]:
        """Headers with a fresh token: a case that logs out revokes only its own token."""
        token = token_for(self.role, user_id=self.user_id, department_id=self.department_id)
        return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Fuzzing:
    """The module's database session (one transaction, rolled back at the end) and a
    seeded user per role."""

    connection: Connection
    session: Session
    callers: dict[Role, Caller]


def seed_callers(session: Session) -> dict[Role, Caller]:
    """One user per role (the department member in a department), on a seeded block with a
    case the citizen reported."""
    category = seed_intake(session)
    department = add_department(session, code="FUZZ-01")
    users = {
        role: add_user(session, role, department=department if role is Role.DEPARTMENT else None)
        for role in Role
    }
    add_case(session, category=category, reporter=users[Role.CITIZEN], department=department)
    return {role: Caller(role, user.id, user.department_id) for role, user in users.items()}


@pytest.fixture(scope="module")
def fuzzing(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzing]:
    """Seeded once for the module: each operation's test runs in a savepoint of its own."""
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        callers = seed_callers(session)
        session.commit()
        APP.dependency_overrides[db.get_session] = lambda: session
        APP.dependency_overrides[db.get_row_fetcher] = lambda: db.session_fetcher(session)
        APP.dependency_overrides[db.get_writer] = lambda: db.SessionWriter(session)
        configure_app(APP, tmp_path_factory.mktemp("fuzz") / "media")
        yield Fuzzing(connection, session, callers)
        APP.dependency_overrides.clear()
        session.close()
        transaction.rollback()


@pytest.fixture
def fuzzed(fuzzing: Fuzzing) -> Iterator[Fuzzing]:
    """The module's session, with what one operation's test wrote undone after it."""
    savepoint = fuzzing.connection.begin_nested()
    yield fuzzing
    fuzzing.session.rollback()
    fuzzing.session.expunge_all()
    savepoint.rollback()


def target_id(value: object) -> str:
    return value.label if isinstance(value, APIOperation) else str(value)


@pytest.mark.parametrize(("operation", "mode"), TARGETS, ids=target_id)
def test_operation_answers_as_documented(
    operation: Operation,
    mode: GenerationMode,
    fuzzed: Fuzzing,
    request: pytest.FixtureRequest,
) -> None:
    callers = [fuzzed.callers[role] if role else None for role in roles_admitted(operation)]
    calls = []

    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def answers_as_documented(case: Case[Operation]) -> None:
        for caller in callers:
            note(f"called as {caller.role if caller else PUBLIC_MARK}")
            headers = caller.headers() if caller else {}
            try:
                response = case.call(app=APP, headers=headers)
            finally:
                fuzzed.session.rollback()  # a failed statement must not poison the next case
            calls.append(response.status_code)
            case.validate_response(response, checks=CHECKS, headers=headers)

    answers_as_documented()
    # In `--junitxml` (-o junit_family=legacy): the figures of the README.
    request.node.user_properties.append(("requests", len(calls)))
    assert len(calls) >= len(callers)  # each admitted role was tried


# --- what the document says about errors (citygrid.error_responses, pure) ----------------------

REF = "#/components/schemas/Body_login"
PASSWORD_FORM = {"content": {"application/x-www-form-urlencoded": {"schema": {"$ref": REF}}}}
JSON_BODY = {"content": {"application/json": {"schema": {"type": "object"}}}}
ALWAYS = {"200", "404", "409", "422", "503"}


@pytest.mark.parametrize(
    ("operation", "added"),
    [
        ({"x-roles": ["anyone"]}, set()),
        ({"x-roles": ["admin", "manager"]}, {"401", "403"}),
        ({"x-roles": ["anyone"], "requestBody": PASSWORD_FORM}, {"400", "401", "413", "429"}),
        ({"x-roles": ["anyone"], "requestBody": JSON_BODY}, {"400", "413"}),
        ({"x-roles": ["admin"], "requestBody": JSON_BODY}, {"400", "401", "403", "413"}),
    ],
    ids=["public", "signed-in", "sign-in", "public-body", "signed-in-body"],
)
def test_the_document_lists_the_errors_an_operation_can_answer(
    operation: dict[str, Any], added: set[str]
) -> None:
    document = document_with({**operation, "responses": {"200": {"description": "ok"}}})
    responses = error_responses.document_errors(document)["paths"]["/x"]["post"]["responses"]
    assert set(responses) == ALWAYS | added
    assert responses["404"]["content"]["application/json"]["schema"] == error_responses.ERROR_REF


def test_the_document_keeps_an_operations_own_error_answers() -> None:
    own = {"description": "no such thing", "content": {"text/xml": {}}}
    document = document_with({"x-roles": ["anyone"], "responses": {"404": own}})
    responses = error_responses.document_errors(document)["paths"]["/x"]["post"]["responses"]
    assert responses["404"] == own
    assert responses["422"]["content"]["application/json"]["schema"] == {
        "anyOf": [error_responses.VALIDATION_REF, error_responses.ERROR_REF]
    }


def document_with(operation: dict[str, Any]) -> dict[str, Any]:
    schemas = {
        "Body_login": {"type": "object", "properties": {"username": {}, "password": {}}},
        error_responses.VALIDATION_SCHEMA_NAME: {"type": "object"},
    }
    return {"paths": {"/x": {"post": operation}}, "components": {"schemas": schemas}}
