"""Driving a TrainingExplorer in a real browser: step, play, pause, a drag and the lens.

In JupyterLab (notebook 03 after Run All) and in Voila (apps/explorer.ipynb), with the
mouse, on what plotly.js drew:

* step trains exactly one optimizer step (one more loss point), twice;
* play streams, pause stops it: no point arrives for a while after the pause, and the
  points drawn are the steps the status line reports;
* a drag of ``grad_scale``: while the slider is held (still, for longer than the
  debounce, mid-drag) no run starts; the surrogate curve drawn is the released value's
  surrogate (the formula written out here with numpy, at the drawn ``v``), the run at that
  value trains to the end, and no value the drag passed through left a ghost curve;
* the lens: the membrane histogram of hidden layer 1 is a distribution (its fractions sum
  to 1), the other layers' traces are empty, and the coverage and mean gain readout are
  what the drawn histogram and the drawn surrogate give.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time

import numpy as np
import pytest

import harness
from sgexplore.params import slider_values
from sgexplore.surrogates import FastSigmoid

NOTEBOOK = "notebooks/03_training_a_toy_snn.ipynb"
KNOB = "grad_scale"
GRID = slider_values(FastSigmoid.params()[KNOB])
SLOPE, THRESHOLD = 10.0, 1.0  # both pages' explorer: FastSigmoid's default slope, threshold 1
# trace indices: the surrogate curve, hidden layer 1's histogram, the first ghost
from sgexplore.widgets.training_explorer import _BASE_TRACES as BASE_TRACES  # noqa: E402
from sgexplore.widgets.training_explorer import _LAYER_COLOURS, _MEMBRANE as MEMBRANE  # noqa: E402
from sgexplore.widgets.training_explorer import _SURROGATE as SURROGATE  # noqa: E402
from sgexplore.widgets.training_explorer import LENS_FIGURE_CLASS, TRAINING_FIGURE_CLASS  # noqa: E402

# Marks the first output holding a "retrain" button (a TrainingExplorer) as data-drive="explorer".
FIND_JS = r'''
() => {
  const outs = [...document.querySelectorAll('.jp-OutputArea-output')]
    .filter(o => [...o.querySelectorAll('button')].some(b => b.textContent.trim() === 'retrain'));
  if (!outs.length || !outs[0].querySelector('.js-plotly-plot .main-svg')) return false;
  outs[0].setAttribute('data-drive', 'explorer');
  return true;
}
'''
STATE_JS = r'''
([out, training, lens]) => {
  const plot = out.querySelector(`.${training}.js-plotly-plot`);
  const lensPlot = out.querySelector(`.${lens}.js-plotly-plot`);
  const html = [...out.querySelectorAll('.widget-html-content')].map(e => e.textContent.trim());
  const number = v => (typeof v === 'string' ? v : Number(v));
  return {
    status: html.find(t => /^(done step|training…|stopped at|paused at|run stopped)/.test(t)) || '',
    lens: html.find(t => t.startsWith('membrane lens')) || '',
    title: plot._fullLayout.title.text,
    traces: plot.data.map(t => ({name: t.name, x: Array.from(t.x || [], number), y: Array.from(t.y || [], Number)})),
    lens_traces: lensPlot.data.map(t => ({name: t.name, x: Array.from(t.x || [], number), y: Array.from(t.y || [], Number)})),
    readouts: Object.fromEntries([...out.querySelectorAll('.widget-slider')].map(
      s => [s.querySelector('.widget-label').textContent, s.querySelector('.widget-readout').textContent.trim()])),
  };
}
'''


def state(page):
    out = page.locator('[data-drive="explorer"]').element_handle()
    return page.evaluate(STATE_JS, [out, TRAINING_FIGURE_CLASS, LENS_FIGURE_CLASS])


def points(s):
    return len(s["traces"][0]["y"])


def ghosts(s):
    return [t["name"] for t in s["traces"][BASE_TRACES::2]]


def knob_in(text):
    return float(re.search(KNOB + r"=([-+0-9.e]+)", text).group(1))


def wait_for(page, what, test, timeout=120.0):
    deadline = time.monotonic() + timeout
    while True:
        s = state(page)
        if test(s):
            return s
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout:.0f} s; the page shows status "
                        f"{s['status']!r}, {points(s)} loss points, title {s['title']!r}; browser errors: "
                        f"{page.problems or 'none'}")
        time.sleep(0.05)


def click(page, label):
    page.locator('[data-drive="explorer"] button', has_text=re.compile(rf"^\s*{label}\s*$")).click()


def paused_at(s):
    found = re.match(r"paused at step (\d+)/", s["status"])
    return int(found.group(1)) if found else None


def on_grid(shown):
    """The grad_scale slider's exact value behind its readout (a log grid, shown rounded)."""
    return min(GRID, key=lambda v: abs(math.log(v) - math.log(float(shown))))


