"""Layout: nothing clipped on a small screen, and the Voila app's projector mode.

At 1280×800 in JupyterLab with the file browser open, no explorer control or figure is
clipped (docs/front-end-pitfalls.md#narrow-pages); at 1920×1080 in Voila, the app's
"projector" button gives large fonts and full-width figures (sgexplore.widgets.projector).

A scratch notebook shows both explorers; after Run All, for each explorer output:

* every control (slider, dropdown, text box, checkbox, button) lies inside its output area
  and keeps its natural width (its content is not cut: ``scrollWidth <= clientWidth + 1``);
* every slider shows its readout, and its track is wide enough to grab (at least 60 px; squeezed columns left about 20);
* the figure lies inside the output area (it wrapped under the controls), not past its edge;
* the figure fills its box (it has no width of its own: it fits its container), and when the
  file browser closes and the output widens, the figure follows its box's new width.
"""

from __future__ import annotations

import json

import harness

WIDTH, HEIGHT = 1280, 800
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
CELLS = ["from sgexplore.widgets import SurrogateExplorer, TrainingExplorer\n"
         "SurrogateExplorer(surrogate='Gaussian')",
         "from sgexplore.train import TrainConfig\n"
         "TrainingExplorer(surrogate='FastSigmoid', config=TrainConfig(steps=20))"]

MEASURE_JS = r'''
() => {
  const outputs = [...document.querySelectorAll('.jp-OutputArea-output')]
    .filter(o => o.querySelector('.widget-slider') && o.querySelector('.js-plotly-plot .main-svg'));
  return outputs.map(out => {
    const area = out.getBoundingClientRect();
    const controls = [...out.querySelectorAll(
      '.widget-slider, .widget-dropdown, .widget-text, .widget-checkbox, .widget-button, .widget-toggle-button')]
      .filter(e => e.offsetParent !== null)  // shown (not inside a collapsed accordion)
      .map(e => {
        const r = e.getBoundingClientRect();
        const label = (e.querySelector('.widget-label') || e).textContent.trim().slice(0, 40);
        const readout = e.querySelector('.widget-readout');
        const track = e.querySelector('.noUi-base');
        return {label, left: r.left, right: r.right, cut: e.scrollWidth > e.clientWidth + 1,
                readout: readout ? readout.getBoundingClientRect().width : null,
                readoutText: readout ? readout.textContent.trim() : null,
                track: track ? track.getBoundingClientRect().width : null};
      });
    const plot = out.querySelector('.js-plotly-plot').getBoundingClientRect();
    return {left: area.left, right: area.right, controls,
            plot: {left: plot.left, right: plot.right, width: plot.width}};
  });
}
'''


def _scratch_notebook(path):
    cells = [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source}
             for source in CELLS]
    path.write_text(json.dumps({"cells": cells, "metadata": {"kernelspec": KERNELSPEC}, "nbformat": 4, "nbformat_minor": 5}))


def test_nothing_is_clipped_at_1280x800_with_the_file_browser_open(lab, serve_dir, page, artifacts):
    _scratch_notebook(serve_dir / "layout_check.ipynb")
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    page.goto(lab.url("/lab/tree/layout_check.ipynb", reset=""))
    page.wait_for_function(harness.IDLE_JS, timeout=120_000)
    page.wait_for_selector(".jp-NotebookPanel", state="visible")
    page.evaluate("window.jupyterapp.shell.expandLeft()")  # the file browser stays open
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("[...document.querySelectorAll('.jp-NotebookPanel .jp-InputArea-prompt')]"
                           ".every(e => !e.textContent.includes('*'))", timeout=300_000)
    page.wait_for_function(harness.IDLE_JS, timeout=300_000)
    page.wait_for_function(f"({MEASURE_JS})().length == 2", timeout=120_000)
    assert page.evaluate("window.jupyterapp.shell.leftCollapsed") is False
    page.screenshot(path=str(artifacts / "layout-1280x800.png"), full_page=True)
    explorers = page.evaluate(MEASURE_JS)
    problems = []
    for k, explorer in enumerate(explorers):
        left, right = explorer["left"] - 1, explorer["right"] + 1
        assert len(explorer["controls"]) > 10, f"explorer {k}: only {len(explorer['controls'])} controls found"
        for c in explorer["controls"]:
            if c["left"] < left or c["right"] > right:
                problems.append(f"explorer {k}: {c['label']!r} spans {c['left']:.0f}..{c['right']:.0f}, "
                                f"the output {left:.0f}..{right:.0f}")
            if c["cut"]:
                problems.append(f"explorer {k}: {c['label']!r} has its content cut")
            if c["readout"] is not None and (c["readout"] < 10 or not c["readoutText"]):
                problems.append(f"explorer {k}: slider {c['label']!r} shows no readout")
            if c["track"] is not None and c["track"] < 60:
                problems.append(f"explorer {k}: slider {c['label']!r} track only {c['track']:.0f} px")
        plot = explorer["plot"]
        if plot["left"] < left or plot["right"] > right:
            problems.append(f"explorer {k}: figure spans {plot['left']:.0f}..{plot['right']:.0f}, "
                            f"the output {left:.0f}..{right:.0f}")
    assert not problems, "clipped at 1280x800:\n  " + "\n  ".join(problems)
    # the figures fit their boxes, and follow them when the file browser closes
    before = page.evaluate(FIT_JS)
    assert len(before) == 2 and all(abs(f["plot"] - f["box"]) <= 2 and f["box"] >= 400 for f in before), before
    page.evaluate("window.jupyterapp.shell.collapseLeft()")
    # (the box may grow, or shrink where the wider output lets it move beside the controls)
    page.wait_for_function(f"({FIT_JS})().every((f, k) => Math.abs(f.box - {[f['box'] for f in before]}[k]) > 20 "
                           "&& Math.abs(f.plot - f.box) <= 2)", timeout=20_000)
    after = page.evaluate(FIT_JS)
    page.screenshot(path=str(artifacts / "layout-1280x800-no-sidebar.png"), full_page=True)
    assert all(f["box"] <= f["output"] + 1 for f in after), after
    assert not page.problems, "browser reported errors:\n  " + "\n  ".join(page.problems)


