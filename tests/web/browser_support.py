"""What the browser tests share: headless Debian Chromium, the app served over a committed
throwaway database, signing in, the requests and script errors a page caused, screenshots."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar
from urllib.parse import urlsplit

import uvicorn
from fastapi import FastAPI
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from citygrid import db
from citygrid.app import create_app
from citygrid.cli import migrate
from citygrid.settings import PROJECT_DIR, get_settings, settings_dependency
from tests.conftest import throwaway_database
from tests.events.seed import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_S = 20
PHONE: dict[str, object] = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
DESKTOP: dict[str, object] = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
LOCAL_SCHEMES = {"data", "blob", "about", "chrome-error"}
Seeded = TypeVar("Seeded")


@contextmanager
def committed_database(server_url: str) -> Iterator[Engine]:
    """A migrated throwaway database that the test commits to: the served app reads it through
    its own connections, so a rolled-back test transaction would be invisible to it."""
    with throwaway_database(server_url) as url:
        migrate(url)
        engine = db.make_engine(url, pool_size=4)
        try:
            yield engine
        finally:
            engine.dispose()


@dataclass(frozen=True)
class Site(Generic[Seeded]):
    """A served committed database: its engine, the server's base URL, what the seed returned."""

    engine: Engine
    server: str
    seeded: Seeded


@contextmanager
def seeded_site(
    server_url: str, media_dir: Path, seed: Callable[[Session], Seeded]
) -> Iterator[Site[Seeded]]:
    """A committed throwaway database, seeded by `seed` (then committed), served on a local port."""
    with committed_database(server_url) as engine:
        with Session(engine, expire_on_commit=False) as session:
            seeded = seed(session)
            session.commit()
        with live_server(engine, media_dir) as server:
            yield Site(engine, server, seeded)


@contextmanager
def live_server(engine: Engine, media_dir: Path) -> Iterator[str]:
    """The application on a free local port over the database, each request with its own
    session as in production; its base URL."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)

    def own_session() -> Iterator[Session]:
        with factory() as session:
            yield session

    settings = get_settings().model_copy(update={"media_dir": media_dir})
    app = create_app()
    app.state.statements = db.AsyncStatements(
        engine.url.render_as_string(hide_password=False), max_size=4
    )
    app.dependency_overrides[db.get_session] = own_session
    app.dependency_overrides[settings_dependency] = lambda: settings
    with serve(app) as server:
        yield server


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """`app` served by uvicorn in a thread on a free local port; its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    runner = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not runner.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        runner.should_exit = True
        thread.join(timeout=5)
        listener.close()


@contextmanager
def chromium(metrics: dict[str, object] = PHONE) -> Iterator[webdriver.Chrome]:
    """Headless Debian Chromium (never a downloaded browser) logging requests and console."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument("--disable-background-networking")
    options.add_argument(f"--window-size={metrics['width']},{metrics['height']}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.execute_cdp_cmd("Network.enable", {})
    try:
        yield driver
    finally:
        driver.quit()


def sign_in(driver: webdriver.Chrome, server: str, username: str, page: str) -> None:
    """Sign out whoever was in, log in through the form (pages in Chinese), land on `page`
    (a path, with its query if it has one)."""
    driver.get("about:blank")  # the last page's scripts stop before its session ends
    driver.delete_all_cookies()
    driver.get(f"{server}/language?set=zh-CN&next=/login%3Fnext%3D{page}")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
    WebDriverWait(driver, WAIT_S).until(lambda d: path_and_query(d.current_url) == page)


def path_and_query(url: str) -> str:
    """The path of `url`, with `?query` when it has one."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def set_offline(driver: webdriver.Chrome, offline: bool) -> None:
    """Cut or restore the page's network, and wait until the page knows."""
    conditions = {"offline": offline, "latency": 0, "downloadThroughput": -1}
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions", {**conditions, "uploadThroughput": -1}
    )
    WebDriverWait(driver, WAIT_S).until(
        lambda d: d.execute_script("return navigator.onLine") is (not offline)
    )


def requested_urls(driver: webdriver.Chrome) -> list[str]:
    """Every URL the browser asked for since the last call (the log is drained)."""
    urls = []
    for entry in driver.get_log("performance"):  # type: ignore[no-untyped-call]
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def non_local(urls: list[str]) -> list[str]:
    """The URLs that go to another host."""
    return [
        url
        for url in urls
        if urlsplit(url).scheme not in LOCAL_SCHEMES and urlsplit(url).hostname not in LOCAL_HOSTS
    ]


def script_errors(driver: webdriver.Chrome, *expected: str) -> list[str]:
    """Severe console messages, except the favicon probe and the `expected` ones."""
    noise = ("favicon.ico", *expected)
    return [
        entry["message"]
        for entry in driver.get_log("browser")  # type: ignore[no-untyped-call]
        if entry["level"] == "SEVERE" and not any(text in entry["message"] for text in noise)
    ]


def artifacts() -> Path:
    """Where screenshots go: $CITYGRID_TEST_ARTIFACTS or .citygrid/test-artifacts (not in git)."""
    folder = Path(
        os.environ.get("CITYGRID_TEST_ARTIFACTS") or PROJECT_DIR / ".citygrid" / "test-artifacts"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(driver: webdriver.Chrome, name: str) -> None:
    driver.save_screenshot(str(artifacts() / f"{name}.png"))


def text_of(driver: webdriver.Chrome, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def wait_for_text(driver: webdriver.Chrome, element_id: str, expected: str) -> str:
    """The element's text once it holds `expected` (a page that reloads meanwhile is read
    again: the element found just before the reload goes stale)."""
    wait = WebDriverWait(driver, WAIT_S, ignored_exceptions=[StaleElementReferenceException])
    # A one-item tuple is truthy even when the text is empty (until() waits for truthy).
    found: tuple[str] = wait.until(
        lambda d: (shown,) if expected in (shown := text_of(d, element_id)) else False
    )
    return found[0]


def fill_report(
    driver: webdriver.Chrome, category: str, description: str, photo: Path | None
) -> None:
    """On the report form: find the category (name or code), describe, attach a photo."""
    WebDriverWait(driver, WAIT_S).until(
        lambda d: d.execute_script("return document.getElementById('category').options.length")
    )
    driver.find_element(By.ID, "category-search").send_keys(category)
    driver.find_element(By.ID, "description").send_keys(description)
    if photo is not None:
        driver.find_element(By.ID, "photos").send_keys(str(photo))


@contextmanager
def phone_at(server: str, lon: float, lat: float, accuracy_m: float) -> Iterator[webdriver.Chrome]:
    """A phone-sized Chromium whose position (granted to the site) is lon/lat."""
    with chromium(PHONE) as driver:
        driver.execute_cdp_cmd(
            "Browser.grantPermissions", {"origin": server, "permissions": ["geolocation"]}
        )
        position = {"latitude": lat, "longitude": lon, "accuracy": accuracy_m}
        driver.execute_cdp_cmd("Emulation.setGeolocationOverride", position)
        yield driver
