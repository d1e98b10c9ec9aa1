"""SurrogateExplorer: drag a surrogate's parameters and watch its shape.

The top panel is the surrogate dS/dv against the membrane potential, computed through the
same autograd path training uses (``spike(...).sum().backward()``). The bottom panel is
its primitive, the smooth "pretend forward" whose slope the backward pass uses, next to
the true forward: a step in ``single`` mode, a staircase in ``multi``/``max`` mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Union

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..params import Param, format_number, validate_value
from ..surrogates import Surrogate, describe
from ..views import NORMALISE, POINTS, SurrogateView, normalisation, surrogate_view
from .controls import SurrogatePanel
from .explorer import Explorer, visitor_message
from .figures import CompactFigureWidget, refresh_snapshot, threshold_lines

__all__ = ["SurrogateExplorer", "MAX_PINS", "NORMALISE_PARAM", "POINTS_PARAM"]

MAX_PINS = 6
NORMALISE_PARAM = Param("none", choices=NORMALISE,
                        doc="scale each curve to peak 1 or area 1, to compare shapes apart from scale")
POINTS_PARAM = Param(POINTS, low=11, high=20001, integer=True, slider=(11, 20001, 10),
                     doc="points per curve")
_BASE_TRACES = 3  # derivative, primitive, true forward; pins come after
_PANELS = [("x", "y"), ("x2", "y2")]


@dataclass(frozen=True)
class _Pin:
    """A pinned curve as computed (not normalised), with what normalising it needs."""

    label: str
    derivative: np.ndarray
    primitive: np.ndarray
    peak: float
    area: float

    def scaled(self, normalise: str):
        """(derivative, primitive, note) under ``normalise``; raw with a note when impossible."""
        factor, _applied, note = normalisation(normalise, self.peak, self.area)
        return self.derivative * factor, self.primitive * factor, note


def _new_figure() -> go.FigureWidget:
    layout = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                           subplot_titles=("surrogate dS/dv (used in the backward pass)",
                                           "primitive (pretend forward) vs the true forward"))
    figure = CompactFigureWidget(layout)
    empty = np.zeros(0)
    figure.add_scatter(x=empty, y=empty, name="surrogate", line=dict(color="#1f77b4", width=2.5),
                       row=1, col=1)
    figure.add_scatter(x=empty, y=empty, name="primitive", line=dict(color="#ff7f0e", width=2.5),
                       row=2, col=1)
    figure.add_scatter(x=empty, y=empty, name="true forward", line=dict(color="#444", width=1.5),
                       line_shape="hv", row=2, col=1)
    figure.update_layout(height=560, template="plotly_white",
                         margin=dict(l=50, r=20, t=70, b=40), title=dict(font=dict(size=13)),
                         legend=dict(orientation="h", y=-0.12))
    figure.update_xaxes(title_text="membrane potential v_mem", row=2, col=1)
    return figure


class SurrogateExplorer(Explorer):
    """Sliders for any registered surrogate, and its derivative and primitive, live.

    ``controls`` maps "surrogate", "spike_threshold", "mode", "max_spikes", "normalise"
    and each declared parameter of the current surrogate to its widget. Setting a control
    from code redraws before the assignment returns, so it can be followed by an assert
    on ``figure.data[0].y`` (the surrogate curve). Bad input shows ``message`` in the UI
    and leaves the figure as it was. Display ``explorer`` (or ``explorer.widget``).

    Pinned curves are normalised like the current curve, each by its own peak or area; a
    pin whose peak or area cannot be scaled to 1 stays raw, and ``message`` says so.

    Every constructor argument is checked here: ValueError naming it and its valid values
    (ParamTypeError, a TypeError, for a wrong type). Warnings while drawing become the
    message; an unexpected error too (its type and text, no file paths, no traceback).
    """

    def __init__(self, surrogate: Union[str, Surrogate] = "MultiGaussian", spike_threshold: float = 1.0,
                 mode: str = "single", max_spikes: Optional[int] = None, normalise: str = "none",
                 points: int = POINTS, **params: float):
        validate_value("SurrogateExplorer", "normalise", NORMALISE_PARAM, normalise)
        points = validate_value("SurrogateExplorer", "points", POINTS_PARAM, points)
        self.panel = SurrogatePanel(surrogate, spike_threshold, mode, max_spikes, params,
                                    on_change=self._controls_changed, on_refused=self._show_message)
        self.controls = self.panel.controls
        self.panel.add_observed("normalise", W.ToggleButtons(
            options=NORMALISE, value=normalise, description="normalise",
            tooltip=f"normalise: {NORMALISE_PARAM.doc}",
            style={"description_width": "110px", "button_width": "70px"}), default=normalise)
        self._points = points
        self.message = ""
        self.base_traces = _BASE_TRACES
        self.figure = _new_figure()
        self._view: Optional[SurrogateView] = None
        self._pins: List[_Pin] = []       # oldest first, one per pair of pin traces
        self._pins_normalise = normalise  # the normalisation the pin traces are drawn with
        self._pin_note = ""
        self._apply(self._compute())  # bad constructor input raises ValueError here

        pin_button = W.Button(description="pin curve", icon="thumb-tack",
                              tooltip="keep the current curve to compare with later ones")
        clear_button = W.Button(description="clear pins", icon="trash")
        pin_button.on_click(lambda _button: self.pin())
        self.panel.reset_button.on_click(lambda _button: self.reset())
        clear_button.on_click(lambda _button: self.clear_pins())
        self.widget = self._layout([self.panel.widget, self.controls["normalise"],
                                    W.HBox([pin_button, clear_button])])

    # -- the current state (of what is drawn) ------------------------------------
    @property
    def surrogate(self) -> Surrogate:
        return self._view.surrogate

    @property
    def spike_threshold(self) -> float:
        return self._view.spike_threshold

    @property
    def mode(self) -> str:
        return self._view.mode

    @property
    def max_spikes(self) -> Optional[int]:
        return self._view.max_spikes

    @property
    def v_mem(self) -> np.ndarray:
        return self._view.v_mem

    @property
    def view(self) -> SurrogateView:
        """The arrays and numbers currently drawn."""
        return self._view

    @property
    def pins(self) -> int:
        """How many pinned curves are drawn."""
        return self._extra_pairs

    # -- updates -----------------------------------------------------------------
    def update(self) -> bool:
        """Recompute from the controls and redraw, synchronously.

        On invalid input (a ValueError from the surrogate, the threshold or the mode)
        the message is shown, the figure keeps its previous state and False is returned.
        """
        with self._warnings_as_messages():
            view = self._or_message(self._compute)
            if view is None:
                return False
            self._apply(view)
        return True

    def pin(self) -> None:
        """Keep the current curves (dashed) to compare with later settings."""
        view = self._view
        label = f"{describe(view.surrogate)}, thr={format_number(view.spike_threshold)}"
        raw = view if view.normalise == "none" else surrogate_view(
            view.surrogate, view.spike_threshold, view.mode, view.max_spikes, "none", self._points)
        pin = _Pin(label, raw.derivative, raw.primitive, view.peak, view.area)
        derivative, primitive, _note = pin.scaled(self._pins_normalise)
        style = dict(dash="dash", width=1.5)
        self.figure.add_scatter(x=view.v_mem, y=derivative, name=label, legendgroup=label,
                                line=style, opacity=0.75, row=1, col=1)
        self.figure.add_scatter(x=view.v_mem, y=primitive, name=label, legendgroup=label,
                                showlegend=False, line=style, opacity=0.75, row=2, col=1)
        self._pins = (self._pins + [pin])[-MAX_PINS:]
        self._trim_extra_pairs(MAX_PINS)
        refresh_snapshot(self.figure)
        note = self._pins_note(self._pins_normalise)
        if note != self._pin_note:
            self._pin_note = note
            self._show_message(view.note)

    def clear_pins(self) -> None:
        """Remove every pinned curve."""
        self._pins = []
        self._clear_extra_pairs()
        if self._pin_note:
            self._pin_note = ""
            self._show_message(self._view.note)

    def reset(self) -> None:
        """Every control back to the value the explorer was built with, and redraw.

        The chosen surrogate stays; if it is not the one the explorer was built with, its
        parameters go back to its declared defaults (see :class:`SurrogatePanel`).
        """
        self.panel.reset_values()
        self._controls_changed(None)

    def to_html(self, path, **kw):
        """Write a standalone HTML page of this explorer (see :mod:`sgexplore.widgets.export`)."""
        from .export import surrogate_explorer_html
        return surrogate_explorer_html(self, path, **kw)

    # -- internals -------------------------------------------------------------------
    def _compute(self) -> SurrogateView:
        surrogate = self.panel.build_surrogate()
        spike_threshold, mode, max_spikes = self.panel.spike_settings()
        return surrogate_view(surrogate, spike_threshold, mode, max_spikes,
                              self.controls["normalise"].value, self._points)

    def _apply(self, view: SurrogateView) -> None:
        derivative, primitive, forward = self.figure.data[:_BASE_TRACES]
        scaled = {"none": "", "peak": " / peak", "area": " / area"}[view.normalise]
        with self.figure.batch_update():
            if self._view is None or not np.array_equal(self._view.v_mem, view.v_mem):
                derivative.x = primitive.x = forward.x = view.v_mem
            derivative.y = view.derivative
            primitive.y = view.primitive
            forward.y = view.forward
            self.figure.layout.shapes = threshold_lines(view.spike_threshold, _PANELS)
            self.figure.layout.title.text = view.title
            self.figure.layout.yaxis.title.text = "dS/dv" + scaled
            self.figure.layout.yaxis2.title.text = "S" + scaled
            requested = self.controls["normalise"].value
            if requested != self._pins_normalise:
                self._rescale_pins(requested)
        refresh_snapshot(self.figure)
        self._view = view
        self.panel.show_readout(view.peak, view.area)
        self._show_message(view.note)

    def _rescale_pins(self, normalise: str) -> None:
        """Redraw every pin under ``normalise`` (inside the caller's batch update)."""
        for index, pin in enumerate(self._pins):
            derivative, primitive, _note = pin.scaled(normalise)
            first = self.base_traces + 2 * index
            self.figure.data[first].y = derivative
            self.figure.data[first + 1].y = primitive
        self._pins_normalise = normalise
        self._pin_note = self._pins_note(normalise)

    def _pins_note(self, normalise: str) -> str:
        raw = [pin.label for pin in self._pins if pin.scaled(normalise)[2]]
        if not raw:
            return ""
        return (f"{len(raw)} pinned curve{'s' if len(raw) > 1 else ''} cannot be normalised to "
                f"{normalise} 1 and stay{'' if len(raw) > 1 else 's'} raw: " + "; ".join(raw))

    def _show_message(self, text: str) -> None:
        """The current curve's message, then what is true of the pins (raw ones)."""
        super()._show_message(" ".join(part for part in (text, self._pin_note) if part))

    def _controls_changed(self, change) -> None:
        # An observer must never raise: anything unexpected becomes a message too.
        try:
            self.update()
        except Exception as error:  # noqa: BLE001 - shown to the user instead of a traceback
            self._show_message(visitor_message(error))
