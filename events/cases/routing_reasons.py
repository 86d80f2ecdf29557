"""A routing decision's reason said in the reader's language, from its fields
(events.cases.schemas.RoutingReasonFields): the dispatchers' queue and the case page show it.

dispatch.rules.routing reads the fields (`reason_fields`); the sentence is made here, below
dispatch, because the case page (events) shows it too. The decision's stored `reason` stays
English text for the API. A rule's name is left out of the sentence: names are free text an
administrator typed (the demo's are English), and the category and area say what the rule is.
"""

from __future__ import annotations

from collections.abc import Callable

from citygrid.web import N_
from events.cases.schemas import RoutingReasonFields
from events.categories.labels import CategoryNames, category_label, with_code

Gettext = Callable[[str], str]

RULE = N_("Rule %(ordinal)s of version %(version)s: %(category)s in %(area)s → %(department)s")
COMPONENT_MAINTAINER = N_("Maintainer of component %(component)s: %(department)s")
NO_MATCHING_RULE = N_(
    "No rule of version %(version)s covers %(category)s in cell %(cell)s (%(urgency)s)"
)
NO_RULE_SET = N_("No routing rules were in force")
MESSAGES = {
    "rule": RULE,
    "component_maintainer": COMPONENT_MAINTAINER,
    "no_matching_rule": NO_MATCHING_RULE,
    "no_rule_set": NO_RULE_SET,
}
AREAS = {
    "citywide": N_("the whole city"),
    "cell": N_("cell %(code)s"),
    "cells": N_("a set of %(count)s cells"),
    "polygon": N_("a drawn area of %(size)s"),
    "community": N_("community %(place)s"),
    "street": N_("street %(place)s"),
    "district": N_("district %(place)s"),
}
URGENCIES = {"normal": N_("Normal"), "urgent": N_("Urgent")}
SQUARE_METRES_PER_KM2 = 1_000_000


def describe_routing(fields: RoutingReasonFields, gettext: Gettext, *, language: str) -> str:
    """Why the case goes to its department, or why no department is suggested."""
    names = CategoryNames(
        fields.category_code,
        fields.category_standard,
        fields.category_name_zh,
        fields.category_name_en,
    )
    urgency = URGENCIES.get(fields.urgency)
    values: dict[str, object] = {
        "ordinal": fields.rule_ordinal,
        "version": fields.rule_set_version,
        "category": category_label(names, language),
        "area": rule_area(fields, gettext, language) if fields.code == "rule" else "",
        "department": with_code(fields.department_name, fields.department_code, language),
        "component": fields.component_code,
        "cell": fields.cell_code,
        "urgency": gettext(urgency) if urgency else fields.urgency,
    }
    return gettext(MESSAGES[fields.code]) % values


def rule_area(fields: RoutingReasonFields, gettext: Gettext, language: str) -> str:
    """The matched rule's area: the city, a cell, a set of cells, a drawn polygon or a region."""
    kind = fields.area_kind or "citywide"
    message = AREAS.get(kind)
    if message is None:  # a kind this page does not know yet: say it as stored
        return f"{kind} {fields.area_code or ''}".strip()
    values: dict[str, object] = {
        "code": fields.area_code,
        "count": fields.area_cell_count,
        "size": area_size(fields.area_m2),
        "place": with_code(fields.area_name, fields.area_code, language),
    }
    return gettext(message) % values


def area_size(area_m2: float | None) -> str:
    """An area in m², or in km² from a square kilometre up (units, not words: not translated)."""
    if area_m2 is None:
        return "—"
    if area_m2 < SQUARE_METRES_PER_KM2:
        return f"{area_m2:,.0f} m²"
    return f"{area_m2 / SQUARE_METRES_PER_KM2:,.2f} km²"


def routing_describer(
    gettext: Gettext, *, language: str
) -> Callable[[RoutingReasonFields | None], str]:
    """describe_routing for a page's template: `{{ describe_routing(item.routing_reason_fields) }}`
    ('' for a case never routed)."""

    def describe(fields: RoutingReasonFields | None) -> str:
        return describe_routing(fields, gettext, language=language) if fields else ""

    return describe
