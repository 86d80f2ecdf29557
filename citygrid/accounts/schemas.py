"""What the accounts API reads and answers: users, tokens, throttled logins, audit events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from citygrid.accounts.passwords import MIN_PASSWORD_LENGTH
from citygrid.accounts.roles import Role

PASSWORD_MAX_LENGTH = 256


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=PASSWORD_MAX_LENGTH)
    role: Role
    display_name: str | None = Field(default=None, max_length=200)
    department_code: str | None = None


class UserUpdate(BaseModel):
    """An admin's change to a user; fields left out stay as they are."""

    is_active: bool | None = None
    password: str | None = Field(
        default=None, min_length=MIN_PASSWORD_LENGTH, max_length=PASSWORD_MAX_LENGTH
    )
    log_out_everywhere: bool = False  # refuse every token issued so far
    # A new role, or a department member's new department (role 'department' only).
    role: Role | None = None
    department_code: str | None = Field(default=None, max_length=32)


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=PASSWORD_MAX_LENGTH)
    new_password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=PASSWORD_MAX_LENGTH)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    department_id: int | None
    is_active: bool
    tokens_valid_after: datetime | None = None


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: Role


class ThrottledRead(BaseModel):
    detail: str
    retry_after_s: int


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    kind: str
    user_id: int | None
    username: str | None
    client_address: str | None
    method: str | None
    path: str | None
    request_id: str | None
    details: dict[str, Any]
