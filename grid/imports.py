"""Importing grid units: every feature checked, and nothing written unless all are good.

INTERFACE STUB — to be implemented (see the helper's task). Generation and the demo call
`import_units`; the CLI and the API call `read_features` then `import_units`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from sqlalchemy.orm import Session

from grid.codes import GridLevel

ProgressCallback = Callable[[str, int, int], None]  # (step description, done, total)


@dataclass(frozen=True)
class UnitFeature:
    """One unit read from a file or generated, already in WGS-84."""

    index: int  # position in the source (0-based), named in every problem
    code: str | None
    name: str | None
    geometry: shapely.Geometry | None  # None when the source geometry could not be read
    parent_code: str | None = None  # from --parent-field; None means derived from the code
    attributes: dict[str, Any] = field(default_factory=dict)  # cells: area_class, responsible_party


@dataclass(frozen=True)
class ImportOptions:
    repair: bool = False  # apply ST_MakeValid to invalid geometries instead of rejecting them
    overlap_tolerance_m2: float = 1.0
    gap_tolerance_m2: float = 1.0


@dataclass
class ImportReport:
    level: GridLevel
    written: int
    repaired: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)


def read_features(
    path: Path,
    *,
    crs: str | None,
    code_field: str = "code",
    name_field: str = "name",
    parent_field: str | None = None,
) -> list[UnitFeature]:
    """Features of a GeoJSON, GeoPackage or Shapefile, converted to WGS-84."""
    raise NotImplementedError


def import_units(
    session: Session,
    level: GridLevel,
    features: Sequence[UnitFeature],
    options: ImportOptions,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Validate and write units of one level; ImportRejected (nothing written) on any problem."""
    raise NotImplementedError
