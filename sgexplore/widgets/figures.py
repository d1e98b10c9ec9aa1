"""How the pictures are drawn: plotly helpers and the sweep's figures.

What they show comes from :mod:`sgexplore.views`; this module only turns those numbers into
plotly objects. Each figure has one implementation here or in its explorer's module.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import functools
import gzip
import hashlib
import pathlib
import time
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

import numpy as np
import plotly
import plotly.graph_objects as go
import traitlets
from plotly.serializers import custom_serializers
from plotly.subplots import make_subplots

from ..params import format_number
from ..views import SWEEP_METRICS, heatmap_cells, heatmap_limits

__all__ = ["CompactFigureWidget", "FIGURE_BOX_CLASS", "compact_esm", "refresh_snapshot", "redraw_traces_only", "padded_range",
           "UpdatePacer", "ACK_TIMEOUT_S", "threshold_lines", "heatmap_trace", "sweep_heatmaps", "sweep_figure"]

_SCALE_AXIS = "surrogate peak (scale)"


#: The class of the box an explorer puts its figures in (its parent holds the controls too).
FIGURE_BOX_CLASS = "sgx-figure"
# The key of the page's message about a pointer on a slider beside the figure ("down"/"up").
_POINTER_KEY = "sgexplore_slider_pointer"

#: plotly's own widget bundle, which every plain ``go.FigureWidget`` sends as its ``_esm``.
PLOTLY_BUNDLE = pathlib.Path(plotly.__file__).parent / "package_data" / "widgetbundle.js"

# The module the browser imports in place of plotly's bundle: it unpacks the gzipped bundle
# (DecompressionStream: Chromium 80, Firefox 113, Safari 16.4) and imports it once per page;
# every figure on the page shares that one module. (Importing the 5 MB bundle takes about
# 1.1 s in headless Chromium here, unpacking adds about 0.1 s; anywidget gives a model 2 s.)
_LOADER_JS = """\
const packed = "%(packed)s";
const key = "__sgexplore_plotly_widget_%(digest)s";
async function unpack() {
  if (typeof DecompressionStream === "undefined") {
    throw new Error("sgexplore figures need DecompressionStream (Chrome 80, Firefox 113, Safari 16.4 or newer)");
  }
  const text = atob(packed);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const url = URL.createObjectURL(new Blob([await new Response(stream).blob()], {type: "text/javascript"}));
  try { return await import(url); } finally { URL.revokeObjectURL(url); }
}
const bundle = await (globalThis[key] ??= unpack());
const plotlyWidget = bundle.default;

// After each update, plotly's view diffs the figure's full data against its own, trace by
// trace, and sends those deltas (and the layout's) to the kernel, which sgexplore reads only
// as the update's acknowledgement (figures.UpdatePacer: the trace_edit_id). The answer here
// is the id alone: no diff on the page's main thread, no large message, and none that fails
// on data still being drawn. The kernel then knows what it set, as it does with no page.
const View = bundle.FigureView;
if (!View.prototype.__sgexploreAcksOnly) {
  View.prototype.__sgexploreAcksOnly = true;
  View.prototype._sendTraceDeltas = function (editId) {
    this.model.set("_js2py_traceDeltas", {trace_deltas: [], trace_edit_id: editId});
    this.touch();
  };
  View.prototype._sendLayoutDelta = function () {};
  // Plotly.animate reports the axis ranges a kernel's animate set as a relayout of its own,
  // which plotly's view sends back to the kernel, and the kernel answers: a round trip per
  // update for nothing. Relayouts from the start of a kernel's animate until its drawing is
  // acknowledged stay on the page (a zoom in those few milliseconds is not reported).
  const animate = View.prototype.do_animate;
  View.prototype.do_animate = function () {
    this.__sgexploreAnimating = true;
    return animate.call(this);
  };
  const acknowledge = View.prototype._sendTraceDeltas;
  View.prototype._sendTraceDeltas = function (editId) {
    this.__sgexploreAnimating = false;
    return acknowledge.call(this, editId);
  };
  const reportRelayout = View.prototype.handle_plotly_relayout;
  View.prototype.handle_plotly_relayout = function (data) {
    if (this.__sgexploreAnimating) return;
    return reportRelayout.call(this, data);
  };
}

