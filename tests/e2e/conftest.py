"""Browser tests in headless Debian Chromium through Playwright (never a downloaded browser).

pytest-django's ``live_server`` and Playwright's sync API share the test thread, and Playwright's
sync API runs an event loop there, so Django's async-safety check must be relaxed for these tests.
Every page a test opens is watched: console errors are collected, and any request that would
leave the machine is aborted and recorded (no CDN, no external fonts) — ``BrowserPage.assert_clean``
fails the test on either.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def pytest_collection_modifyitems(items):
    if os.access(CHROMIUM, os.X_OK):
        return
    skip = pytest.mark.skip(reason=f"Debian chromium not installed at {CHROMIUM} (make browser)")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A live-server test runs on ``transactional_db``, whose teardown flushes every table —
    including the protocol catalogue that ``tests/conftest.py`` loads once per session. Put it
    back after the flush so that later tests (other directories) see the same database as if no
    browser test had run."""
    yield
    if nextitem is None or "live_server" not in getattr(item, "fixturenames", ()):
        return
    from django.db import connections
    from pytest_django.plugin import blocking_manager_key

    from modalities.models import Protocol
    from modalities.services import sync_catalogue

    with item.config.stash[blocking_manager_key].unblock():
        if not Protocol.objects.exists():
            sync_catalogue()
        connections.close_all()  # like pytest-django after each test: no connection left open


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()
    playwright.stop()


@dataclass
class BrowserPage:
    page: object
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.console_errors == [], self.console_errors
        assert self.page_errors == [], self.page_errors
        assert self.external == [], self.external
        assert self.requests, "no request was observed"
        assert all(urlsplit(u).hostname in LOCAL_HOSTS for u in self.requests if "://" in u)


def _open(browser, **context_args) -> tuple[object, BrowserPage]:
    context = browser.new_context(**context_args)
    page = context.new_page()
    watched = BrowserPage(page=page)
    page.on(
        "console",
        lambda msg: watched.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    page.on("pageerror", lambda exc: watched.page_errors.append(str(exc)))

    def route(route):
        url = route.request.url
        watched.requests.append(url)
        host = urlsplit(url).hostname
        if url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            watched.external.append(url)
            route.abort()

    context.route("**/*", route)
    return context, watched


@pytest.fixture
def browser_page(browser):
    """A laptop-sized page (1366×900) with console and network watchers."""
    context, watched = _open(browser, viewport={"width": 1366, "height": 900})
    yield watched
    context.close()


@pytest.fixture
def tablet_page(browser):
    """A tablet in portrait (iPad-sized, 768×1024) with the same watchers."""
    context, watched = _open(
        browser, viewport={"width": 768, "height": 1024}, has_touch=True, is_mobile=False
    )
    yield watched
    context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
