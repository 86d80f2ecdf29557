"""The work-list map's macro renders in the page's language, with the app's own assets only."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from citygrid.web import template_environment

USE = (
    '{% import "maps/_worklist_map.html" as wm %}'
    '{{ wm.worklist_map("/api/map/cases?status=filed&q=路灯", 360, map_id="console-map") }}'
)
LINKS = re.compile(r'(?:src|href)="([^"]+)"')


def rendered(language: str, use: str = USE) -> str:
    return template_environment(language).from_string(use).render()


def messages_of(page: str) -> dict[str, str]:
    found = re.search(r'class="worklist-map-messages">(.*?)</script>', page, re.S)
    assert found is not None
    messages: dict[str, str] = json.loads(found.group(1))
    return messages


def test_the_macro_renders_the_map_its_legend_and_messages_in_chinese() -> None:
    page = rendered("zh-CN")
    assert 'id="console-map"' in page
    assert 'data-cases-url="/api/map/cases?status=filed&amp;q=路灯"' in page
    assert 'data-areas-url="/api/map/areas"' in page and 'data-height="360"' in page
    assert 'aria-label="列表案件地图"' in page
    for label in ("已超时", "即将到期", "正常", "未计时", "图例"):
        assert label in page
    messages = messages_of(page)
    assert messages["status.filed"] == "已立案" and messages["level.community"] == "社区"
    assert "{n}" in messages["map.grouped"] and "{level}" in messages["map.grouped"]
    assert " style=" not in page  # the strict CSP refuses inline styles


def test_the_macro_speaks_english_in_an_english_session() -> None:
    page = rendered("en")
    assert "Overdue" in page and "No time limit running" in page
    assert messages_of(page)["count.other"] == "{n} cases"


def test_the_macro_links_only_the_applications_own_assets(client: TestClient) -> None:
    links = LINKS.findall(rendered("zh-CN"))
    assert links == [
        "/maps/assets/leaflet/leaflet.css",
        "/maps/assets/leaflet.markercluster/MarkerCluster.css",
        "/static/maps/worklist_map.css",
        "/maps/assets/leaflet/leaflet.js",
        "/maps/assets/leaflet.markercluster/leaflet.markercluster.js",
        "/static/maps/worklist_map.js",
    ]
    for link in links:
        assert client.get(link).status_code == 200, link


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_without_assets_the_page_brings_its_own(language: str) -> None:
    use = (
        '{% import "maps/_worklist_map.html" as wm %}'
        '{{ wm.worklist_map("/api/map/cases", assets=False) }}'
    )
    page = rendered(language, use)
    assert "<script src=" not in page and "<link" not in page
    assert 'data-height="420"' in page
