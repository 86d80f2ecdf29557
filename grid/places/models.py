"""The address gazetteer: standard addresses and points of interest, each in its grid cell."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from citygrid.db import Base

PLACE_KINDS = "'address', 'poi'"


class Place(Base):
    """One address (东四北大街5号院3号楼) or point of interest (北京协和医院) of a district.

    `normalised` is the matcher's normal form (grid.places.addresses.normalise_address);
    `search_key` spells it for pg_trgm (the database function place_search_key: every Chinese
    character as three letters, because in the C locale pg_trgm drops Chinese characters).
    """

    __tablename__ = "place"
    __table_args__ = (
        CheckConstraint(f"kind IN ({PLACE_KINDS})", name="kind_known"),
        UniqueConstraint("district_id", "kind", "normalised", name="uq_place_normalised"),
        Index("ix_place_road_number", "district_id", "road", "number"),
        Index(
            "ix_place_search_key",
            "search_key",
            postgresql_using="gin",
            postgresql_ops={"search_key": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("grid_region.id"))
    kind: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    normalised: Mapped[str] = mapped_column(Text)
    search_key: Mapped[str] = mapped_column(
        Text, Computed("place_search_key(normalised)", persisted=True)
    )
    street_name: Mapped[str | None] = mapped_column(Text)
    community_name: Mapped[str | None] = mapped_column(Text)
    road: Mapped[str] = mapped_column(Text)
    number: Mapped[str] = mapped_column(Text, server_default="")
    building: Mapped[str] = mapped_column(Text, server_default="")
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=True))
    cell_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cell.id"), index=True)
    source: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PlaceRoad(Base):
    """One road, 胡同, compound or point-of-interest name of a district's places, once.

    The matcher finds the roads an address may name by trigram similarity here (a few thousand
    rows per district), then the places on them with the address's house number by
    ix_place_road_number: far fewer rows than trigrams over every place.
    """

    __tablename__ = "place_road"
    __table_args__ = (
        UniqueConstraint("district_id", "road", name="uq_place_road_road"),
        Index(
            "ix_place_road_search_key",
            "search_key",
            postgresql_using="gin",
            postgresql_ops={"search_key": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("grid_region.id"))
    road: Mapped[str] = mapped_column(Text)
    search_key: Mapped[str] = mapped_column(
        Text, Computed("place_search_key(road)", persisted=True)
    )