// A figure whose layout has no width fits the element it is drawn in. plotly.js measures
// that element when it first draws, and again (config "responsive") when the window resizes;
// a container that changes width for another reason (JupyterLab's sidebar, the projector
// look, a wrapped row) goes unnoticed. Here each figure watches its own element and redraws
// at the new width (plotly's responsive handler, once the width has settled). A relayout
// that sets the height also pins the width plotly.js measured (its relayout does that);
// for a figure the kernel gave no width, that pin is dropped first.
function followWidth(el, model) {
  const layout = model.get("_widget_layout") || {};
  const fits = layout.width === undefined || layout.width === null;
  let drawnAt = null, timer = null;
  const observer = new ResizeObserver(() => {
    const width = Math.round(el.clientWidth);
    if (!fits || !width || width === drawnAt) return;
    drawnAt = width;
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!el._responsiveChartHandler || !el.layout) return;
      delete el.layout.width;
      el.layout.autosize = true;
      el._responsiveChartHandler();
    }, 60);
  });
  observer.observe(el);
  return () => { observer.disconnect(); clearTimeout(timer); };
}

// ipywidgets sends a slider's values while it is dragged, never its release. A figure in an
// explorer's box (the parent of its ".%(figure_box)s" box) tells the kernel when a pointer
// goes down on one of that explorer's sliders and when it comes up again, so that training
// can wait for the release (CompactFigureWidget.slider_held).
function reportSliderDrags(el, model) {
  let held = false;
  const tell = (down) => {
    held = down;
    model.send({%(pointer_key)s: down ? "down" : "up"});
  };
  const onDown = (event) => {
    const box = el.closest(".%(figure_box)s")?.parentElement;
    const target = event.target instanceof Element ? event.target : null;
    if (!held && box && target && box.contains(target) && !target.closest(".%(figure_box)s")
        && target.closest(".widget-slider")) tell(true);
  };
  const onUp = () => { if (held) tell(false); };
  const events = [["pointerdown", onDown], ["pointerup", onUp], ["pointercancel", onUp]];
  for (const [name, handler] of events) document.addEventListener(name, handler, true);
  return () => {  // a view removed mid-drag still reports the release
    for (const [name, handler] of events) document.removeEventListener(name, handler, true);
    if (held) { try { tell(false); } catch (error) { /* the model is closed */ } }
  };
}

