"""Reading the work list pages as a person does: a list's rows, its total, its paging links, and
the English words a Chinese page should not show."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from tests.web.pages_support import ZH, open_page

# English a Chinese page may show: the other language's name in the language switch, and the
# coding standard of the national categories (GB/T 30428.2-2013).
ENGLISH_ALLOWED = frozenset({"English", "GB"})


def section(page: str, element_id: str) -> str:
    """The HTML of the <section> (tab panel) with this id."""
    start = page.index(f'<section id="{element_id}"')
    return page[start : page.index("</section>", start)]


def case_ids(fragment: str, tag: str = "article") -> list[int]:
    """The case ids of the rows (or cards) in a piece of a page, in page order."""
    return [int(found) for found in re.findall(rf'<{tag}[^>]*\bdata-case-id="(\d+)"', fragment)]


def next_link(fragment: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">', fragment)
    return html.unescape(found.group(1)) if found else None


def total_shown(fragment: str) -> int:
    """The "共 N 件" total of a list's paging bar."""
    found = re.search(r'data-total="(\d+)"', fragment)
    assert found is not None, "no total shown"
    return int(found.group(1))


def follow_pages(
    client: TestClient, path: str, panel: str | None, tag: str = "article"
) -> tuple[list[int], int]:
    """Every case id of a list, page after page by its next links, and how many pages."""
    seen: list[int] = []
    pages = 0
    url: str | None = path
    while url is not None:
        page = open_page(client, url, ZH)
        fragment = section(page, panel) if panel else page
        seen += case_ids(fragment, tag)
        pages += 1
        url = next_link(fragment)
        assert pages < 50, "the next links go round in circles"
    return seen, pages


def visible_texts(page: str) -> list[str]:
    """The words a person reads or hears: text outside scripts and styles, and the labels,
    placeholders and titles of the controls."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    attributes = re.findall(r'\s(?:aria-label|placeholder|title|alt)="([^"]*)"', body)
    text = re.sub(r"<[^>]+>", " ", body)
    return [html.unescape(part) for part in (text, *attributes)]


def english_words(page: str, data: frozenset[str] = frozenset()) -> set[str]:
    """Latin words of two letters or more that are not part of a code (HW-01, 110101, 9901),
    nor of the seeded `data` (user names, a reason a user typed in English)."""
    words: set[str] = set()
    for text in visible_texts(page):
        for token in re.findall(r"[\w\-./:]+", text):
            if re.search(r"\d", token):
                continue  # codes, numbers, times
            words |= set(re.findall(r"[A-Za-z]{2,}", token))
    return words - ENGLISH_ALLOWED - data
