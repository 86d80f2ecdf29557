"""The map pages, their tables and the dashboard's framed maps in the reader's language (cookie
`citygrid_lang` first, then Accept-Language; Chinese by default), with every time in the city's
time zone (Asia/Shanghai, +08:00)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citygrid.accounts.roles import Role
from citygrid.i18n import translations
from citygrid.web import LANGUAGE_COOKIE
from maps.pages.service import heatmap_html
from tests.maps.city import add_cases, block, cell_code, seed_city, two_minor_categories
from tests.maps.page_support import FILTERS, PERIOD, PLANTED_PERIOD_IN_CITY_TIME
from tests.maps.pages.test_map_page_builders import limits

Auth = Callable[[Role], dict[str, str]]
ZH = translations("zh-CN").gettext
PAGES = ("/maps/heatmap", "/maps/choropleth", "/maps/hotspots")
# Latin words a Chinese map page may show: the method's name and the download format.
ALLOWED_LATIN = {"Getis", "Ord", "Gi", "CSV"}
# The visible text of a map page: its header, its legend, the layer control's names and the
# tooltips' and popups' field names.
HEADER = re.compile(r'<header id="map-header">.*?</header>', re.S)
LEGEND = re.compile(r'<div id="map-legend">.*?</div>', re.S)
ALIASES = re.compile(r"let aliases = (\[.*?\]);")
LAYER_NAMES = re.compile(r'"((?:[^"\\]|\\.)*)" : (?:tile_layer|geo_json|heat_map|fast_marker)')


def get_page(client: TestClient, auth: Auth, path: str, language: str | None, **params: str) -> str:
    if language is not None:
        client.cookies.set(LANGUAGE_COOKIE, language)
    headers = {**auth(Role.MANAGER), "Accept-Language": "en;q=0.5"}  # the cookie wins
    response = client.get(path, params={**PERIOD, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.text)


def visible_text(page: str) -> str:
    """What a reader sees of a map page, markup removed."""
    parts = HEADER.findall(page) + LEGEND.findall(page) + LAYER_NAMES.findall(page)
    parts += [" ".join(json.loads(found)) for found in ALIASES.findall(page)]
    return re.sub(r"<[^>]+>", " ", " ".join(parts))


def latin_words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]{2,}", text)) - ALLOWED_LATIN


@pytest.fixture
def sparse_city(session: Session) -> None:
    """The test city with cases in 11 of its 400 cells: most cells have none."""
    seed_city(session)
    (category_id, _, _), _ = two_minor_categories(session)
    created_at = FILTERS.period_from.replace(day=10, hour=1)  # 09:00 in the city
    add_cases(session, dict.fromkeys(block((8, 3)), 5), created_at=created_at,
              category_id=category_id)  # fmt: skip
    add_cases(session, {(0, 0): 40, (19, 19): 13}, created_at=created_at, category_id=category_id)
    session.flush()


@pytest.mark.parametrize("path", PAGES)
def test_a_chinese_session_gets_a_chinese_page_in_city_time(
    client: TestClient, auth: Auth, sparse_city: None, path: str
) -> None:
    page = get_page(client, auth, path, "zh-CN")
    assert page.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    assert PLANTED_PERIOD_IN_CITY_TIME in page  # 2026-11-01 00:00 UTC is 08:00 in the city
    assert "2026-11-01 00:00" not in page
    text = visible_text(page)
    assert "表格视图" in text and "网格边界（区、街道、社区）" in text
    assert latin_words(text) == set(), text


def test_titles_and_legends_in_chinese(client: TestClient, auth: Auth, sparse_city: None) -> None:
    heat = get_page(client, auth, "/maps/heatmap", "zh-CN")
    assert "<title>上报热力图</title>" in heat and "相对于最密集处的强度" in heat
    choropleth = get_page(client, auth, "/maps/choropleth", "zh-CN")
    assert "<h1>按网格统计的上报数</h1>" in choropleth
    legend = LEGEND.findall(choropleth)[0]
    # 389 cells without a case are the class "0"; the others are classed apart from them.
    classes = [row.split("</i>")[1] for row in legend.removesuffix("</div>").split("<br>")[1:]]
    assert classes == ["0", "1–5", "6–40", "无数值"] and "≤" not in legend
    hotspots = get_page(client, auth, "/maps/hotspots", "zh-CN")
    assert "<h1>冷热点分析（Getis-Ord Gi*）</h1>" in hotspots
    assert '["代码","名称","上报数","z","p","冷热点类型","趋势"]' in hotspots
    assert "热点（置信度 99%）" in LEGEND.findall(hotspots)[0]


def test_an_english_session_gets_english_in_city_time(
    client: TestClient, auth: Auth, sparse_city: None
) -> None:
    page = get_page(client, auth, "/maps/choropleth", "en")
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert "<h1>Reports by cells</h1>" in page and "Table view" in page
    assert PLANTED_PERIOD_IN_CITY_TIME in page


def test_accept_language_chooses_without_a_cookie(
    client: TestClient, auth: Auth, sparse_city: None
) -> None:
    headers = {**auth(Role.MANAGER), "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
    page = client.get("/maps/heatmap", params=PERIOD, headers=headers).text
    assert "<title>上报热力图</title>" in page
    english = {**auth(Role.MANAGER), "Accept-Language": "en-US"}
    assert "<title>Heatmap of reports</title>" in client.get("/maps/heatmap", headers=english).text


def test_notices_and_marker_tooltips_speak_chinese(session: Session, sparse_city: None) -> None:
    over = heatmap_html(session, FILTERS, limits(markers_cap=10), language="zh-CN")
    assert "共 98 件案件符合条件，超过可逐个标注的 10 件，因此只绘制汇总图层。" in over
    under = heatmap_html(session, FILTERS, limits(markers_cap=200), language="zh-CN")
    labels = json.loads(re.search(r"var labels = (\{.*?\});", under)[1])  # type: ignore[index]
    assert labels["reported"] == ZH("Reported") == "已上报" and labels["urgent"] == "紧急"


def test_table_view_in_chinese_and_csv_in_codes(
    client: TestClient, auth: Auth, sparse_city: None
) -> None:
    table = get_page(client, auth, "/maps/hotspots/table", "zh-CN")
    assert (
        '<html lang="zh-CN">' in table and "<caption>冷热点分析（Getis-Ord Gi*）</caption>" in table
    )
    headers = re.findall(r'<th scope="col">(.*?)</th>', table)
    assert headers == ["代码", "名称", "上报数", "上一时段上报数", "z", "p", "冷热点类型", "趋势"]
    assert "<td>热点（置信度 99%）</td>" in table and "hot99" not in table
    assert PLANTED_PERIOD_IN_CITY_TIME in table and "第 1–400 行，共 400 行" in table
    # The CSV stays machine-readable whatever the language: codes for columns and classes.
    text = client.get("/maps/hotspots/csv", params=PERIOD, headers=auth(Role.MANAGER)).text
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert {row["class"] for row in rows if row["code"] == cell_code((9, 4))} == {"hot99"}
    choropleth = get_page(client, auth, "/maps/choropleth/table", "zh-CN", metric="overdue")
    assert "<h1>按网格统计的超时案件</h1>" in choropleth
    assert '<th scope="col">超时案件</th>' in choropleth


def test_dashboard_frames_speak_the_sessions_language(
    client: TestClient, auth: Auth, sparse_city: None
) -> None:
    for language, title in (("zh-CN", "<title>冷热点分析（Getis-Ord Gi*）</title>"),
                            ("en", "<title>Hot spots (Getis-Ord Gi*)</title>")):  # fmt: skip
        page = get_page(client, auth, "/dashboard/maps/hotspots", language)
        assert title in page and PLANTED_PERIOD_IN_CITY_TIME in page
