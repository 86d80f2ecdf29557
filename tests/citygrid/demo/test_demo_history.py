"""The demo history on a small part of Dongcheng: the same `now` gives the same history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.demo import rules as demo_rules
from citygrid.demo.history import load_demo_history
from tests.citygrid.checksums import add_demo_staff, load_small_grid

# Generates a few hundred cells of the demo grid.
pytestmark = pytest.mark.heavy

NOW = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)  # a Tuesday, 09:00 in Beijing
# What a history is, without the ids and numbers that sequences hand out.
HISTORY = """
SELECT md5(string_agg(r, ',' ORDER BY r)) FROM (
    SELECT concat_ws('|', c.status, c.category_id, c.cell_id, c.department_id, c.created_at,
        c.filed_at, c.due_at, c.handled_at, c.closed_at, ST_AsText(c.geom), c.description,
        c.component_id) AS r
    FROM event_case c
    UNION ALL
    SELECT concat_ws('|', t.action, t.to_status, t.actor_role, t.reason, t.details, t.at)
    FROM case_transition t
    UNION ALL
    SELECT concat_ws('|', a.department_id, a.dispatched_at, a.due_at, a.handled_at, a.ended_at)
    FROM case_assignment a
) AS rows
"""


def test_the_same_now_gives_the_same_history_and_a_second_load_adds_nothing(
    session: Session,
) -> None:
    load_small_grid(session)
    actors = add_demo_staff(session)
    demo_rules.load_demo_rules(session, now=NOW)
    digests = []
    for _ in range(2):
        with session.begin_nested() as attempt:
            assert load_demo_history(session, actors, cases=400, now=NOW) > 100
            assert load_demo_history(session, actors, cases=400, now=NOW) == 0
            digests.append(session.scalar(text(HISTORY)))
            attempt.rollback()
    assert digests[0] is not None and digests[0] == digests[1]
