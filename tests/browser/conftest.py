"""Browser tests: the distribution's Chromium driven by Playwright for Python, against the API
application served by uvicorn in this process.

Nothing here downloads a browser: Chromium is found at ``AGENTWORKER_CHROMIUM``,
/usr/bin/chromium or on the PATH. Without it (or without the ``playwright`` package) the tests
are skipped, saying so plainly, unless ``AGENTWORKER_REQUIRE_BROWSER=1`` (CI sets it): then
they fail.

Screenshots are written to the test's tmp directory and, with ``AGENTWORKER_SCREENSHOTS=1``,
copied to ``docs/`` (the README shows them).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import ROOT
from worker.dev.services import free_port

MISSING = "browser tests were not run: install chromium (apt-get install chromium)"
MISSING_PLAYWRIGHT = "browser tests were not run: install playwright (pip install playwright)"

#: Needed on a headless machine without a GPU or a user namespace sandbox; and nothing of
#: Chromium's own phones home during a test.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
DOCS = ROOT / "docs"


def find_chromium() -> str | None:
    configured = os.environ.get("AGENTWORKER_CHROMIUM")
    candidates: list[str | None] = [configured] if configured else []
    candidates += ["/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def _not_run(reason: str) -> None:
    if os.environ.get("AGENTWORKER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (AGENTWORKER_REQUIRE_BROWSER=1 requires them)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        _not_run(MISSING)
    assert path is not None
    return path


# Per module, not per session: Playwright's sync API keeps an asyncio loop running in this
# thread while it is open, and every later test's asyncio.run() would fail on it.
@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """One headless Chromium for a test module; each test opens its own contexts."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _not_run(MISSING_PLAYWRIGHT)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=list(CHROMIUM_FLAGS)
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """A page in a fresh browser context (its own cookies: one person each)."""
    contexts: list[Any] = []

    def open_page(**options: Any) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Serve an ASGI app with uvicorn on a free port of this machine; its base URL."""
    import uvicorn

    servers: list[tuple[Any, threading.Thread]] = []

    def start(app: Any) -> str:
        port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise AssertionError(f"uvicorn did not start on port {port}")
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Any, str], Path]:
    """Save a full-page screenshot as ``name`` (e.g. inbox-list.png) in the test's tmp
    directory, and in docs/ when AGENTWORKER_SCREENSHOTS=1."""

    def take(page: Any, name: str) -> Path:
        path = tmp_path / name
        page.screenshot(path=str(path), full_page=True)
        if os.environ.get("AGENTWORKER_SCREENSHOTS") == "1":
            DOCS.mkdir(exist_ok=True)
            shutil.copyfile(path, DOCS / name)
        return path

    return take
