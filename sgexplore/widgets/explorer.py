"""What both explorers share: the panel, the figure's extra curves, the message, display.

An explorer is a :class:`~sgexplore.widgets.controls.SurrogatePanel` (plus its own
controls), a plotly ``FigureWidget`` whose first ``base_traces`` traces are the live curves
and whose later traces come in pairs (pinned curves, ghosts of earlier runs), and a
message line. Subclasses compute and draw; this class does the bookkeeping.
"""

from __future__ import annotations

from typing import List

import ipywidgets as W
import plotly.graph_objects as go

from .controls import SurrogatePanel
from .figures import refresh_snapshot

__all__ = ["Explorer"]

CONTROLS_WIDTH = "500px"


class Explorer:
    """Base class of :class:`SurrogateExplorer` and :class:`TrainingExplorer`.

    Subclasses set ``panel``, ``figure``, ``base_traces`` and ``widget`` (with
    :meth:`_layout`). Displaying the explorer first offers every surrogate registered by
    then, so one registered after the explorer was built is listed too.
    """

    panel: SurrogatePanel
    figure: go.FigureWidget
    widget: W.Widget
    base_traces: int
    message: str = ""

    # -- extra curves (pins, ghosts): pairs of traces after the base traces ------
    @property
    def _extra_pairs(self) -> int:
        return (len(self.figure.data) - self.base_traces) // 2

    def _trim_extra_pairs(self, keep: int) -> None:
        """Drop the oldest pairs until at most ``keep`` remain."""
        while self._extra_pairs > keep:
            data = self.figure.data
            self.figure.data = data[:self.base_traces] + data[self.base_traces + 2:]

    def _clear_extra_pairs(self) -> None:
        self.figure.data = self.figure.data[:self.base_traces]
        refresh_snapshot(self.figure)

    # -- message and layout ---------------------------------------------------------
    def _show_message(self, text: str) -> None:
        self.message = text
        self.panel.show_message(text)

    def _layout(self, controls: List[W.Widget]) -> W.HBox:
        """Controls in a column on the left, the figure on the right."""
        return W.HBox([W.VBox(controls, layout={"width": CONTROLS_WIDTH}), self.figure])

    # -- display -------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        self.panel.refresh_choices()
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self):
        from IPython.display import display

        self.panel.refresh_choices()
        display(self.widget)
