"""Property-based fuzzing of the whole OpenAPI surface with schemathesis, every check enabled.

Every operation is called, for every role its `x-roles` admits (a seeded user each), with cases
schemathesis derives from the published schema: inside it (positive) and outside it (negative).
Every one of schemathesis' checks runs on every answer (none is left out): no 5xx; the status,
media type, headers and body as documented; a request the schema allows is not refused (4xx
other than 401/403/404/409), and one it forbids is. The only exceptions are the refusals no
schema can express (a point outside the managed area, `to` before `from`): they are listed,
each with its reason, in REVIEWED below, and nothing else may be refused.

Each operation runs twice: a derandomized pass (CI sends the same cases every time), and a pass
with a random seed chosen for the run, in the test's id (`seed=...`); a failure found with it is
replayed with `CITYGRID_FUZZ_SEED=<seed>`. `CITYGRID_FUZZ_EXAMPLES` sets the cases per operation
and mode (bench/fuzz_api.py runs more, with the stateful phase). The database work happens in one
transaction for the module (seeded once, rolled back at the end), each operation's writes undone
by a savepoint.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, note, seed, settings
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case
from schemathesis.generation.modes import GenerationMode
from schemathesis.schemas import APIOperation
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

Operation = APIOperation[Any, Any, Any, Any]
PUBLIC_MARK = "anyone"
DERANDOMIZED = "derandomized"


def examples_per_mode() -> dict[GenerationMode, int]:
    """Cases per operation and mode (each sent once for every role the operation admits)."""
    chosen = os.environ.get("CITYGRID_FUZZ_EXAMPLES")
    if chosen:
        return dict.fromkeys(GenerationMode, int(chosen))
    return {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 3}


def run_seeds() -> list[int]:
    """This run's random seeds: CITYGRID_FUZZ_SEED replays one (or a comma list of them),
    otherwise a fresh one."""
    chosen = os.environ.get("CITYGRID_FUZZ_SEED")
    if chosen:
        return [int(value) for value in chosen.split(",")]
    return [random.SystemRandom().randrange(2**32)]


EXAMPLES = examples_per_mode()
PASSES: list[int | str] = [DERANDOMIZED, *run_seeds()]


@dataclass(frozen=True)
class Refusal:
    """A refusal no schema can express: a check's failure on the operations matching a pattern,
    answered with a status whose `detail` matches, and why it is right."""

    operations: str  # a regular expression matching the operations' labels, "GET /api/..."
    detail: str  # a regular expression searched in the answer's detail
    reason: str
    check: str = "positive_data_acceptance"
    status: int = 422

    def covers(self, operation: str, check: str, response: Response) -> bool:
        return (
            (self.check, self.status) == (check, response.status_code)
            and re.fullmatch(self.operations, operation) is not None
            and re.search(self.detail, detail_of(response)) is not None
        )


ANY = ".+"
# The reviewed list: every refusal of schema-valid data the server may answer. Anything not
# covered here is a contract bug: document the constraint where the parameter is declared
# (citygrid/api_types.py has the shared types).
REVIEWED: tuple[Refusal, ...] = (
    Refusal(
        r"GET /api/hotline/rates|GET /hotline/ranking",
        r"give both from and to, or a month|give a month or from and to, not both",
        "a period is a month or a from/to pair: which parameters go together (or exclude each "
        "other) is not something query parameters' schemas can say",
    ),
    Refusal(
        r"POST /api/hotline/tickets/\{ticket_id\}/callbacks",
        r"a reached callback needs its|an unreached callback has no",
        "the caller's answers are required exactly when the call reached them: a requirement "
        "that depends on another field's value",
    ),
    Refusal(
        r"POST /api/sensing/devices",
        r"no component has code|has no metric",
        "a device names a component of the inventory and overrides only its type's metrics: "
        "the inventory and the device types are data, not schema",
    ),
    Refusal(
        ANY,
        r"must (not )?be (after|later than|before)|must start before it ends|sorted and disjoint",
        "one bound after another (to after from, a period's end after its start): JSON Schema "
        "compares no two values",
    ),
    Refusal(
        ANY,
        "day value is outside expected range",
        "29 February of a common year: the date pattern knows each month's days, not leap years",
    ),
    Refusal(
        ANY,
        r"(bbox|view) must (be finite with min <= max|have -180 <= minlon <= maxlon)",
        "a box's west after its east (or south after north): one string, two numbers compared",
    ),
    Refusal(
        r"(GET|POST) /api/grid/locate|POST /api/reports|POST /open311/v2/requests\.\{fmt\}"
        r"|POST /api/sensing/devices",
        r"outside the managed area|is outside lon ±180, lat ±90 once converted",
        "a point outside the city's grid (or off the globe once converted from a projected CRS, "
        "whose coordinates have no fixed range): the grid is data, not schema",
    ),
    Refusal(
        ANY,
        "unknown coordinate system|is not a horizontal",
        "a CRS name the projection library does not know: the EPSG registry is not an enum",
    ),
    Refusal(
        ANY,
        "after must be the next_cursor|after pages one list|give either (page|offset) or after",
        "a paging cursor is an opaque token from a previous page (and pages one list, by one "
        "way of paging): which tokens exist is state, not schema",
    ),
    Refusal(
        r"POST /api/users|POST /api/users/me/password|PATCH /api/users/\{user_id\}",
        "too easy to guess",
        "password strength (zxcvbn's guess count) is not a pattern",
    ),
    Refusal(
        r"POST /api/(grid|components)/imports",
        "must end in",
        "an uploaded file's name: OpenAPI describes a file part's content, not its file name",
    ),
    Refusal(
        ANY,
        r"^no (work calendar|component category|department|category|cell|street|community|"
        r"district|user|case)|unknown (department|category|cell|area|calendar)|needs a major",
        "a code or id in the body that names nothing: which rows exist is state, not schema",
    ),
    Refusal(
        ANY,
        "cannot contain NUL",
        "U+0000 in a text: PostgreSQL's text cannot hold it, so any text that reaches the "
        "database refuses it with this 422 (citygrid.error_responses), the one rule every text "
        "field shares; not repeated as a pattern on each of them",
    ),
    Refusal(
        r"POST /api/reports|POST /open311/v2/requests\.\{fmt\}",
        "give both lon and lat",
        "lon and lat come together: a condition between two fields",
    ),
    Refusal(
        r"POST /api/reports|POST /open311/v2/requests\.\{fmt\}",
        "give category_id or category_code|several kinds or standards: give kind and standard",
        "a report names its category by id or by code (and kind and standard where a code is "
        "shared): a condition between fields, and which codes are shared is data",
    ),
    Refusal(
        "POST /api/reports",
        "give lon and lat",
        "a place is the coordinates or a first photo's GPS position: a photo's EXIF is not "
        "something a schema sees",
    ),
    Refusal(
        r"POST /api/cases/\{case_id\}/category",
        "is already of category",
        "recategorising to the category the case has: state, not schema",
    ),
    Refusal(
        ANY,
        "the period may span at most",
        "a period's length is the difference of two values",
    ),
    Refusal(
        r"POST /api/users/me/password",
        "the current password is wrong",
        "the current password is a secret to check, not a format",
    ),
    Refusal(
        r"POST /api/users|PATCH /api/users/\{user_id\}",
        r"needs a department_code|only role 'department' belongs to a department",
        "department_code goes with role department and no other: a condition between two fields",
    ),
    Refusal(
        r"POST /api/dispatch/rules(/simulate)?",
        r"problem\(s\) in the rule set",
        "a rule set names cells, regions and departments that must exist, and two rules may "
        "not send the same cases to different departments: data and a relation between rules",
    ),
    Refusal(
        r"POST /api/dispatch/rules(/simulate)?",
        "escalation steps must be in the order they fire|escalation step names must be unique",
        "escalation steps in firing order with distinct names: a relation between list items",
    ),
    Refusal(
        r"POST /api/cases/\{case_id\}/actions/\{action\}",
        r"needs a reason|needs a department",
        "which body fields an action needs depends on the action in the path (cancel needs a "
        "reason): a condition between a path parameter and the body",
    ),
    Refusal(
        r"POST /api/cases/\{case_id\}/merge",
        "a case cannot be merged into itself",
        "into_case_id equal to the path's case_id: a relation between two inputs",
    ),
    Refusal(
        ANY,
        "scheme=user needs bounds",
        "user-set class bounds go with scheme=user: a condition between two parameters",
    ),
    Refusal(
        ANY,
        r"is not a JPEG, PNG or WebP image|is larger than",
        "a photo's content must be an image, and its size within the setting: no schema reads "
        "an uploaded file's bytes",
    ),
    Refusal(
        ANY,
        "unknown time zone|not a time zone",
        "an IANA time zone name: the zone list (about 600, from the system's tzdata) is data",
    ),
)


def detail_of(response: Response) -> str:
    try:
        body = json.loads(response.content)
    except ValueError:
        return response.content[:200].decode(errors="replace")
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) else json.dumps(body, ensure_ascii=False)[:400]


def check_name(failure: Failure) -> str:
    """The name of the check a failure came from (schemathesis' failure classes name it)."""
    return CHECK_OF_FAILURE.get(type(failure).__name__, type(failure).__name__)


CHECK_OF_FAILURE = {
    "RejectedPositiveData": "positive_data_acceptance",
    "AcceptedNegativeData": "negative_data_rejection",
}


def unreviewed(group: FailureGroup, operation: str, response: Response) -> list[Failure]:
    return [
        failure
        for failure in group.exceptions
        if not any(refusal.covers(operation, check_name(failure), response) for refusal in REVIEWED)
    ]


def roles_admitted(operation: Operation) -> list[Role | None]:
    """The roles an operation publishes in `x-roles`; [None] (no token) for a public one."""
    published = operation.definition.raw.get("x-roles", [])
    if published == [PUBLIC_MARK]:
        return [None]
    return [Role(role) for role in published]


# One app for the module: schemathesis starts its lifespan once and keeps it for the process;
# each test points its database dependencies at that test's session.
APP = create_app()
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)


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
    (operation, mode, chosen)
    for operation in OPERATIONS
    for mode in EXAMPLES
    if mode is GenerationMode.POSITIVE or accepts_invalid_input(operation)
    for chosen in PASSES
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


