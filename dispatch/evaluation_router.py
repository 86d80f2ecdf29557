"""Performance evaluation (绩效评价) of departments, areas and inspectors."""

from __future__ import annotations

from fastapi import APIRouter

from citygrid.auth import RoleCheckedRoute

router = APIRouter(tags=["evaluation"], route_class=RoleCheckedRoute)
