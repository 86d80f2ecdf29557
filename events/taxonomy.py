"""The component (部件) and event (事件) taxonomy file: parsed and checked into plain values."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from citygrid.errors import InvalidInput

DEFAULT_TAXONOMY = Path(__file__).parent / "data" / "taxonomy.yaml"
STANDARD_2013 = "GB/T 30428.2-2013"  # major(2) + minor(2), the CJ/T 214-2007 codes
STANDARD_2026 = "GB/T 47678.5-2026"  # major(2) + minor(3)
MIN_URGENT_LIMIT_HOURS = 1.0
MAJOR_PROVENANCE_KEYS = ("provenance", "refs", "note")
MINOR_PROVENANCE_KEYS = (
    "code_provenance",
    "code_refs",
    "limit_provenance",
    "dept_provenance",
    "note",
    "standard_ref",
)
SECTIONS = {"major_categories", "components", "events"}
KIND_OF_SECTION = {"components": "component", "events": "event"}
MAJOR_CODE = re.compile(r"\d{2}")
MINOR_CODE = re.compile(r"\d{4,5}")


class Kind(enum.StrEnum):
    COMPONENT = "component"  # 部件: a fixed public facility
    EVENT = "event"  # 事件: a problem


class Level(enum.StrEnum):
    MAJOR = "major"
    MINOR = "minor"


CategoryKey = tuple[str, str, str]  # (kind, code, standard)


@dataclass(frozen=True)
class CategorySeed:
    """One category as the taxonomy file gives it."""

    kind: Kind
    code: str
    standard: str
    level: Level
    name_zh: str
    name_en: str
    criteria: str | None = None
    limit_hours_normal: float | None = None
    limit_hours_urgent: float | None = None
    department_type: str | None = None
    duplicate_radius_m: float | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> CategoryKey:
        return (self.kind.value, self.code, self.standard)

    @property
    def major_key(self) -> CategoryKey:
        return (self.kind.value, self.code[:2], self.standard)


@dataclass(frozen=True)
class Taxonomy:
    """The file's meta block and its categories, majors first."""

    meta: Mapping[str, Any]
    categories: tuple[CategorySeed, ...]

    def of_level(self, level: Level) -> list[CategorySeed]:
        return [category for category in self.categories if category.level is level]

    def counts(self) -> dict[tuple[str, str], int]:
        """Categories per (kind, level)."""
        counts: dict[tuple[str, str], int] = {}
        for category in self.categories:
            group = (category.kind.value, category.level.value)
            counts[group] = counts.get(group, 0) + 1
        return counts


def level_of_code(code: str) -> Level:
    """Major for a 2-digit code, minor for a 4- or 5-digit one; anything else is refused."""
    if MAJOR_CODE.fullmatch(code):
        return Level.MAJOR
    if MINOR_CODE.fullmatch(code):
        return Level.MINOR
    raise InvalidInput(
        f"code {code!r} must be 2 digits (major) or 4 or 5 digits (minor: major + 2 or 3)",
        field="code",
    )


def standard_for_code(code: str) -> str:
    """The standard an entry without one belongs to: 5-digit codes are GB/T 47678.5-2026; 4-digit
    codes and the draft's 2-digit majors are CJ/T 214 / GB/T 30428.2-2013."""
    return STANDARD_2026 if len(code) == 5 else STANDARD_2013


def urgent_limit_hours(normal_hours: float) -> float:
    """The urgent limit derived from the normal one: half, at least 1 h, at most the normal."""
    return min(normal_hours, max(MIN_URGENT_LIMIT_HOURS, normal_hours / 2))


def read_taxonomy(path: Path = DEFAULT_TAXONOMY) -> Taxonomy:
    """The taxonomy in a YAML file (by default the one shipped in events/data)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}", field="file") from error
    return parse_taxonomy(text, source=str(path))


def parse_taxonomy(text: str, *, source: str = "taxonomy") -> Taxonomy:
    """Parse and check a taxonomy document; every problem names the entry it is in."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidInput(f"{source} is not valid YAML: {error}", field="file") from error
    if not isinstance(document, dict) or not SECTIONS & document.keys():
        raise InvalidInput(f"{source} has none of the sections {sorted(SECTIONS)}", field="file")
    majors = [
        parse_entry(entry, where=f"major_categories[{index}]", kind=None, level=Level.MAJOR)
        for index, entry in enumerate(entries_of(document, "major_categories"))
    ]
    minors = [
        parse_entry(entry, where=f"{section}[{index}]", kind=kind, level=Level.MINOR)
        for section, kind in KIND_OF_SECTION.items()
        for index, entry in enumerate(entries_of(document, section))
    ]
    check_unique([*majors, *minors])
    check_majors_exist(majors, minors)
    meta = document.get("meta") or {}
    return Taxonomy(meta=meta, categories=(*majors, *minors))


def entries_of(document: Mapping[str, Any], section: str) -> list[Mapping[str, Any]]:
    entries = document.get(section) or []
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise InvalidInput(f"{section} must be a list of mappings", field=section)
    return entries


