"""A few realistic service attributes (the questions a category asks), loaded idempotently.

Call `seed_service_attributes(session)` after the taxonomy is loaded (`citygrid taxonomy load`,
the demo load); categories missing from the database are skipped.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from events.models import Category
from events.open311.models import ServiceAttribute

COVER_STATE = {
    "code": "cover_state",
    "datatype": "singlevaluelist",
    "required": True,
    "description": "井盖状态 State of the cover",
    "values": [
        {"key": "missing", "name": "井盖缺失 missing"},
        {"key": "broken", "name": "井盖破损 broken"},
        {"key": "displaced", "name": "井盖移位 displaced"},
        {"key": "noisy", "name": "井盖响动 rattles"},
    ],
}
HAZARD_MARKED = {
    "code": "hazard_marked",
    "datatype": "singlevaluelist",
    "required": False,
    "description": "现场是否已设警示 Is the spot already marked off?",
    "values": [{"key": "yes", "name": "是 yes"}, {"key": "no", "name": "否 no"}],
}
BAGS = {
    "code": "bag_count",
    "datatype": "number",
    "required": False,
    "datatype_description": "大约袋数 roughly how many bags",
    "description": "垃圾袋数 Number of bags of garbage",
}
WASTE_KINDS = {
    "code": "waste_kinds",
    "datatype": "multivaluelist",
    "required": False,
    "description": "垃圾种类 Kinds of waste",
    "values": [
        {"key": "household", "name": "生活垃圾 household"},
        {"key": "construction", "name": "建筑垃圾 construction"},
        {"key": "bulky", "name": "大件垃圾 bulky items"},
    ],
}
NOISE_SINCE = {
    "code": "noise_since",
    "datatype": "datetime",
    "required": False,
    "datatype_description": "ISO 8601, e.g. 2026-11-26T22:00:00+08:00",
    "description": "噪声开始时间 When did the noise start?",
}
COLLAPSE_SIZE = {
    "code": "hole_width_m",
    "datatype": "number",
    "required": True,
    "datatype_description": "米 metres",
    "description": "塌陷宽度 Width of the hole",
}
NOTE = {
    "code": "landmark",
    "datatype": "string",
    "required": False,
    "description": "附近标志物 A landmark nearby",
}
# (kind, code) of GB/T 30428.2-2013 → its questions, in order.
ATTRIBUTES_OF_SERVICE: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("component", "0101"): [COVER_STATE, HAZARD_MARKED],
    ("component", "0102"): [COVER_STATE, HAZARD_MARKED],
    ("event", "0102"): [BAGS, WASTE_KINDS, NOTE],
    ("event", "0103"): [BAGS, WASTE_KINDS],
    ("event", "0301"): [NOISE_SINCE, NOTE],
    ("event", "0401"): [COLLAPSE_SIZE, HAZARD_MARKED],
}
STANDARD = "GB/T 30428.2-2013"
DEFAULTS: dict[str, Any] = {"datatype_description": None, "values": [], "variable": True}


def seed_service_attributes(session: Session) -> int:
    """The number of attributes added (0 when all were there already); flushed, not committed."""
    ids = {
        (kind, code): category_id
        for category_id, kind, code in session.execute(
            select(Category.id, Category.kind, Category.code).where(
                Category.standard == STANDARD, Category.level == "minor"
            )
        )
    }
    rows = [
        {"category_id": ids[service], "position": position, **DEFAULTS, **attribute}
        for service, attributes in ATTRIBUTES_OF_SERVICE.items()
        if service in ids
        for position, attribute in enumerate(attributes, start=1)
    ]
    if not rows:
        return 0
    statement = insert(ServiceAttribute).values(rows).on_conflict_do_nothing()
    added = session.execute(statement.returning(ServiceAttribute.id)).all()
    session.flush()
    return len(added)
