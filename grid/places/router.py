"""HTTP routes of the gazetteer: match an address, search places (staff only)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import STAFF_ROLES
from citygrid.api_types import BigRowId
from citygrid.db import SessionDep
from citygrid.settings import Settings, SettingsDep
from grid.places import service
from grid.places.addresses import normalise_address
from grid.places.schemas import AddressMatchRead, CandidateRead, PlaceRead, PlacesPage

router = APIRouter(prefix="/api/places", tags=["places"], route_class=RoleCheckedRoute)
STAFF = Depends(Allow(*STAFF_ROLES))
# The document's bound: the setting's default (a deployment may set a lower one, used below).
PAGE_MAX: int = Settings.model_fields["places_page_max"].default
ADDRESS_MAX_CHARS = 200
DistrictCode = Annotated[
    str | None,
    Query(pattern=r"^[0-9]{6}$", description="only this district's places (6 digits, e.g. 110101)"),
]


@router.get("/match", dependencies=[STAFF])
def match_address(
    session: SessionDep,
    settings: SettingsDep,
    address: Annotated[
        str,
        Query(min_length=1, max_length=ADDRESS_MAX_CHARS, description="an address as written"),
    ],
    district: DistrictCode = None,
) -> AddressMatchRead:
    """The gazetteer places an address may mean, best first, with the matcher's confidence."""
    threshold = settings.address_match_threshold
    found = service.match_address(session, address, district_code=district, threshold=threshold)
    return AddressMatchRead(
        address=address,
        normalised=normalise_address(address),
        threshold=threshold,
        candidates=[CandidateRead(**asdict(candidate)) for candidate in found.candidates],
        located=CandidateRead(**asdict(found.located)) if found.located else None,
    )


@router.get("", dependencies=[STAFF])
def search_places(
    session: SessionDep,
    settings: SettingsDep,
    q: Annotated[
        str,
        Query(min_length=1, max_length=100, description="part of a name, e.g. 东四北大街5号"),
    ],
    district: DistrictCode = None,
    after: Annotated[BigRowId | None, Query(description="the next_after of the last page")] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
) -> PlacesPage:
    """Places whose normal form contains the query's, in id order, a page at a time."""
    limit = min(limit, settings.places_page_max)
    rows = service.search_places(session, q, district_code=district, after=after, limit=limit)
    places = [PlaceRead(**row) for row in rows]
    next_after = places[-1].id if len(places) == limit else None
    return PlacesPage(places=places, next_after=next_after)
