"""`citygrid demo load`: the demo city (Dongcheng District) and one demo user per role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from citygrid import db
from citygrid.accounts.models import Department, User
from citygrid.accounts.roles import Role
from citygrid.accounts.schemas import UserCreate
from citygrid.accounts.service import create_user
from citygrid.console import console, progress
from citygrid.demo import rules as demo_rules
from citygrid.demo.components import load_demo_components
from citygrid.demo.history import DemoActors, load_demo_history
from citygrid.demo.hotline import load_demo_hotline
from citygrid.demo.places import load_demo_places
from citygrid.demo.sensing import load_demo_devices
from citygrid.settings import get_settings
from dispatch.assignments import service as assignments
from dispatch.queue import service as queue_service
from events import taxonomy
from events.categories import service as categories
from grid import service as grid_service
from grid.codes import GridLevel
from grid.generate import GridLayout, generate_grid
from grid.imports import ImportOptions, read_features

DEMO_DATA = Path(__file__).parent / "data"
DEMO_DISTRICT_CODE = "110101"
DEMO_DISTRICT_NAME = "东城区"
DEMO_LAYOUT = GridLayout(cell_size_m=100.0, community_size=5, street_size=4)
# (code, name, type from the taxonomy's department_types); the demo department user works in
# the first. Categories route by type; the street office of each street (citygrid.demo.rules
# adds them) takes what no specialist covers.
DEMO_DEPARTMENTS = (
    ("110101-HW", "东城区环境卫生服务中心", "sanitation"),
    ("110101-YL", "东城区园林绿化局", "landscaping"),
    ("110101-SZ", "东城区市政设施管理处", "municipal_facilities"),
    ("110101-CG", "东城区城市管理综合执法局", "urban_mgmt_enforcement"),
    ("110101-GS", "北京自来水集团东城分公司", "water_supply_enterprise"),
    ("110101-PS", "北京排水集团东城分公司", "drainage_authority"),
    ("110101-LD", "东城区路灯管理所", "street_lighting_office"),
    # The 12345 hotline's unit of last resort (兜底): tickets no unit accepts end here.
    ("110101-ZF", "东城区人民政府", "district_government"),
)
DEMO_DEPARTMENT_CODE = DEMO_DEPARTMENTS[0][0]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: Role
    display_name: str


DEMO_LOGINS = [
    DemoLogin("inspector", "inspector-demo-dongcheng", Role.INSPECTOR, "张监督员 (inspector)"),
    DemoLogin("citizen", "citizen-demo-dongcheng", Role.CITIZEN, "市民李女士 (citizen)"),
    DemoLogin("dispatcher", "dispatcher-demo-dongcheng", Role.DISPATCHER, "王派遣员 (dispatcher)"),
    DemoLogin(
        "department", "department-demo-dongcheng", Role.DEPARTMENT, "环卫中心刘工 (department)"
    ),
    DemoLogin("manager", "manager-demo-dongcheng", Role.MANAGER, "赵主任 (manager)"),
    DemoLogin("admin", "admin-demo-dongcheng", Role.ADMIN, "系统管理员 (admin)"),
]

demo_app = typer.Typer(help="The demo city and demo users.", no_args_is_help=True)


def load_demo_grid(session: Session) -> int:
    """Generate Dongcheng's ~100 m cells unless the district is there already; cells written."""
    if grid_service.district_exists(session, DEMO_DISTRICT_CODE):
        return 0
    boundary_features = read_features(DEMO_DATA / "110101.geojson", crs="GCJ-02")
    boundary = boundary_features[0].geometry
    assert boundary is not None
    generated = generate_grid(
        boundary,
        district_code=DEMO_DISTRICT_CODE,
        district_name=DEMO_DISTRICT_NAME,
        layout=DEMO_LAYOUT,
    )
    settings = get_settings()
    options = ImportOptions(
        overlap_tolerance_m2=settings.overlap_tolerance_m2,
        gap_tolerance_m2=settings.gap_tolerance_m2,
    )
    return grid_service.write_generated_grid(session, generated, options)[GridLevel.CELL]


