"""Emerging hot spots as JSON: `GET /api/maps/emerging` (the map's numbers for programs)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Role
from citygrid.db import SessionDep
from maps.emerging import service
from maps.emerging.query import EmergingQueryDep

router = APIRouter(prefix="/api/maps", tags=["maps"], route_class=RoleCheckedRoute)


@router.get("/emerging", dependencies=[Depends(Allow(Role.MANAGER, Role.DISPATCHER, Role.ADMIN))])
def emerging_json(query: EmergingQueryDep, session: SessionDep) -> dict[str, Any]:
    """Every place's emerging hot spot category, trend and counts, and the periods' bounds."""
    report = service.emerging_hot_spots(session, query.filters, query.options)
    options = report.options
    return {
        "unit": options.unit.value,
        "period": options.period.value,
        "periods": [start.isoformat() for start in options.bounds[:-1]],
        "period_to": options.bounds[-1].isoformat(),
        "confidence": options.confidence,
        "fdr": options.fdr,
        "weights": report.weights_kind,
        "message": report.message,
        "counts": {category.value: count for category, count in report.counts().items()},
        "locations": [
            {**asdict(location), "category": location.category.value}
            for location in report.locations
        ],
        "timings_s": report.timings_s,
    }