# Each explorer output's width, its figure box's and its drawn figure's (CSS pixels).
FIT_JS = r'''
() => [...document.querySelectorAll('.jp-OutputArea-output')]
  .filter(o => o.querySelector('.sgx-figure .js-plotly-plot .main-svg'))
  .map(o => ({output: o.getBoundingClientRect().width,
              box: o.querySelector('.sgx-figure').getBoundingClientRect().width,
              plot: o.querySelector('.sgx-figure .main-svg').getBoundingClientRect().width}))
'''


PROJECTOR_JS = r'''
() => {
  const content = document.querySelector('body').getBoundingClientRect();
  const plots = [...document.querySelectorAll('.js-plotly-plot .main-svg:first-child')].map(p => p.getBoundingClientRect().width);
  const labels = [...document.querySelectorAll('.sgx-projector .widget-label')]
    .filter(e => e.offsetParent !== null).map(e => parseFloat(getComputedStyle(e).fontSize));
  const titles = [...document.querySelectorAll('.js-plotly-plot .gtitle')].map(
    e => parseFloat(e.style.fontSize || getComputedStyle(e).fontSize));
  return {page: content.width, plots, labels, titles,
          boxes: document.querySelectorAll('.sgx-projector').length};
}
'''


def test_projector_mode_in_voila_has_large_fonts_and_full_width_figures(voila, page, artifacts):
    """At 1920×1080 (a projector), the app's "projector" button: every explorer label at
    FONT_SIZE, figure titles as large, all three figures (the SurrogateExplorer's, and the
    TrainingExplorer's v figure and training figure) at least 90 % of the page's width; and
    back to the notebook look on a second press."""
    from sgexplore.widgets.projector import FONT_SIZE

    page.set_viewport_size({"width": 1920, "height": 1080})
    response = page.goto(voila.url("/"), timeout=300_000)
    assert response.ok, f"Voila answered {response.status}"
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2", timeout=300_000)
    before = page.evaluate(PROJECTOR_JS)
    assert before["boxes"] == 0 and all(w < 0.6 * before["page"] for w in before["plots"]), before
    page.locator("button", has_text="projector").click()
    page.wait_for_function("[...document.querySelectorAll('.js-plotly-plot .main-svg:first-child')].every("
                           "p => p.getBoundingClientRect().width >= 0.9 * document.body.getBoundingClientRect().width)",
                           timeout=60_000)
    on = page.evaluate(PROJECTOR_JS)
    page.screenshot(path=str(artifacts / "voila-projector.png"), full_page=True)
    assert on["boxes"] == 2, f"{on['boxes']} explorers in the projector look, expected 2"
    assert on["labels"] and min(on["labels"]) >= FONT_SIZE, f"label font sizes {sorted(set(on['labels']))}"
    assert len(on["titles"]) >= 2 and min(on["titles"]) >= FONT_SIZE - 4, f"figure title sizes {on['titles']}"
    assert len(on["plots"]) == 3 and min(on["plots"]) >= 0.9 * on["page"], on
    page.locator("button", has_text="projector").click()
    page.wait_for_function("document.querySelectorAll('.sgx-projector').length == 0", timeout=60_000)
    page.wait_for_function("[...document.querySelectorAll('.js-plotly-plot .main-svg:first-child')].every("
                           "p => p.getBoundingClientRect().width < 0.6 * document.body.getBoundingClientRect().width)",
                           timeout=60_000)
    assert not page.problems, "browser reported errors:\n  " + "\n  ".join(page.problems)
