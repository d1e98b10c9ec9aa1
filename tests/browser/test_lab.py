"""Every notebook, run in JupyterLab in a real browser, shows what its kernel holds.

For each notebook: Run All; every plotly figure renders; every slider, text readout and
figure in the browser matches the kernel's widgets (right after Run All too, and no
slider echoes a snapped value back); a slider moved with the mouse and then with the
keyboard changes the plotted curve and readouts to what the kernel reports; after a
reload the figure shows the current state, not the one from its creation; and the
console stays free of errors.
"""

from __future__ import annotations

import pytest

import harness
from widget_page import WidgetPage, figure_ys, move_a_slider

PLOTLY_MIME = "application/vnd.plotly.v1+json"
RUN_TIMEOUT_MS = 600_000  # the sweep and training notebooks run for a while on 2 cores
# Plots plotly.js has drawn (laid out, with an SVG) in the open notebook; LIVE: in widgets.
PLOTS_JS = "[...document.querySelectorAll('.jp-NotebookPanel .js-plotly-plot')]"
LIVE = ".filter(e => e.closest('.jupyter-widgets'))"
DRAWN = ".filter(e => e._fullLayout && e.querySelector('.main-svg')).length"


def test_there_are_notebooks_to_check():
    assert harness.NOTEBOOKS, "no notebooks/*.ipynb or apps/*.ipynb found"


class LabNotebook(WidgetPage):
    """One notebook open in JupyterLab (``window.jupyterapp`` is exposed by the server flag)."""

    def __init__(self, lab, page, relpath):
        super().__init__(lab, page)
        self.relpath = relpath

    def open(self):
        self.page.goto(self.server.url(f"/lab/tree/{self.relpath}", reset=""))
        self.wait_idle()
        # More room for the notebook (and nicer screenshots): fold the file browser away.
        self.page.evaluate("window.jupyterapp.shell.collapseLeft()")

    def wait_idle(self):
        self.page.wait_for_function(harness.IDLE_JS, timeout=120_000)
        self.page.wait_for_selector(".jp-NotebookPanel", state="visible")

    def run_all(self):
        self.page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.page.wait_for_function(
            "[...document.querySelectorAll('.jp-NotebookPanel .jp-InputArea-prompt')]"
            ".every(e => !e.textContent.includes('*'))", timeout=RUN_TIMEOUT_MS)
        self.page.wait_for_function(harness.IDLE_JS, timeout=RUN_TIMEOUT_MS)
        sessions = [s for s in self.server.api("/api/sessions") if s["path"] == self.relpath]
        assert len(sessions) == 1, f"expected one kernel session for {self.relpath}, got {sessions}"
        self.kernel_id = sessions[0]["kernel"]["id"]

    def read_outputs(self):
        self.outputs = self.page.evaluate(harness.LAB_OUTPUTS_JS)
        return self.outputs

    def wait_rendered(self, expected, live_only=False):
        """Wait until ``expected`` plots are drawn (only those in widgets if ``live_only``)."""
        plots = PLOTS_JS + (LIVE if live_only else "")
        self.page.wait_for_function(f"{plots}{DRAWN} >= {expected}", timeout=120_000)
        count = self.page.evaluate(f"{plots}.length")
        assert count == expected, f"{count} plotly plots in the page, {expected} in the notebook"

    def save_and_reload(self):
        self.page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
        self.page.wait_for_function("!window.jupyterapp.shell.currentWidget.context.model.dirty")
        self.page.reload()
        self.wait_idle()


def live_figures(kernel):
    """FigureWidgets under the displayed widgets."""
    return sum(i["kind"] == "figure" for items in kernel.values() for i in items)


@pytest.mark.parametrize("notebook_path", harness.NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_in_lab(lab, page, notebook_path, artifacts):
    relpath = f"{notebook_path.parent.name}/{notebook_path.name}"
    stem = f"lab-{notebook_path.parent.name}-{notebook_path.stem}"
    nb = LabNotebook(lab, page, relpath)
    nb.open()
    nb.run_all()
    outputs = nb.read_outputs()
    assert not [o["error"] for o in outputs if o["error"]], "cells raised errors"

    kernel = nb.in_sync("after Run All")
    live = live_figures(kernel)
    nb.wait_rendered(live + sum(PLOTLY_MIME in o["mimes"] for o in outputs))
    page.screenshot(path=str(artifacts / f"{stem}-1-run-all.png"), full_page=True)
    for root in nb.roots:  # each live widget on its own, for the docs
        if any(i["kind"] == "figure" for i in kernel[root["model_id"]]):
            page.locator(f'[data-sgx-output="{root["key"]}"]').screenshot(
                path=str(artifacts / f"{stem}-1-output-{root['key']}.png"))
    nb.check_no_echo(kernel)

    if live:  # a notebook with live figures must have a slider that moves one
        moved_root, created, current = move_a_slider(nb, kernel, artifacts, stem)

    # Reload: the live figures must come back in their current state, not the creation-time
    # one. (Static figures are plain saved outputs; this check is about the widgets.)
    nb.save_and_reload()
    nb.wait_rendered(live, live_only=True)
    nb.read_outputs()
    kernel = nb.in_sync("after a page reload")
    if live:  # the browser shows the kernel's state (checked above), which is the moved one
        assert figure_ys(kernel[moved_root]) == current != created
    page.screenshot(path=str(artifacts / f"{stem}-4-after-reload.png"), full_page=True)

    assert not page.problems, "browser reported errors:\n  " + "\n  ".join(page.problems)
