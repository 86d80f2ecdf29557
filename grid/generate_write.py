"""Writing a generated grid: the district through the import checks, then band by band.

The district is imported like any file's (its code must be new and it must not overlap another
district). Its streets, communities and cells are made inside it and tile it by construction,
so they skip the import's pairwise checks: each level of each band is COPYed into a temporary
table, with its parents' ids, and moved into grid_region or grid_cell by one set-based INSERT …
SELECT (areas measured on the spheroid by PostGIS; the regions' new ids come back for the level
below), so memory is bounded by a band and the write is linear in the number of cells.
Services flush and never commit: the caller commits once.

With `overlap=True` the next band is generated on a thread while PostgreSQL writes the last one
(shapely and pyproj release the GIL), which roughly hides the smaller of the two costs.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from grid.codes import GridLevel
from grid.generate import GeneratedGrid, GridBand, GridPlan, UnitBatch
from grid.import_toolkit import ProgressCallback, ignore_progress
from grid.imports import ImportOptions, UnitFeature, import_units
from grid.revision import record_grid_change

# One level of one band at a time, parents already resolved to ids: no join for the planner to
# get wrong (statistics of a grid_region that grows inside this very transaction are stale).
CREATE_STAGING = """
    CREATE TEMP TABLE generated_unit (
        code text NOT NULL,
        name text NOT NULL,
        parent_id integer NOT NULL,
        geom geometry(Geometry, 4326) NOT NULL
    ) ON COMMIT DROP
"""
# Binary: the geometries go as EWKB bytes (geometry's binary input), not as hex text.
COPY_STAGING = "COPY generated_unit (code, name, parent_id, geom) FROM STDIN (FORMAT BINARY)"
COPY_TYPES = ("text", "text", "int4", "bytea")
INSERT_REGIONS = text(
    """
    INSERT INTO grid_region (level, code, name, parent_id, geom, area_m2)
    SELECT :level, code, name, parent_id, ST_Multi(geom), ST_Area(geom::geography)
    FROM generated_unit ORDER BY code
    RETURNING id, code
    """
)
INSERT_CELLS = text(
    """
    INSERT INTO grid_cell (code, name, community_id, geom, area_m2)
    SELECT code, name, parent_id, ST_Multi(geom), ST_Area(geom::geography)
    FROM generated_unit ORDER BY code
    """
)
DISTRICT_ID = text("SELECT id FROM grid_region WHERE code = :code AND level = 'district'")
WRITING_CELLS = "cutting and writing cells"
LEVELS = (GridLevel.STREET, GridLevel.COMMUNITY, GridLevel.CELL)


def write_grid(
    session: Session,
    plan: GridPlan,
    options: ImportOptions,
    progress: ProgressCallback | None = None,
    *,
    overlap: bool = True,
) -> dict[GridLevel, int]:
    """Generate and write a planned grid band by band; units written per level.

    `progress` hears the district's import steps, then (WRITING_CELLS, cells written, about
    how many there will be) after each band."""
    notify = progress or ignore_progress
    written = {GridLevel.DISTRICT: _write_district(session, plan.district, options, notify)}
    bands = _in_background(plan.bands()) if overlap else plan.bands()
    district_code = str(plan.district.code)
    written.update(_write_bands(session, district_code, bands, plan.cell_estimate, notify))
    return written


def write_generated_grid(
    session: Session,
    generated: GeneratedGrid,
    options: ImportOptions,
    progress: ProgressCallback | None = None,
) -> dict[GridLevel, int]:
    """Write a grid generated in memory (`generate_grid`), as `write_grid` does."""
    notify = progress or ignore_progress
    written = {GridLevel.DISTRICT: _write_district(session, generated.district, options, notify)}
    band = GridBand(
        streets=_batch(generated.streets, generated.district.code),
        communities=_batch(generated.communities, None),
        cells=_batch(generated.cells, None),
    )
    district_code = str(generated.district.code)
    cells = len(generated.cells)
    written.update(_write_bands(session, district_code, iter([band]), cells, notify))
    return written


def _batch(features: list[UnitFeature], parent: str | None) -> UnitBatch:
    codes = [str(feature.code) for feature in features]
    return UnitBatch(
        codes=codes,
        names=[feature.name or code for feature, code in zip(features, codes, strict=True)],
        parent_codes=[parent or code[: len(code) - 3] for code in codes],
        geometries=np.array([feature.geometry for feature in features], dtype=object),
    )


def _write_district(
    session: Session, district: UnitFeature, options: ImportOptions, notify: ProgressCallback
) -> int:
    def checking(step: str, done: int, total: int) -> None:
        notify(f"checking the district: {step}", done, total)

    return import_units(session, GridLevel.DISTRICT, [district], options, checking).written


def _write_bands(
    session: Session,
    district_code: str,
    bands: Iterator[GridBand],
    cell_estimate: int,
    notify: ProgressCallback,
) -> dict[GridLevel, int]:
    session.execute(text("DROP TABLE IF EXISTS pg_temp.generated_unit"))
    session.execute(text(CREATE_STAGING))
    district_id = session.scalar(DISTRICT_ID, {"code": district_code})
    assert district_id is not None  # written just before, in this transaction
    written = dict.fromkeys(LEVELS, 0)
    notify(WRITING_CELLS, 0, cell_estimate)
    for band in bands:
        ids = {district_code: district_id}
        for level, batch in zip(LEVELS, (band.streets, band.communities, band.cells), strict=True):
            _copy_batch(session, batch, [ids[code] for code in batch.parent_codes])
            if level is GridLevel.CELL:
                session.execute(INSERT_CELLS)
            else:
                inserted = session.execute(INSERT_REGIONS, {"level": level.value})
                ids = {code: id_ for id_, code in inserted}
            session.execute(text("TRUNCATE generated_unit"))
            written[level] += len(batch)
        cells = written[GridLevel.CELL]
        notify(WRITING_CELLS, cells, max(cells, cell_estimate))
    notify(WRITING_CELLS, written[GridLevel.CELL], written[GridLevel.CELL])
    record_grid_change(session)
    session.flush()
    return written


def _copy_batch(session: Session, batch: UnitBatch, parent_ids: list[int]) -> None:
    driver_connection = session.connection().connection.driver_connection
    assert driver_connection is not None
    geometries = shapely.set_srid(batch.geometries, 4326)
    ewkbs = shapely.to_wkb(geometries, include_srid=True).tolist()
    with driver_connection.cursor() as cursor, cursor.copy(COPY_STAGING) as copy:
        copy.set_types(COPY_TYPES)
        for row in zip(batch.codes, batch.names, parent_ids, ewkbs, strict=True):
            copy.write_row(row)


_DONE = object()


def _in_background(bands: Iterable[GridBand]) -> Iterator[GridBand]:
    """The bands, generated one ahead on a thread; its errors are raised here."""
    handoff: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for band in bands:
                while not stop.is_set():
                    try:
                        handoff.put(band, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put(_DONE)
        except BaseException as error:  # handed over to the consumer, raised there
            handoff.put(error)

    worker = threading.Thread(target=produce, name="grid-generate", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                handoff.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.1)
