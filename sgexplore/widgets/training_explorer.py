"""TrainingExplorer: change a surrogate or a training setting and watch the toy SNN retrain.

Every change retrains from the same seed (:func:`sgexplore.train.train`) and streams the
loss and accuracy into the figure while it trains. Finished runs stay as faded ghosts.

How runs are scheduled:

* A change sent by the browser (a dragged slider) starts the run as an asyncio task on
  the kernel's event loop, which yields after every training step, so the kernel keeps
  handling messages. A newer change supersedes the run in flight: the old task stops at
  its next step, so a fast drag never queues a backlog. The task first waits
  ``debounce_s`` (30 ms), so a burst of changes costs one cheap message handler each
  and trains only for the last one.
* A change made by code (``explorer.controls["lr"].value = 0.1`` in a cell or a test),
  any change while ``live`` is False, and any change where no event loop runs, trains
  synchronously: the figure is complete when the assignment returns.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any, Iterator, List, Optional, Tuple, Union

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..params import format_number, params_of
from ..surrogates import Surrogate, describe
from ..train import TRAIN_MODE, StepRecord, TrainConfig, train
from ..views import membrane_grid, surrogate_curve
from .controls import SurrogatePanel, came_from_browser, declared_control
from .explorer import Explorer
from .figures import refresh_snapshot, threshold_lines

__all__ = ["TrainingExplorer", "TRAINING_FIELDS", "parse_hidden"]

#: TrainConfig fields that get a control; the others stay as given (``config=`` or keywords).
TRAINING_FIELDS = ("lr", "steps", "batch_size", "beta", "seed", "reset", "detach_reset",
                   "recurrent", "hidden")
MAX_GHOSTS = 5
REDRAW_INTERVAL_S = 0.05             # stream at most ~20 redraws a second (and always the first point)
DEBOUNCE_S = 0.03                    # a live run starts after this long without a newer change
_BASE_TRACES = 5                     # loss, accuracy, test accuracy, surrogate, grad norms
_LOSS, _ACCURACY, _TEST_ACCURACY, _SURROGATE, _GRAD_NORMS = range(_BASE_TRACES)


def parse_hidden(text: Union[str, Tuple[int, ...], List[int], int]) -> Tuple[int, ...]:
    """Layer widths from text such as ``"64"`` or ``"64, 32"`` (ValueError otherwise)."""
    if isinstance(text, (tuple, list)):
        return tuple(text)
    if isinstance(text, int):
        return (text,)
    try:
        widths = tuple(int(part) for part in str(text).replace(" ", "").split(",") if part)
    except ValueError:
        widths = ()
    if not widths:
        raise ValueError(f"hidden must be comma-separated layer widths such as '64, 32'; got {text!r}")
    return widths


def _hidden_text(hidden: Tuple[int, ...]) -> str:
    return ", ".join(str(n) for n in hidden)


def _training_control(name: str, value: Any) -> W.Widget:
    declared = params_of(TrainConfig)
    if name in declared:
        return declared_control(name, declared[name], value)
    if name == "hidden":
        doc = TrainConfig.__dataclass_fields__["hidden"].metadata["doc"]
        return W.Text(value=_hidden_text(value), description="hidden", style={"description_width": "110px"},
                      continuous_update=False, tooltip=f"hidden: {doc}")
    raise ValueError(f"{name} is not a declared TrainConfig field")


def _new_figure() -> go.FigureWidget:
    layout = make_subplots(rows=2, cols=2, vertical_spacing=0.16, horizontal_spacing=0.12,
                           subplot_titles=("training loss", "accuracy", "surrogate dS/dv",
                                           "gradient norm per layer (last step)"))
    figure = go.FigureWidget(layout)
    empty = np.zeros(0)
    figure.add_scatter(x=empty, y=empty, name="loss", line=dict(color="#1f77b4", width=2.5),
                       row=1, col=1)
    figure.add_scatter(x=empty, y=empty, name="train accuracy (batch)",
                       line=dict(color="#2ca02c", width=2), row=1, col=2)
    figure.add_scatter(x=empty, y=empty, name="test accuracy", mode="markers+lines",
                       line=dict(color="#d62728", width=1, dash="dot"), row=1, col=2)
    figure.add_scatter(x=empty, y=empty, name="surrogate", showlegend=False,
                       line=dict(color="#ff7f0e", width=2), row=2, col=1)
    figure.add_bar(x=[], y=empty, name="grad norm", showlegend=False, marker_color="#9467bd",
                   texttemplate="%{y:.2g}", textposition="outside", row=2, col=2)
    figure.update_layout(height=600, width=760, template="plotly_white",
                         margin=dict(l=50, r=20, t=70, b=40), title=dict(font=dict(size=13)),
                         legend=dict(orientation="h", y=-0.1))
    figure.update_xaxes(title_text="step", row=1, col=1)
    figure.update_xaxes(title_text="step", row=1, col=2)
    figure.update_xaxes(title_text="v_mem", row=2, col=1)
    figure.update_yaxes(type="log", row=1, col=1)
    figure.update_yaxes(range=[0, 1.05], row=1, col=2)
    figure.update_yaxes(type="log", row=2, col=2)
    return figure


class TrainingExplorer(Explorer):
    """Surrogate and training controls, and the toy SNN's loss, accuracy and gradients, live.

    ``controls`` maps "surrogate", "spike_threshold", "mode", each declared parameter of
    the current surrogate and the fields in :data:`TRAINING_FIELDS` to their widgets.
    ``figure.data[0]`` is the current run's loss against the step; ``records`` its
    :class:`~sgexplore.train.StepRecord` list; ``config`` its TrainConfig; ``message`` says
    "diverged at step k" or why a setting is invalid. ``run()`` trains to the end.

    Keywords name a surrogate parameter of the chosen surrogate or a TrainConfig field;
    ``config`` gives the starting TrainConfig (its surrogate is replaced by ``surrogate``).
    """

    def __init__(self, surrogate: Union[str, Surrogate] = "FastSigmoid",
                 config: Optional[TrainConfig] = None, live: bool = True,
                 max_ghosts: int = MAX_GHOSTS, **values: Any):
        base = config if config is not None else TrainConfig()
        if not isinstance(base, TrainConfig):
            raise ValueError(f"config must be a TrainConfig; got {type(base).__name__}")
        config_names = {f.name for f in dataclasses.fields(TrainConfig)} - {"surrogate"}
        surrogate_params = {k: v for k, v in values.items() if k not in config_names}
        base = dataclasses.replace(base, **{k: v for k, v in values.items() if k in config_names})
        self.panel = SurrogatePanel(surrogate, base.spike_threshold, base.mode, None,
                                    surrogate_params, on_change=self._controls_changed,
                                    mode_param=TRAIN_MODE)
        self.controls = self.panel.controls
        for name in TRAINING_FIELDS:  # reset restores the values the explorer was built with
            value = _control_value(name, getattr(base, name))
            self.panel.add_observed(name, _training_control(name, getattr(base, name)), default=value)
        self._base = base
        self.live = live
        self.max_ghosts = max_ghosts
        self.redraw_interval_s = REDRAW_INTERVAL_S
        self.debounce_s = DEBOUNCE_S
        self.message = ""
        self.records: List[StepRecord] = []
        self.config = self._config_from_controls()  # bad constructor input raises here
        self.base_traces = _BASE_TRACES
        self.figure = _new_figure()
        self.status = W.HTML()
        self.runs_started = 0
        self.runs_finished = 0
        self._generation = 0
        self._task: Optional[asyncio.Task] = None
        self._finished = False  # the drawn run reached its end (so it may become a ghost)
        self._draw_surrogate(self.config)

        run_button = W.Button(description="retrain", icon="play", tooltip="train again now")
        clear_button = W.Button(description="clear ghosts", icon="trash",
                                tooltip="remove the faded curves of earlier runs")
        run_button.on_click(lambda _button: self._request(self.config, browser=True))
        clear_button.on_click(lambda _button: self.clear())
        self.panel.reset_button.on_click(lambda _button: self._reset(browser=True))
        training = W.VBox([self.controls[name] for name in TRAINING_FIELDS])
        self.widget = self._layout([self.panel.widget, W.HTML("<b>training</b>"), training,
                                    W.HBox([run_button, clear_button]), self.status])
        if self.live and _running_loop() is not None:
            # In a kernel, train the first curve now, before the figure is displayed: a view
            # that attaches while a background run streams (Voila renders after the cells
            # ran) could miss the transient updates and keep an empty figure.
            self._request(self.config, browser=False)

    # -- public methods ------------------------------------------------------------
    def run(self) -> List[StepRecord]:
        """Train with the current controls until the run ends; return its records."""
        try:
            config = self._config_from_controls()
        except ValueError as error:
            self._show_message(str(error))
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
        self._retrain(browser=came_from_browser(change))

    def _reset(self, browser: bool) -> None:
        self.panel.reset_values()
        self._retrain(browser)

    def _retrain(self, browser: bool) -> None:
        # Called from observers, which must never raise: bad settings become a message.
        try:
            config = self._config_from_controls()
        except ValueError as error:
            self._show_message(str(error))
            return
        self._request(config, browser)

    def _request(self, config: TrainConfig, browser: bool) -> None:
        loop = _running_loop()
        if self.live and browser and loop is not None:
            self._task = loop.create_task(self._drive(config, self._supersede()))
        else:
            self._draw_surrogate(config)
            for _record in self.session(config):
                pass

    def _supersede(self) -> int:
        """Make every earlier run stop at its next step; the new run's generation number."""
        self._generation += 1
        if self._task is not None:
            self._task.cancel()
            self._task = None
        return self._generation

    async def _drive(self, config: TrainConfig, generation: int) -> None:
        session = self._session(config, generation)
        try:
            await asyncio.sleep(self.debounce_s)  # a newer change in the meantime cancels us here
            self._draw_surrogate(config)
            for _record in session:
                await asyncio.sleep(0)  # let the kernel handle messages between steps
                if generation != self._generation:
                    return
        except Exception as error:  # noqa: BLE001 - a task's error would otherwise go unseen
            self._show_message(f"{type(error).__name__}: {error}")
        finally:
            session.close()

    def _session(self, config: TrainConfig, generation: int) -> Iterator[StepRecord]:
        if generation != self._generation:
            return  # superseded before it started: touch nothing
        self.runs_started += 1
        self._start_drawing(config)
        last_draw = -np.inf
        for record in train(config):
            if generation != self._generation:
                return  # superseded: a newer run owns the figure now
            self.records.append(record)
            if record.status != "ok":
                self._show_message(f"diverged at step {record.step}")
            now = time.perf_counter()
            if len(self.records) == 1 or now - last_draw >= self.redraw_interval_s:
                self._draw_records()
                last_draw = now
            yield record
        if generation == self._generation:
            self._draw_records(final=True)
            self.runs_finished += 1

    # -- drawing -----------------------------------------------------------------------
    def _start_drawing(self, config: TrainConfig) -> None:
        if self.records and self._finished:
            self._add_ghost()
        self.config = config
        self.records = []
        self._finished = False
        self._show_message("")
        empty = np.zeros(0)
        with self.figure.batch_update():
            for index in (_LOSS, _ACCURACY, _TEST_ACCURACY):
                self.figure.data[index].x = empty
                self.figure.data[index].y = empty
            self.figure.layout.title.text = f"training… {_describe(config)}"
        self.status.value = "training…"

    def _draw_records(self, final: bool = False) -> None:
        records = self.records
        steps = np.array([r.step for r in records], dtype=np.int32)
        tested = [r for r in records if r.test_accuracy is not None]
        last = records[-1]
        layers = [f"hidden {i + 1}" for i in range(len(last.grad_norms) - 1)] + ["readout"]
        with self.figure.batch_update():
            self.figure.data[_LOSS].x = steps
            self.figure.data[_LOSS].y = np.array([r.loss for r in records])
            self.figure.data[_ACCURACY].x = steps
            self.figure.data[_ACCURACY].y = np.array([r.accuracy for r in records])
            self.figure.data[_TEST_ACCURACY].x = np.array([r.step for r in tested], dtype=np.int32)
            self.figure.data[_TEST_ACCURACY].y = np.array([r.test_accuracy for r in tested])
            self.figure.data[_GRAD_NORMS].x = layers
            self.figure.data[_GRAD_NORMS].y = np.array(last.grad_norms)
            self.figure.layout.xaxis.range = [0, self.config.steps]
            self.figure.layout.xaxis2.range = [0, self.config.steps]
            self.figure.layout.title.text = _describe(self.config)
        if final:
            self._finished = True
            refresh_snapshot(self.figure)
        self.status.value = _status_text(self.config, last, final)

    def _add_ghost(self) -> None:
        steps = np.array([r.step for r in self.records], dtype=np.int32)
        label = _describe(self.config, short=True)
        faded = dict(color="rgba(120,120,120,0.35)", width=1.5)
        self.figure.add_scatter(x=steps, y=np.array([r.loss for r in self.records]), name=label,
                                legendgroup="ghosts", showlegend=False, line=faded,
                                hovertemplate=label + "<br>step %{x}: %{y:.3g}<extra></extra>",
                                row=1, col=1)
        self.figure.add_scatter(x=steps, y=np.array([r.accuracy for r in self.records]), name=label,
                                legendgroup="ghosts", showlegend=False, line=faded,
                                hoverinfo="skip", row=1, col=2)
        self._trim_extra_pairs(self.max_ghosts)

    def _draw_surrogate(self, config: TrainConfig) -> None:
        v_mem = membrane_grid(config.spike_threshold, config.mode, 401)
        y = surrogate_curve(config.surrogate, v_mem, config.spike_threshold, config.mode)
        with self.figure.batch_update():
            self.figure.data[_SURROGATE].x = v_mem
            self.figure.data[_SURROGATE].y = y
            self.figure.layout.shapes = threshold_lines(config.spike_threshold, [("x3", "y3")])
        self.panel.show_readout(config.surrogate.peak(config.spike_threshold),
                                config.surrogate.area(config.spike_threshold))

    def _config_from_controls(self) -> TrainConfig:
        spike_threshold, mode, _ = self.panel.spike_settings()
        values = {name: self.controls[name].value for name in TRAINING_FIELDS}
        values["hidden"] = parse_hidden(values["hidden"])
        return dataclasses.replace(self._base, surrogate=self.panel.build_surrogate(),
                                   spike_threshold=spike_threshold, mode=mode, **values)


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


def _status_text(config: TrainConfig, last: StepRecord, final: bool) -> str:
    if last.status != "ok":
        return f"<b style='color:#b00020'>diverged at step {last.step}</b>"
    state = "done" if final else "training…"
    tested = f", test accuracy {last.test_accuracy:.3f}" if last.test_accuracy is not None else ""
    return (f"{state} step {last.step}/{config.steps}: loss {last.loss:.4f}, "
            f"batch accuracy {last.accuracy:.3f}{tested} ({last.elapsed_s:.2f} s)")
