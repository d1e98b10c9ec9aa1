"""The exported HTML page works from disk with the network cut off.

The page is opened from ``file://`` with every other request refused; plotly's own
slider is dragged with the mouse, and the drawn curve must become the Gaussian closed
form (computed here in numpy) at the value the slider shows, with the other parameter
held at its exported value.
"""

from __future__ import annotations

import math

import numpy as np

EXPORTED = dict(mu=0.1, sigma=0.3, grad_scale=1.0)
THRESHOLD = 1.0


def gaussian(x, mu, sigma, grad_scale):
    return grad_scale * np.exp(-((x - THRESHOLD - mu) ** 2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))


STATE_JS = r'''
() => {
  const gd = document.querySelector('.js-plotly-plot');
  return {x: Array.from(gd._fullData[0].x, Number), y: Array.from(gd._fullData[0].y, Number),
          path: gd.querySelector('path.js-line').getAttribute('d'),
          sliders: gd._fullLayout.sliders.map(s => ({name: s.currentvalue.prefix.split(' = ')[0],
                                                      active: s.active,
                                                      value: Number(s.steps[s.active].value)})),
          shown: [...gd.querySelectorAll('.slider-group > text.slider-label')].map(e => e.textContent)};
}
'''


def _offline(page):
    """Refuse every request that does not read a local file, and remember it."""
    refused = []

    def handle(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    return refused


def _drag_grip(page, slider_index, fraction):
    """Drag the grip of the ``slider_index``-th plotly slider by ``fraction`` of its rail."""
    group = page.locator(".js-plotly-plot .slider-group").nth(slider_index)
    rail = group.locator(".slider-rail-rect").bounding_box()
    grip = group.locator(".slider-grip-rect").bounding_box()
    x0, y0 = grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(x0 + fraction * rail["width"] * k / 10, y0)
    page.mouse.up()


def _assert_curve(state, **values):
    x, y = np.array(state["x"]), np.array(state["y"])
    expected = gaussian(x, **values)
    assert np.allclose(y, expected, rtol=1e-5, atol=1e-6 * expected.max()), values


def test_exported_explorer_moves_offline(page, tmp_path, artifacts):
    from sgexplore.widgets import SurrogateExplorer

    explorer = SurrogateExplorer("Gaussian", spike_threshold=THRESHOLD, **EXPORTED)
    path = explorer.to_html(tmp_path / "gaussian.html")
    refused = _offline(page)
    page.goto(path.as_uri())
    page.wait_for_selector(".js-plotly-plot .slider-group")

    start = page.evaluate(STATE_JS)
    assert [s["name"] for s in start["sliders"]] == list(EXPORTED)
    _assert_curve(start, **EXPORTED)

    _drag_grip(page, 1, 0.25)  # sigma to the right
    moved = page.evaluate(STATE_JS)
    sigma = moved["sliders"][1]["value"]
    assert sigma > EXPORTED["sigma"] and moved["path"] != start["path"]
    assert moved["shown"][1] == f"sigma = {sigma:.4g}"
    _assert_curve(moved, **dict(EXPORTED, sigma=sigma))
    page.screenshot(path=str(artifacts / "export-gaussian-after-drag.png"), full_page=True)

    _drag_grip(page, 0, -0.2)  # mu to the left: sigma goes back to its exported value
    second = page.evaluate(STATE_JS)
    mu = second["sliders"][0]["value"]
    assert mu < EXPORTED["mu"]
    assert second["sliders"][1]["value"] == EXPORTED["sigma"]
    _assert_curve(second, **dict(EXPORTED, mu=mu))

    assert not refused, f"the page tried to reach the network: {refused}"
    assert not page.problems, "browser reported errors:\n  " + "\n  ".join(page.problems)


def test_exported_sweep_switches_reset_mode_offline(page, tmp_path, artifacts):
    from sgexplore.sweep import SweepResult

    loss = np.array([[[0.9, 0.5], [0.8, 0.3]], [[0.7, 0.4], [0.6, 0.2]]])
    accuracy = 1 - loss / 2
    result = SweepResult(shapes=("FastSigmoid", "Triangle"), scales=(0.1, 1.0),
                         resets=("detached", "differentiable"), loss=loss, accuracy=accuracy,
                         diverged_at=np.full((2, 2, 2), -1))
    path = result.to_html(tmp_path / "sweep.html")
    refused = _offline(page)
    page.goto(path.as_uri())
    page.wait_for_selector(".js-plotly-plot .updatemenu-button")
    z = "() => document.querySelector('.js-plotly-plot')._fullData.map(t => t.z.map(r => Array.from(r)))"
    np.testing.assert_allclose(page.evaluate(z), [loss[0], accuracy[0]])
    page.locator(".updatemenu-button").nth(1).click()
    page.wait_for_function("document.querySelector('.js-plotly-plot')._fullData[0].z[0][0] !== 0.9")
    np.testing.assert_allclose(page.evaluate(z), [loss[1], accuracy[1]])
    page.screenshot(path=str(artifacts / "export-sweep-differentiable.png"), full_page=True)
    assert not refused, f"the page tried to reach the network: {refused}"
    assert not page.problems, "browser reported errors:\n  " + "\n  ".join(page.problems)