@contextmanager
def replayable(chosen: int | str) -> Iterator[None]:
    """A failure found with a random seed says how to replay it."""
    try:
        yield
    except BaseException as error:
        if isinstance(chosen, int):
            error.add_note(f"replay with CITYGRID_FUZZ_SEED={chosen}")
        raise


def target_id(value: object) -> str:
    if isinstance(value, APIOperation):
        return value.label
    if isinstance(value, int):
        return f"seed={value}"
    return str(value)


@pytest.mark.parametrize(("operation", "mode", "chosen"), TARGETS, ids=target_id)
def test_operation_answers_as_documented(
    operation: Operation,
    mode: GenerationMode,
    chosen: int | str,
    fuzzed: Fuzzing,
    request: pytest.FixtureRequest,
) -> None:
    callers = [fuzzed.callers[role] if role else None for role in roles_admitted(operation)]
    calls = []

    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=chosen == DERANDOMIZED,
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
                response = case.call(app=APP, headers=headers, allow_redirects=False)
            finally:
                fuzzed.session.rollback()  # a failed statement must not poison the next case
            calls.append(response.status_code)
            try:  # every check schemathesis has (validate_response's default set)
                case.validate_response(response, headers=headers)
            except FailureGroup as group:
                if unreviewed(group, operation.label, Response.from_any(response)):
                    raise

    if isinstance(chosen, int):
        answers_as_documented = seed(chosen)(answers_as_documented)
    with replayable(chosen):
        answers_as_documented()
    # In `--junitxml` (-o junit_family=legacy): the figures of the README.
    request.node.user_properties.append(("requests", len(calls)))
    assert len(calls) >= len(callers)  # each admitted role was tried