def load_demo_users(session: Session) -> int:
    """Create the demo departments and one user per role, skipping those that exist; users added."""
    known = set(session.scalars(select(Department.code)))
    for code, name, kind in DEMO_DEPARTMENTS:
        if code not in known:
            session.add(Department(code=code, name=name, kind=kind))
    session.flush()
    existing = set(session.scalars(select(User.username)))
    added = 0
    for login in DEMO_LOGINS:
        if login.username in existing:
            continue
        department = DEMO_DEPARTMENT_CODE if login.role is Role.DEPARTMENT else None
        create_user(
            session,
            UserCreate(
                username=login.username,
                password=login.password,
                role=login.role,
                display_name=login.display_name,
                department_code=department,
            ),
        )
        added += 1
    return added


def make_manager_supervise(session: Session) -> None:
    """The demo manager answers for every demo department (escalations reach someone)."""
    session.flush()
    session.execute(
        text(
            "INSERT INTO department_supervisor (department_id, user_id)"
            " SELECT d.id, u.id FROM department d, app_user u"
            " WHERE u.username = 'manager' AND d.code LIKE :prefix"
            " ON CONFLICT DO NOTHING"
        ),
        {"prefix": f"{DEMO_DISTRICT_CODE}-%"},
    )


def demo_actors(session: Session) -> DemoActors:
    """The demo users who report, dispatch, handle and verify the demo history."""
    ids = {
        username: user_id for username, user_id in session.execute(select(User.username, User.id))
    }
    return DemoActors(
        inspector_id=ids["inspector"],
        citizen_id=ids["citizen"],
        dispatcher_id=ids["dispatcher"],
        department_user_id=ids["department"],
    )


@demo_app.command("load")
def load() -> None:
    """Load the demo city and demo users (a second run changes nothing), then print the logins."""
    steps = 10
    with db.open_session() as session, progress("loading the demo city", steps) as show:
        show("categories", 0, steps)
        categories.load_taxonomy(session, taxonomy.read_taxonomy())  # the reports need categories
        show("grid", 1, steps)
        cells = load_demo_grid(session)
        show("users and routing rules", 2, steps)
        users = load_demo_users(session)
        rule_set = demo_rules.load_demo_rules(session, now=datetime.now(UTC))
        make_manager_supervise(session)
        show("component inventory", 3, steps)
        # The inventory before the history: component cases stand at their components.
        load_demo_components(
            session,
            district_code=DEMO_DISTRICT_CODE,
            default_radius_m=get_settings().component_radius_m,
        )
        show("90 days of cases", 4, steps)
        cases = load_demo_history(session, demo_actors(session))
        if cases or rule_set:  # new cases, or a city from before dispatch: route and time them
            show("routing and deadlines", 5, steps)
            settings = get_settings()
            assignments.backfill_assignments(
                session, default_calendar_code=settings.default_calendar_code
            )
            queue_service.reroute_waiting(session, None, now=datetime.now(UTC))
        show("address gazetteer", 6, steps)
        places = load_demo_places(session)
        show("sensing devices", 7, steps)
        devices = load_demo_devices(session)
        show("a month of hotline tickets", 8, steps)
        tickets = load_demo_hotline(session)
        show("saving", 9, steps)
        session.commit()
    console.print(
        f"demo city: {DEMO_DISTRICT_NAME} ({DEMO_DISTRICT_CODE}), {cells} cells added"
        if cells
        else "demo city already loaded"
    )
    console.print(f"demo users: {users} added" if users else "demo users already there")
    console.print(
        f"demo routing rules: version {rule_set.version}"
        if rule_set
        else "routing rules already there"
    )
    console.print(
        f"demo history: {cases} cases over the last 90 days"
        if cases
        else "demo history already loaded"
    )
    for added, what in ((places, "addresses"), (devices, "devices"), (tickets, "hotline tickets")):
        console.print(f"demo {what}: {added} added" if added else f"demo {what} already there")
    table = Table(title="Demo logins (POST /api/auth/token, or the Authorize button at /docs)")
    for column in ("role", "username", "password"):
        table.add_column(column)
    for login in DEMO_LOGINS:
        table.add_row(login.role.value, login.username, login.password)
    console.print(table)
