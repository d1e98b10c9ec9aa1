"""Small helpers for the explorers' plotly FigureWidgets."""

from __future__ import annotations

import copy
from typing import Iterable, Tuple

import plotly.graph_objects as go

__all__ = ["refresh_snapshot", "threshold_lines"]


def refresh_snapshot(figure: go.FigureWidget) -> None:
    """Make views that attach later (page reload, Voila, a second display) show the current state.

    plotly sends updates to the browser as transient messages and keeps the state it
    hands to a *new* view only from creation time, so a reloaded page would show the
    first curve (notebook-stack.md §4.4B). Copying the current data and layout into that
    snapshot fixes it; these are private plotly attributes (checked with plotly 7.1).
    """
    figure._widget_data = copy.deepcopy(figure._data)
    figure._widget_layout = copy.deepcopy(figure._layout_obj._props)


def threshold_lines(spike_threshold: float, axes: Iterable[Tuple[str, str]]) -> list:
    """Dotted vertical lines at the threshold, one per (x axis, y axis) panel."""
    return [dict(type="line", xref=x, yref=f"{y} domain", x0=spike_threshold, x1=spike_threshold,
                 y0=0, y1=1, line=dict(color="#888", dash="dot", width=1.5))
            for x, y in axes]
