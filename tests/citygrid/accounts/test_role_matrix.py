"""Every route × every role: a route admits exactly the roles it publishes as `x-roles`.

Routes come from the OpenAPI document, so a new route joins the matrix without editing this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from httpx import Response

from citygrid.accounts.auth import PUBLIC, Allow, RoleCheckedRoute, current_principal
from citygrid.accounts.roles import Principal, Role
from citygrid.app import create_app
from tests.conftest import token_for

PUBLIC_MARK = ["anyone"]
SAMPLE_CODE = "110101001001001"  # a plausible 15-digit cell code for {code}-like parameters
SAMPLE_ID = "1"
# Known today; the matrix must cover at least these, so none can silently drop out of it.
KNOWN_ROUTES = {
    ("GET", "/health"),
    ("POST", "/api/auth/token"),
    ("GET", "/api/users/me"),
    ("GET", "/api/users"),
    ("POST", "/api/users"),
    ("GET", "/api/grid/locate"),
    ("POST", "/api/grid/locate"),
    ("GET", "/api/grid/cells"),
    ("GET", "/api/grid/cells/{code}"),
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    url: str  # path with its parameters filled in
    roles: tuple[str, ...]  # as published in x-roles
    has_body: bool

    @property
    def public(self) -> bool:
        return list(self.roles) == PUBLIC_MARK

    def admits(self, role: Role) -> bool:
        return self.public or role.value in self.roles

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def filled_path(path: str, parameters: list[dict[str, Any]]) -> str:
    for parameter in parameters:
        if parameter["in"] == "path":
            is_integer = parameter.get("schema", {}).get("type") == "integer"
            value = SAMPLE_ID if is_integer else SAMPLE_CODE
            path = path.replace("{" + parameter["name"] + "}", value)
    return path


def routes_from_openapi() -> list[Route]:
    routes = []
    for path, operations in create_app().openapi()["paths"].items():
        for method, operation in operations.items():
            url = filled_path(path, operation.get("parameters", []))
            roles = tuple(operation.get("x-roles", ()))
            routes.append(Route(method.upper(), path, url, roles, "requestBody" in operation))
    return routes


ROUTES = routes_from_openapi()
MATRIX = [(route, role) for route in ROUTES for role in Role]


def call(client: TestClient, route: Route, headers: dict[str, str]) -> Response:
    """The route called with an empty JSON body (or none): enough to reach the role check."""
    json_body: dict[str, Any] | None = {} if route.has_body else None
    response: Response = client.request(route.method, route.url, headers=headers, json=json_body)
    return response


def bearer(role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(role)}"}


def test_the_matrix_covers_every_route_known_today() -> None:
    found = {(route.method, route.path) for route in ROUTES}
    assert found >= KNOWN_ROUTES, f"missing from OpenAPI: {KNOWN_ROUTES - found}"


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_route_publishes_known_roles(route: Route) -> None:
    assert route.roles, f"{route} publishes no x-roles"
    assert route.public or set(route.roles) <= {role.value for role in Role}
    assert list(route.roles) == sorted(route.roles)


@pytest.mark.parametrize(("route", "role"), MATRIX, ids=lambda value: str(value))
def test_role_is_admitted_exactly_when_published(
    client: TestClient, route: Route, role: Role
) -> None:
    response = call(client, route, bearer(role))
    if route.admits(role):
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403, response.text
        assert f"role {role.value} may not do this" in response.json()["detail"]


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_no_token_is_401_unless_public(client: TestClient, route: Route) -> None:
    response = call(client, route, {})
    if route.public:
        assert response.status_code != 401, response.text
    else:
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("route", [r for r in ROUTES if not r.public], ids=str)
def test_a_garbage_token_is_401(client: TestClient, route: Route) -> None:
    response = call(client, route, {"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401, response.text


def test_a_route_without_roles_cannot_be_declared() -> None:
    router = APIRouter(route_class=RoleCheckedRoute)

    def forgotten() -> None: ...

    with pytest.raises(TypeError, match="route /forgotten declares no roles"):
        router.add_api_route("/forgotten", forgotten, methods=["GET"])


def test_a_bare_token_check_is_not_a_role_declaration() -> None:
    router = APIRouter(route_class=RoleCheckedRoute)

    def signed_in_only(principal: Annotated[Principal, Depends(current_principal)]) -> None: ...

    with pytest.raises(TypeError, match="declares no roles"):
        router.add_api_route("/signed-in", signed_in_only, methods=["GET"])


@pytest.mark.parametrize(
    ("dependency", "published"),
    [(Allow(Role.MANAGER, Role.ADMIN), ["admin", "manager"]), (PUBLIC, PUBLIC_MARK)],
)
def test_declared_roles_are_published_as_x_roles(dependency: Any, published: list[str]) -> None:
    router = APIRouter(route_class=RoleCheckedRoute)

    def endpoint() -> None: ...

    router.add_api_route("/declared", endpoint, methods=["GET"], dependencies=[Depends(dependency)])
    route = router.routes[0]
    assert isinstance(route, RoleCheckedRoute)
    assert route.openapi_extra == {"x-roles": published}
