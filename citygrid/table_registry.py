"""Imports every table module, so `Base.metadata` is complete for Alembic and the tests."""

from __future__ import annotations

import re
from typing import Any

from geoalchemy2 import alembic_helpers
from sqlalchemy import MetaData

import citygrid.accounts.models
import components.models
import dispatch.callbacks.models
import dispatch.hotline.models
import dispatch.models
import dispatch.summons.models
import events.hotline.models
import events.models
import events.open311.models
import events.recurrence.models
import events.suggestions.models
import grid.models
import grid.places.models
from citygrid.db import Base

TABLE_MODULES = (
    citygrid.accounts.models,
    dispatch.models,
    dispatch.callbacks.models,
    dispatch.hotline.models,
    dispatch.summons.models,
    events.models,
    events.hotline.models,
    events.open311.models,
    events.recurrence.models,
    events.suggestions.models,
    components.models,
    grid.models,
    grid.places.models,
)
metadata: MetaData = Base.metadata
# Indexes on an expression Alembic cannot compare with the model's (it renders the database's
# normalised text and the model's differently): the migration that made them is their record.
MIGRATION_ONLY_INDEXES = frozenset(
    {
        "ix_event_case_search",
        # Intake's duplicate search: open cases by place (migration 2026-12-06_scale_queries).
        "ix_event_case_open_geom",
        # Partial indexes of the work lists (migration 2026-12-06_index_the_work_lists).
        "ix_event_case_waiting_by_urgency",
        "ix_event_case_held_by_deadline",
        "ix_event_case_held_by_department",
        "ix_event_case_postponement_asked",
        "ix_case_transition_suspension_asked",
    }
)


# Monthly partitions (migration 2026-12-06_monthly_partitions): the partitions themselves
# (`<table>_pYYYY_MM`, `<table>_default`) are the database's, made by `citygrid db partitions
# maintain`; a model's foreign key to a partitioned table's id is a constraint trigger there.
PARTITION_NAME = re.compile(r"^[a-z_]+_(p\d{4}_?\d{2}|default)$")


def partitions_agree(item: Any, name: str | None, type_: str, reflected: bool) -> bool:
    if type_ == "table" and reflected and name and PARTITION_NAME.match(name):
        return False
    if type_ == "foreign_key_constraint" and not reflected:
        referred = getattr(item, "referred_table", None)
        if referred is not None and referred.dialect_options["postgresql"]["partition_by"]:
            return False
    return True


def include_object(
    item: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """GeoAlchemy2's filter for autogenerate, minus the migration-only indexes."""
    if type_ == "index" and name in MIGRATION_ONLY_INDEXES:
        return False
    if not partitions_agree(item, name, type_, reflected):
        return False
    return bool(alembic_helpers.include_object(item, name, type_, reflected, compare_to))  # type: ignore[no-untyped-call]
