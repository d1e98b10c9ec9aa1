"""TrainingExplorer: change a surrogate or a training setting and watch the toy SNN retrain.

Every change retrains from the same seed (:func:`sgexplore.train.train`) and streams the
loss and accuracy into the figure while it trains. Finished runs stay as faded ghosts.

How runs are scheduled:

* A change sent by the browser (a dragged slider) stops the run in flight at its next
  step and redraws the surrogate curve at once. Training waits for the release: the page
  reports a pointer held on one of the explorer's sliders, and its release
  (``CompactFigureWidget.slider_held``; ipywidgets sends only values), and the run starts
  ``debounce_s`` (120 ms) after both the release and the last value. A slider held still
  for ``held_settle_s`` (1 s) has settled and trains without the release; a change made
  without a pointer (the keyboard, a text box) trains once no newer change has come for
  ``debounce_s``. A drag therefore trains only the value it rests on, and the values it
  passes through never become ghosts: their runs are stopped, and one that did end (a
  default run takes a fraction of a second, so a drag that rests can see one end) leaves
  no ghost when the same control moves on within ``PASSED_THROUGH_S`` (1 s) of its end.
  The run is an asyncio task on the kernel's event loop that yields after every training
  step, so the kernel keeps handling messages. The surrogate and the lens have a figure of
  their own, so a drag redraws only that small figure.
* Figure updates go at the browser's pace: at most one is in flight per figure
  (:class:`~sgexplore.widgets.figures.UpdatePacer`, which waits for the front end's
  acknowledgement). A live run draws its newest records whenever the previous update has
  been drawn and ``redraw_interval_s`` has passed, and its last draw waits for the one in
  flight; a slow browser gets fewer, fuller updates instead of a backlog that delays every
  mouse move (docs/front-end-pitfalls.md#figure-update-backlog). Only a run's start (the
  old run's ghost and the cleared curves) goes out at once, so training need not wait.
* *play* from the browser goes at the page's pace instead, as TensorFlow Playground
  does: each step waits until the browser has drawn the one before and is drawn itself,
  so every step is seen and *pause* stops where the page shows. A whole default run
  trains in a fraction of a second, so at full speed there would be nothing to watch.
* A change made by code (``explorer.controls["lr"].value = 0.1`` in a cell or a test),
  any change while ``live`` is False, and any change where no event loop runs, trains
  synchronously: the figure is complete when the assignment returns.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import re
import time
from typing import Any, Iterator, List, Optional, Tuple, Union

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .. import lens
from ..params import Param, ParamTypeError, format_number, params_of, shown, validate_value
from ..surrogates import Surrogate, describe
from ..seed_band import SEEDS, train_seeds
from ..train import HIDDEN_SIZE, TRAIN_MODE, Run, StepRecord, TrainConfig
from .. import views
from ..views import membrane_grid, surrogate_curve
from .classroom import (CLASSROOM_LIMITS, check_classroom, check_classroom_hidden, check_classroom_seeds,
                        hidden_range_text)
from .controls import SurrogatePanel, came_from_browser, declared_control
from .explorer import Explorer, visitor_message
from .figures import (CompactFigureWidget, UpdatePacer, padded_range, redraw_traces_only, refresh_snapshot,
                      threshold_lines)

__all__ = ["TrainingExplorer", "TRAINING_FIELDS", "parse_hidden", "MAX_GHOSTS_PARAM", "LIVE", "CLASSROOM",
           "RETRAIN_ON_CHANGE", "BROWSER"]

#: TrainConfig fields that get a control; the others stay as given (``config=`` or keywords).
TRAINING_FIELDS = ("optimizer", "lr", "steps", "batch_size", "beta", "seed", "reset", "detach_reset",
                   "recurrent", "hidden")
MAX_GHOSTS = 5
MAX_GHOSTS_PARAM = Param(MAX_GHOSTS, low=0, high=20, integer=True, slider=(0, 20, 1),
                         doc="how many faded curves of earlier runs stay drawn")
LIVE = Param(True, doc="train browser changes in the background (False: every change trains at once)")
RETRAIN_ON_CHANGE = Param(True, doc="a changed surrogate retrains from scratch (for controlled comparisons); "
                                    "off: the run goes on from its current weights with the new surrogate")
CLASSROOM = Param(False, doc="bound every run for a room of visitors: the training controls and every "
                              "config stay inside the caps of sgexplore.widgets.classroom")
BROWSER = Param(False, doc="the call comes from a button click in a browser (True: a live run may go on "
                            "in the background)")
REDRAW_INTERVAL_S = 0.05             # stream at most ~20 redraws a second (and always the first point)
DEBOUNCE_S = 0.12                    # a live run starts after this long without a newer change
#: While the page reports a slider held down (a drag), training waits for its release; a
#: value held this long without a newer one has settled, and trains without the release
#: (which a page can fail to report: a mouse let go outside the window).
HELD_SETTLE_S = 1.0
PASSED_THROUGH_S = 1.0               # a run this recently ended when its control moved on: no ghost
FULL_REDRAW_INTERVAL_S = 0.5         # a live run redraws its whole figure at most this often
#: The lens's histograms are recorded every this many steps (and at the last) unless the
#: config sets its own ``record_every``.
LENS_EVERY = 5
_LAYER_COLOURS = ("#17becf", "#bcbd22", "#e377c2", "#8c564b")  # one per hidden layer (at most 4)
# The training figure (``figure``): loss, accuracy, test accuracy, grad norms, test loss; the
# activity: the data (one sample per class), hidden layer 1's spikes and rates on the probe sample
_LOSS, _ACCURACY, _TEST_ACCURACY, _GRAD_NORMS, _TEST_LOSS = range(5)
_DATA_RASTER, _HIDDEN_RASTER, _RATES = 5, 6, 7
# the seed band: the lowest to the highest of the seeds' loss and accuracy (seeds > 1)
_LOSS_BAND, _ACCURACY_BAND = _RATES + 1, _RATES + 2
_SMOOTH_LOSS = _ACCURACY_BAND + 1  # the train loss's trailing mean (views.smoothed)
_BASE_TRACES = _SMOOTH_LOSS + 1
# The v figure (``lens_figure``): the surrogate, and one membrane histogram per hidden layer
# under it on the same v axis. A figure of its own, so that a drag redraws only it: plotly.js
# recomputes every trace and axis of a figure on any update (benchmarks/bench_drag.py).
_SURROGATE, _MEMBRANE = 0, 1
LENS_TITLE = "the v axis: what the surrogate acts on"
#: The page's classes of the two figures (what browser tests and benchmarks select).
TRAINING_FIGURE_CLASS, LENS_FIGURE_CLASS = "sgx-training-figure", "sgx-lens-figure"
#: The test sample whose hidden activity is drawn (fixed, so the picture changes only with training).
PROBE_SAMPLE = 0
_RASTER_GAP = 8  # time steps between two classes' samples in the data raster


_HIDDEN_TEXT = re.compile(r"[0-9, ]*")
_WIDTH_DIGITS = 9  # more digits than any valid width; int() of a longer text is slow or refused


def parse_hidden(text: Union[str, Tuple[int, ...], List[int], int]) -> Tuple[int, ...]:
    """Layer widths from text such as ``"64"`` or ``"64, 32"``.

    The text may hold ASCII digits, commas and spaces only (Python's ``int()`` would also
    take ``1_000`` and non-ASCII digits such as Arabic-Indic ones); commas separate the
    widths. ValueError otherwise, ParamTypeError for a value that is not text. A tuple,
    list or int passes through, for TrainConfig to check.
    """
    if isinstance(text, (tuple, list)):
        return tuple(text)
    if isinstance(text, int) and not isinstance(text, bool):
        return (text,)
    expected = "hidden must be comma-separated layer widths such as '64, 32'"
    if not isinstance(text, str):
        raise ParamTypeError(f"{expected}; got {shown(text)} of type {type(text).__name__}")
    if not _HIDDEN_TEXT.fullmatch(text):
        raise ValueError(f"{expected} (ASCII digits, commas and spaces only); got {shown(text)}")
    parts = [part.strip() for part in text.split(",")]
    if any(" " in part for part in parts):
        raise ValueError(f"{expected} (separate the widths with commas); got {shown(text)}")
    widths = [part for part in parts if part]
    if not widths:
        raise ValueError(f"{expected}; got {shown(text)}")
    if any(len(part) > _WIDTH_DIGITS for part in widths):
        raise ValueError(f"hidden: each layer width must be {HIDDEN_SIZE.expected_text()}; got {shown(text)}")
    return tuple(int(part) for part in widths)


def _hidden_text(hidden: Tuple[int, ...]) -> str:
    return ", ".join(str(n) for n in hidden)


def _training_control(name: str, value: Any, classroom: bool) -> W.Widget:
    declared = {**params_of(TrainConfig), **(CLASSROOM_LIMITS if classroom else {})}
    if name in declared:
        return declared_control(name, declared[name], value)
    if name == "hidden":
        doc = (f"hidden layer widths, {hidden_range_text()} (classroom)" if classroom
               else TrainConfig.__dataclass_fields__["hidden"].metadata["doc"])
        return W.Text(value=_hidden_text(value), description="hidden", style={"description_width": "110px"},
                      continuous_update=False, tooltip=f"hidden: {doc}")
    raise ValueError(f"{name} is not a declared TrainConfig field")


def _new_figure() -> go.FigureWidget:
    """The training figure: loss and accuracy, gradient norms and firing rates, the data
    and the hidden spikes."""
    layout = make_subplots(rows=3, cols=2, vertical_spacing=0.1, horizontal_spacing=0.12,
                           subplot_titles=("loss", "accuracy", "gradient norm per layer (last step)",
                                           f"hidden 1 firing rates (test sample {PROBE_SAMPLE})",
                                           "the data: one training sample per class",
                                           f"hidden 1 spikes (test sample {PROBE_SAMPLE})"))
    figure = CompactFigureWidget(layout)
    empty = np.zeros(0)
    figure.add_scatter(x=empty, y=empty, name="train loss (batch)", line=dict(color="#1f77b4", width=1),
                       opacity=0.6, row=1, col=1)
    figure.add_scatter(x=empty, y=empty, name="train accuracy (batch)",
                       line=dict(color="#2ca02c", width=2), row=1, col=2)
    figure.add_scatter(x=empty, y=empty, name="test accuracy", mode="markers+lines",
                       line=dict(color="#d62728", width=1, dash="dot"), row=1, col=2)
    figure.add_bar(x=[], y=empty, name="grad norm", showlegend=False, marker_color="#9467bd",
                   texttemplate="%{y:.2g}", textposition="outside", row=2, col=1)
    figure.add_scatter(x=empty, y=empty, name="test loss", mode="markers+lines",
                       line=dict(color="#d62728", width=1, dash="dot"), row=1, col=1)
    dots = dict(size=3, color="#333")
    figure.add_scatter(x=empty, y=empty, name="input spikes", mode="markers", marker=dots, showlegend=False,
                       row=3, col=1)
    figure.add_scatter(x=empty, y=empty, name="hidden 1 spikes", mode="markers", marker=dots, showlegend=False,
                       row=3, col=2)
    figure.add_histogram(x=empty, name="neurons", marker_color=_LAYER_COLOURS[0], showlegend=False,
                         xbins=dict(start=0.0, end=1.0, size=0.05), row=2, col=2)
    for row_col, colour in (((1, 1), "rgba(31,119,180,0.2)"), ((1, 2), "rgba(44,160,44,0.2)")):
        figure.add_scatter(x=empty, y=empty, name="seed band (lowest to highest)", fill="toself",
                           fillcolor=colour, line=dict(width=0), hoverinfo="skip", showlegend=False,
                           row=row_col[0], col=row_col[1])
    figure.add_scatter(x=empty, y=empty, name=f"train loss (mean of last {views.SMOOTHING.default})",
                       line=dict(color="#08306b", width=2.5), row=1, col=1)
    figure.update_layout(height=820, template="plotly_white",
                         margin=dict(l=50, r=20, t=70, b=40), title=dict(font=dict(size=13)),
                         legend=dict(orientation="h", y=-0.1))
    figure.update_xaxes(title_text="step", row=1, col=1)
    figure.update_xaxes(title_text="step", row=1, col=2)
    figure.update_yaxes(type="log", row=1, col=1)
    figure.update_yaxes(range=[0, 1.05], row=1, col=2)
    figure.update_yaxes(type="log", row=2, col=1)
    figure.update_xaxes(title_text="spikes per time step", range=[0, 1], row=2, col=2)
    figure.update_yaxes(title_text="neurons", row=2, col=2)
    figure.update_xaxes(title_text="class (time within each sample)", row=3, col=1)
    figure.update_yaxes(title_text="input unit", row=3, col=1)
    figure.update_xaxes(title_text="time step", row=3, col=2)
    figure.update_yaxes(title_text="neuron", row=3, col=2)
    _quiet_axes(figure)
    figure.add_class(TRAINING_FIGURE_CLASS)
    return figure


def _new_lens_figure() -> go.FigureWidget:
    """The v figure: the surrogate dS/dv, and under it on the same v axis where each hidden
    layer's membrane potentials are (the lens)."""
    layout = make_subplots(rows=2, cols=1, vertical_spacing=0.2,
                           subplot_titles=("surrogate dS/dv",
                                           "where the membrane potentials are (last recorded step)"))
    figure = CompactFigureWidget(layout)
    empty = np.zeros(0)
    figure.add_scatter(x=empty, y=empty, name="surrogate", showlegend=False,
                       line=dict(color="#ff7f0e", width=2), row=1, col=1)
    for index, colour in enumerate(_LAYER_COLOURS):  # the lens: v histograms under the surrogate
        figure.add_scatter(x=empty, y=empty, name=f"v of hidden {index + 1}", line_shape="hvh",
                           line=dict(color=colour, width=1.5), row=2, col=1)
    figure.update_layout(height=480, template="plotly_white", title=dict(text=LENS_TITLE, font=dict(size=13)),
                         margin=dict(l=50, r=20, t=70, b=40), legend=dict(orientation="h", y=-0.2))
    figure.update_xaxes(title_text="v_mem", row=1, col=1)
    figure.update_xaxes(title_text="v_mem (same axis as the surrogate)", matches="x", row=2, col=1)
    figure.update_yaxes(title_text="fraction per bin", row=2, col=1)
    _quiet_axes(figure)
    figure.add_class(LENS_FIGURE_CLASS)
    return figure