# --- stateful: chains of calls along the links schemathesis infers from the document ----------

STATEFUL_STEPS = int(os.environ.get("CITYGRID_FUZZ_STATEFUL_STEPS", "6"))
STATEFUL_SCENARIOS = int(os.environ.get("CITYGRID_FUZZ_STATEFUL_SCENARIOS", "2"))


@pytest.mark.parametrize("chosen", PASSES, ids=target_id)
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_workflows_answer_as_documented(
    role: Role, chosen: int | str, fuzzed: Fuzzing, request: pytest.FixtureRequest
) -> None:
    """Scenarios as `role`: an answer's ids feed the next call (create, read, change, delete),
    every check on every step, the reviewed refusals aside."""
    caller = fuzzed.callers[role]
    calls = []

    class Workflow(SCHEMA.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            """Each scenario starts from the seeded database (a replay must find what the first
            run found)."""
            super().setup()
            self.savepoint = fuzzed.connection.begin_nested()

        def teardown(self) -> None:
            fuzzed.session.rollback()
            fuzzed.session.expunge_all()
            self.savepoint.rollback()
            super().teardown()

        def get_call_kwargs(self, case: Case[Operation]) -> dict[str, Any]:
            return {"headers": caller.headers(), "allow_redirects": False}

        def call(self, case: Case[Operation], **kwargs: Any) -> Any:
            try:
                return case.call(app=APP, **kwargs)
            finally:
                fuzzed.session.rollback()  # a failed statement must not poison the next step

        def validate_response(self, response: Any, case: Case[Operation], **kwargs: Any) -> None:
            calls.append(response.status_code)
            headers = kwargs.pop("headers", None)
            kwargs.pop("additional_checks", None)
            try:
                case.validate_response(
                    response, headers=headers, recorder=getattr(self, "recorder", None)
                )
            except FailureGroup as group:
                if unreviewed(group, case.operation.label, Response.from_any(response)):
                    raise

    if isinstance(chosen, int):
        seed(chosen)(Workflow)  # hypothesis reads the seed off the state machine's class
    with replayable(chosen):
        Workflow.run(
            settings=settings(
                max_examples=STATEFUL_SCENARIOS,
                stateful_step_count=STATEFUL_STEPS,
                derandomize=chosen == DERANDOMIZED,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
        )
    request.node.user_properties.append(("requests", len(calls)))
    assert calls  # the scenarios called the API


# --- the reviewed list stays reviewed -----------------------------------------------------------


def test_every_reviewed_refusal_names_operations_and_a_reason() -> None:
    labels = [operation.label for operation in OPERATIONS]
    for refusal in REVIEWED:
        assert any(re.fullmatch(refusal.operations, label) for label in labels), refusal
        assert refusal.check in {"positive_data_acceptance", "negative_data_rejection"}
        assert len(refusal.reason) > 20, refusal


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
