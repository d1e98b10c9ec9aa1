"""How the pictures are drawn: plotly helpers and the sweep's figures.

What they show comes from :mod:`sgexplore.views`; this module only turns those numbers into
plotly objects. Each figure has one implementation here or in its explorer's module.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable, Optional, Tuple

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..params import format_number
from ..views import SWEEP_METRICS, heatmap_cells, heatmap_limits

__all__ = ["refresh_snapshot", "threshold_lines", "heatmap_trace", "sweep_heatmaps", "sweep_figure"]

_SCALE_AXIS = "surrogate peak (scale)"


def refresh_snapshot(figure: go.FigureWidget) -> None:
    """Make views that attach later (page reload, Voila, a second display) show the current state.

    plotly sends updates to the browser as transient messages and keeps the state it
    hands to a *new* view only from creation time, so a reloaded page would show the
    first curve (docs/front-end-pitfalls.md#stale-figure-snapshot). Copying the current
    data and layout into that snapshot fixes it; these are private plotly attributes
    (checked with plotly 7.1).
    """
    figure._widget_data = copy.deepcopy(figure._data)
    figure._widget_layout = copy.deepcopy(figure._layout_obj._props)


def threshold_lines(spike_threshold: float, axes: Iterable[Tuple[str, str]]) -> list:
    """Dotted vertical lines at the threshold, one per (x axis, y axis) panel."""
    return [dict(type="line", xref=x, yref=f"{y} domain", x0=spike_threshold, x1=spike_threshold,
                 y0=0, y1=1, line=dict(color="#888", dash="dot", width=1.5))
            for x, y in axes]


def heatmap_trace(result: Any, metric: str, reset: int, **options: Any) -> go.Heatmap:
    """One sweep panel: shapes × scales of ``metric`` for reset mode number ``reset``."""
    z, text = heatmap_cells(result, metric, reset)
    zmin, zmax = heatmap_limits(result, metric)
    return go.Heatmap(z=z, x=[format_number(s) for s in result.scales], y=list(result.shapes),
                      text=text, texttemplate="%{text}", colorscale="Viridis",
                      reversescale=metric == "loss", zmin=zmin, zmax=zmax, **options)


def sweep_heatmaps(result: Any, metric: str = "both") -> go.Figure:
    """One heatmap per (metric, reset mode): rows are metrics, columns reset modes
    (:meth:`sgexplore.sweep.SweepResult.heatmap`)."""
    metrics = SWEEP_METRICS if metric == "both" else (metric,)
    for name in metrics:
        heatmap_limits(result, name)  # validates the name before anything is drawn
    seeds, lrs = len(getattr(result, "seeds", ())), len(getattr(result, "lrs", ()))
    about = (f", mean±std of {seeds} seeds" if seeds > 1 else "") + (", best lr" if lrs > 1 else "")
    titles = [f"final {name}, {reset} reset{about}" for name in metrics for reset in result.resets]
    figure = make_subplots(rows=len(metrics), cols=len(result.resets), subplot_titles=titles,
                           horizontal_spacing=0.12, vertical_spacing=0.18)
    for row, name in enumerate(metrics, 1):
        for r in range(len(result.resets)):
            col = r + 1
            colorbar = dict(len=1 / len(metrics) * 0.8, y=1 - (row - 0.5) / len(metrics), title=name)
            figure.add_trace(heatmap_trace(result, name, r, colorbar=colorbar,
                                           showscale=col == len(result.resets)), row=row, col=col)
            figure.update_xaxes(title_text=_SCALE_AXIS, type="category", row=row, col=col)
    figure.update_layout(height=330 * len(metrics), width=900,
                         title="Surrogate shape × scale (Zenke & Vogels 2021, qualitatively)")
    return figure


def sweep_figure(result: Any, *, title: Optional[str] = None, digits: int = 6) -> go.Figure:
    """Final loss and accuracy heatmaps (surrogate shape × peak scale) side by side.

    Buttons switch both panels between the reset modes the sweep ran (``result.resets``);
    each button holds that mode's values (trace 0: loss, trace 1: accuracy), rounded to
    ``digits`` significant digits to keep an exported page small. Diverged runs are blank
    and labelled "div".
    """
    heading = title or "Surrogate shape × scale: final loss and accuracy"
    figure = make_subplots(rows=1, cols=2, subplot_titles=("final loss", "test accuracy"),
                           horizontal_spacing=0.16)

    def panel(metric: str, r: int):
        z, text = heatmap_cells(result, metric, r)
        stored = [[None if not np.isfinite(v) else float(f"{v:.{digits}g}") for v in row] for row in z]
        return stored, text

    for col, metric in enumerate(SWEEP_METRICS, 1):
        trace = heatmap_trace(result, metric, 0, colorbar=dict(title=metric, x=0.43 if col == 1 else 1.0,
                                                                len=0.9))
        trace.z = panel(metric, 0)[0]
        figure.add_trace(trace, row=1, col=col)
        figure.update_xaxes(title_text=_SCALE_AXIS, type="category", row=1, col=col)

    buttons = []
    for r, reset in enumerate(result.resets):
        (loss_z, loss_text), (acc_z, acc_text) = panel("loss", r), panel("accuracy", r)
        buttons.append(dict(label=f"{reset} reset", method="update",
                            args=[{"z": [loss_z, acc_z], "text": [loss_text, acc_text]},
                                  {"title.text": f"{heading}<br><sub>{reset} reset</sub>"}, [0, 1]]))
    figure.update_layout(
        title=dict(text=f"{heading}<br><sub>{result.resets[0]} reset</sub>", font=dict(size=14)),
        width=1000, height=480, margin=dict(t=120), meta=dict(page_title=heading),
        updatemenus=[dict(type="buttons", direction="right", buttons=buttons, active=0,
                          x=0, xanchor="left", y=1.22, yanchor="top")])
    return figure