def fast_sigmoid(v, grad_scale):
    return grad_scale / (SLOPE * np.abs(v - THRESHOLD) + 1) ** 2


def drag_slider(page, x0, y0, track, start_scale):
    """Drag the handle at (x0, y0) over 30 % of the track in 12 moves, resting mid-way
    longer than the debounce: no run may start before the release."""
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 13):
        page.mouse.move(x0 + i * 0.3 * track["width"] / 12, y0)
        time.sleep(0.03)
        if i == 6:  # held still mid-drag, longer than the debounce: training waits for the release
            time.sleep(0.6)
            held = state(page)
            assert math.isclose(knob_in(held["title"]), start_scale, rel_tol=0.01) \
                and not held["status"].startswith("training"), \
                f"a run started while the slider was held: {held['status']!r}, {held['title']!r}"
    page.mouse.up()


def drive(page, artifacts, stem, around_drag=contextlib.nullcontext):
    """Step, play, pause, step, drag, lens on the explorer marked by FIND_JS; the drag runs
    inside ``around_drag()``."""
    page.wait_for_function(FIND_JS, timeout=120_000)
    out = page.locator('[data-drive="explorer"]')
    out.scroll_into_view_if_needed()
    assert page.locator('[data-drive="explorer"] .js-plotly-plot').count() == 2  # the v figure, the training

    def built_run_drawn(s):  # plotly.js has drawn the built run (not only its first, empty plot)
        done = re.match(r"done step (\d+)/(\d+)", s["status"])
        return bool(done) and points(s) == int(done.group(2))

    built = wait_for(page, "the built run's curves", built_run_drawn)
    # Then a moment more: once, in Voila under load, a step clicked right as the page had
    # loaded never reached the drawn figure (the status said "paused at step 1", the plot
    # kept the built run). Not investigated further; see the report of issue 11.
    time.sleep(1.0)
    steps = int(re.match(r"done step (\d+)/(\d+)", built["status"]).group(2))
    start_scale = knob_in(built["title"])

    # step: a new run, exactly one point; again: exactly one more
    click(page, "step")
    s = wait_for(page, "the first step", lambda s: paused_at(s) == 1 and points(s) == 1)
    click(page, "step")
    s = wait_for(page, "the second step", lambda s: paused_at(s) == 2)
    time.sleep(1.0)
    s = state(page)
    assert points(s) == 2 and paused_at(s) == 2, f"after two steps: {points(s)} points, {s['status']!r}"

    # play streams; pause stops it where the status says, and nothing arrives afterwards
    click(page, "play")
    wait_for(page, "streaming after play", lambda s: points(s) > 2)
    click(page, "pause")
    s = wait_for(page, "the pause", lambda s: (paused_at(s) or 0) > 2 and points(s) == paused_at(s))
    k = paused_at(s)
    assert 2 < k < steps, f"play then pause should stop within the run; paused at {k}/{steps}"
    time.sleep(1.5)
    later = state(page)
    assert points(later) == k and later["status"] == s["status"], \
        f"points arrived after the pause: {points(later)} (paused at {k}), status {later['status']!r}"
    click(page, "step")
    s = wait_for(page, "a step after the pause", lambda s: paused_at(s) == k + 1)
    assert points(s) == k + 1
    page.screenshot(path=str(artifacts / f"{stem}-1-paused.png"), full_page=True)
    ghosts_before = ghosts(s)

    # a drag of grad_scale: the surrogate follows, the released value trains, no ghosts between
    slider = out.locator(".widget-slider", has=page.locator(f".widget-label:text-is('{KNOB}')"))
    handle = slider.locator(".noUi-handle")
    handle.scroll_into_view_if_needed()
    track, box = slider.locator(".noUi-base").bounding_box(), handle.bounding_box()
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    with around_drag():
        drag_slider(page, x0, y0, track, start_scale)
    released = float(state(page)["readouts"][KNOB])
    assert not math.isclose(released, start_scale, rel_tol=0.05), "the drag did not move grad_scale"

    def follows(s):
        x, y = (np.array(s["lens_traces"][SURROGATE][k]) for k in ("x", "y"))
        value = on_grid(s["readouts"][KNOB])
        return len(x) > 100 and np.allclose(y, fast_sigmoid(x, value), rtol=1e-5, atol=1e-7 * value)

    s = wait_for(page, "the surrogate curve at the released value", follows, timeout=30)
    released = on_grid(s["readouts"][KNOB])
    s = wait_for(page, "the released value's complete run", lambda s: (
        s["status"].startswith(f"done step {steps}/{steps}") and math.isclose(knob_in(s["title"]), released,
                                                                           rel_tol=0.01)))
    assert points(s) == steps
    assert follows(s), "the surrogate curve drawn is not the released value's"
    passed = [g for g in ghosts(s) if not math.isclose(knob_in(g), start_scale, rel_tol=0.01)]
    assert not passed, f"values the drag passed through left ghosts: {passed}"
    assert ghosts(s) == ghosts_before, f"ghosts {ghosts(s)}, before the drag {ghosts_before}"
    page.screenshot(path=str(artifacts / f"{stem}-2-dragged.png"), full_page=True)

    # the lens: hidden layer 1's histogram, and the readout computed from what is drawn
    hist_x, hist_y = (np.array(s["lens_traces"][MEMBRANE][k]) for k in ("x", "y"))
    assert len(hist_x) > 10 and abs(hist_y.sum() - 1) < 1e-4, "the membrane histogram is not a distribution"
    assert all(not s["lens_traces"][MEMBRANE + n]["y"] for n in range(1, len(_LAYER_COLOURS))), \
        "traces of absent layers show data"
    found = re.search(r"hidden 1: gradient reaches (\d+)% of v samples, mean gain ([0-9.e+-]+)", s["lens"])
    assert found, f"no lens readout for hidden 1: {s['lens']!r}"
    gains = fast_sigmoid(hist_x, released) / released  # the surrogate over its peak, at each bin
    near = np.abs(gains - 0.01) < 1e-4  # bins on the 1 % level may fall either way in float32
    low, high = hist_y[gains >= 0.01 + 1e-4].sum(), hist_y[(gains >= 0.01) | near].sum()
    assert low * 100 - 0.5 - 1e-6 <= int(found.group(1)) <= high * 100 + 0.5 + 1e-6, \
        f"coverage readout {found.group(1)}% but the drawn histogram gives {low:.3%}..{high:.3%}"
    mean_gain = float((hist_y * gains).sum())
    assert math.isclose(float(found.group(2)), mean_gain, rel_tol=6e-3, abs_tol=1e-6), \
        f"mean gain readout {found.group(2)} but the drawn histogram gives {mean_gain:.4g}"
    assert not page.problems, "browser reported errors:\n  " + "\n  ".join(page.problems)


