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

The index holds each case's trigrams as an array (`show_trgm` of the key, GIN array_ops;
migration 2026-12-06_scale_queries), and a query asks for the cases whose array contains every
trigram inside the query's words (`search_trigrams`): containment is exact, so the index's
answer needs no recheck, where pg_trgm's LIKE support rechecks every candidate by computing the
key again (tens of microseconds a row: at ten million cases a common address's thousands of
candidates cost more than the rest of the search). The ILIKE on the text itself still confirms
that the words stand side by side.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

SEARCH_MAX_CHARS = 100
CASE_NUMBER = re.compile(r"\d{8}-\d{1,8}")
AREA_CODE = re.compile(r"\d{6}(?:\d{3}){0,3}")
CATEGORY_CODE = re.compile(r"\d{2,6}")
# pg_trgm's words in a key (its letters and digits: the key is ASCII, lower case).
KEY_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class SearchTerms:
    """The readings of one query; None where the query cannot mean that."""

    text: str
    number: str | None
    report_uuid: uuid.UUID | None
    area_code: str | None
    category_code: str | None
    # The trigrams the index is asked for; None: every one of the query's (search_trigrams).
    trigrams: tuple[str, ...] | None = None


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


def search_trigrams(text: str) -> list[str]:
    """The trigrams every case whose key contains the query's key has: those inside the query's
    words (pg_trgm's padded trigrams of a word's ends would also require the word to end there).
    Empty when the query is shorter than a trigram (one Chinese character is one)."""
    found = {
        word[start : start + 3]
        for word in KEY_WORD.findall(search_key(text))
        for start in range(len(word) - 2)
    }
    return sorted(found)
