"""The work-list map's queries: the listed cases as points or counted per area, and the named
units of the base layer. Every query is one set-based statement with bound parameters."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CTE, JSON, ColumnElement, Select, case, cast, func, select
from sqlalchemy.orm import Session, aliased

from events.listing.service import light_column
from events.models import Case, Category
from grid.bbox import BBox
from grid.models import GridCell, GridRegion
from maps.worklist import aggregation, base_layer
from maps.worklist.aggregation import AreaLevel
from maps.worklist.base_layer import UnitLevel
from maps.worklist.schemas import (
    AreaCount,
    AreaFeature,
    BaseLayer,
    BaseLayerSummary,
    CaseFeature,
    CaseMarker,
    PointGeometry,
    UnitFeature,
    UnitOutline,
    WorklistMap,
    WorklistSummary,
)

COORDINATE_DECIMALS = 6  # about 0.1 m


def point(lon: float, lat: float) -> PointGeometry:
    return PointGeometry(
        coordinates=[round(lon, COORDINATE_DECIMALS), round(lat, COORDINATE_DECIMALS)]
    )


# The cases -------------------------------------------------------------------------------------


def points_select(where: ColumnElement[bool], limit: int) -> Select[Any]:
    """Up to `limit` matching cases with what a marker shows (in no particular order: the
    planner picks the cheapest path to them)."""
    return (
        select(
            Case.id,
            Case.number,
            Case.status,
            Case.urgency,
            light_column().label("light"),
            Category.code.label("category_code"),
            Category.name_zh.label("category_name_zh"),
            Category.name_en.label("category_name_en"),
            func.ST_X(Case.geom).label("lon"),
            func.ST_Y(Case.geom).label("lat"),
        )
        .join(Category, Category.id == Case.category_id)
        .where(where)
        .limit(limit)
    )


def light_rank() -> ColumnElement[int]:
    return case(aggregation.LIGHT_RANKS, value=light_column(), else_=aggregation.NO_LIGHT_RANK)


def counts_per_level(where: ColumnElement[bool]) -> CTE:
    """The matching cases counted per cell, community, street and district in one scan
    (GROUPING SETS), each row with the number of areas of its level and their total."""
    community, street = (aliased(GridRegion, name=name) for name in ("community", "street"))
    keys = (Case.cell_id, GridCell.community_id, community.parent_id, street.parent_id)
    grouped = (
        select(
            func.grouping(*keys).label("grouping"),
            *(key.label(f"{level}_id") for key, level in zip(keys, AreaLevel, strict=True)),
            func.count().label("cases"),
            func.max(light_rank()).label("worst"),
            func.avg(func.ST_X(Case.geom)).label("lon"),
            func.avg(func.ST_Y(Case.geom)).label("lat"),
        )
        .join(GridCell, GridCell.id == Case.cell_id)
        .join(community, community.id == GridCell.community_id)
        .join(street, street.id == community.parent_id)
        .where(where)
        .group_by(func.grouping_sets(*keys))
        .cte("grouped")
    )
    per_level = grouped.c.grouping
    return select(
        *grouped.c,
        func.count().over(partition_by=per_level).label("areas"),
        func.sum(grouped.c.cases).over(partition_by=per_level).label("total"),
    ).cte("sized")


def area_counts_select(where: ColumnElement[bool], areas_max: int) -> Select[Any]:
    """The areas of the level aggregation's policy picks, with code and name: the smallest
    GROUPING() value among the levels with at most `areas_max` areas is the finest of them."""
    sized = counts_per_level(where)
    coarsest = aggregation.grouping_value(aggregation.LEVELS[-1])
    chosen = select(func.coalesce(func.min(sized.c.grouping), coarsest)).where(
        sized.c.areas <= areas_max
    )
    unit = aliased(GridRegion, name="unit")
    region_id = func.coalesce(sized.c.community_id, sized.c.street_id, sized.c.district_id)
    return (
        select(
            *(sized.c[name] for name in ("grouping", "cases", "worst", "lon", "lat", "total")),
            func.coalesce(GridCell.code, unit.code).label("code"),
            func.coalesce(GridCell.name, unit.name).label("name"),
        )
        .outerjoin(GridCell, GridCell.id == sized.c.cell_id)
        .outerjoin(unit, unit.id == region_id)
        .where(sized.c.grouping == chosen.scalar_subquery())
        .order_by(sized.c.cases.desc(), "code")
        .limit(areas_max)
    )


def worklist_map(session: Session, where: ColumnElement[bool], *, points_max: int) -> WorklistMap:
    """The cases matching `where` as points when at most `points_max`, else counted per area."""
    rows = session.execute(points_select(where, points_max + 1)).all()
    if len(rows) <= points_max:
        features = [
            CaseFeature(
                geometry=point(row.lon, row.lat),
                properties=CaseMarker.model_validate(row._asdict()),
            )
            for row in rows
        ]
        summary = WorklistSummary(total=len(rows), grouped_by=None, points_max=points_max)
        return WorklistMap(properties=summary, features=features)
    return area_counts(session, where, points_max=points_max)


def area_counts(session: Session, where: ColumnElement[bool], *, points_max: int) -> WorklistMap:
    areas_max = max(points_max, 1)
    rows = session.execute(area_counts_select(where, areas_max)).all()
    level = aggregation.level_of_grouping(rows[0].grouping) if rows else AreaLevel.DISTRICT
    features = [
        AreaFeature(
            geometry=point(row.lon, row.lat),
            properties=AreaCount(
                level=level,
                code=row.code,
                name=row.name,
                cases=row.cases,
                light=aggregation.light_of_rank(row.worst),
            ),
        )
        for row in rows
    ]
    total = int(rows[0].total) if rows else 0
    summary = WorklistSummary(total=total, grouped_by=level, points_max=points_max)
    return WorklistMap(properties=summary, features=features)


# The base layer --------------------------------------------------------------------------------


def envelope_of(bbox: BBox) -> ColumnElement[Any]:
    return func.ST_MakeEnvelope(*base_layer.on_globe(bbox), 4326)


def label_point(geom: Any, boxes: list[ColumnElement[Any]]) -> ColumnElement[Any]:
    """A point inside the unit's part in the first box it meets (a street that fills the view
    is named in the view, not at its far-away middle), else inside the whole unit."""
    whole = func.ST_PointOnSurface(geom)
    if not boxes:
        return whole
    parts = [
        (func.ST_Intersects(geom, box), func.ST_PointOnSurface(func.ST_Intersection(geom, box)))
        for box in boxes
    ]
    return case(*parts, else_=whole)


def outlines_select(
    level: UnitLevel, bbox: BBox | None, *, view: BBox | None, zoom: int, limit: int
) -> Select[Any]:
    """Up to `limit` units of `level` meeting the box, simplified to about a pixel at `zoom`,
    each with a point for its name, in the view when it shows there."""
    table: Any = GridCell if level is UnitLevel.CELL else GridRegion
    geometry = func.ST_SimplifyPreserveTopology(table.geom, base_layer.pixel_deg(zoom))
    # A cell is small: named at its own middle, which stays put as the map moves.
    boxes = [envelope_of(box) for box in (view, bbox) if box is not None and table is GridRegion]
    label_at = label_point(table.geom, boxes)
    statement = select(
        table.code,
        table.name,
        cast(func.ST_AsGeoJSON(geometry, COORDINATE_DECIMALS), JSON).label("geometry"),
        func.ST_X(label_at).label("label_lon"),
        func.ST_Y(label_at).label("label_lat"),
    )
    if table is GridRegion:
        statement = statement.where(GridRegion.level == level.value)
    if bbox is not None:
        statement = statement.where(func.ST_Intersects(table.geom, envelope_of(bbox)))
    return statement.order_by(table.code).limit(limit)


def unit_outlines(
    session: Session, level: UnitLevel, bbox: BBox | None, *, view: BBox | None, zoom: int
) -> list[UnitFeature] | None:
    """The level's units in the box as features; None when more than the level's cap."""
    cap = base_layer.LEVEL_RULES[level].cap
    statement = outlines_select(level, bbox, view=view, zoom=zoom, limit=cap + 1)
    rows = session.execute(statement).all()
    if len(rows) > cap:
        return None
    return [
        UnitFeature(
            geometry=row.geometry,
            properties=UnitOutline(
                level=level,
                code=row.code,
                name=row.name,
                label=[
                    round(row.label_lon, COORDINATE_DECIMALS),
                    round(row.label_lat, COORDINATE_DECIMALS),
                ],
            ),
        )
        for row in rows
    ]


def grid_extent(session: Session) -> list[float] | None:
    """[west, south, east, north] of the districts, from their bounding boxes (a few rows)."""
    box = (
        select(func.ST_Extent(GridRegion.geom).label("box"))
        .where(GridRegion.level == UnitLevel.DISTRICT.value)
        .subquery()
    )
    corners = (func.ST_XMin, func.ST_YMin, func.ST_XMax, func.ST_YMax)
    row = session.execute(select(*(corner(box.c.box) for corner in corners))).one()
    if row[0] is None:
        return None
    return [round(value, COORDINATE_DECIMALS) for value in row]


def base_layer_of(
    session: Session,
    bbox: BBox | None,
    *,
    view: BBox | None,
    zoom: int,
    tiles_url: str | None,
) -> BaseLayer:
    """The named outlines in the box at `zoom`, names placed in the view; nothing but the tile
    URL when tiles are set."""
    levels = [] if tiles_url else base_layer.levels_drawn(zoom)
    features: list[UnitFeature] = []
    omitted: list[UnitLevel] = []
    for level in levels:
        outlines = unit_outlines(session, level, bbox, view=view, zoom=zoom)
        if outlines is None:
            omitted.append(level)
        else:
            features.extend(outlines)
    summary = BaseLayerSummary(
        tiles_url=tiles_url,
        zoom=zoom,
        levels=levels,
        omitted=omitted,
        label_min_zoom=base_layer.label_min_zooms(),
        extent=grid_extent(session),
    )
    return BaseLayer(properties=summary, features=features)
