"""The exported HTML pages: self-contained, and every precomputed step is the right curve.

Expected curves come from the closed forms written out here in numpy, not from sgexplore.
"""

import math
import re

import numpy as np
import pytest

from sgexplore.sweep import SweepResult
from sgexplore.widgets import SurrogateExplorer
from sgexplore.widgets.export import (surrogate_explorer_figure, surrogate_explorer_html, sweep_figure,
                                      sweep_html)


def gaussian(x, thr, mu, sigma, grad_scale):
    return grad_scale * np.exp(-((x - thr - mu) ** 2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))


def fast_sigmoid(x, thr, slope, grad_scale):
    return grad_scale / (slope * np.abs(x - thr) + 1) ** 2


CASES = {
    "Gaussian": (dict(mu=0.1, sigma=0.3, grad_scale=2.0), gaussian),
    "FastSigmoid": (dict(slope=5.0, grad_scale=1.0), fast_sigmoid),
}


def _close(actual, expected):
    expected = np.asarray(expected)
    return np.allclose(actual, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())


@pytest.fixture(params=sorted(CASES))
def case(request):
    values, formula = CASES[request.param]
    explorer = SurrogateExplorer(request.param, spike_threshold=1.5, **values)
    return explorer, values, formula


def test_every_slider_step_is_the_closed_form_with_the_others_held(case):
    explorer, values, formula = case
    figure = surrogate_explorer_figure(explorer, points=201)
    x = np.asarray(figure.data[0].x)
    lo, hi = explorer.v_mem.min(), explorer.v_mem.max()
    assert len(x) == 201 and x[0] == pytest.approx(lo) and x[-1] == pytest.approx(hi)
    assert _close(figure.data[0].y, formula(x, 1.5, **values))
    assert _close(figure.data[1].y, formula(x, 1.5, **values))  # the exported reference

    names = [s.currentvalue.prefix.split(" = ")[0] for s in figure.layout.sliders]
    assert names == list(values)
    for i, (name, slider) in enumerate(zip(names, figure.layout.sliders)):
        step_values = [float(step.value) for step in slider.steps]
        assert step_values == sorted(step_values) and len(step_values) > 5
        assert step_values[slider.active] == values[name]  # starts at the exported value
        for step in slider.steps:
            data, layout, traces = step.args
            assert list(traces) == [0]
            changed = dict(values, **{name: float(step.value)})
            assert _close(data["y"][0], formula(x, 1.5, **changed)), (name, step.value)
            # moving this slider puts every other slider back on its exported value
            for j, other in enumerate(figure.layout.sliders):
                if j != i:
                    assert layout[f"sliders[{j}].active"] == other.active


def test_sliders_follow_the_declared_grid_thinned_and_valid():
    explorer = SurrogateExplorer("MultiGaussian")
    figure = surrogate_explorer_figure(explorer, max_steps=12)
    sigma = next(s for s in figure.layout.sliders if s.currentvalue.prefix.startswith("sigma"))
    values = [float(step.value) for step in sigma.steps]
    # sigma's slider is (0.05, 2.0, 0.05): 40 positions, thinned to every third
    assert values[:3] == pytest.approx([0.05, 0.2, 0.35]) and len(values) <= 15
    assert 0.5 in values  # the current value is always a position
    assert all(v > 0 for v in values)


def test_page_is_one_self_contained_file(tmp_path, case):
    explorer, values, _ = case
    path = explorer.to_html(tmp_path / "page.html")
    html = path.read_text(encoding="utf-8")
    assert re.search(r"plotly\.js v\d+\.\d+", html), "plotly.js is not embedded"
    assert not re.search(r"<script[^>]*\bsrc\s*=", html), "the page loads a script from elsewhere"
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']https?:", html)
    assert "each slider varies one parameter" in html.lower()
    assert html.count('"method":"update"') == sum(
        len(s.steps) for s in surrogate_explorer_figure(explorer).layout.sliders)


def test_html_export_writes_where_asked(tmp_path):
    explorer = SurrogateExplorer("Triangle")
    assert surrogate_explorer_html(explorer, tmp_path / "t.html") == tmp_path / "t.html"
    assert (tmp_path / "t.html").stat().st_size > 1_000_000  # plotly.js alone is ~4.8 MB


def _result():
    loss = np.array([[[0.9, 0.5, 0.2], [0.8, np.nan, 0.3]],
                     [[0.7, 0.4, 0.1], [0.6, 0.35, 0.25]]])
    accuracy = np.array([[[0.5, 0.7, 0.9], [0.55, np.nan, 0.85]],
                         [[0.6, 0.8, 0.95], [0.65, 0.75, 0.8]]])
    diverged = np.full((2, 2, 3), -1)
    diverged[0, 1, 1] = 17
    return SweepResult(shapes=("FastSigmoid", "Triangle"), scales=(0.1, 1.0, 10.0),
                       resets=("detached", "differentiable"), loss=loss, accuracy=accuracy,
                       diverged_at=diverged)


def _as_array(z):
    return np.array([[np.nan if v is None else v for v in row] for row in z], dtype=float)


def test_sweep_page_holds_each_reset_mode():
    result = _result()
    figure = sweep_figure(result)
    assert list(figure.data[0].y) == ["FastSigmoid", "Triangle"]
    assert list(figure.data[0].x) == ["0.1", "1", "10"]
    np.testing.assert_allclose(_as_array(figure.data[0].z), result.loss[0])
    np.testing.assert_allclose(_as_array(figure.data[1].z), result.accuracy[0])
    buttons = figure.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["detached reset", "differentiable reset"]
    for r, button in enumerate(buttons):
        data, _, traces = button.args
        assert list(traces) == [0, 1]
        np.testing.assert_allclose(_as_array(data["z"][0]), result.loss[r])
        np.testing.assert_allclose(_as_array(data["z"][1]), result.accuracy[r])
    assert buttons[0].args[0]["text"][0][1][1] == "div"
    assert buttons[1].args[0]["text"][0][1][1] == "0.35"


def test_sweep_page_is_self_contained(tmp_path):
    path = _result().to_html(tmp_path / "sweep.html")
    html = path.read_text(encoding="utf-8")
    assert re.search(r"plotly\.js v\d+\.\d+", html)
    assert not re.search(r"<script[^>]*\bsrc\s*=", html)
    assert sweep_html(_result(), tmp_path / "again.html").exists()
