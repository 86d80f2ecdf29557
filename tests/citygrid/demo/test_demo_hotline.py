"""The demo's month of hotline tickets: the mix, every unit leading some, rates that spread,
work still open today, and a second load adding nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.demo.hotline import DEMO_PREFIX, TICKETS, load_demo_hotline
from dispatch.hotline_rates import service as rates
from dispatch.hotline_rates.rates import RankingLevel, Weights
from grid.places.imports import PlaceRow, write_places
from tests.events.seed import add_department, add_user
from tests.grid.places import CELL_NE, CELL_SW, centre_of, seed_block

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
BEIJING = ZoneInfo("Asia/Shanghai")


def count(session: Session, where: str) -> int:
    sql = f"SELECT count(*) FROM hotline_ticket WHERE ticket_number LIKE :p || '%' AND {where}"
    return int(session.scalar(text(sql), {"p": DEMO_PREFIX, "now": NOW}) or 0)


def test_a_month_of_tickets_with_spread_rates(session: Session) -> None:
    seed_block(session)
    for code, kind in (
        ("110101-HW", "sanitation"),
        ("110101-YL", "landscaping"),
        ("110101-SZ", "municipal_facilities"),
        ("110101-LD", "street_lighting_office"),
        ("110101-JD-110101001", "street_office"),
    ):
        add_department(session, code=code, kind=kind)
    add_user(session, Role.DISPATCHER)

    # Half the demo's month keeps the test short (the demo test loads all of it).
    half = TICKETS // 2
    assert load_demo_hotline(session, now=NOW, tickets=half) == half
    assert load_demo_hotline(session, now=NOW) == 0

    assert count(session, "ticket_type IN ('consultation', 'praise')") > half // 5
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
    # Every located ticket is a case, first sent where the category of what the caller asked
    # belongs (this city has no enforcement bureau: the street office takes 私搭乱建).
    assert count(session, "case_id IS NOT NULL") == count(session, "location_status = 'located'")
    first_units: dict[str, list[str]] = dict(
        session.execute(
            text(
                "SELECT t.content, array_agg(DISTINCT d.code) FROM hotline_ticket t"
                " JOIN LATERAL (SELECT a.department_id FROM case_assignment a"
                "   WHERE a.case_id = t.case_id ORDER BY a.dispatched_at LIMIT 1) a ON true"
                " JOIN department d ON d.id = a.department_id GROUP BY 1"
            )
        ).all()
    )
    assert first_units["胡同里垃圾堆积多日无人清运"] == ["110101-HW"]
    assert first_units["楼前大树枝干快断了，担心砸人"] == ["110101-YL"]
    assert first_units["有人在院内私搭乱建"] == ["110101-JD-110101001"]
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

    load_demo_hotline(session, now=NOW, tickets=600)

    located = "location_status = 'located'"
    assert count(session, located) > 0
    assert (
        count(session, f"{located} AND (place_id IS NULL OR address_text NOT LIKE '%多福巷%')") == 0
    )
    # One waiting to be located said its address vaguely: the nearest addresses are its
    # candidates, each below the matcher's threshold.
    waiting = session.execute(
        text(
            "SELECT address_text, candidates FROM hotline_ticket"
            " WHERE status = 'to_locate' ORDER BY id LIMIT 1"
        )
    ).one()
    assert waiting.address_text.endswith("附近") and "号" not in waiting.address_text
    assert [c["label"] for c in waiting.candidates] in (
        ["北京市东城区多福巷5号院", "北京市东城区多福巷7号"],
        ["北京市东城区多福巷7号", "北京市东城区多福巷5号院"],
    )
    assert all(c["confidence"] < 0.6 for c in waiting.candidates)
    # Their cases stand there too, in the place's cell.
    misplaced = (
        "SELECT count(*) FROM hotline_ticket t JOIN event_case c ON c.id = t.case_id"
        " JOIN place p ON p.id = t.place_id"
        " WHERE c.cell_id <> p.cell_id OR NOT ST_DWithin(c.geom, p.geom, 1e-9)"
    )
    assert count(session, "case_id IS NOT NULL") > 0
    assert session.scalar(text(misplaced)) == 0
