"""The lab-demo app (``make demo``): Voila serves apps/explorer.ipynb with no code shown.

Voila passes only widget and info messages from clients to the kernel, never code, so
this test cannot ask the kernel for its state the way the Lab test does. It checks what
a visitor sees: the app answers only with the token; both explorers render, each with a
drawn plotly figure that has its title and data; no code is shown; no slider echoes a value back; a slider moved with
the mouse and then with the keyboard changes its readout and the plotted path; and the
console has no errors apart from the documented offline CDN noise (conftest.KNOWN_NOISE). The same
notebook runs in the Lab test, which compares every readout and curve with the kernel.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

import pytest

from widget_page import WidgetPage, drag_slider

# Voila writes each output into the page as JSON before its front-end renders it.
SERVED_OUTPUT = re.compile(r'<script type="application/vnd\.voila\.cell-output\+json">\s*(.*?)\s*</script>', re.S)
RENDERED_PLOTS_JS = ("[...document.querySelectorAll('.js-plotly-plot')]"  # drawn by plotly.js
                     ".filter(e => e._fullLayout && e.querySelector('.main-svg')).length")


def test_app_refuses_visitors_without_the_token(voila):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(f"{voila.base_url}/", timeout=30)
    assert refused.value.code in (302, 403)  # sent to the login page; the app never runs


# Per drawn figure: its title and the most points any trace has. plotly.js shows the
# placeholder title for a figure whose layout never arrived.
FIGURES_JS = r'''
() => [...document.querySelectorAll('.js-plotly-plot')].map(e => ({
  title: e._fullLayout.title.text,
  points: Math.max(0, ...e._fullData.map(t => (t.y || t.z || []).length))}))
'''


def _check_figures_have_content(page):
    """Every figure shows its own title and data (a FigureWidget whose state a new view
    gets is stale or empty shows plotly's placeholder title and no points)."""
    empty = [f for f in page.evaluate(FIGURES_JS)
             if f["points"] < 2 or f["title"] in (None, "", "Click to enter Plot title")]
    assert not empty, f"figures drawn without their content: {empty}"


def _settled(page, slider, quiet_s=1.0, timeout_s=30.0):
    """The readout and paths once nothing has changed for ``quiet_s`` (a drag sends
    several updates; the figure catches up with the last one)."""
    deadline = time.monotonic() + timeout_s
    state = _slider_state(page, slider)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = _slider_state(page, slider)
        if now == state:
            return now
        state = now
    pytest.fail(f"the page kept changing for {timeout_s} s after a slider move")


def _slider_state(page, slider):
    return slider.locator(".widget-readout").text_content(), [
        p.get_attribute("d") for p in page.locator(".js-plotly-plot path.js-line").all()]


def test_app_in_voila(voila, page, artifacts):
    watcher = WidgetPage(voila, page)  # records the widget updates the browser sends
    response = page.goto(voila.url("/"), timeout=300_000)
    assert response.ok, f"Voila answered {response.status}"
    served = [json.loads(m) for m in SERVED_OUTPUT.findall(response.text())]
    assert not [o for o in served if o.get("output_type") == "error"], "the app raised errors"
    widgets = sum("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in served)
    assert widgets == 3, f"expected the projector toggle and the two explorers, the app displayed {widgets} widgets"

    # Every explorer shows a figure, and every figure in the page is drawn.
    page.wait_for_function("[...document.querySelectorAll('.jp-OutputArea-output')]"
                           ".filter(o => o.querySelector('.jupyter-widgets .widget-slider'))"
                           ".every(o => [...o.querySelectorAll('.js-plotly-plot')]"
                           ".some(e => e._fullLayout && e.querySelector('.main-svg')))", timeout=120_000)
    page.wait_for_function(f"{RENDERED_PLOTS_JS} === document.querySelectorAll('.js-plotly-plot').length")
    assert "from sgexplore" not in page.locator("body").inner_text(), "Voila shows code"
    _check_figures_have_content(page)
    page.screenshot(path=str(artifacts / "voila-app-1-loaded.png"), full_page=True)

    echoes = [text for _, text in watcher.sent_updates if '"value"' in text]
    assert not echoes, f"widgets sent values without being touched: {echoes}"

    # The first slider next to a figure: the surrogate explorer's.
    slider = page.locator(".jp-OutputArea-output", has=page.locator(".widget-slider")).first.locator(
        ".widget-slider").first
    handle = slider.locator(".noUi-handle")
    handle.scroll_into_view_if_needed()
    start = _slider_state(page, slider)

    direction = drag_slider(page, slider)
    _wait_until_paths_change(page, start[1])
    dragged = _settled(page, slider)
    assert dragged[0] != start[0] and dragged[1] != start[1]
    page.screenshot(path=str(artifacts / "voila-app-2-after-drag.png"), full_page=True)

    handle.focus()
    page.keyboard.press("ArrowRight" if direction > 0 else "ArrowLeft")
    _wait_until_paths_change(page, dragged[1])
    keyed = _settled(page, slider)
    assert keyed[0] != dragged[0] and keyed[1] != dragged[1]
    page.screenshot(path=str(artifacts / "voila-app-3-after-key.png"), full_page=True)
    _check_figures_have_content(page)

    assert not page.problems, "browser reported errors:\n  " + "\n  ".join(page.problems)


def _wait_until_paths_change(page, paths) -> None:
    """Wait until the plotted lines differ from ``paths`` (the 'd' attributes seen before)."""
    page.wait_for_function(
        "([sel, d]) => [...document.querySelectorAll(sel)].map(p => p.getAttribute('d')).join() !== d",
        arg=[".js-plotly-plot path.js-line", ",".join(p or "" for p in paths)], timeout=30_000)
