"""A live server on 127.0.0.1 and Debian's chromium driven by Playwright."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
# A loaded 2-core machine can take a few seconds to answer; assertions wait up to this long.
expect.set_options(timeout=10_000)
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]


@pytest.fixture(scope="session", autouse=True)
def _clicks_wait_for_the_next_page() -> Iterator[None]:
    """A click that leads to another page returns once that page has loaded.

    Playwright returns when the navigation has started, and an element can be found as soon
    as the HTML arrives; htmx and our scripts (deferred) listen only after that. A test that
    typed or clicked in between did what a person cannot, and failed now and then. After a
    click that leads nowhere the page is loaded already and this returns at once.
    """
    click = Locator.click

    def click_and_wait(self: Locator, *args: Any, **kwargs: Any) -> None:
        click(self, *args, **kwargs)
        if not self.page.is_closed():
            self.page.wait_for_load_state("load")

    Locator.click = click_and_wait  # type: ignore[method-assign]
    yield
    Locator.click = click  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        yield base
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(
    browser: Browser, live_server: str, db: Any, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Page]:
    # Links in emails point at the live server, for this test only.
    monkeypatch.setitem(app.config, "PUBLIC_URL", live_server)
    context = browser.new_context(base_url=live_server)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
