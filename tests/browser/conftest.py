"""Headless Chromium for the page tests: Debian's ``chromium`` (installed by
``scripts/setup.sh test``), driven by Playwright, one browser for the whole session.

Every page is opened in its own context that lets through only ``file:``, ``data:``,
``blob:``, ``about:`` and ``http://127.0.0.1`` requests (anything else is aborted and fails
the test), collects console errors and page errors (the test fails if there are any), and
writes a screenshot to ``test-artifacts/screenshots/<test>.png`` at the repository root
for people to look at.

The tests run wherever the test extra is installed; they are skipped only when the
environment says so explicitly: ``NETANATOMY_SKIP_BROWSER_TESTS=1``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.pages import SCREENSHOTS

SKIP_ENV = "NETANATOMY_SKIP_BROWSER_TESTS"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]
ALLOWED_SCHEMES = ("file", "data", "blob", "about")
READY_TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(SKIP_ENV, "") in ("1", "true", "yes"):
        skip = pytest.mark.skip(reason=f"{SKIP_ENV} is set")
        for item in items:
            if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
                item.add_marker(skip)


def chromium_path() -> str:
    """The system Chromium (``NETANATOMY_CHROMIUM`` overrides)."""
    found = (os.environ.get("NETANATOMY_CHROMIUM") or shutil.which("chromium")
             or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None))
    if found is None:
        pytest.fail("the browser tests need Debian's chromium: run 'bash scripts/setup.sh "
                    f"test' as root (or set {SKIP_ENV}=1 to skip them)")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need the playwright package (the test extra: "
                    f"bash scripts/setup.sh test), or set {SKIP_ENV}=1 to skip them")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                              args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@dataclass
class Watched:
    """A page and what went wrong on it."""

    page: Any
    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def ready(self) -> Any:
        """Wait for the page's ``data-ready`` and return the page."""
        self.page.wait_for_function("document.body && document.body.dataset.ready === '1'",
                                    timeout=READY_TIMEOUT_MS)
        return self.page


def allowed(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ALLOWED_SCHEMES or (
        parts.scheme == "http" and parts.hostname == "127.0.0.1")


@pytest.fixture
def open_page(browser: Any, request: pytest.FixtureRequest
              ) -> Iterator[Callable[..., Watched]]:
    """``open_page(url, offline=False)`` → a :class:`Watched` page; at the end of the test
    its screenshot is written and its console errors, page errors and blocked requests
    must be none."""
    opened: list[tuple[Any, Watched]] = []

    def open_(url: str, offline: bool = False) -> Watched:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        watched = Watched(page)

        def route(route: Any) -> None:
            if allowed(route.request.url):
                route.continue_()
            else:
                watched.blocked.append(route.request.url)
                route.abort()

        context.route("**/*", route)
        if offline:
            context.set_offline(True)
        page.on("console", lambda message: watched.errors.append(
            f"console: {message.text}") if message.type == "error" else None)
        page.on("pageerror", lambda error: watched.errors.append(f"page error: {error}"))
        opened.append((context, watched))
        page.goto(url)
        return watched

    yield open_
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    problems = []
    for index, (context, watched) in enumerate(opened):
        suffix = f"-{index}" if index else ""
        try:
            watched.page.screenshot(path=str(SCREENSHOTS / f"{name}{suffix}.png"),
                                    full_page=True)
        finally:
            problems += watched.errors + [f"blocked request: {u}" for u in watched.blocked]
            context.close()
    assert problems == [], problems
