"""Fixtures for the browser tests: Debian Chromium via Playwright, one JupyterLab per session.

The browser is the system's Chromium, driven through ``executable_path``; Playwright's own
browser download is never used. Without a browser (or without Playwright) the tests skip
with the reason, except under ``CI`` where that is a failure: CI must prove the browser side.
Servers bind to 127.0.0.1 with a random token and are stopped by PID.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

import harness

#: Browser messages that are not errors of ours: (URL prefix, why it is harmless).
KNOWN_NOISE = [
    ("https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free",
     "Voila's page links Font Awesome's CSS from a CDN; offline (CI, lab machines) the "
     "request fails and only some icons are missing"),
]


def _noise(url: str) -> bool:
    return any(url.startswith(prefix) for prefix, _ in KNOWN_NOISE)


#: Fixtures that start a JupyterLab or Voila server: a test using one is marked ``server``.
SERVER_FIXTURES = {"lab", "voila"}


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(config, items):
    """Mark the tests here by what they use: every test that needs Chromium (the
    ``chromium_path`` fixture, directly or through ``page``/``browser``/``lab``) is
    ``browser``, and one that needs a server is also ``server`` (markers: pyproject.toml).
    Tests of the harness's own comparisons need neither and stay in the fast tier."""
    here = Path(__file__).parent
    for item in items:
        if here not in item.path.parents:
            continue
        if "chromium_path" in item.fixturenames:
            item.add_marker(pytest.mark.browser)
        if SERVER_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.server)


@pytest.fixture(scope="session")
def chromium_path(unavailable) -> str:
    """The browser's path (:func:`harness.chromium_or_unavailable`)."""
    return harness.chromium_or_unavailable(unavailable)


@pytest.fixture(scope="session")
def session_dir():
    path = Path(tempfile.mkdtemp(prefix="sgexplore-browser-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(chromium_path, session_dir, request):
    """A headless Chromium with a fresh profile, shared by the tests of one module.

    Module scope: Playwright's sync API keeps an event loop marked as running in this
    thread while it is open, which would break later tests that call asyncio.run().
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(session_dir / f"chromium-profile-{request.module.__name__}"),
            executable_path=chromium_path, headless=True, args=harness.CHROMIUM_FLAGS, viewport={"width": 1280, "height": 1000})
        yield context
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.sgx_failed = report.failed
    return report


@pytest.fixture
def page(browser, request, artifacts):
    """A fresh tab that records console errors, page errors and failed requests.

    When the test fails, a screenshot of the tab goes to ``test-artifacts/browser/``."""
    tab = browser.new_page()
    tab.set_default_timeout(60_000)
    tab.problems = []
    tab.on("console", lambda m: m.type == "error" and not _noise(m.location.get("url", ""))
           and tab.problems.append(f"console.error: {m.text} ({m.location.get('url', '')})"))
    tab.on("pageerror", lambda e: tab.problems.append(f"pageerror: {e}"))
    # net::ERR_ABORTED is a request the page cancelled itself (JupyterLab's file-browser
    # poll, cut off by a reload); any other failure is a real one.
    tab.on("requestfailed", lambda r: r.failure != "net::ERR_ABORTED" and not _noise(r.url)
           and tab.problems.append(f"requestfailed: {r.url} ({r.failure})"))
    yield tab
    if getattr(request.node, "sgx_failed", False):
        name = "".join(c if c.isalnum() or c in "-_." else "-" for c in request.node.name)
        tab.screenshot(path=str(artifacts / f"FAILED-{name}.png"))
    tab.close()


@pytest.fixture(scope="session")
def serve_dir(session_dir) -> Path:
    """Copies of the notebooks (runs must never modify the repository's files)."""
    root = session_dir / "serve"
    for notebook in harness.NOTEBOOKS:
        target = root / notebook.parent.name
        if not target.exists():
            shutil.copytree(notebook.parent, target,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    root.mkdir(exist_ok=True)
    return root


@pytest.fixture(scope="session")
def lab(chromium_path, serve_dir, session_dir):
    """One JupyterLab for the whole session (127.0.0.1, random token, stopped by PID)."""
    workdir = session_dir / "lab"
    workdir.mkdir()
    server = harness.start_lab(serve_dir, workdir)
    yield server
    harness.stop_server(server)


@pytest.fixture(scope="module")
def voila(chromium_path, session_dir, request):
    """``make demo``'s server for one test module: Voila serving apps/explorer.ipynb on
    127.0.0.1 behind a random token, stopped by PID."""
    workdir = session_dir / f"voila-{request.module.__name__}"
    (workdir / "app").mkdir(parents=True)
    app = harness.REPO / "apps" / "explorer.ipynb"
    (workdir / "app" / app.name).write_bytes(app.read_bytes())
    server = harness.start_voila(workdir / "app" / app.name, workdir)
    yield server
    harness.stop_server(server)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    harness.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return harness.ARTIFACTS
