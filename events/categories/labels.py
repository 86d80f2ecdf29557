"""How a category is named wherever one is chosen or listed: its code and its name in the page's
language, and its coding standard too when another category bears the same name (积存垃圾渣土 is
0103 of GB/T 30428.2-2013 and 06011 of GB/T 47678.5-2026)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from events.models import Category


class NamedCategory(Protocol):
    """What a label needs: an ORM Category, a CategoryRead, or CategoryNames built from a row."""

    @property
    def code(self) -> str: ...
    @property
    def standard(self) -> str: ...
    @property
    def name_zh(self) -> str: ...
    @property
    def name_en(self) -> str: ...


@dataclass(frozen=True)
class CategoryNames:
    """A category's names from a query's columns (e.g. category_code, category_name_zh, …)."""

    code: str
    standard: str
    name_zh: str
    name_en: str


def category_name(category: NamedCategory, language: str) -> str:
    """The category's name in the page's language (Chinese unless English)."""
    return category.name_en if language == "en" else category.name_zh


def with_code(name: str | None, code: str | None, language: str) -> str:
    """'name (code)', with Chinese brackets in Chinese; one of them alone when the other is
    missing or the same (a cell named by its code reads once)."""
    if not name or name == code:
        return code or name or "—"
    if not code:
        return name
    return f"{name}（{code}）" if language != "en" else f"{name} ({code})"


def category_label(
    category: NamedCategory, language: str, *, shared_names: Collection[str] = frozenset()
) -> str:
    """'0103 积存垃圾渣土', and with the standard when its name is one of `shared_names`
    (shared_category_names): '0103 积存垃圾渣土（GB/T 30428.2-2013）'."""
    name = category_name(category, language)
    label = f"{category.code} {name}"
    if name not in shared_names:
        return label
    return (
        f"{label}（{category.standard}）" if language != "en" else f"{label} ({category.standard})"
    )


def shared_category_names(session: Session) -> frozenset[str]:
    """The names, Chinese or English, that more than one category bears (retired ones count:
    a case keeps its category)."""
    shared = union(
        select(Category.name_zh).group_by(Category.name_zh).having(func.count() > 1),
        select(Category.name_en).group_by(Category.name_en).having(func.count() > 1),
    )
    return frozenset(session.scalars(shared))


def shared_name_labels(session: Session, language: str, *, level: str = "minor") -> dict[int, str]:
    """Labels by category id of the active categories of a level whose name another category
    bears: what a picker built from /api/categories adds to its plain 'code name' options."""
    shared = shared_category_names(session)
    name = Category.name_en if language == "en" else Category.name_zh
    chosen = select(Category).where(
        Category.level == level, Category.retired_at.is_(None), name.in_(shared)
    )
    return {
        category.id: category_label(category, language, shared_names=shared)
        for category in session.scalars(chosen)
    }