def _quiet_axes(figure: go.FigureWidget) -> None:
    # plotly.js redraws every axis on any data update: with these two at their defaults it
    # measures each tick label ("hide past div") and may grow the margins and draw again,
    # about half of a redraw's time here (benchmarks/bench_drag.py, BENCHMARKS.md)
    figure.update_xaxes(ticklabeloverflow="allow", automargin=False)
    figure.update_yaxes(ticklabeloverflow="allow", automargin=False)


class TrainingExplorer(Explorer):
    """Surrogate and training controls, and the toy SNN's loss, accuracy and gradients, live.

    ``controls`` maps "surrogate", "spike_threshold", "mode", each declared parameter of
    the current surrogate and the fields in :data:`TRAINING_FIELDS` to their widgets.
    Two figures, one above the other: ``lens_figure``, the surrogate in use and under it, on
    the same v axis, where each hidden layer's membrane potentials are (the lens); and
    ``figure``, the training: ``figure.data[0]`` is the current run's loss against the step,
    with accuracy, gradient norms and the activity panels. ``records`` is the run's
    :class:`~sgexplore.train.StepRecord` list; ``config`` its TrainConfig; ``message`` says
    "diverged at step k: ..." (naming the loss or the layer whose gradient was not finite),
    why a setting is invalid, or what error stopped a run. ``run()`` trains to the end.

    Keywords name a surrogate parameter of the chosen surrogate or a TrainConfig field;
    ``config`` gives the starting TrainConfig (its surrogate is replaced by ``surrogate``).
    Every argument is checked here: ValueError naming it and its valid values
    (ParamTypeError, a TypeError, for a wrong type).

    ``classroom=True`` (the Voila app's setting) bounds every run: the training controls'
    ranges and every config trained come from the caps of :mod:`sgexplore.widgets.classroom`
    (steps, batch size, hidden layers, task size, threads). A config beyond them raises
    ValueError in the constructor and is refused with a message naming the field and its
    classroom range afterwards; the run in flight goes on.

    An error inside a run (out of memory, say) stops that run and leaves the figure as it
    was last drawn: the previous run's curves if the new one had drawn nothing yet, else the
    steps done. ``message`` and the status line name the error, never a file path or a
    traceback; ``error`` holds the exception itself.
    """

    def __init__(self, surrogate: Union[str, Surrogate] = "FastSigmoid",
                 config: Optional[TrainConfig] = None, live: bool = True,
                 max_ghosts: int = MAX_GHOSTS, classroom: bool = False, seeds: int = SEEDS.default,
                 **values: Any):
        base = config if config is not None else TrainConfig()
        if not isinstance(base, TrainConfig):
            raise ParamTypeError(f"config must be a TrainConfig; got {type(base).__name__}")
        live = validate_value("TrainingExplorer", "live", LIVE, live)
        max_ghosts = validate_value("TrainingExplorer", "max_ghosts", MAX_GHOSTS_PARAM, max_ghosts)
        self.classroom = validate_value("TrainingExplorer", "classroom", CLASSROOM, classroom)
        seeds = validate_value("TrainingExplorer", "seeds", SEEDS, seeds)
        config_names = {f.name for f in dataclasses.fields(TrainConfig)} - {"surrogate"}
        surrogate_params = {k: v for k, v in values.items() if k not in config_names}
        base = dataclasses.replace(base, **{k: v for k, v in values.items() if k in config_names})
        if base.record_every == 0:  # the lens needs histograms
            base = dataclasses.replace(base, record_every=LENS_EVERY)
        self.panel = SurrogatePanel(surrogate, base.spike_threshold, base.mode, None,
                                    surrogate_params, on_change=self._controls_changed,
                                    mode_param=TRAIN_MODE, on_refused=self._show_message)
        self.controls = self.panel.controls
        for name in TRAINING_FIELDS:  # reset restores the values the explorer was built with
            value = _control_value(name, getattr(base, name))
            self.panel.add_observed(name, _training_control(name, getattr(base, name), self.classroom),
                                    default=value, check=self._check_hidden if name == "hidden" else None)
        self.panel.add_observed("seeds", declared_control("seeds", SEEDS, seeds), default=seeds,
                                check=check_classroom_seeds if self.classroom else None)
        self.controls["seeds"].disabled = self.classroom  # one seed per run in the classroom
        self._base = base
        self.live = live
        self.max_ghosts = max_ghosts
        self.redraw_interval_s = REDRAW_INTERVAL_S
        self.debounce_s = DEBOUNCE_S
        self.held_settle_s = HELD_SETTLE_S
        self.message = ""
        self.error: Optional[BaseException] = None
        self.records: List[StepRecord] = []
        self.config = self._config_from_controls()  # bad constructor input raises here
        self.base_traces = _BASE_TRACES
        self.figure = _new_figure()
        self.lens_figure = _new_lens_figure()
        self._pacer = UpdatePacer(self.figure)
        self._lens_pacer = UpdatePacer(self.lens_figure)  # the surrogate curve follows a drag at its own pace
        self._released: Optional[asyncio.Event] = None  # set when the page reports a slider's release
        self._code_stale = False  # the framework code waits for a held slider's release
        self.lens_figure.observe(self._on_slider_held, names="slider_held")
        self._streaming = False  # a live task drives the session now (its last draw may wait)
        self._drawn: dict = {}
        self._bands: List[dict] = []  # with seeds > 1: each step's (lowest, highest) per metric
        self.status = W.HTML()
        self.runs_started = 0
        self.runs_finished = 0
        self._generation = 0
        self._task: Optional[asyncio.Task] = None
        self._finished = False  # the drawn run reached its end (so it may become a ghost)
        self._finished_at = -np.inf  # when (time.perf_counter)
        self._full_drawn_at = -np.inf  # when _draw_records last redrew the whole figure
        self._drawn_grid: Optional[tuple] = None  # (threshold, mode) of the surrogate curve drawn
        self._changed_by: Any = None  # the control a browser change is being handled for
        self._cause: Tuple[int, Any] = (0, None)  # (generation, that control) of the last live request
        self._run_cause: Any = None  # the control whose browser change started the drawn run
        self._passed_through: Optional[list] = None  # records of a run a drag went past: no ghost
        self._run: Optional[Run] = None        # the run drawn now (its network, for continuing)
        self._pending: Optional[Iterator[StepRecord]] = None  # its session, while paused or live
        self.paused = False
        self._draw_surrogate(self.config)

        self.lens_readout = W.HTML()
        fit_button = W.Button(description="fit width", icon="arrows-h",
                              tooltip="set the surrogate's width so that half of hidden layer 1's "
                                      "v − thr samples get gradient (sgexplore.lens.fit_width), then retrain")
        fit_button.on_click(lambda _button: self.fit_width(browser=True))
        self.panel.add_observed("retrain_on_change", declared_control("retrain_on_change", RETRAIN_ON_CHANGE),
                                default=RETRAIN_ON_CHANGE.default)
        self.controls["retrain_on_change"].description = "retrain from scratch on change"
        drive = []
        for label, icon, action, tip in (
                ("play", "play", self.play, "go on training step by step, at the page's pace "
                                            "(or start a run when none is in progress)"),
                ("pause", "pause", self.pause, "stop after the current step; play or step go on from there"),
                ("step", "step-forward", self.step, "one optimizer step (pauses)"),
                ("stop", "stop", self.stop, "end this run; play then starts a new one")):
            button = W.Button(description=label, icon=icon, tooltip=tip, layout={"width": "80px"})
            button.on_click(lambda _button, action=action: action(browser=True))
            drive.append(button)
        run_button = W.Button(description="retrain", icon="refresh", tooltip="train again now, from scratch")
        clear_button = W.Button(description="clear ghosts", icon="trash",
                                tooltip="remove the faded curves of earlier runs")
        run_button.on_click(lambda _button: self._retrain(browser=True))
        clear_button.on_click(lambda _button: self.clear())
        self.panel.reset_button.on_click(lambda _button: self._reset(browser=True))
        training = [self.controls[name] for name in TRAINING_FIELDS]
        training.insert(TRAINING_FIELDS.index("seed") + 1, self.controls["seeds"])
        training = W.VBox(training)
        self.widget = self._layout([self.panel.widget, W.HTML("<b>training</b>"), training,
                                    W.HBox(drive), W.HBox([run_button, clear_button, fit_button]), self.status,
                                    self.lens_readout])
        if self.live and _running_loop() is not None:
            # In a kernel, train the first curve now, before the figure is displayed: a view
            # that attaches while a background run streams (Voila renders after the cells
            # ran) could miss the transient updates and keep an empty figure.
            try:
                self._request(self.config, browser=False)
            except Exception:  # noqa: BLE001 - shown as the message, kept in self.error
                pass

    @property
    def figures(self) -> Tuple[go.FigureWidget, ...]:
        """The v figure (``lens_figure``: the surrogate and the lens) over the training
        figure (``figure``: loss, accuracy, gradient norms and the activity)."""
        return (self.lens_figure, self.figure)

    # -- public methods ------------------------------------------------------------
    def run(self) -> List[StepRecord]:
        """Train with the current controls until the run ends; return its records.

        An error inside the run is shown as the message and raised again here."""
        config = self._or_message(self._config_from_controls)
        if config is None:
            return []
        self._request(config, browser=False)
        return self.records

    def clear(self) -> None:
        """Remove the ghost curves of earlier runs."""
        self._clear_extra_pairs()

    def reset(self) -> None:
        """Every control back to the value the explorer was built with, then retrain.

        The chosen surrogate stays; if it is not the one the explorer was built with, its
        parameters go back to its declared defaults (see :class:`SurrogatePanel`).
        """
        self._reset(browser=False)

    @property
    def membrane(self) -> Optional[Tuple[lens.MembraneHistogram, ...]]:
        """The histograms drawn in the lens: the last recorded step's, one per hidden layer."""
        recorded = [r for r in self.records if r.membrane is not None]
        return recorded[-1].membrane if recorded else None

    def fit_width(self, coverage: float = lens.COVERAGE.default, browser: bool = False) -> bool:
        """Set the surrogate's width so that ``coverage`` of hidden layer 1's recorded samples
        receive gradient (:func:`sgexplore.lens.fit_width`), then retrain. False, with a
        message, when there is nothing to fit (no histogram yet, or no width parameter)."""
        coverage = validate_value("TrainingExplorer.fit_width", "coverage", lens.COVERAGE, coverage)
        browser = validate_value("TrainingExplorer.fit_width", "browser", BROWSER, browser)
        histograms = self.membrane
        if histograms is None:
            self._show_message("fit width: no membrane histogram recorded yet")
            return False
        try:
            fitted = lens.fit_width(self.config.surrogate, histograms[0], self.config.spike_threshold,
                                    coverage=coverage)
        except ValueError as error:
            self._show_message(f"fit width: {error}")
            return False
        self.panel.load(fitted, notify=False)
        self._retrain(browser)
        return True

    # -- driving: play, pause, step, stop ----------------------------------------
    def pause(self, browser: bool = False) -> None:
        """Stop the run after its current step, keeping it: :meth:`play` or :meth:`step` go on."""
        validate_value("TrainingExplorer.pause", "browser", BROWSER, browser)
        self.paused = True
        if self._task is not None:  # the live task sees the flag after its step and returns
            self._task.cancel()
            self._task = None
        if self.records and self._pending is not None:
            self._draw_records()
        self._show_paused()

    def play(self, browser: bool = False) -> None:
        """Go on with the paused run to its end, or train anew when no run is in progress.

        From the browser (``browser`` with a loop running) the run is a live task that plays
        at the page's pace, as TensorFlow Playground does: one step per figure update the
        browser has drawn, so every step is seen and pause stops where the page shows. A
        changed control, or the retrain button, trains at full speed instead. Otherwise the
        run goes on here and now."""
        browser = validate_value("TrainingExplorer.play", "browser", BROWSER, browser)
        self._play(browser, paced=True)

    def _play(self, browser: bool, paced: bool) -> None:
        self.paused = False
        if self._pending is None:
            self._retrain(browser, paced=paced)
            return
        loop = _running_loop()
        if self.live and browser and loop is not None:
            self._task = loop.create_task(self._consume(self._pending, self._generation, paced=paced))
        else:
            self._consume_now(self._pending)

    def step(self, browser: bool = False) -> Optional[StepRecord]:
        """Train one optimizer step and pause; with no run in progress, start one (from the
        controls) and train its first step. Returns the record, or None when nothing trained."""
        validate_value("TrainingExplorer.step", "browser", BROWSER, browser)
        self.pause()
        if self._pending is None:
            config = self._or_message(self._config_from_controls)
            if config is None:
                return None
            self._draw_surrogate(config)
            self._pending = self._session(config, self._supersede())
        try:
            record = next(self._pending, None)
        except Exception:  # noqa: BLE001 - the session has shown it
            record = None
        if record is None or (self._run is not None and self._run.done):
            self._pending = None
        elif self.records:
            self._draw_records()  # each step shows at once, whatever the redraw interval
        self._show_paused()
        return record

    def stop(self, browser: bool = False) -> None:
        """End the run in progress where it is (its curves stay, and become a ghost when the
        next run starts); play then trains anew."""
        validate_value("TrainingExplorer.stop", "browser", BROWSER, browser)
        self.paused = False
        self._supersede()
        if self._pending is not None:
            self._pending.close()
            self._pending = None
        if self.records:
            self._draw_records(final=True)
            self.status.value = f"stopped at step {self.records[-1].step}/{self.config.steps}"

    def _show_paused(self) -> None:
        if self.paused and self.records and self._pending is not None:
            self.status.value = (f"paused at step {self.records[-1].step}/{self.config.steps}: "
                                 f"loss {self.records[-1].loss:.4f}")

    @property
    def ghosts(self) -> int:
        """How many ghost curves of earlier runs are drawn."""
        return self._extra_pairs

    @property
    def running(self) -> bool:
        """True while a live run is in flight."""
        return self._task is not None and not self._task.done()

    async def wait(self) -> None:
        """Await the live run in flight, if any (for async callers and benchmarks)."""
        while self.running:
            await asyncio.wait([self._task])

    def session(self, config: Optional[TrainConfig] = None) -> Iterator[StepRecord]:
        """One run as a generator that draws each record before yielding it.

        Starting it supersedes any other run; it stops early once a newer run starts.
        ``run()`` drives it to the end, a live change drives it from an asyncio task.
        """
        config = self._config_from_controls() if config is None else config
        return self._session(config, self._supersede())

    # -- scheduling ----------------------------------------------------------------
    def _controls_changed(self, change) -> None:
        browser = came_from_browser(change)
        if change is not None and change.get("owner") is self.controls.get("retrain_on_change"):
            return  # the switch itself changes no run
        owner = change.get("owner") if browser and change is not None else None
        self._note_drag(owner)
        self._changed_by = owner
        try:
            if not self.controls["retrain_on_change"].value and self._continue_with_new_surrogate(browser):
                return
            self._retrain(browser=browser)
        finally:
            self._changed_by = None

    def _continue_with_new_surrogate(self, browser: bool) -> bool:
        """With retrain-on-change off: when only the surrogate changed and a run is in progress,
        hand it the new surrogate and let it go on from its weights. False when it cannot."""
        config = self._or_message(self._config_from_controls)
        if config is None:
            return True
        run = self._run
        if run is None or run.done or self._pending is None:
            return False
        if dataclasses.replace(config, surrogate=run.config.surrogate) != run.config:
            return False  # something besides the surrogate changed: retrain
        run.set_surrogate(config.surrogate)
        self.config = run.config
        self._show_surrogate(config, browser)
        if not self.paused and not self.running:
            self._play(browser, paced=False)  # a changed control trains at full speed
        return True

    def _note_drag(self, owner: Any) -> None:
        """A run that a browser change of one control started, and that ended less than
        ``PASSED_THROUGH_S`` before the same control changed again, was a value a drag went
        past (a default run can end inside a drag): it leaves no ghost."""
        if (owner is not None and owner is self._run_cause and self._finished
                and time.perf_counter() - self._finished_at < PASSED_THROUGH_S):
            self._passed_through = self.records

    def _reset(self, browser: bool) -> None:
        self.panel.reset_values()
        self._retrain(browser)

    def _retrain(self, browser: bool, paced: bool = False) -> None:
        # Called from observers, which must never raise: bad settings become a message, and
        # an error inside the run has been shown by the session already.
        config = self._or_message(self._config_from_controls)
        if config is None:
            return
        try:
            self._request(config, browser, paced)
        except Exception as error:  # noqa: BLE001 - shown already; an observer must not raise
            if self.error is not error:
                self._show_failure(error, None)

    def _request(self, config: TrainConfig, browser: bool, paced: bool = False) -> None:
        loop = _running_loop()
        self.paused = False
        if self.live and browser and loop is not None:
            generation = self._supersede()
            self._cause = (generation, self._changed_by)
            self._show_surrogate(config, browser)  # the curve follows the slider at once
            self._task = loop.create_task(self._drive(config, generation, paced))
        else:
            self._draw_surrogate(config)
            self._pending = self.session(config)
            self._consume_now(self._pending)

    def _consume_now(self, session: Iterator[StepRecord]) -> None:
        """Drive ``session`` to its end here (or until :meth:`pause` is called from inside it)."""
        try:
            for _record in session:
                if self.paused:
                    return
        finally:
            if not self.paused and self._pending is session:
                self._pending = None

    def _supersede(self) -> int:
        """Make every earlier run stop at its next step; the new run's generation number."""
        self._generation += 1
        if self._task is not None:
            self._task.cancel()
            self._task = None
        return self._generation

    async def _drive(self, config: TrainConfig, generation: int, paced: bool = False) -> None:
        session = self._session(config, generation)
        self._pending = session
        try:
            # a newer change in the meantime cancels us here; the run then starts at once,
            # without waiting for the curve's redraw to be acknowledged (its first point waits)
            await asyncio.sleep(self.debounce_s)
            await self._until_released()
        except asyncio.CancelledError:
            session.close()
            raise
        await self._consume(session, generation, paced)

    async def _until_released(self) -> None:
        """While the page reports one of the sliders held down, wait for its release and
        then ``debounce_s`` more (the released value may still be on its way), or until the
        value has been held ``held_settle_s`` (from its arrival) without a newer one."""
        settled_at = time.perf_counter() + self.held_settle_s - self.debounce_s
        while self.lens_figure.slider_held:
            released = self._released = asyncio.Event()  # of this event loop
            try:
                await asyncio.wait_for(released.wait(), max(0.0, settled_at - time.perf_counter()))
            except asyncio.TimeoutError:
                return  # held still: the value has settled
            finally:
                if self._released is released:
                    self._released = None
            await asyncio.sleep(self.debounce_s)

    def _on_slider_held(self, change) -> None:
        if change["new"]:
            return
        if self._released is not None:
            self._released.set()
        if self._code_stale:  # the code of the value the drag left
            self._code_stale = False
            self.panel.show_code()

    async def _consume(self, session: Iterator[StepRecord], generation: int, paced: bool = False) -> None:
        """Drive ``session`` step by step, yielding to the kernel between steps; a pause keeps
        the session (for play or step), anything else closes it at the end. ``paced``: each
        step waits until the browser has drawn the update before it, and is drawn itself."""
        try:
            self._streaming = True  # the session's code runs inside next(): it is live
            for _record in session:
                self._streaming = False
                await asyncio.sleep(0)  # let the kernel handle messages between steps
                if paced:  # this step drawn, and the drawing acknowledged, before the next trains
                    if self._drawn.get("records") != len(self.records):
                        await self._pacer.until_ready()
                        if generation == self._generation and not self.paused:
                            self._draw_records(quick=True)
                    await self._pacer.until_ready()
                if generation != self._generation or self.paused:
                    return
                self._streaming = True
        except asyncio.CancelledError:
            if not self.paused:
                raise
        except Exception as error:  # noqa: BLE001 - a task's error would otherwise go unseen
            if self.error is not error:  # the session shows its own errors
                self._show_failure(error, None)
        finally:
            self._streaming = False
            if not self.paused or generation != self._generation:
                session.close()
                if self._pending is session:
                    self._pending = None

    def _session(self, config: TrainConfig, generation: int) -> Iterator[StepRecord]:
        if generation != self._generation:
            return  # superseded before it started: touch nothing
        self.runs_started += 1
        self.error = None
        self._show_message("")
        self.status.value = "training…"
        records = self._records(config)
        started = False
        last_draw = -np.inf
        while True:
            try:
                with self._warnings_as_messages():  # no yield inside: the filters are global
                    record = next(records, None)
                    if record is not None and generation == self._generation:
                        if not started:  # the old curves stay until the new run has a point
                            self._start_drawing(config)
                            self._run_cause = self._cause[1] if self._cause[0] == generation else None
                            started = True
                        self.records.append(record)
                        if record.status != "ok":
                            self._show_message(_divergence_text(record))
                        now = time.perf_counter()
                        first = len(self.records) == 1
                        # the first point of a run in code shows at once; any other waits for
                        # the browser to have drawn the previous update
                        if ((first and not self._streaming) or (
                                (first or now - last_draw >= self.redraw_interval_s) and self._pacer.ready())):
                            self._draw_records(quick=self._streaming)
                            last_draw = now
            except Exception as error:  # noqa: BLE001 - shown, then raised to a caller in code
                if generation == self._generation:
                    self._show_failure(error, started)
                raise
            if record is None or generation != self._generation:
                break  # finished, or superseded: a newer run owns the figure now
            yield record
        if generation == self._generation:
            self._finished = True  # even before its last draw reaches the browser
            self._finished_at = time.perf_counter()
            self.runs_finished += 1
            if self._streaming:  # live: after the update in flight; code: complete on return
                self._pacer.draw(lambda: generation == self._generation and self._draw_records(final=True),
                                 kind="records")
            else:
                self._draw_records(final=True)

    @property
    def seeds(self) -> int:
        """How many seeds a run trains together (the ``seeds`` control)."""
        return self.controls["seeds"].value

    def _records(self, config: TrainConfig) -> Iterator[StepRecord]:
        """The run's records; the Run (data, network) is built at the first step, inside the
        session's error handling. With seeds > 1, the mean record of the seeds at each step."""
        self._bands = []
        if self.seeds == 1:
            self._run = Run(config)
            yield from self._run
            return
        self._run, self._band_seeds = None, self.seeds
        for step in train_seeds(config, self._band_seeds):
            self._bands.append(step.band)
            yield step.mean

    def _show_failure(self, error: BaseException, started: Optional[bool]) -> None:
        """Stop showing "training…": the figure keeps what was drawn last (every step done,
        when the failing run had drawn any), the message and status name the error."""
        self.error = error
        text = visitor_message(error)
        if started and self.records:
            self._draw_records()
            where = f" at step {self.records[-1].step + 1}"
        else:
            where = " before its first step" if started is not None else ""
        self._show_message(f"run stopped{where}: {text}")
        self.status.value = (f"<b style='color:#b00020'>run stopped{where}: "
                             f"{html.escape(text)}</b>")

    # -- drawing -----------------------------------------------------------------------
    def _start_drawing(self, config: TrainConfig) -> None:
        if self.records and self._finished and self._passed_through is not self.records:
            self._add_ghost()
        self._passed_through = None
        self.config = config
        self.records = []
        self._finished = False
        self._drawn = {}  # the parts _draw_records has drawn for this run (all cleared below)
        empty = np.zeros(0)
        with self.figure.batch_update():
            for index in range(_BASE_TRACES):
                trace = self.figure.data[index]
                trace.x = empty
                if trace.type != "histogram":  # a y would make plotly.js weigh the histogram's x by it
                    trace.y = empty
            self.figure.layout.title.text = f"training… {_describe(config)}"
        if any(len(trace.x) for trace in self.lens_figure.data[_MEMBRANE:]):
            with self.lens_figure.batch_update():
                for trace in self.lens_figure.data[_MEMBRANE:]:
                    trace.x, trace.y = empty, empty
        self.status.value = "training…"

    def _draw_records(self, final: bool = False, quick: bool = False) -> None:
        """Draw the run's records. ``quick`` (a live run's draws): plotly.js replots just the
        per-step curves and the gradient bars (their axes' ranges are set here), not the whole
        figure (:func:`~sgexplore.widgets.figures.redraw_traces_only`). New test points and
        lens histograms need a full redraw, which a live run makes at most every
        ``FULL_REDRAW_INTERVAL_S``; its first and last draws are full ones."""
        records = self.records
        steps = np.array([r.step for r in records], dtype=np.int32)
        tested = [r for r in records if r.test_accuracy is not None]
        last = records[-1]
        layers = _layer_names(last)
        # what changes less often than every step is set only when it changed (each set costs
        # plotly's validation here and a redraw in the browser)
        histograms = self.membrane
        drawn = {"tested": len(tested), "records": len(records),
                 "membrane": (id(histograms), self.config.surrogate, self.config.spike_threshold)}
        losses = np.array([r.loss for r in records])
        grad_norms = np.array(last.grad_norms)
        # set by hand, not autoranged, so that a quick draw (which leaves ranges alone) fits too
        loss_range = padded_range(np.concatenate([losses, *self._loss_axis_values(tested)]), log=True)
        norm_range = padded_range(grad_norms, log=True)
        changed = (drawn["tested"] != self._drawn.get("tested") or drawn["membrane"] != self._drawn.get("membrane"))
        now = time.perf_counter()
        quick = bool(quick and not final and loss_range and norm_range and self._drawn
                     and not (changed and now - self._full_drawn_at >= FULL_REDRAW_INTERVAL_S))
        if not quick:
            self._full_drawn_at = now
        with (redraw_traces_only if quick else go.FigureWidget.batch_update)(self.figure):
            self.figure.data[_LOSS].x = steps
            self.figure.data[_LOSS].y = losses
            self.figure.data[_SMOOTH_LOSS].x = steps
            self.figure.data[_SMOOTH_LOSS].y = views.smoothed(losses)
            self.figure.data[_ACCURACY].x = steps
            self.figure.data[_ACCURACY].y = np.array([r.accuracy for r in records])
            if self._bands:
                self._draw_bands(steps)
            if not quick and drawn["tested"] != self._drawn.get("tested"):
                tested_steps = np.array([r.step for r in tested], dtype=np.int32)
                self.figure.data[_TEST_ACCURACY].x = tested_steps
                self.figure.data[_TEST_ACCURACY].y = np.array([r.test_accuracy for r in tested])
                self.figure.data[_TEST_LOSS].x = tested_steps
                self.figure.data[_TEST_LOSS].y = np.array([r.test_loss for r in tested])
            if not quick and drawn["membrane"] != self._drawn.get("membrane"):
                self._draw_membrane()
            self._drawn.update(drawn if not quick else {"records": drawn["records"]})
            self.figure.data[_GRAD_NORMS].x = layers
            self.figure.data[_GRAD_NORMS].y = grad_norms
            self.figure.layout.yaxis.range = loss_range
            self.figure.layout.yaxis3.range = norm_range
            if not quick:  # the rest of the layout a quick draw would not show
                self.figure.layout.xaxis.range = [0, self.config.steps]
                self.figure.layout.xaxis2.range = [0, self.config.steps]
                self.figure.layout.title.text = _describe(self.config)
        if final:
            self._finished = True
            refresh_snapshot(self.figure)
            refresh_snapshot(self.lens_figure)
        seeds = f" (mean of {self._band_seeds} seeds, band lowest to highest)" if self._bands else ""
        self.status.value = _status_text(self.config, last, final) + seeds

    def _loss_axis_values(self, tested: List[StepRecord]) -> list:
        """What else the loss axis shows: the test losses, the seeds' band and the ghosts."""
        values = [np.array([r.test_loss for r in tested], dtype=float)]
        if self._bands:
            values.append(np.array([band["loss"][k] for band in self._bands for k in (0, 1)], dtype=float))
        for trace in self.figure.data[self.base_traces::2]:  # each ghost's loss curve
            values.append(np.asarray(trace.y if trace.y is not None else (), dtype=float))
        return values

    def _draw_bands(self, steps: np.ndarray) -> None:
        """The seeds' band around the mean curves: one closed outline, lowest to highest."""
        bands = self._bands[:len(steps)]
        around = np.concatenate([steps, steps[::-1]])
        for index, metric in ((_LOSS_BAND, "loss"), (_ACCURACY_BAND, "accuracy")):
            low = np.array([band[metric][0] for band in bands])
            high = np.array([band[metric][1] for band in bands])
            self.figure.data[index].x, self.figure.data[index].y = around, np.concatenate([high, low[::-1]])

    def _draw_membrane(self) -> None:
        """The lens: each hidden layer's recorded v histogram on the surrogate's v axis, and its
        coverage and mean gain under the current surrogate (inside the caller's batch update)."""
        histograms = self.membrane
        if histograms is None:
            if self.seeds > 1 and self.records:
                self.lens_readout.value = ("<b>membrane lens</b> and activity: with seeds = 1 only "
                                           "(seeds trained together record no histograms)")
            return
        thr, surrogate = self.config.spike_threshold, self.config.surrogate
        rows = []
        with self.lens_figure.batch_update():
            for index in range(len(_LAYER_COLOURS)):
                trace = self.lens_figure.data[_MEMBRANE + index]
                if index < len(histograms):
                    h = histograms[index]
                    trace.x, trace.y = h.centres + thr, h.fractions()
                    rows.append(f"hidden {index + 1}: gradient reaches "
                                f"{lens.coverage(surrogate, h, thr):.0%} of v samples, mean gain "
                                f"{format_number(lens.mean_gain(surrogate, h, thr), 3)}")
                else:
                    trace.x, trace.y = np.zeros(0), np.zeros(0)
        self.lens_readout.value = ("<b>membrane lens</b> (surrogate ≥ 1% of its peak)<br>"
                                   + "<br>".join(html.escape(row) for row in rows))
        self._draw_activity()

    def _draw_activity(self) -> None:
        """The data (once per run) and hidden layer 1 on the probe sample, with the current
        weights (inside the caller's batch update; on the lens's steps, so a run pays one
        one-sample forward pass per recorded step)."""
        run = self._run
        if run is None or not run.records:
            return
        if self._drawn.get("data") is not run:
            x, y = run.data
            times, units, ticks, labels = [], [], [], []
            for k, (label, example) in enumerate(views.class_examples(x, y)):
                t, n = views.raster(example)
                offset = k * (example.shape[0] + _RASTER_GAP)
                times.append(t + offset)
                units.append(n)
                ticks.append(offset + example.shape[0] / 2)
                labels.append(str(label))
            trace = self.figure.data[_DATA_RASTER]
            trace.x, trace.y = np.concatenate(times), np.concatenate(units)
            self.figure.layout.xaxis5.update(tickvals=ticks, ticktext=labels)
            self._drawn["data"] = run
        # keyed on the weights: a lens redraw alone (a new surrogate on a paused run) keeps them
        drawn_at = (run, len(run.records))
        if self._drawn.get("activity") == drawn_at:
            return
        self._drawn["activity"] = drawn_at
        spikes = run.activity(PROBE_SAMPLE)[0]
        t, n = views.raster(spikes)
        self.figure.data[_HIDDEN_RASTER].x, self.figure.data[_HIDDEN_RASTER].y = t, n
        self.figure.data[_RATES].x = views.firing_rates(spikes)

    def _add_ghost(self) -> None:
        steps = np.array([r.step for r in self.records], dtype=np.int32)
        label = _describe(self.config, short=True)
        faded = dict(color="rgba(120,120,120,0.35)", width=1.5)
        loss = go.Scatter(x=steps, y=np.array([r.loss for r in self.records]), name=label,
                          legendgroup="ghosts", showlegend=False, line=faded,
                          hovertemplate=label + "<br>step %{x}: %{y:.3g}<extra></extra>")
        accuracy = go.Scatter(x=steps, y=np.array([r.accuracy for r in self.records]), name=label,
                              legendgroup="ghosts", showlegend=False, line=faded, hoverinfo="skip")
        # one message, so one redraw in the browser (each addTraces redraws the whole figure)
        self.figure.add_traces([loss, accuracy], rows=[1, 1], cols=[1, 2])
        self._trim_extra_pairs(self.max_ghosts)

    def _show_surrogate(self, config: TrainConfig, browser: bool) -> None:
        """Draw ``config``'s surrogate: for a browser's change at the browser's pace (the
        newest waits for the update in flight), for code at once."""
        if browser and self.live and _running_loop() is not None:
            self._lens_pacer.draw(lambda: self._draw_surrogate(config, quick=True), kind="surrogate")
        else:
            self._draw_surrogate(config)

    def _draw_surrogate(self, config: TrainConfig, quick: bool = False) -> None:
        """The surrogate curve; ``quick`` (a drag) replots only that curve and its y axis when
        the threshold and mode, and so the v grid and the threshold line, are those drawn."""
        with self._warnings_as_messages():
            v_mem = membrane_grid(config.spike_threshold, config.mode, 401)
            y = surrogate_curve(config.surrogate, v_mem, config.spike_threshold, config.mode)
            grid = (config.spike_threshold, config.mode)
            same_grid = self._drawn_grid == grid
            figure = self.lens_figure
            with (redraw_traces_only if quick and same_grid else go.FigureWidget.batch_update)(figure):
                if not same_grid:
                    figure.data[_SURROGATE].x = v_mem
                    figure.layout.shapes = threshold_lines(config.spike_threshold, [("x", "y"), ("x2", "y2")])
                figure.data[_SURROGATE].y = y
                figure.layout.yaxis.range = padded_range(y)
            self._drawn_grid = grid
            # while a slider is held, the framework code waits for the release: one message
            # less per value of a drag (the readout follows)
            held = self.lens_figure.slider_held
            self.panel.show_readout(config.surrogate.peak(config.spike_threshold),
                                    config.surrogate.area(config.spike_threshold), code=not held)
            self._code_stale = held

    def _config_from_controls(self) -> TrainConfig:
        spike_threshold, mode, _ = self.panel.spike_settings()
        values = {name: self.controls[name].value for name in TRAINING_FIELDS}
        values["hidden"] = parse_hidden(values["hidden"])
        config = dataclasses.replace(self._base, surrogate=self.panel.build_surrogate(),
                                     spike_threshold=spike_threshold, mode=mode, **values)
        if self.classroom:
            check_classroom(config)
            check_classroom_seeds(self.controls["seeds"].value)
        return config

    def _check_hidden(self, text: str) -> None:
        """ValueError unless a page's hidden-layer text gives valid widths (in the classroom:
        inside its caps); the guard then refuses the text and keeps the last one."""
        hidden = parse_hidden(text)
        if self.classroom:
            check_classroom_hidden(hidden)
        else:
            dataclasses.replace(self._base, hidden=hidden)


