"""The full demo (Dongcheng, 20,000 cases) served over a committed throwaway database, with a
signed-in user per role whose password is the tests' PASSWORD and a member for every
department: what the browser tests of a real working day run on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department, User
from citygrid.accounts.roles import Role
from citygrid.demo import city
from tests.events.seed import PASSWORD_HASH, add_user
from tests.web.browser_support import Site, committed_database, live_server

# The demo's own users (their passwords become PASSWORD).
DEMO_USERS = ("inspector", "citizen", "dispatcher", "department", "manager", "admin")


@dataclass(frozen=True)
class DemoPeople:
    """Usernames to sign in with: the demo's users, and a member of each department by code."""

    members: dict[str, str]


def department_member(department_code: str) -> str:
    return f"member-{department_code}".lower()[:60]


def seed_demo(session: Session) -> DemoPeople:
    session.execute(
        update(User).where(User.username.in_(DEMO_USERS)).values(password_hash=PASSWORD_HASH)
    )
    members = {}
    for department in session.scalars(select(Department).where(Department.is_active)):
        username = department_member(department.code)
        add_user(session, Role.DEPARTMENT, username=username, department=department)
        members[department.code] = username
    return DemoPeople(members)


@contextmanager
def demo_site(server_url: str, media_dir: Path) -> Iterator[Site[DemoPeople]]:
    """`citygrid demo load` into a committed database, then the app serving it."""
    with committed_database(server_url) as engine:
        with pytest.MonkeyPatch.context() as patch:

            @contextmanager
            def committed_session() -> Iterator[Session]:
                with Session(engine, expire_on_commit=False) as session:
                    yield session

            patch.setattr("citygrid.db.open_session", committed_session)
            city.load()
        with Session(engine, expire_on_commit=False) as session:
            people = seed_demo(session)
            session.commit()
        with live_server(engine, media_dir) as server:
            yield Site(engine, server, people)
