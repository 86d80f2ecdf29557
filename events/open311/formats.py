"""Open311 documents as XML or JSON: one nested value, two renderings (pure).

A document is built of dicts (elements with children, in order), lists (repeated elements, named
by ITEM_TAGS after the list's own name) and scalars. JSON keeps numbers and booleans; XML writes
them as text, booleans as `true`/`false` and None as an empty element, as the spec's examples do.
"""

from __future__ import annotations

import enum
import json
import xml.etree.ElementTree as ElementTree
from typing import Any

XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
# The element of each item of a list, by the list's name (the spec's XML shapes).
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "service_request_updates": "request_update",
    "extensions": "extension",
}


class Format(enum.StrEnum):
    JSON = "json"
    XML = "xml"


MEDIA_TYPES = {
    Format.JSON: "application/json; charset=utf-8",
    Format.XML: "text/xml; charset=utf-8",
}


def format_of(suffix: str) -> Format | None:
    """The format a path suffix names (`json`, `xml`, any case), or None."""
    try:
        return Format(suffix.lower())
    except ValueError:
        return None


def render(document: Any, *, root: str, format: Format) -> bytes:
    """The document as UTF-8 bytes: JSON as is, XML under a `root` element with a declaration.

    A list document in XML becomes `root` with one ITEM_TAGS[root] element per item."""
    if format is Format.JSON:
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    element = ElementTree.Element(root)
    _fill(element, document, root)
    return (XML_DECLARATION + ElementTree.tostring(element, encoding="unicode")).encode()


def _fill(element: ElementTree.Element, value: Any, name: str) -> None:
    if isinstance(value, dict):
        for key, child_value in value.items():
            _fill(ElementTree.SubElement(element, key), child_value, key)
    elif isinstance(value, list):
        item_tag = ITEM_TAGS[name]
        for item in value:
            _fill(ElementTree.SubElement(element, item_tag), item, item_tag)
    else:
        element.text = _text(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def errors_document(status_code: int, description: str) -> list[dict[str, Any]]:
    """The spec's error list: one error with the HTTP status as its code."""
    return [{"code": status_code, "description": description}]