def _control_value(name: str, value: Any) -> Any:
    return _hidden_text(value) if name == "hidden" else value


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _describe(config: TrainConfig, short: bool = False) -> str:
    text = f"{describe(config.surrogate)}, lr={format_number(config.lr)}"
    if short:
        return text
    reset = f"{config.reset}{' (detached)' if config.detach_reset else ''}"
    return (f"{text}<br>thr={format_number(config.spike_threshold)}, reset={reset}, "
            f"hidden={_hidden_text(config.hidden)}, seed={config.seed}")


def _layer_names(record: StepRecord) -> List[str]:
    return [f"hidden {i + 1}" for i in range(len(record.grad_norms) - 1)] + ["readout"]


def _divergence_text(record: StepRecord) -> str:
    """``diverged at step k: ...``, naming what was not finite (the loss, or which layer's
    gradient), so that a run that cannot train says why."""
    if not np.isfinite(record.loss):
        cause = f"the loss is {record.loss}"
    else:
        bad = [(name, norm) for name, norm in zip(_layer_names(record), record.grad_norms)
               if not np.isfinite(norm)]
        cause = "the gradient of " + ", ".join(f"{name} is {norm}" for name, norm in bad)
    return f"diverged at step {record.step}: {cause}"


def _status_text(config: TrainConfig, last: StepRecord, final: bool) -> str:
    if last.status != "ok":
        return f"<b style='color:#b00020'>{html.escape(_divergence_text(last))}</b>"
    state = "done" if final else "training…"
    tested = f", test accuracy {last.test_accuracy:.3f}" if last.test_accuracy is not None else ""
    return (f"{state} step {last.step}/{config.steps}: loss {last.loss:.4f}, "
            f"batch accuracy {last.accuracy:.3f}{tested} ({last.elapsed_s:.2f} s)")
