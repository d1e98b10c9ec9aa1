"""What both explorers share: the panel, the figure's extra curves, the message, display.

An explorer is a :class:`~sgexplore.widgets.controls.SurrogatePanel` (plus its own
controls), a plotly ``FigureWidget`` whose first ``base_traces`` traces are the live curves
and whose later traces come in pairs (pinned curves, ghosts of earlier runs), and a
message line. Subclasses compute and draw; this class does the bookkeeping.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from typing import Callable, Iterator, List, Optional, Tuple, TypeVar

import ipywidgets as W
import plotly.graph_objects as go

from .controls import SurrogatePanel
from .figures import FIGURE_BOX_CLASS, refresh_snapshot
from .static import static_bundle

__all__ = ["Explorer", "visitor_message", "MESSAGE_LENGTH"]

T = TypeVar("T")

#: Longest message shown for an error or a warning (the rest is cut, with "…").
MESSAGE_LENGTH = 300
# An absolute file path (POSIX or Windows) inside a message: a server's layout, not the visitor's.
_PATH = re.compile(r"(?:[A-Za-z]:\\|/)[^\s'\"():,;]*[/\\][^\s'\"():,;]*")


def visitor_message(error: BaseException) -> str:
    """What a visitor sees of an error: its type and the first line of its text, with file
    paths replaced by ``<path>``, never a traceback (the kernel's log keeps the full error)."""
    lines = str(error).strip().splitlines()
    text = _PATH.sub("<path>", lines[0]) if lines else ""
    if isinstance(error, MemoryError) and not text:
        text = "out of memory"
    text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= MESSAGE_LENGTH else text[:MESSAGE_LENGTH - 1] + "…"

CONTROLS_WIDTH = "500px"
#: The figure fits the room beside (or, on a narrow page, under) the controls, no narrower
#: than this (its panels' labels need it) and no wider than the max: a wider one reads no
#: better, and the projector look lifts the max.
FIGURE_MIN_WIDTH, FIGURE_MAX_WIDTH = "400px", "960px"
CONTROLS_BOX_CLASS = "sgx-controls"  # with FIGURE_BOX_CLASS, what the projector look's style rules select
# Written under the static picture, which only a viewer without a kernel shows.
STATIC_NOTE = "static picture: run the notebook for the live widget"


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

    @property
    def figures(self) -> Tuple[go.FigureWidget, ...]:
        """Every figure the explorer draws, top to bottom (``figure`` holds the extra curves)."""
        return (self.figure,)

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

    def close(self) -> None:
        """Close every widget of this explorer, its figure, layouts and styles included.

        For an explorer that is never shown (a notebook's check cell): a page that reloads
        restores every open widget from the kernel, and each figure's model is large.
        """
        seen = set()

        def close_tree(widget: W.Widget) -> None:
            if id(widget) in seen or not isinstance(widget, W.Widget):
                return
            seen.add(id(widget))
            for child in getattr(widget, "children", None) or ():
                close_tree(child)
            for part in ("layout", "style"):
                close_tree(getattr(widget, part, None))
            widget.close()

        for widget in (self.widget, *self.figures, *self.panel.controls.values()):
            close_tree(widget)

    # -- message and layout ---------------------------------------------------------
    def _show_message(self, text: str) -> None:
        self.message = text
        self.panel.show_message(text)

    def _or_message(self, build: Callable[[], T]) -> Optional[T]:
        """``build()``, or None once its ValueError (a bad setting) is shown as the message."""
        try:
            return build()
        except ValueError as error:
            self._show_message(str(error))
            return None

    @contextlib.contextmanager
    def _warnings_as_messages(self) -> Iterator[None]:
        """Warnings raised inside the block become the explorer's message (text only, paths
        hidden) instead of output with the server's file paths. The block must not yield to
        other code (an ``await``, a generator's ``yield``): the warning filters are global."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        if caught:
            shown = "; ".join(dict.fromkeys(visitor_message(w.category(str(w.message))) for w in caught))
            self._show_message(" ".join(part for part in (self.message, shown) if part))

    def _layout(self, controls: List[W.Widget]) -> W.HBox:
        """Controls in a column on the left, the figure on the right, as wide as the room
        left (between :data:`FIGURE_MIN_WIDTH` and :data:`FIGURE_MAX_WIDTH`); where the page
        is too narrow for both, the figure wraps under the controls instead of squeezing
        them, and fits the page's width there."""
        # flex "0 0 auto": the column keeps its width (a squeezed column hides slider
        # readouts and buttons, docs/front-end-pitfalls.md#narrow-pages)
        column = W.VBox(controls, layout={"width": CONTROLS_WIDTH, "flex": "0 0 auto"})
        column.add_class(CONTROLS_BOX_CLASS)
        # flex basis 0 and a min width: the row wraps once less than the min is left, and the
        # figure (whose layout has no width) takes the box's width (docs/front-end-pitfalls.md#figure-width)
        figure_box = W.VBox(list(self.figures), layout={"flex": "1 1 0px", "min_width": FIGURE_MIN_WIDTH,
                                                   "max_width": FIGURE_MAX_WIDTH})
        figure_box.add_class(FIGURE_BOX_CLASS)
        return _ExplorerBox([column, figure_box], figures=self.figures, name=type(self).__name__,
                            before_display=self.panel.refresh_choices,
                            layout={"flex_flow": "row wrap", "align_items": "flex-start", "width": "100%"})

    # -- display -------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self):
        from IPython.display import display

        bundle = self._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, None)
        display(data, metadata=metadata, raw=True)


class _ExplorerBox(W.HBox):
    """The explorer's top widget. Its display bundle has the live widget view plus a static
    picture of the figure and a short text, so that a viewer without a kernel (GitHub,
    nbviewer, a static HTML export, JupyterLab on a reopened notebook) shows the picture
    instead of the widget's text repr; with a kernel the widget view outranks both
    (docs/front-end-pitfalls.md#static-figure-fallback). Displaying ``explorer`` and
    ``explorer.widget`` both get it.
    """

    def __init__(self, children, figures: Tuple[go.FigureWidget, ...], name: str,
                 before_display: Callable[[], None], **kwargs):
        super().__init__(children, **kwargs)
        self._static_figures = figures
        self._static_name = name
        self._before_display = before_display

    def _repr_mimebundle_(self, **kwargs):
        # offer every surrogate registered by now, whether `explorer` or `explorer.widget` is shown
        self._before_display()
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, None)
        data = dict(data)
        try:
            data.update(static_bundle(self._static_figures, STATIC_NOTE))
        except Exception:  # noqa: BLE001 - the live widget must show even if the picture fails
            pass
        data["text/plain"] = f"{self._static_name} (run the notebook to use the live widget)"
        return (data, metadata) if metadata is not None else data
