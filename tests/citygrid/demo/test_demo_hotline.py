"""The demo's month of hotline tickets: the mix, every unit leading some, rates that spread,
work still open today, and a second load adding nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.demo.hotline import DEMO_PREFIX, TICKETS, load_demo_hotline
from dispatch.hotline_rates import service as rates
from dispatch.hotline_rates.rates import RankingLevel, Weights
from grid.places.imports import PlaceRow, write_places
from tests.events.seed import add_department
from tests.grid.places import CELL_NE, CELL_SW, centre_of, seed_block

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
BEIJING = ZoneInfo("Asia/Shanghai")


def count(session: Session, where: str) -> int:
    sql = f"SELECT count(*) FROM hotline_ticket WHERE ticket_number LIKE :p || '%' AND {where}"
    return int(session.scalar(text(sql), {"p": DEMO_PREFIX, "now": NOW}) or 0)


def test_a_month_of_tickets_with_spread_rates(session: Session) -> None:
    seed_block(session)
    for code in ("110101-HW", "110101-YL", "110101-SZ", "110101-LD", "110101-JD-110101001"):
        add_department(session, code=code, kind="street_office" if "JD" in code else "sanitation")

    assert load_demo_hotline(session, now=NOW) == TICKETS
    assert load_demo_hotline(session, now=NOW) == 0

    assert count(session, "ticket_type IN ('consultation', 'praise')") > TICKETS // 5
    assert count(session, "status = 'recorded'") == count(
        session, "ticket_type IN ('consultation', 'praise')"
    )
    for status in ("closed", "replied", "rework", "signed", "to_locate"):
        assert count(session, f"status = '{status}'") > 0, status
    assert count(session, "unreasonable") > 0
    assert count(session, "received_at > :now") == 0
    assert count(session, "received_at < :now - interval '32 days'") == 0
    leads = "SELECT count(DISTINCT lead_department_id) FROM hotline_ticket"
    assert session.scalar(text(leads)) == 5
    gave_up = session.scalar(text("SELECT count(*) FROM hotline_callback WHERE gave_up"))
    second_rounds = session.scalar(text("SELECT count(*) FROM hotline_callback WHERE round = 2"))
    assert gave_up and second_rounds

    month = rates.month_period(date(2026, 11, 1), BEIJING)
    ranked = rates.ranking(
        session, RankingLevel.UNIT, month, now=NOW, zone=BEIJING, weights=Weights()
    )
    scores = [row.rates.score for row in ranked.rows if row.rates.score is not None]
    assert len(scores) == 5
    assert max(scores) - min(scores) > 3  # the units differ


def test_tickets_stand_at_the_gazetteers_addresses_when_it_is_loaded(session: Session) -> None:
    seed_block(session)
    add_department(session, code="110101-HW")
    rows = [
        PlaceRow(0, "北京市东城区多福巷5号院", "address", *centre_of(CELL_NE)),
        PlaceRow(1, "北京市东城区多福巷7号", "address", *centre_of(CELL_SW)),
    ]
    write_places(session, rows, district_code="110101", source="demo")

    load_demo_hotline(session, now=NOW)

    located = "location_status = 'located'"
    assert count(session, located) > 0
    assert (
        count(session, f"{located} AND (place_id IS NULL OR address_text NOT LIKE '%多福巷%')") == 0
    )
