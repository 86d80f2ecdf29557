"""Seeds of the sensing tests: the block of four cells, a sewage cover with its maintainer,
devices on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citygrid.accounts.models import Department
from components.models import Component
from events.models import Category
from sensing.devices import service as devices
from sensing.messages import DeviceMessage, MessageKind
from tests.events.seed import add_department
from tests.grid.places import CELL_NW, centre_of, seed_block

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
COVER_CODE = "1101010102000001"


def seed_cover(session: Session) -> tuple[Component, Department]:
    """The block, and a sewage manhole cover (0102) in the NW cell maintained by 'DRAIN'."""
    seed_block(session)
    maintainer = add_department(session, code="DRAIN", kind="drainage")
    category = session.scalar(
        select(Category).where(Category.kind == "component", Category.code == "0102")
    )
    assert category is not None
    lon, lat = centre_of(CELL_NW)
    cover = Component(
        code=COVER_CODE,
        category_id=category.id,
        geom=func.ST_GeomFromText(f"POINT({lon} {lat})", 4326),
        name="多福巷污水井盖",
        maintainer_department_id=maintainer.id,
    )
    session.add(cover)
    session.flush()
    return cover, maintainer


def add_device(
    session: Session, device_id: str, device_type: str = "manhole_tilt", **extra: object
) -> None:
    lon, lat = centre_of(CELL_NW)
    spec = devices.DeviceSpec(id=device_id, device_type=device_type, lon=lon, lat=lat, **extra)  # type: ignore[arg-type]
    devices.create_device(session, spec, snap_m=50.0)


def message(
    device_id: str,
    kind: MessageKind,
    message_id: str,
    seconds: float,
    values: dict[str, float] | None = None,
    **body: object,
) -> DeviceMessage:
    return DeviceMessage(
        device_id=device_id,
        kind=kind,
        message_id=message_id,
        device_time=NOW + timedelta(seconds=seconds),
        values=values or {},
        body=body,
    )
