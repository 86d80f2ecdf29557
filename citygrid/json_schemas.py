"""JSON Schemas written into the OpenAPI document by hand (a multipart form's fields, a field
whose Python type is looser than what it takes), from the Pydantic models that check them (pure:
Pydantic only, so policy modules may use it)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

DEFS = "#/$defs/"


def inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with each `{"$ref": "#/$defs/X"}` replaced by X itself and `$defs` dropped: a
    schema placed inside the OpenAPI document, where `#/$defs/...` would point at nothing."""
    definitions = schema.get("$defs", {})

    def resolved(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith(DEFS):
                rest = {key: value for key, value in node.items() if key != "$ref"}
                return resolved({**definitions[reference.removeprefix(DEFS)], **rest})
            return {key: resolved(value) for key, value in node.items() if key != "$defs"}
        if isinstance(node, list):
            return [resolved(value) for value in node]
        return node

    inlined: dict[str, Any] = resolved(schema)
    return inlined


def schema_of(declared: Any) -> dict[str, Any]:
    """The JSON Schema (definitions inlined) of a model or an annotated type."""
    return inline_definitions(TypeAdapter(declared).json_schema())


def without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A property's schema as a form field carries it: a form has no null (an optional field is
    left out), so `anyOf [X, null]` becomes X."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return schema
    kept = [branch for branch in branches if branch != {"type": "null"}]
    rest = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
    return {**rest, **kept[0]} if len(kept) == 1 else {**rest, "anyOf": kept}


def form_properties(declared: Any) -> dict[str, Any]:
    """The properties of a model as the fields of a form (see `without_null`); a required text
    takes at least one character, since a form's empty field reads as one left out."""
    schema = schema_of(declared)
    required = set(schema.get("required", []))
    fields = {name: without_null(field) for name, field in schema["properties"].items()}
    for name in required & fields.keys():
        if fields[name].get("type") == "string":
            fields[name] = {"minLength": 1, **fields[name]}
    return fields
