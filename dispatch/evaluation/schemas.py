"""Answers of the evaluation API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from dispatch.evaluation.grading import GroupKind


class Weight(BaseModel):
    rate: str
    weight: float
    higher_is_better: bool


class EvaluationRead(BaseModel):
    """The figures of every group (id, key, name, then the kind's figures), and the totals."""

    by: GroupKind
    period_from: datetime
    period_to: datetime
    as_of: datetime
    fields: list[str]
    weights: list[Weight]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
