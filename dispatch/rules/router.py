"""Routing rule sets: list, show, save a new version, simulate a draft."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from citygrid.accounts.auth import Allow, RoleCheckedRoute, request_origin
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import RowId
from citygrid.db import SessionDep
from citygrid.errors import InvalidInput
from dispatch.rules import admin
from dispatch.rules import service as rule_sets
from dispatch.rules.rulebook import RuleSetSpec
from dispatch.rules.schemas import (
    DepartmentPair,
    RuleRead,
    RuleSetDetail,
    RuleSetSummary,
    SimulationBody,
    SimulationReport,
)

router = APIRouter(
    prefix="/api/dispatch/rules", tags=["routing rules"], route_class=RoleCheckedRoute
)
Reader = Annotated[Principal, Depends(Allow(Role.DISPATCHER, Role.MANAGER, Role.ADMIN))]
Admin = Annotated[Principal, Depends(Allow(Role.ADMIN))]
Simulator = Annotated[Principal, Depends(Allow(Role.DISPATCHER, Role.ADMIN))]


def summaries(session: Session) -> list[RuleSetSummary]:
    """Every version, newest first, the one in force now marked."""
    in_force = rule_sets.rule_set_in_force(session, datetime.now(UTC))
    return [
        RuleSetSummary(**row._asdict(), in_force=in_force is not None and row.id == in_force.id)
        for row in rule_sets.rule_set_summaries(session)
    ]


@router.get("")
def list_rule_sets(session: SessionDep, principal: Reader) -> list[RuleSetSummary]:
    """Every rule-set version, newest first: when it takes effect, who saved it, what changed."""
    return summaries(session)


@router.get("/{version:int}")
def show_rule_set(version: RowId, session: SessionDep, principal: Reader) -> RuleSetDetail:
    """One version with its rules in precedence order (the first matching rule wins)."""
    return rule_set_detail(session, version)


def rule_set_detail(session: Session, version: int) -> RuleSetDetail:
    """The version's summary, escalation chain, source and rules."""
    rule_set = rule_sets.rule_set_by_version(session, version)
    summary = next(item for item in summaries(session) if item.id == rule_set.id)
    rules = [
        RuleRead.model_validate(row._asdict())
        for row in rule_sets.rules_in_precedence(session, rule_set.id)
    ]
    return RuleSetDetail(
        **summary.model_dump(), escalation=rule_set.escalation, source=rule_set.source, rules=rules
    )


@router.post("", status_code=201)
def save_rule_set(
    spec: RuleSetSpec, request: Request, session: SessionDep, principal: Admin
) -> RuleSetDetail:
    """Save a new version (422 listing every problem and conflicting pair; 409 when it would
    take effect before the newest version). Audited (dispatch.rules.admin)."""
    saved = admin.save_rule_set(
        session, spec, by=principal, origin=request_origin(request), now=datetime.now(UTC)
    )
    session.commit()
    return rule_set_detail(session, saved.version)


@router.post("/simulate")
def simulate(body: SimulationBody, session: SessionDep, principal: Simulator) -> SimulationReport:
    """How a draft would route the cases created in [from, to) compared with the version each
    was routed with; by department pair with example case numbers. Nothing is saved."""
    if body.period_to <= body.period_from:
        raise InvalidInput("`to` must be after `from`", field="to")
    result = rule_sets.simulate_rule_set(
        session,
        body.rule_set,
        period_from=body.period_from,
        period_to=body.period_to,
        examples_per_pair=body.examples_per_pair,
    )
    pairs = [
        DepartmentPair(
            from_department=pair["from"],
            to_department=pair["to"],
            cases=pair["cases"],
            examples=pair["examples"],
        )
        for pair in result.pairs
    ]
    return SimulationReport(**result.totals, pairs=pairs)
