"""Users with roles: the table, the service functions and the routes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from citygrid.auth import (
    ALL_ROLES,
    PUBLIC,
    Allow,
    Principal,
    Role,
    RoleCheckedRoute,
    hash_password,
    issue_token,
    password_matches,
)
from citygrid.db import Base, SessionDep
from citygrid.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from citygrid.settings import SettingsDep
from dispatch.models import Department

MIN_PASSWORD_LENGTH = 8
ROLE_VALUES = ", ".join(f"'{role.value}'" for role in Role)


class User(Base):
    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(f"role IN ({ROLE_VALUES})", name="role_known"),
        CheckConstraint(
            "(role = 'department') = (department_id IS NOT NULL)", name="department_member"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # Tokens issued before this instant are refused (password change, "log out everywhere").
    tokens_valid_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def principal(self) -> Principal:
        return Principal(self.id, self.username, Role(self.role), self.department_id)


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=256)
    role: Role
    display_name: str | None = Field(default=None, max_length=200)
    department_code: str | None = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    department_id: int | None
    is_active: bool


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: Role


def create_user(session: Session, user_in: UserCreate) -> User:
    """Add a user; a department member must name an existing department, nobody else may."""
    if session.scalar(select(User.id).where(User.username == user_in.username)) is not None:
        raise Conflict(f"username {user_in.username!r} is taken", field="username")
    department_id = _department_for(session, user_in.role, user_in.department_code)
    user = User(
        username=user_in.username,
        display_name=user_in.display_name or user_in.username,
        password_hash=hash_password(user_in.password),
        role=user_in.role.value,
        department_id=department_id,
    )
    session.add(user)
    session.flush()
    return user


def _department_for(session: Session, role: Role, department_code: str | None) -> int | None:
    if role is not Role.DEPARTMENT:
        if department_code is not None:
            raise InvalidInput(
                "only role 'department' belongs to a department", field="department_code"
            )
        return None
    if department_code is None:
        raise InvalidInput("role 'department' needs a department_code", field="department_code")
    department_id = session.scalar(select(Department.id).where(Department.code == department_code))
    if department_id is None:
        raise NotFound(f"no department with code {department_code!r}", field="department_code")
    return department_id


def authenticate(session: Session, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active or not password_matches(user.password_hash, password):
        raise NotAuthenticated("wrong username or password")
    return user


router = APIRouter(tags=["users"], route_class=RoleCheckedRoute)


@router.post("/api/auth/token", dependencies=[Depends(PUBLIC)])
def log_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenRead:
    """OAuth2 password flow: a signed token that expires after `token_ttl_minutes`."""
    user = authenticate(session, form.username, form.password)
    ttl = timedelta(minutes=settings.token_ttl_minutes)
    token = issue_token(user.principal(), secret=settings.secret_key, ttl=ttl)
    return TokenRead(access_token=token, expires_in=int(ttl.total_seconds()), role=Role(user.role))


@router.get("/api/users/me")
def who_am_i(
    principal: Annotated[Principal, Depends(Allow(*ALL_ROLES))], session: SessionDep
) -> UserRead:
    user = session.get(User, principal.user_id)
    if user is None:
        raise NotFound("the user of this token no longer exists")
    return UserRead.model_validate(user)


@router.get("/api/users", dependencies=[Depends(Allow(Role.ADMIN))])
def list_users(session: SessionDep) -> list[UserRead]:
    users = session.scalars(select(User).order_by(User.username))
    return [UserRead.model_validate(user) for user in users]


@router.post("/api/users", status_code=201, dependencies=[Depends(Allow(Role.ADMIN))])
def add_user(user_in: UserCreate, session: SessionDep) -> UserRead:
    user = create_user(session, user_in)
    session.commit()
    return UserRead.model_validate(user)
