"""The search box: what a typed query can mean, and the text key that makes Chinese searchable.

One box finds a case by its number, a report's UUID, a cell (or street, community) code, a
category code or name, or words of its address and description. A query is read every way its
shape allows, and a case matching any reading is found.

Chinese text and pg_trgm: trigrams are made of "word" characters, and in a database whose
LC_CTYPE is C (the cluster `./dev` creates, and many others) no Chinese character counts as one,
so `show_trgm('王府井')` is empty and a trigram index finds nothing. The search therefore indexes
a key in which every non-ASCII character is spelled as three letters (its code point in base
26), run together like the characters: trigrams work in any locale, a single character is one
trigram, and the trigrams that straddle two characters say which characters stand side by side,
so a few of them pick out a phrase (spelled as separate words, every character shared the very
common trigrams of its first letter, and a search read most of the index). A trigram that only
looks like a match across a misaligned boundary is removed by the ILIKE on the text itself.
The database function `case_search_key` (migration 2026-12-06) and `search_key` here spell
alike; a test keeps them so.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

SEARCH_MAX_CHARS = 100
CASE_NUMBER = re.compile(r"\d{8}-\d{1,8}")
AREA_CODE = re.compile(r"\d{6}(?:\d{3}){0,3}")
CATEGORY_CODE = re.compile(r"\d{2,6}")


@dataclass(frozen=True)
class SearchTerms:
    """The readings of one query; None where the query cannot mean that."""

    text: str
    number: str | None
    report_uuid: uuid.UUID | None
    area_code: str | None
    category_code: str | None


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def parse_search(raw: str) -> SearchTerms | None:
    """The readings of a typed query (surrounding blanks ignored); None for an empty one."""
    query = " ".join(raw.split())
    if not query:
        return None
    return SearchTerms(
        text=query,
        number=query if CASE_NUMBER.fullmatch(query) else None,
        report_uuid=_uuid_or_none(query) if len(query) >= 32 else None,
        area_code=query if AREA_CODE.fullmatch(query) else None,
        category_code=query if CATEGORY_CODE.fullmatch(query) else None,
    )


def _spelled(character: str) -> str:
    if ord(character) < 128:
        return character.lower()
    point = ord(character)
    return chr(97 + point // 676 % 26) + chr(97 + point // 26 % 26) + chr(97 + point % 26)


def search_key(text: str) -> str:
    """The text as the index spells it: ASCII lower-cased, every other character three letters."""
    return "".join(_spelled(character) for character in text)
