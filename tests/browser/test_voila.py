"""The lab-demo app (``make demo``): Voila serves apps/explorer.ipynb with no code shown.

Checked like the notebooks in Lab: the explorers render, every readout and figure shows
what the kernel holds right after loading (this is where a stale FigureWidget snapshot
would show), a slider moved with the mouse and the keyboard updates the plotted curve
and readouts to the kernel's values, and the console has no errors apart from the
documented offline CDN noise (see conftest.KNOWN_NOISE).
"""

from __future__ import annotations

import pytest

import harness
from widget_page import VoilaApp, move_a_slider

pytestmark = [pytest.mark.browser, pytest.mark.slow]

APP = harness.REPO / "apps" / "explorer.ipynb"


@pytest.fixture(scope="module")
def voila(chromium_path, session_dir):
    """``make demo``'s server: Voila on 127.0.0.1 behind a random token, stopped by PID."""
    workdir = session_dir / "voila"
    workdir.mkdir()
    (workdir / "app").mkdir()
    notebook = workdir / "app" / APP.name
    notebook.write_bytes(APP.read_bytes())
    server = harness.start_voila(notebook, workdir)
    yield server
    harness.stop_server(server)


def test_app_refuses_visitors_without_the_token(voila):
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(f"{voila.base_url}/", timeout=30)
    assert refused.value.code in (302, 403)  # sent to the login page, the app never runs


def test_app_in_voila(voila, page, artifacts):
    app = VoilaApp(voila, page)
    app.open()
    assert not [o["error"] for o in app.outputs if o["error"]], "the app raised errors"
    assert "from sgexplore" not in page.locator("body").inner_text(), "Voila shows code"
    assert len(app.roots) >= 2, "the app shows both explorers"

    kernel = app.in_sync("after loading", timeout=60)
    figures = sum(i["kind"] == "figure" for items in kernel.values() for i in items)
    page.wait_for_function("[...document.querySelectorAll('.js-plotly-plot')]"
                           f".filter(e => e._fullLayout && e.querySelector('.main-svg')).length >= {figures}")
    assert page.locator(".js-plotly-plot").count() == figures
    page.screenshot(path=str(artifacts / "voila-app-1-loaded.png"), full_page=True)
    app.check_no_echo(kernel)

    move_a_slider(app, kernel, artifacts, "voila-app")
    assert not page.problems, "browser reported errors:\n  " + "\n  ".join(page.problems)
