"""Address matching against the gazetteer: candidates with a confidence, located above a threshold.

The scoring lives in one SQL statement (grid/places/statements.py), shared with the hotline's
async intake; this module normalises the texts, runs it, and says which candidate is located.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.settings import get_settings
from grid.places.addresses import normalise_address
from grid.places.statements import MATCH_ADDRESS_SQL, MATCH_ADDRESSES_SQL


@dataclass(frozen=True)
class PlaceCandidate:
    """One gazetteer place a written address may mean."""

    place_id: int
    label: str
    lon: float
    lat: float
    cell_id: int | None
    confidence: float  # 0..1


@dataclass(frozen=True)
class AddressMatch:
    """The candidates for one address, best first (at most 5), and the located one if any."""

    candidates: list[PlaceCandidate]
    located: PlaceCandidate | None


def candidate_of(row: Any) -> PlaceCandidate:
    """A candidate from a row of MATCH_ADDRESS_SQL (a mapping or a named row)."""
    values = row if isinstance(row, dict) else row._mapping
    return PlaceCandidate(
        place_id=int(values["place_id"]),
        label=str(values["label"]),
        lon=float(values["lon"]),
        lat=float(values["lat"]),
        cell_id=None if values["cell_id"] is None else int(values["cell_id"]),
        confidence=float(values["confidence"]),
    )


def address_match(candidates: list[PlaceCandidate], threshold: float) -> AddressMatch:
    """The match of candidates (best first): the best is located when it reaches `threshold`."""
    best = candidates[0] if candidates else None
    located = best if best is not None and best.confidence >= threshold else None
    return AddressMatch(candidates=candidates, located=located)


def match_address(
    session: Session,
    address_text: str,
    *,
    district_code: str | None = None,
    threshold: float | None = None,
) -> AddressMatch:
    """The best places for one written address (at most five), and the located one if any."""
    if threshold is None:
        threshold = get_settings().address_match_threshold
    normalised = normalise_address(address_text)
    if not normalised:
        return AddressMatch(candidates=[], located=None)
    rows = session.connection().exec_driver_sql(
        MATCH_ADDRESS_SQL,
        {"address": address_text, "normalised": normalised, "district_code": district_code},
    )
    return address_match([candidate_of(row) for row in rows], threshold)


def match_addresses(
    session: Session,
    texts: Sequence[str],
    *,
    district_code: str | None = None,
    threshold: float | None = None,
) -> list[AddressMatch]:
    """One match per text, in order: one statement for the whole batch."""
    if threshold is None:
        threshold = get_settings().address_match_threshold
    if not texts:
        return []
    rows = session.connection().exec_driver_sql(
        MATCH_ADDRESSES_SQL,
        {"normalised": [normalise_address(t) for t in texts], "district_code": district_code},
    )
    found: dict[int, list[PlaceCandidate]] = {}
    for row in rows:
        found.setdefault(int(row.position), []).append(candidate_of(row))
    return [address_match(found.get(i, []), threshold) for i in range(1, len(texts) + 1)]


SEARCH_PLACES = text("""
SELECT p.id, p.kind, p.name, p.street_name, p.community_name, ST_X(p.geom) AS lon,
       ST_Y(p.geom) AS lat, p.cell_id
FROM place p
WHERE p.search_key LIKE '%' || place_search_key(:normalised) || '%'
  AND p.id > :after
  AND (CAST(:district AS text) IS NULL OR p.district_id = (
      SELECT id FROM grid_region WHERE level = 'district' AND code = :district))
ORDER BY p.id
LIMIT :limit
""")


def search_places(
    session: Session, query: str, *, district_code: str | None, after: int | None, limit: int
) -> list[dict[str, Any]]:
    """Places whose normal form contains the query's, after id `after`, in id order."""
    normalised = normalise_address(query)
    if not normalised:
        return []
    rows = session.execute(
        SEARCH_PLACES,
        {"normalised": normalised, "after": after or 0, "district": district_code, "limit": limit},
    )
    return [dict(row._mapping) for row in rows]