def parse_entry(
    entry: Mapping[str, Any], *, where: str, kind: str | None, level: Level
) -> CategorySeed:
    """One entry of a section; `kind` is None for major_categories, which say their own."""
    code = required_text(entry, "code", where=where)
    if level_of_code_at(code, where) is not level:
        raise InvalidInput(f"{where}: code {code} is not a {level} code", field=f"{where}.code")
    entry_kind = parse_kind(entry, kind, where=where)
    standard = optional_text(entry, "standard", where=where)
    if standard is None:
        standard = standard_for_code(code)
    if level is Level.MINOR and str(entry.get("major", code[:2])) != code[:2]:
        raise InvalidInput(
            f"{where}: major {entry['major']!r} is not the first 2 digits of code {code}",
            field=f"{where}.major",
        )
    normal, urgent = limits(entry, where=where)
    keys = MAJOR_PROVENANCE_KEYS if level is Level.MAJOR else MINOR_PROVENANCE_KEYS
    provenance: dict[str, Any] = {key: entry[key] for key in keys if key in entry}
    if urgent is not None and "limit_hours_urgent" not in entry:
        provenance["limit_hours_urgent"] = "derived: half the normal limit, at least 1 h"
    return CategorySeed(
        kind=entry_kind,
        code=code,
        standard=standard,
        level=level,
        name_zh=required_text(entry, "zh", where=where),
        name_en=required_text(entry, "en", where=where),
        criteria=optional_text(entry, "criteria", where=where),
        limit_hours_normal=normal,
        limit_hours_urgent=urgent,
        department_type=optional_text(entry, "dept_type", where=where),
        duplicate_radius_m=optional_number(entry, "duplicate_radius_m", where=where),
        provenance=provenance,
    )


def level_of_code_at(code: str, where: str) -> Level:
    try:
        return level_of_code(code)
    except InvalidInput as error:
        raise InvalidInput(f"{where}: {error.message}", field=f"{where}.code") from error


def parse_kind(entry: Mapping[str, Any], section_kind: str | None, *, where: str) -> Kind:
    value = entry.get("kind", section_kind)
    if value not in {kind.value for kind in Kind} or (section_kind and value != section_kind):
        expected = section_kind or "component or event"
        raise InvalidInput(f"{where}: kind {value!r} is not {expected}", field=f"{where}.kind")
    return Kind(value)


def limits(entry: Mapping[str, Any], *, where: str) -> tuple[float | None, float | None]:
    """Normal and urgent limits in working hours; urgent is derived when the entry has none."""
    normal = optional_number(entry, "limit_hours_normal", where=where)
    if normal is None:
        normal = optional_number(entry, "default_limit_wh", where=where)
    urgent = optional_number(entry, "limit_hours_urgent", where=where)
    if urgent is None and normal is not None:
        urgent = urgent_limit_hours(normal)
    return normal, urgent


def required_text(entry: Mapping[str, Any], key: str, *, where: str) -> str:
    value = optional_text(entry, key, where=where)
    if value is None:
        raise InvalidInput(f"{where}: {key} is missing", field=f"{where}.{key}")
    return value


def optional_text(entry: Mapping[str, Any], key: str, *, where: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    # An unquoted code such as 0101 reads as a number (octal in YAML 1.1): refuse it, don't guess.
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            f"{where}: {key} must be non-empty text (quote codes: '0101'), got {value!r}",
            field=f"{where}.{key}",
        )
    return value.strip()


def optional_number(entry: Mapping[str, Any], key: str, *, where: str) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidInput(
            f"{where}: {key} must be a positive number, got {value!r}", field=f"{where}.{key}"
        )
    return float(value)


def check_unique(categories: Iterable[CategorySeed]) -> None:
    seen: set[CategoryKey] = set()
    for category in categories:
        if category.key in seen:
            kind, code, standard = category.key
            raise InvalidInput(f"{kind} {code} ({standard}) is listed twice", field="code")
        seen.add(category.key)


def check_majors_exist(majors: Iterable[CategorySeed], minors: Iterable[CategorySeed]) -> None:
    """Every minor category needs the major of its first 2 digits, same kind and standard."""
    major_keys = {major.key for major in majors}
    for minor in minors:
        if minor.major_key not in major_keys:
            raise InvalidInput(
                f"{minor.kind} {minor.code} ({minor.standard}): no major category "
                f"{minor.code[:2]} of that kind and standard",
                field="major_categories",
            )


@lru_cache(maxsize=1)
def department_type_names(path: Path = DEFAULT_TAXONOMY) -> dict[str, str]:
    """The Chinese names of the department types categories route to (meta.department_types:
    `sanitation` → 环卫/市容环境卫生管理处), for pages that show a department's kind."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    names = document.get("meta", {}).get("department_types", {})
    return {str(code): str(name) for code, name in names.items()}


def department_type_label(code: str, language: str) -> str:
    """A department type as a page shows it: its Chinese name, or in English the code in
    words; an unknown type (typed by an administrator) as it was typed."""
    if language == "en":
        return code.replace("_", " ")
    return department_type_names().get(code, code)
