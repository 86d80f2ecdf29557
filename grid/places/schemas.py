"""What the places API answers."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CandidateRead(BaseModel):
    place_id: int
    label: str
    lon: float
    lat: float
    cell_id: int | None
    confidence: float = Field(ge=0, le=1)


class AddressMatchRead(BaseModel):
    address: str
    normalised: str = Field(description="the matcher's normal form of the address")
    threshold: float = Field(description="a candidate is located at this confidence or above")
    candidates: list[CandidateRead] = Field(description="best first, at most five")
    located: CandidateRead | None = Field(description="the best candidate when it is located")


class PlaceRead(BaseModel):
    id: int
    kind: str
    name: str
    street_name: str | None
    community_name: str | None
    lon: float
    lat: float
    cell_id: int | None


class PlacesPage(BaseModel):
    places: list[PlaceRead]
    next_after: int | None = Field(description="pass as `after` for the next page; null: no more")
