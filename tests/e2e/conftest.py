"""The console in a real browser: headless Chromium (Debian's `chromium` package, driven by
Playwright with its executable path: no browser is downloaded) against `crm-es serve --demo`
run as a real process.

One service per pytest process: under pytest-xdist each worker starts its own (a few
seconds), and a test takes deals no other test of its worker has moved. One browser for the
tests of this folder, closed when the worker moves on to other tests. Every test
leaves a full-page screenshot of each page it opened in tests/artifacts/, named after it.

Like the PostgreSQL half: without chromium (or playwright) these tests skip, saying why, and
under CI (CI=true) they fail, so that CI can never skip them silently (.ci/run installs it).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.pages import shoot, sign_in
from tests.e2e.served import Console, DemoService, Key, api, create_key, demo_store

CHROMIUM = Path("/usr/bin/chromium")
WAIT_MS = 15_000  # how long a page may take to show what a test waits for (CI runs every test at once)


def require_chromium() -> None:
    reason = None
    if not CHROMIUM.exists():
        reason = f"no {CHROMIUM}: the browser tests need Debian's chromium (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed: pip install -e '.[test]'"
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; under CI the browser tests must run")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Path:
    require_chromium()
    return CHROMIUM


@pytest.fixture(scope="package")
def browser(chromium: Path) -> Iterator[Any]:
    """Chromium for the tests of this folder, closed when the worker leaves it: while
    Playwright's sync API is open its event loop counts as running in this thread, and a later
    test calling asyncio.run() would fail (tests/integration/test_key_check_on_loop.py does)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium))
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def console(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    store = demo_store(tmp_path_factory.mktemp("console") / "var")
    service = DemoService(store)
    try:
        # The first key is an admin's (it ends open development mode); the rep's key is the
        # owner's of the most open deals in the middle of the first pipeline, to move them.
        admin = create_key(store, "admin", "e2e-admin")
        auditor = create_key(store, "auditor", "e2e-auditor")
        with api(service, admin) as client:
            pipeline_id = client.get("/pipelines").json()["items"][0]["id"]
            stages = client.get(f"/pipelines/{pipeline_id}/board").json()["stages"]
        owners = [deal["owner_id"] for stage in stages[1:-1] for deal in stage["deals"] if deal["owner_id"]]
        rep = create_key(store, "rep", "e2e-rep", max(set(owners), key=owners.count))
        yield Console(service, admin, auditor, rep, pipeline_id)
    finally:
        service.stop()


@pytest.fixture
def browse(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``browse(url, key=None, locale="en-US")``: a page in a browser context of its own (its
    own cookies), signed in with ``key`` through the form when given. When the test ends, each
    page is saved as tests/artifacts/<test>[-n].png, as it was then (failed tests too)."""
    pages: list[Any] = []

    def open_page(base_url: str, key: Key | None = None, locale: str = "en-US") -> Any:
        context = browser.new_context(base_url=base_url, locale=locale, viewport={"width": 1680, "height": 1000})
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        pages.append(page)
        if key is not None:
            sign_in(page, key)
        return page

    yield open_page
    from playwright.sync_api import Error as PageBroke

    for n, page in enumerate(pages):
        try:
            shoot(page, request.node.name + (f"-{n + 1}" if n else ""))
        except PageBroke as error:  # a page that broke the test may not draw: the test's own failure says why
            warnings.warn(f"no screenshot of page {n + 1} of {request.node.name}: {error}", stacklevel=1)
        finally:
            page.context.close()
