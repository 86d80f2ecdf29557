"""The messages the pages use (from templates and Python) against the catalogues.

`python -m citygrid.i18n_extract` prints, per language, the messages its catalogues lack, as .po
entries to fill in; the test suite fails while any is missing or left empty."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file

from citygrid.i18n import LANGUAGES, catalogue_files, read_catalogue
from citygrid.settings import PROJECT_DIR

SOURCE_PACKAGES = ("citygrid", "events", "dispatch", "maps", "grid", "analysis", "sensing")
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}
TEMPLATE_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}


def _sources() -> Iterator[tuple[str, Path]]:
    """(extraction method, file) of every template and of Python modules that mark messages."""
    for package in SOURCE_PACKAGES:
        for template in sorted((PROJECT_DIR / package).glob("**/templates/**/*.html")):
            yield "jinja2.ext:babel_extract", template
        for module in sorted((PROJECT_DIR / package).glob("**/*.py")):
            if "N_(" in module.read_text(encoding="utf-8"):
                yield "python", module


def used_messages() -> dict[str, list[str]]:
    """Every message id the pages use → where ("file:line")."""
    used: dict[str, list[str]] = {}
    for method, path in _sources():
        options = TEMPLATE_OPTIONS if method != "python" else {}
        for line, message, _comments, _context in extract_from_file(
            method, str(path), keywords=KEYWORDS, options=options
        ):
            ids = message if isinstance(message, tuple) else (message,)
            for message_id in ids:
                if message_id:
                    where = f"{path.relative_to(PROJECT_DIR)}:{line}"
                    used.setdefault(message_id, []).append(where)
    return used


def translated_messages(language: str) -> dict[str, str]:
    """Message id → translation across the language's catalogues (empty when untranslated)."""
    found: dict[str, str] = {}
    for path in catalogue_files(language):
        for entry in read_catalogue(path, language):
            if entry.id and isinstance(entry.id, str):
                found[entry.id] = entry.string if isinstance(entry.string, str) else ""
    return found


def conflicting_translations(language: str) -> dict[str, dict[str, str]]:
    """Messages that two catalogue parts translate differently → {part file: translation}.

    The parts are merged into one catalogue, so only one of the translations would show."""
    seen: dict[str, dict[str, str]] = {}
    for path in catalogue_files(language):
        for entry in read_catalogue(path, language):
            if entry.id and isinstance(entry.id, str) and isinstance(entry.string, str):
                seen.setdefault(entry.id, {})[path.name] = entry.string
    return {
        message_id: by_part
        for message_id, by_part in seen.items()
        if len(set(by_part.values())) > 1
    }


def missing_translations(language: str) -> dict[str, list[str]]:
    """The used messages a language lacks or leaves empty → where they are used."""
    translated = translated_messages(language)
    return {
        message_id: places
        for message_id, places in used_messages().items()
        if not translated.get(message_id)
    }


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def main() -> None:
    gaps = 0
    for language in LANGUAGES:
        for message_id, places in missing_translations(language).items():
            gaps += 1
            print(f"# {language}: {', '.join(places[:3])}")
            english = message_id if language == "en" else ""
            print(f"msgid {_quoted(message_id)}\nmsgstr {_quoted(english)}\n")
        for message_id, by_part in conflicting_translations(language).items():
            gaps += 1
            print(f"# {language}: {message_id!r} translated differently: {by_part}")
    sys.exit(1 if gaps else 0)


if __name__ == "__main__":
    main()
