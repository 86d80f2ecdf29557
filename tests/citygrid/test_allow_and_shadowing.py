"""Every path answers the methods it has, and only its own routes answer it.

Walks every route of the app (as the router dispatches them): a literal path such as
`/api/components/imports` must not be matched by a parameterised sibling such as
`/api/components/{component_id}` (declared before or after it: the sibling takes every method the
literal route lacks, answering 422 where 405 is due); and a method a path does not have answers
405 with `Allow` naming every method of the path, across the separate routes that share it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.convertors import (
    Convertor,
    FloatConvertor,
    IntegerConvertor,
    PathConvertor,
    StringConvertor,
    UUIDConvertor,
)

from citygrid.app import create_app

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SAMPLES: dict[type[Convertor[Any]], str] = {
    StringConvertor: "sample",
    PathConvertor: "sample/file.txt",
    IntegerConvertor: "1",
    FloatConvertor: "1.5",
    UUIDConvertor: "00000000-0000-4000-8000-000000000001",
}


@dataclass(frozen=True)
class Route:
    """One route as the router dispatches it: its template, methods, pattern and parameters."""

    template: str
    methods: frozenset[str]
    pattern: re.Pattern[str]
    convertors: dict[str, Convertor[Any]]

    def sample_path(self) -> str:
        """A concrete path the template matches (each parameter a value of its type)."""
        path = self.template
        for name, convertor in self.convertors.items():
            path = path.replace("{" + name + "}", SAMPLES[type(convertor)])
        return path


def routes_of(app: FastAPI) -> list[Route]:
    """Every route of the app, in dispatch order; a route the walk cannot read fails here."""
    routes = []
    for context in iter_route_contexts(app.routes):
        assert context.path_format and context.methods, context  # a mount would escape the checks
        routes.append(
            Route(
                context.path_format,
                frozenset(context.methods),
                context.path_regex,
                context.param_convertors,
            )
        )
    return routes


def methods_by_path(routes: list[Route]) -> dict[str, set[str]]:
    """Each path template → the methods of every route declared on it."""
    methods: dict[str, set[str]] = defaultdict(set)
    for route in routes:
        methods[route.template] |= route.methods
    return methods


def test_the_walk_sees_every_route_as_a_path_with_methods() -> None:
    paths = methods_by_path(routes_of(create_app()))
    assert len(paths) > 100
    assert paths["/api/calendars"] == {"GET", "POST"}
    assert paths["/api/calendars/{code}/days/{day}"] == {"PUT", "DELETE"}


def test_no_path_is_matched_by_a_sibling_template() -> None:
    routes = routes_of(create_app())
    shadowed = {}
    for route in routes:
        path = route.sample_path()
        matching = {other.template for other in routes if other.pattern.match(path)}
        if matching != {route.template}:
            shadowed[path] = sorted(matching - {route.template})
    assert shadowed == {}


def test_a_missing_method_is_405_with_every_method_of_the_path(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    routes = routes_of(app)
    samples = {route.sample_path(): route.template for route in routes}
    by_path = methods_by_path(routes)
    wrong = {}
    checked = 0
    for path, template in samples.items():
        allowed = by_path[template]
        for method in METHODS:
            if method in allowed:
                continue
            response = client.request(method, path)
            allow = {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}
            checked += 1
            if response.status_code != 405 or allow != allowed:
                wrong[f"{method} {path}"] = (response.status_code, sorted(allow), sorted(allowed))
    assert wrong == {}
    assert checked > 300


def test_the_reported_paths(client: TestClient) -> None:
    """The answers issue 21 found wrong: one method of two, and a literal path shadowed."""
    calendars = client.options("/api/calendars")
    assert calendars.status_code == 405 and calendars.headers["allow"] == "GET, POST"
    assert calendars.json()["field"] == "method"
    assert "OPTIONS is not one of GET, POST" in calendars.json()["detail"]
    day = client.options("/api/calendars/national/days/2026-10-01")
    assert day.status_code == 405 and day.headers["allow"] == "PUT, DELETE"
    imports = client.get("/api/components/imports")
    assert imports.status_code == 405 and imports.headers["allow"] == "POST"
    me = client.patch("/api/users/me", json={})
    assert me.status_code == 405 and me.headers["allow"] == "GET"
    simulate = client.get("/api/dispatch/rules/simulate")
    assert simulate.status_code == 405 and simulate.headers["allow"] == "POST"
