"""Imports every table module, so `Base.metadata` is complete for Alembic and the tests."""

from __future__ import annotations

from sqlalchemy import MetaData

import citygrid.accounts.models
import components.models
import dispatch.models
import events.models
import events.open311.models
import grid.models
from citygrid.db import Base

TABLE_MODULES = (
    citygrid.accounts.models,
    dispatch.models,
    events.models,
    events.open311.models,
    components.models,
    grid.models,
)
metadata: MetaData = Base.metadata