def test_drive_the_training_explorer_in_lab(lab, page, artifacts):
    page.goto(lab.url(f"/lab/tree/{NOTEBOOK}", reset=""))
    page.wait_for_function(harness.IDLE_JS, timeout=120_000)
    page.wait_for_selector(".jp-NotebookPanel", state="visible")
    page.evaluate("window.jupyterapp.shell.collapseLeft()")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("[...document.querySelectorAll('.jp-NotebookPanel .jp-InputArea-prompt')]"
                           ".every(e => !e.textContent.includes('*'))", timeout=600_000)
    page.wait_for_function(harness.IDLE_JS, timeout=600_000)
    kernel = next(s for s in lab.api("/api/sessions") if s["path"] == NOTEBOOK)["kernel"]["id"]

    @contextlib.contextmanager
    def count_relayouts():
        """Every relayout the page reports to the kernel during the drag: none may echo the
        surrogate axis's range that the kernel's own redraws set."""
        harness.kernel_execute(lab, kernel, (
            "_sgx_relayouts = []\nexplorer.lens_figure.observe(lambda c: c['new'] and _sgx_relayouts.append("
            "c['new']['relayout_data']), '_js2py_relayout')"))
        yield
        time.sleep(1.0)  # the last redraws' reports, had there been any
        got = json.loads(harness.kernel_execute(lab, kernel, "import json; print(json.dumps(_sgx_relayouts))"))
        echoes = [r for r in got if any(key.startswith("yaxis") for key in r)]
        assert not echoes, f"the page reported the kernel's own axis ranges back: {echoes}"

    drive(page, artifacts, "drive-lab", around_drag=count_relayouts)


def test_drive_the_training_explorer_in_voila(voila, page, artifacts):
    response = page.goto(voila.url("/"), timeout=300_000)
    assert response.ok, f"Voila answered {response.status}"
    drive(page, artifacts, "drive-voila")
