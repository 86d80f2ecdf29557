"""Imports every table module, so `Base.metadata` is complete for Alembic and the tests."""

from __future__ import annotations

from sqlalchemy import MetaData

import citygrid.security_models
import citygrid.users
import dispatch.models
import events.models
import events.open311.models
import grid.components.models
import grid.models
from citygrid.db import Base

TABLE_MODULES = (
    citygrid.security_models,
    citygrid.users,
    dispatch.models,
    events.models,
    events.open311.models,
    grid.components.models,
    grid.models,
)
metadata: MetaData = Base.metadata
