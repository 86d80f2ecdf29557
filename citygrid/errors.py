"""Domain errors: they say what is wrong and where, and know nothing of HTTP."""

from __future__ import annotations

from typing import Any


class CitygridError(Exception):
    """Base of every error a user can cause; `field` names the input at fault when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.audited = False  # set once a refusal is in the audit log (never logged twice)

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class NotFound(CitygridError): ...


class Conflict(CitygridError): ...


class InvalidInput(CitygridError): ...


class OutsideGrid(CitygridError):
    def __init__(self, message: str, *, distance_m: float | None) -> None:
        super().__init__(message, field="lon/lat")
        self.distance_m = distance_m

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "nearest_cell_distance_m": self.distance_m}


class NotAuthenticated(CitygridError): ...


class PermissionDenied(CitygridError): ...


class ImportRejected(CitygridError):
    """An import with at least one bad feature: nothing was written."""

    def __init__(self, message: str, *, problems: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.problems = problems

    def payload(self) -> dict[str, Any]:
        return {"detail": self.message, "problems": self.problems}


STATUS_CODES: dict[type[CitygridError], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    OutsideGrid: 422,
    ImportRejected: 422,
    NotAuthenticated: 401,
    PermissionDenied: 403,
}
