"""Who may do what: the roles and the caller a token speaks for (pure: no FastAPI, no SQL)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    INSPECTOR = "inspector"  # 监督员
    CITIZEN = "citizen"
    DISPATCHER = "dispatcher"  # 派遣员
    DEPARTMENT = "department"  # member of one department
    MANAGER = "manager"
    ADMIN = "admin"


ALL_ROLES = frozenset(Role)
STAFF_ROLES = frozenset(ALL_ROLES - {Role.CITIZEN})
# Who may answer for a department (be told when its cases run overdue).
SUPERVISOR_ROLES = frozenset({Role.MANAGER, Role.DEPARTMENT})


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the token says."""

    user_id: int
    username: str
    role: Role
    department_id: int | None