export default () => {
  const widget = plotlyWidget();
  return {
    initialize: (context) => widget.initialize(context),
    render(context) {
      const removePlot = widget.render(context);
      const stopFollowing = followWidth(context.el, context.model);
      const stopReporting = reportSliderDrags(context.el, context.model);
      return () => {
        stopFollowing();
        stopReporting();
        if (typeof removePlot === "function") removePlot();
      };
    },
  };
};
"""


@functools.lru_cache(maxsize=None)
def compact_esm(bundle: pathlib.Path = PLOTLY_BUNDLE) -> str:
    """The ``_esm`` of :class:`CompactFigureWidget`: plotly's widget bundle gzipped and
    base64-encoded inside a loader that unpacks it in the browser (2.0 MB instead of 5.0 MB
    with plotly 7.1). Deterministic (gzip ``mtime=0``); built once per process."""
    data = bundle.read_bytes()
    packed = base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii")
    return _LOADER_JS % dict(packed=packed, digest=hashlib.sha256(data).hexdigest()[:16],
                             figure_box=FIGURE_BOX_CLASS, pointer_key=_POINTER_KEY)


class CompactFigureWidget(go.FigureWidget):
    """A plotly ``FigureWidget`` whose JavaScript travels compressed and loads once per page.

    A plain FigureWidget carries plotly's 5 MB bundle in its state, once for each figure: at
    creation, and again for every open figure when a JupyterLab page is reloaded, where a
    slow restore ends in "Error displaying widget: model not found"
    (docs/front-end-pitfalls.md#reload-restores-every-widget). This one sends the bundle
    gzipped (:func:`compact_esm`), and the browser imports it once for all figures.
    Everything else is plotly's FigureWidget.
    """

    # What a view reports after drawing (plotly's ``_js2py_*`` messages), not echoed back to
    # the page as ipywidgets 8 echoes every browser change: each update's report carries the
    # deltas of every trace, and the echo sent them back to the page for nothing (only the
    # kernel reads them; docs/front-end-pitfalls.md#figure-update-backlog)
    _js2py_traceDeltas = traitlets.Dict(allow_none=True).tag(sync=True, echo_update=False, **custom_serializers)
    _js2py_layoutDelta = traitlets.Dict(allow_none=True).tag(sync=True, echo_update=False, **custom_serializers)
    _js2py_restyle = traitlets.Dict(allow_none=True).tag(sync=True, echo_update=False, **custom_serializers)
    _js2py_relayout = traitlets.Dict(allow_none=True).tag(sync=True, echo_update=False, **custom_serializers)
    _js2py_update = traitlets.Dict(allow_none=True).tag(sync=True, echo_update=False, **custom_serializers)
    _js2py_pointsCallback = traitlets.Dict(allow_none=True).tag(sync=True, echo_update=False,
                                                                **custom_serializers)

    # plotly resets each report trait to None once it has read it, and that reset is sent to
    # the page as a message of its own (two per drawn update). The page needs none of them:
    # every report carries a new edit id, so the next one differs from the last one anyway.
    _UNSENT_RESETS = frozenset({"_js2py_traceDeltas", "_js2py_layoutDelta"})

    def _should_send_property(self, key: str, value: Any) -> bool:
        if value is None and key in self._UNSENT_RESETS:
            return False
        return super()._should_send_property(key, value)

    def _send_update_msg(self, *args: Any, **kwargs: Any) -> None:
        with self._one_message("_py2js_update"):
            super()._send_update_msg(*args, **kwargs)

    def _send_animate_msg(self, *args: Any, **kwargs: Any) -> None:
        with self._one_message("_py2js_animate"):
            super()._send_animate_msg(*args, **kwargs)

    @contextlib.contextmanager
    def _one_message(self, name: str):
        """Send an update and its two edit ids as one message, not four: plotly sets the
        ids, then the message trait, then resets it to None (which is sent too, so that an
        equal message would be sent again). Here the page gets the ids and the message
        together, and the trait keeps the message (the next one always differs: its edit
        ids are new). A drag sends one of these per redraw, and each message costs the
        page's main thread time (docs/front-end-pitfalls.md#figure-update-backlog)."""
        sent: Dict[str, Any] = {}

        def keep(change) -> None:
            if change["new"] is not None:
                sent["message"] = change["new"]

        self.observe(keep, names=name)
        try:
            with self.hold_sync():
                yield
                if "message" in sent:
                    setattr(self, name, sent["message"])
        finally:
            self.unobserve(keep, names=name)

    #: True from the moment the page reports a pointer pressed on a slider of the explorer
    #: this figure is drawn in (the figure's box's parent) until it reports the release:
    #: ipywidgets sends a dragged slider's values, never its release. Not synced; always
    #: False with no page. Observe it like any trait.
    slider_held = traitlets.Bool(False)

    def __init__(self, *args: Any, **kwargs: Any):
        # anywidget reads ``_esm`` from the class when an instance is built; set it on first
        # use so that importing sgexplore does not compress the bundle
        if "_esm" not in CompactFigureWidget.__dict__:
            CompactFigureWidget._esm = compact_esm()
        super().__init__(*args, **kwargs)
        self.on_msg(self._on_page_message)
        # a layout without a width fits its container, and follows it (the loader's followWidth)
        self._config = {**self._config, "responsive": True}

    def _on_page_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """The page's report of a pointer on a slider beside the figure; anything else a
        page sends (a stranger's, in Voila) is ignored."""
        if isinstance(content, dict) and content.get(_POINTER_KEY) in ("down", "up"):
            self.slider_held = content[_POINTER_KEY] == "down"


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


@contextlib.contextmanager
def redraw_traces_only(figure: go.FigureWidget):
    """Like ``figure.batch_update()``, but plotly.js redraws only the scatter traces changed
    inside (and the axes whose range is set inside), not the whole figure.

    plotly.js answers any data update of a ``FigureWidget`` with a full redraw, every axis
    and trace of every panel (0.1 to 0.2 s for the TrainingExplorer's figure in JupyterLab
    here). This sends the changes as ``Plotly.animate`` with no transition and
    ``redraw: false`` instead, which replots only the changed traces (plotly 7.1,
    ``basedatatypes.py`` ``_perform_batch_animate``, a private method). The kernel's copy of
    the figure is updated as by ``batch_update``, and the browser acknowledges it the same
    way (:class:`UpdatePacer`). Only for scatter traces, and only for changes that need no
    new autorange: an axis whose data range changes needs its range set inside too.
    """
    if figure._in_batch_mode:
        yield
        return
    figure._in_batch_mode = True
    try:
        yield
    finally:
        figure._in_batch_mode = False
        figure._perform_batch_animate({"transition": {"duration": 0},
                                       "frame": {"duration": 0, "redraw": False}, "mode": "immediate"})


def padded_range(values: np.ndarray, pad: float = 0.05, log: bool = False) -> Optional[list]:
    """An axis range set by hand that looks like plotly's autorange: ``[low, high]`` around
    the finite values and 0, widened by ``pad`` of the span on each side. ``log``: for a log
    axis, in decades (plotly's unit for a log range) around the positive finite values, and
    None when there is none (leave the axis to plotly)."""
    values = np.asarray(values, dtype=float).ravel()
    if log:
        values = values[np.isfinite(values) & (values > 0)]
        if not values.size:
            return None
        low, high = float(np.log10(values.min())), float(np.log10(values.max()))
        span = high - low or 1.0
    else:
        values = values[np.isfinite(values)]
        low, high = min(0.0, float(values.min(initial=0.0))), max(0.0, float(values.max(initial=0.0)))
        span = high - low or 1.0
    return [low - pad * span, high + pad * span]


#: An update the front end has not acknowledged after this long counts as lost (its view
#: was closed, the kernel is busy in a cell and cannot read the acknowledgement, or the
#: acknowledgement never came: about one update in twenty, in Voila most often the one
#: sent right after a ghost's ``addTraces``; benchmarks/bench_drag.py). A redraw of the
#: TrainingExplorer's figure is acknowledged in 0.1 to 0.5 s here.
ACK_TIMEOUT_S = 0.5


class UpdatePacer:
    """At most one update in flight per ``FigureWidget``: the next waits for the browser.

    After applying a trace update (``Plotly.update``/``restyle``, adding or deleting
    traces), every view of a plotly ``FigureWidget`` sends ``_js2py_traceDeltas`` back
    with the ``trace_edit_id`` of that update; the kernel numbers its updates in
    ``_last_trace_edit_id`` (plotly 7.1, ``basewidget.py`` and ``widgetbundle.js``).
    :meth:`ready` is True when the browser has acknowledged the last update sent, when
    no view has ever answered (no front end: plain Python, nbval, tests), or when the
    acknowledgement is more than ``timeout_s`` late. :meth:`draw` runs an update now
    when ready, else keeps it (the newest of each kind) and runs it when the
    acknowledgement arrives (or the timeout passes, when an event loop runs), so a slow
    browser gets fewer, newer updates instead of a backlog
    (docs/front-end-pitfalls.md#figure-update-backlog).
    """

    def __init__(self, figure: go.FigureWidget, timeout_s: float = ACK_TIMEOUT_S):
        self.figure = figure
        self.timeout_s = timeout_s
        self.acknowledged: Optional[int] = None  # trace edit id a view last reported drawn
        self._sent_at = -float("inf")
        self._waiting: Dict[str, Callable[[], Any]] = {}
        self._timer: Optional[asyncio.TimerHandle] = None
        self._answered: Optional[asyncio.Event] = None  # set by the next acknowledgement
        figure.observe(self._on_ack, names="_js2py_traceDeltas")
        figure.observe(self._on_send, names="_last_trace_edit_id")  # any update, paced or not

    def ready(self) -> bool:
        """No update is in flight: the last one sent was acknowledged, or is overdue, or no
        view has ever answered."""
        if self.acknowledged is None or self.acknowledged >= self.figure._last_trace_edit_id:
            return True
        return time.perf_counter() - self._sent_at >= self.timeout_s

    async def until_ready(self) -> None:
        """Return once :meth:`ready` is True: the update in flight is acknowledged, or overdue."""
        while not self.ready():
            self._answered = self._answered or asyncio.Event()
            overdue_in = max(0.0, self._sent_at + self.timeout_s - time.perf_counter())
            try:
                await asyncio.wait_for(self._answered.wait(), overdue_in)
            except asyncio.TimeoutError:
                pass
            self._answered = None

    @property
    def waiting(self) -> Tuple[str, ...]:
        """The kinds of update kept until the one in flight is acknowledged."""
        return tuple(self._waiting)

    def draw(self, update: Callable[[], Any], kind: str) -> None:
        """Run ``update`` (a function that changes the figure) now if no update is in
        flight, else once the one in flight is acknowledged. A newer update of the same
        ``kind`` replaces the one kept."""
        self._waiting.pop(kind, None)
        if self.ready():
            self.send(update)
            return
        self._waiting[kind] = update
        self._arm_timer()

    def send(self, update: Callable[[], Any]) -> None:
        """Run ``update`` now, whatever is in flight (its acknowledgement is awaited like any)."""
        update()

    def _on_send(self, _change) -> None:
        self._sent_at = time.perf_counter()

    def _on_ack(self, change) -> None:
        data = change["new"]
        if not data or "trace_edit_id" not in data:
            return  # plotly resets the trait to None once it has read a message
        self.acknowledged = max(self.acknowledged or 0, int(data["trace_edit_id"]))
        if self._answered is not None:
            self._answered.set()
        self._flush()

    def _flush(self) -> None:
        self._timer = None
        if not self._waiting:
            return
        if not self.ready():
            self._arm_timer()
            return
        waiting, self._waiting = list(self._waiting.values()), {}
        for update in waiting:  # one of each kind, oldest kind first
            self.send(update)

    def _arm_timer(self) -> None:
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop: the next draw or acknowledgement sends it
        delay = max(0.0, self._sent_at + self.timeout_s - time.perf_counter())
        self._timer = loop.call_later(delay, self._flush)


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
