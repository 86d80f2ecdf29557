"""Answers to a service's attributes (`attribute[code]`, `attribute[code][]`), checked (pure)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from citygrid.errors import InvalidInput
from events.open311.params import parse_datetime

ATTRIBUTE_FIELD = re.compile(r"attribute\[([^\[\]]+)\](\[\])?")
LIST_TYPES = frozenset({"singlevaluelist", "multivaluelist"})


@dataclass(frozen=True)
class AttributeDefinition:
    code: str
    datatype: str
    required: bool
    variable: bool
    keys: frozenset[str]  # the allowed keys of the list datatypes


def answers_of_form(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The non-empty values sent per attribute code, from the form's (name, value) pairs."""
    answers: dict[str, list[str]] = {}
    for name, value in items:
        match = ATTRIBUTE_FIELD.fullmatch(name)
        if match is not None and value.strip() != "":
            answers.setdefault(match.group(1), []).append(value.strip())
    return answers


def checked_answers(
    definitions: Iterable[AttributeDefinition], answers: dict[str, list[str]], *, zone: tzinfo
) -> dict[str, Any]:
    """The answers as stored (number as float, datetime as ISO text, multivaluelist as a list);
    InvalidInput (400) naming the attribute that is missing, unknown or malformed."""
    by_code = {definition.code: definition for definition in definitions if definition.variable}
    for code in answers:
        if code not in by_code:
            raise InvalidInput(
                f"attribute[{code}] is not an attribute of this service", field=f"attribute[{code}]"
            )
    checked: dict[str, Any] = {}
    for code, definition in by_code.items():
        values = answers.get(code, [])
        if not values:
            if definition.required:
                raise InvalidInput(f"attribute[{code}] is required", field=f"attribute[{code}]")
            continue
        checked[code] = checked_value(definition, values, zone=zone)
    return checked


def checked_value(definition: AttributeDefinition, values: list[str], *, zone: tzinfo) -> Any:
    field = f"attribute[{definition.code}]"
    if definition.datatype == "multivaluelist":
        _check_keys(definition, values, field)
        return values
    if len(values) > 1:
        raise InvalidInput(f"{field} takes one value", field=field)
    value = values[0]
    if definition.datatype == "singlevaluelist":
        _check_keys(definition, values, field)
    elif definition.datatype == "number":
        return _number(value, field)
    elif definition.datatype == "datetime":
        parsed = parse_datetime(value, field, zone=zone)
        return parsed.isoformat() if parsed else None
    return value


def _check_keys(definition: AttributeDefinition, values: list[str], field: str) -> None:
    for value in values:
        if value not in definition.keys:
            allowed = ", ".join(sorted(definition.keys))
            raise InvalidInput(f"{field}: {value!r} is not one of {allowed}", field=field)


def _number(value: str, field: str) -> float:
    try:
        number = float(value)
    except ValueError as error:
        raise InvalidInput(f"{field} must be a number, not {value!r}", field=field) from error
    if not math.isfinite(number):
        raise InvalidInput(f"{field} must be a finite number", field=field)
    return number
