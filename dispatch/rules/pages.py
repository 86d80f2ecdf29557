"""`/admin/rules`: the administrators' pages of routing rule sets. The versions (which is in
force, which takes effect later), each version's rules in precedence order with the names of
what they select, and the draft editor: a version's rules copied into a draft the browser keeps,
changed rule by rule, simulated against past cases and activated as a new version.

A draft is the body of `POST /api/dispatch/rules` and is kept by the page's script
(dispatch/static/admin_rules.js) until it is activated or discarded: a rule set is saved whole,
as a new version, so an unfinished draft is not stored on the server. Simulation and activation
go through the rule-set API (simulated by dispatch.rules.service, saved and audited by
dispatch.rules.admin)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.api_types import PAGE_MAX, RowId
from citygrid.db import SessionDep
from citygrid.settings import Settings, SettingsDep
from citygrid.web import N_, local_time, page_language, render
from dispatch.models import RuleSet
from dispatch.rules import admin
from dispatch.rules import service as rule_sets
from dispatch.rules.schemas import EXAMPLES_PER_PAIR_MAX
from events.cases.routing_reasons import AREAS, area_size
from events.categories.labels import CategoryNames, category_label, shared_category_names, with_code

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)
Admin = Annotated[Principal, Depends(Allow(Role.ADMIN))]

RULES_PER_PAGE = 100
SIMULATION_DAYS = 30
STATE_LABELS = {
    "in_force": N_("In force"),
    "scheduled": N_("Takes effect later"),
    "replaced": N_("Replaced"),
}
AREA_KIND_LABELS = {
    "citywide": N_("The whole city"),
    "district": N_("District"),
    "street": N_("Street"),
    "community": N_("Community"),
    "cell": N_("One cell"),
    "cells": N_("Several cells"),
    "polygon": N_("Drawn area"),
}
URGENCY_LABELS = {"": N_("Any urgency"), "normal": N_("Normal"), "urgent": N_("Urgent")}
KIND_LABELS = {"event": N_("Events"), "component": N_("Components")}
ANY_CATEGORY = N_("Any category")
# What the editor's script says (admin_rules.js); `%(name)s` and `{name}` are filled in by it.
EDITOR_MESSAGES = {
    "error.forbidden": N_("You may not do this."),
    "any_category": ANY_CATEGORY,
    "any_urgency": N_("Any urgency"),
    "urgency.normal": N_("Normal"),
    "urgency.urgent": N_("Urgent"),
    **{f"area.{kind}": message for kind, message in AREAS.items()},
    "area.drawn": N_("a drawn area"),
    "activate.done": N_("Version {version} saved."),
    "rules.edit": N_("Edit"),
    "rules.remove": N_("Remove"),
    "rules.new": N_("New"),
    "rules.changed": N_("Changed"),
    "rules.range": N_("Rules {first}–{last} of {total}"),
    "rules.none": N_("No rule matches."),
    "rules.summary": N_(
        "Changes against version {version}: {added} added, {changed} changed, {removed} removed."
    ),
    "rules.restored": N_("The draft you were editing in this browser was restored."),
    "rules.not_kept": N_(
        "This browser cannot keep the draft: activate it before leaving the page."
    ),
    "rules.adding": N_("New rule"),
    "rules.editing": N_("Rule {number}"),
    "rules.polygon_kept": N_("The drawn area is kept; choose another kind of area to replace it."),
    "rules.inactive": N_("{name} (inactive)"),
    "rules.unknown": N_("{code} (unknown)"),
    "problem.department": N_("Rule {rule}: choose an active department."),
    "problem.category": N_(
        "Rule {rule}: the category is unknown, or its code names both an event and a component "
        "category."
    ),
    "problem.area": N_("Rule {rule}: the area is not in the grid."),
    "problem.rule": N_("Rule {rule}: this value is not valid ({field})."),
    "problem.conflict": N_(
        "Rules {first} and {second} are equally specific, can match the same case and send "
        "it to different departments: change the area, category, urgency or priority of one of "
        "them."
    ),
    "problem.empty": N_("A rule set needs at least one rule."),
    "problem.effective_from": N_("A new version cannot take effect before the newest version."),
    "problem.period": N_("The period must end after it begins."),
    "problem.other": N_("The draft was refused: {detail}"),
    "sim.running": N_("Simulating…"),
    "sim.nobody": N_("No department"),
    "activate.confirm": N_("Activate the draft as a new version? It routes new cases from {when}."),
    "activate.now": N_("now"),
    "activate.running": N_("Activating…"),
    "discard.confirm": N_("Discard the draft and start again from version {version}?"),
    "reactivate.confirm": N_(
        "Make version {version} the one in force again (saved as a new version)?"
    ),
    "reactivate.comment": N_("Version {version} again"),
}


def city_clock(settings: Settings) -> Callable[[datetime | None], str]:
    """The pages' time formatter: the city's zone, the one format of every page."""
    zone = settings.city_zone
    return lambda moment: local_time(moment, zone)


def utc_offset(settings: Settings, at: datetime) -> str:
    """The city's UTC offset at `at` as ISO 8601 ("+08:00"): the editor sends times typed in
    city time with it (the city's offset now; a zone with summer time may differ on the day)."""
    offset = at.astimezone(settings.city_zone).strftime("%z")
    return f"{offset[:3]}:{offset[3:]}"


@router.get("/admin/rules", response_class=HTMLResponse)
def versions_page(
    request: Request, session: SessionDep, settings: SettingsDep, principal: Admin
) -> HTMLResponse:
    """Every rule-set version, newest first: in force, scheduled or replaced; what changed."""
    context = {
        "versions": admin.summaries_with_state(session, datetime.now(UTC)),
        "state_labels": STATE_LABELS,
        "city_time": city_clock(settings),
        "js_messages": EDITOR_MESSAGES,
    }
    return render(request, "dispatch/admin_rules.html", context, principal=principal)


@router.get("/admin/rules/draft", response_class=HTMLResponse)
def draft_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Admin,
    base: Annotated[RowId | None, Query(alias="from")] = None,
) -> HTMLResponse:
    """The draft editor, starting from version `from` (default: the version in force, else
    the newest); without any version yet, from an empty draft."""
    now = datetime.now(UTC)
    rule_set = base_version(session, base, now)
    choices = admin.editor_choices(session, page_language(request))
    today = now.astimezone(settings.city_zone).date()
    context = {
        "base": rule_set,
        "draft_base": {
            "version": rule_set.version if rule_set else None,
            "source": rule_set.source if rule_set else None,
        },
        "choices": choices.as_json(),
        "regions": regions_by_level(choices.regions),
        "area_kind_labels": AREA_KIND_LABELS,
        "urgency_labels": URGENCY_LABELS,
        "kind_labels": KIND_LABELS,
        "utc_offset": utc_offset(settings, now),
        "period_from": (today - timedelta(days=SIMULATION_DAYS)).isoformat(),
        "period_to": today.isoformat(),
        "examples_max": EXAMPLES_PER_PAIR_MAX,
        "city_time": city_clock(settings),
        "js_messages": EDITOR_MESSAGES,
    }
    return render(request, "dispatch/admin_rules_draft.html", context, principal=principal)


