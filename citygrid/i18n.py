"""Translation catalogues (gettext .po files) and the choice of a page's language."""

from __future__ import annotations

import gettext
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# Folder of each language's catalogues: citygrid/locale/<folder>/<part>.po (one part per page
# family, so that pages are translated independently).
CATALOGUE_FOLDERS = {"zh-CN": "zh_CN", "en": "en"}


def negotiate_language(accept_language: str | None, chosen: str | None = None) -> str:
    """The page language: the user's explicit choice, else the browser's best supported one."""
    if chosen in LANGUAGES:
        return chosen
    for tag, _quality in _weighted_tags(accept_language or ""):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE


def _weighted_tags(header: str) -> list[tuple[str, float]]:
    """Language tags of an Accept-Language header, lower-cased, best first."""
    weighted = []
    for part in header.split(","):
        tag, _, parameters = part.strip().partition(";")
        quality = 1.0
        if parameters.strip().startswith("q="):
            try:
                quality = float(parameters.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((tag.lower(), quality))
    return sorted(weighted, key=lambda pair: -pair[1])


def catalogue_files(language: str) -> list[Path]:
    return sorted((LOCALE_DIR / CATALOGUE_FOLDERS[language]).glob("*.po"))


def read_catalogue(path: Path, language: str) -> Catalog:
    with path.open("rb") as po_file:
        return read_po(po_file, locale=CATALOGUE_FOLDERS[language])


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> gettext.NullTranslations:
    """All of a language's catalogues merged, compiled in memory (no .mo files to build)."""
    merged = Translations()
    for path in catalogue_files(language):
        compiled = BytesIO()
        write_mo(compiled, read_catalogue(path, language))
        compiled.seek(0)
        merged.merge(Translations(fp=compiled))
    return merged
