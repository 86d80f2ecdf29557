"""The seeding helpers themselves, and the append-only history."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from citygrid.accounts.passwords import password_matches
from citygrid.accounts.roles import Role
from tests.events.seed import PASSWORD, add_case, add_category, add_user


def test_seeded_case_has_a_report_and_a_history_row(session: Session) -> None:
    reporter = add_user(session, Role.INSPECTOR)
    assert password_matches(reporter.password_hash, PASSWORD)
    case = add_case(session, category=add_category(session), reporter=reporter)
    rows = session.execute(
        text("SELECT action, to_status FROM case_transition WHERE case_id = :id"), {"id": case.id}
    ).all()
    assert [tuple(row) for row in rows] == [("report", "reported")]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE case_transition SET reason = 'rewritten' WHERE case_id = :id",
        "DELETE FROM case_transition WHERE case_id = :id",
        "TRUNCATE case_transition CASCADE",
    ],
)
def test_history_cannot_be_changed_even_with_raw_sql(session: Session, statement: str) -> None:
    case = add_case(session, category=add_category(session))
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text(statement), {"id": case.id})
    remaining = session.scalar(
        text("SELECT count(*) FROM case_transition WHERE case_id = :id"), {"id": case.id}
    )
    assert remaining == 1