def regions_by_level(regions: list[dict[str, Any]]) -> dict[str, Any]:
    """The editor's region selects: districts, streets, and communities grouped by street
    ([(street name, [communities])])."""
    streets = [region for region in regions if region["level"] == "street"]
    street_names = {street["code"]: street["name"] for street in streets}
    communities: dict[str, list[dict[str, Any]]] = {}
    for region in regions:
        if region["level"] == "community":
            communities.setdefault(region["parent"], []).append(region)
    return {
        "district": [region for region in regions if region["level"] == "district"],
        "street": streets,
        "community": [
            (street_names.get(code, code), members) for code, members in communities.items()
        ],
    }


def base_version(session: Session, version: int | None, now: datetime) -> RuleSet | None:
    """The version a draft starts from: the one asked for, else the one in force, else the
    newest (None before the first)."""
    if version is not None:
        return rule_sets.rule_set_by_version(session, version)
    return rule_sets.rule_set_in_force(session, now) or rule_sets.newest_rule_set(session)


@router.get("/admin/rules/{version:int}", response_class=HTMLResponse)
def version_page(
    version: RowId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Admin,
    department: Annotated[str | None, Query(max_length=32)] = None,
    page: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 1,
) -> HTMLResponse:
    """One version's rules in precedence order (the first that matches a case wins), 100 a
    page, optionally those of one department; the buttons to edit a draft from it or to make it
    the version in force again."""
    rule_set = rule_sets.rule_set_by_version(session, version)
    summary = next(
        item
        for item in admin.summaries_with_state(session, datetime.now(UTC))
        if item["id"] == rule_set.id
    )
    rows = admin.rule_rows(session, rule_set.id, department=department or None)
    first = (page - 1) * RULES_PER_PAGE
    language = page_language(request)
    shared = shared_category_names(session)
    context = {
        "rule_set": rule_set,
        "summary": summary,
        "rules": [rule_view(row, language, shared) for row in rows[first : first + RULES_PER_PAGE]],
        "rule_total": len(rows),
        "page": page,
        "page_count": max(1, -(-len(rows) // RULES_PER_PAGE)),
        "query": {"department": department} if department else {},
        "department": department or "",
        "departments": admin.departments_of_set(session, rule_set.id),
        "state_labels": STATE_LABELS,
        "urgency_labels": URGENCY_LABELS,
        "city_time": city_clock(settings),
        "js_messages": EDITOR_MESSAGES,
    }
    return render(request, "dispatch/admin_rules_version.html", context, principal=principal)


def rule_view(row: Any, language: str, shared: frozenset[str]) -> dict[str, Any]:
    """A stored rule as the version page shows it: the row, its category's label (None: any
    category), its area's message and values (translated by the template), its department."""
    category = (
        CategoryNames(
            row.category_code, row.category_standard, row.category_name_zh, row.category_name_en
        )
        if row.category_code
        else None
    )
    return {
        "row": row,
        "category": category_label(category, language, shared_names=shared) if category else None,
        "area_message": AREAS.get(row.area_kind),
        "area_values": {
            "code": row.area_code,
            "count": row.area_cell_count,
            "size": area_size(row.area_m2),
            "place": with_code(row.area_name, row.area_code, language),
        },
        "department": with_code(row.department_name, row.department_code, language),
    }
