"""Sweep surrogate shape × scale over the toy SNN (Zenke & Vogels 2021, Figs. 3 and 5).

Every cell of the grid trains the same network; only the surrogate changes. "Scale" is the
surrogate's **peak**: each shape gets the ``grad_scale`` that puts its maximum at the
requested value, so shapes are compared at matched scale. Each grid is trained twice,
with the reset detached and with gradients flowing through it (differentiable reset).
Two more axes make a cell evidence rather than one run: ``seeds`` (each seed draws its own
data set, initial weights and batches; cells show mean ± standard deviation over seeds)
and ``lrs`` (each cell is reported at its best learning rate, as Zenke & Vogels do, and
:attr:`SweepResult.best_lr` says which one won)::

    result = sweep(["FastSigmoid", "SigmoidDerivative", "Triangle"], [0.01, 0.1, 1, 10],
                   seeds=[0, 1, 2], lrs=[0.003, 0.01])
    result.heatmap()            # mean final loss and accuracy, one panel per reset mode
    print(result.table())       # mean ± spread over seeds
    print(result.lr_table())    # the learning rate that won each cell

    result = QUICK.run()        # the course's settings: QUICK for tests, FULL for lectures

Runs are trained in chunks by :func:`sgexplore.ensemble.train_many`, many configurations
in one vectorised pass. The chunks go to any :class:`concurrent.futures.Executor`: by
default a local process pool over the cores; pass a cluster's executor (Dask:
``client.get_executor()``) to run a large sweep there unchanged. Workers receive only
:class:`~sgexplore.train.TrainConfig` objects (picklable), never closures.

With ``results="sweep.jsonl"`` every finished chunk is appended to that file, one JSON line
per run; calling the same sweep again skips the runs already there, so a stopped or killed
sweep resumes. A chunk that fails, or whose worker process dies, is reported with its
cells while the other chunks go on.
"""

from __future__ import annotations

import ast
import concurrent.futures
import dataclasses
import json
import math
import multiprocessing
import numbers
import os
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .ensemble import train_many
from .params import Param, format_number, params_of, validate_value
from .surrogates import (ArcTan, FastSigmoid, Gaussian, SigmoidDerivative, SingleExponential, Surrogate,
                         Triangle, create)
from .train import TrainConfig, train
from .views import SWEEP_METRICS

__all__ = ["RESET_GRADIENTS", "SCALE", "QUICK", "FULL", "ZENKE_VOGELS", "ZENKE_VOGELS_SHAPES", "COURSE_TASK",
           "SweepSetting", "SweepResult", "RunSummary", "SweepJob", "shape_name", "surrogate_at_scale",
           "sweep_configs", "sweep_jobs", "run_to_end", "run_chunk", "sweep"]

#: The two ways the reset's gradient is treated in a sweep: name -> ``detach_reset``.
#: (Not :data:`sgexplore.snn.RESETS`, which says what the reset does to the membrane.)
RESET_GRADIENTS: Dict[str, bool] = {"detached": True, "differentiable": False}
#: A sweep's scale: the peak every shape is rescaled to.
SCALE = Param(1.0, low=0.0, low_open=True, slider=(0.01, 100.0, 0.1), log=True,
              doc="the surrogate's peak, which its grad_scale is set to reach")


Shape = Union[str, Surrogate]


@dataclass(frozen=True)
class SweepSetting:
    """A named grid: shapes, peak scales, the training settings shared by every run and,
    optionally, learning rates and seeds (default: the config's own)."""

    shapes: Tuple[Shape, ...]
    scales: Tuple[float, ...]
    config: Mapping[str, Any] = field(default_factory=dict)
    lrs: Optional[Tuple[float, ...]] = None
    seeds: Optional[Tuple[int, ...]] = None

    @property
    def runs(self) -> int:
        """How many training runs the setting has (both reset modes)."""
        return (len(self.shapes) * len(self.scales) * len(RESET_GRADIENTS)
                * len(self.lrs or (None,)) * len(self.seeds or (None,)))

    def run(self, **kwargs) -> "SweepResult":
        """``sweep(self.shapes, self.scales, TrainConfig(**self.config), lrs=..., seeds=..., **kwargs)``."""
        kwargs.setdefault("lrs", self.lrs)
        kwargs.setdefault("seeds", self.seeds)
        return sweep(self.shapes, self.scales, TrainConfig(**self.config), **kwargs)


#: Zenke & Vogels' three shapes (Fig. 3): SuperSpike's fast sigmoid, the sigmoid derivative and
#: Esser et al.'s triangle. Their widths are chosen so that at equal peak they also have equal
#: area (0.2 at peak 1, the fast sigmoid's at slope 10): only the form differs.
ZENKE_VOGELS_SHAPES = (FastSigmoid(slope=10.0), SigmoidDerivative(slope=20.0), Triangle(grad_width=0.2))

#: The task and network every setting trains, spelled out so that changes to the
#: TrainConfig defaults do not silently change the course results.
COURSE_TASK = dict(task="randman", classes=4, units=20, time_steps=50, samples_per_class=200,
                   hidden=(64,), beta=0.9, lr=0.01, batch_size=64, seed=0)

#: Small enough for the notebook tests: 30 runs of 60 steps.
QUICK = SweepSetting(
    shapes=ZENKE_VOGELS_SHAPES,
    scales=(0.01, 0.1, 1.0, 10.0, 100.0),
    config=dict(COURSE_TASK, steps=60),
)

#: For lectures: six shapes, nine scales, longer training (under a minute on two cores; BENCHMARKS.md).
#: The extra shapes also have area 0.2 at peak 1 (Gaussian: sigma·sqrt(2 pi) ≈ 0.2).
FULL = SweepSetting(
    shapes=ZENKE_VOGELS_SHAPES + (Gaussian(sigma=0.08), ArcTan(alpha=10.0),
                                  SingleExponential(grad_width=0.1)),
    scales=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0),
    config=dict(COURSE_TASK, steps=200),
)

#: ``FULL`` as Zenke & Vogels report it: every cell at its best of four learning rates, with
#: three seeds (1,296 runs).
ZENKE_VOGELS = SweepSetting(shapes=FULL.shapes, scales=FULL.scales, config=FULL.config,
                            lrs=(0.001, 0.003, 0.01, 0.03), seeds=(0, 1, 2))


def shape_name(shape: Shape) -> str:
    """The label of a shape: its registered name, or its class name for an instance."""
    return shape if isinstance(shape, str) else type(shape).__name__


def surrogate_at_scale(shape: Shape, scale: float) -> Surrogate:
    """``shape`` with ``grad_scale`` set so that its peak is ``scale``.

    ``shape`` is a registered name (default width) or a surrogate instance (its width is
    kept; its own ``grad_scale`` is replaced). Raises ValueError for a scale that is not a
    positive number or a shape without a ``grad_scale``.
    """
    scale = validate_value("", "scale", SCALE, scale)
    if not isinstance(shape, (str, Surrogate)):
        raise ValueError(f"shape must be a registered surrogate name or a Surrogate; got {shape!r}")
    unit = create(shape) if isinstance(shape, str) else shape
    if "grad_scale" not in unit.params():
        raise ValueError(f"shape {shape_name(shape)!r} has no grad_scale, so its scale cannot be set; "
                         "choose a surrogate with a grad_scale parameter")
    unit = unit.replace(grad_scale=1.0)
    unit_peak = unit.peak()
    if not (0 < unit_peak < math.inf):
        raise ValueError(f"shape {shape_name(shape)!r} has peak {unit_peak} at grad_scale=1; "
                         "cannot rescale it")
    return unit.replace(grad_scale=scale / unit_peak)


def sweep_configs(shapes: Sequence[Shape], scales: Sequence[float], base_config: TrainConfig,
                  resets: Sequence[str] = tuple(RESET_GRADIENTS)) -> List[Tuple[Tuple[int, int, int], TrainConfig]]:
    """One config per grid cell, keyed by its ``(reset, shape, scale)`` index."""
    return [((r, i, j), dataclasses.replace(base_config, surrogate=surrogate_at_scale(shape, scale),
                                            detach_reset=RESET_GRADIENTS[reset]))
            for r, reset in enumerate(resets)
            for i, shape in enumerate(shapes)
            for j, scale in enumerate(scales)]


#: The final loss is averaged over this many last steps (one batch's loss is noisy).
FINAL_LOSS_STEPS = 10


@dataclass(frozen=True)
class RunSummary:
    """The end of one training run.

    ``loss`` is the mean training loss of the last :data:`FINAL_LOSS_STEPS` steps,
    ``accuracy`` the test accuracy after the last step. A diverged run has NaN for both
    and the step at which it diverged in ``diverged_at``.
    """

    loss: float
    accuracy: float
    diverged_at: Optional[int] = None


@dataclass(frozen=True)
class SweepJob:
    """One run of a sweep: its grid index ``(reset, shape, scale, lr, seed)`` and its config."""

    index: Tuple[int, int, int, int, int]
    config: TrainConfig

    @property
    def key(self) -> str:
        """What identifies the run in a results file: the config's repr (every setting)."""
        return repr(self.config)


def sweep_jobs(shapes: Sequence[Shape], scales: Sequence[float], base_config: TrainConfig,
               resets: Sequence[str] = tuple(RESET_GRADIENTS), lrs: Optional[Sequence[float]] = None,
               seeds: Optional[Sequence[int]] = None) -> List[SweepJob]:
    """Every run of the grid, in the order ``reset, shape, scale, lr, seed`` (the last fastest),
    so that consecutive runs fill one cell, and cells of one shape sit together."""
    lrs = (base_config.lr,) if lrs is None else lrs
    seeds = (base_config.seed,) if seeds is None else seeds
    return [SweepJob((r, i, j, l, k), dataclasses.replace(config, lr=lr, seed=seed))
            for (r, i, j), config in sweep_configs(shapes, scales, base_config, resets)
            for l, lr in enumerate(lrs)
            for k, seed in enumerate(seeds)]


def _summarise(losses: List[float], last) -> RunSummary:
    # train() measures the test accuracy at the last step; fall back to the batch's if not.
    accuracy = last.test_accuracy if last.test_accuracy is not None else last.accuracy
    return RunSummary(loss=float(np.mean(losses[-FINAL_LOSS_STEPS:])), accuracy=float(accuracy))


def run_to_end(config: TrainConfig) -> RunSummary:
    """Train ``config`` alone to the end and summarise it (the sequential path)."""
    losses: List[float] = []
    last = None
    for last in train(config):
        if last.status == "diverged":
            return RunSummary(loss=math.nan, accuracy=math.nan, diverged_at=last.step)
        losses.append(last.loss)
    return _summarise(losses, last)


def run_chunk(configs: Sequence[TrainConfig]) -> List[RunSummary]:
    """Train ``configs`` together with :func:`~sgexplore.ensemble.train_many` and summarise
    each as :func:`run_to_end` does (the function the workers run)."""
    losses: List[List[float]] = [[] for _ in configs]
    last: List[Any] = [None] * len(configs)
    summaries: List[Optional[RunSummary]] = [None] * len(configs)
    for records in train_many(list(configs)):
        for k, record in enumerate(records):
            if record is None:
                continue
            if record.status == "diverged":
                summaries[k] = RunSummary(loss=math.nan, accuracy=math.nan, diverged_at=record.step)
            else:
                losses[k].append(record.loss)
                last[k] = record
    return [s if s is not None else _summarise(losses[k], last[k]) for k, s in enumerate(summaries)]


def _run(configs: Sequence[TrainConfig], batched: bool) -> List[RunSummary]:
    """A chunk's summaries, batched or one ``train()`` after another."""
    return run_chunk(configs) if batched else [run_to_end(c) for c in configs]


# ---------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------

MAIN_GUARD_MESSAGE = ("sweep() starts worker processes, which re-run this script: put the sweep under "
                      "`if __name__ == \"__main__\":`, or pass executor=concurrent.futures.ThreadPoolExecutor()")


def _is_main_test(test: ast.expr) -> bool:
    """Whether ``test`` is ``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    return (any(isinstance(x, ast.Name) and x.id == "__name__" for x in sides)
            and any(isinstance(x, ast.Constant) and x.value == "__main__" for x in sides))


def _check_main_guard() -> None:
    """Stop at once, with one line, when a spawned worker would re-run this sweep.

    A spawned worker imports the main script again; a sweep at the script's top level,
    outside ``if __name__ == "__main__":``, would then start workers of its own (Python
    raises, and the pool breaks after a long traceback). Checked by finding the script's
    top-level statement that called sweep() and whether a main guard encloses it.
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise SystemExit(MAIN_GUARD_MESSAGE)  # this is a worker re-running the script
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if not path:
        return  # a notebook, a REPL or python -c: nothing is re-run
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_code.co_name == "<module>"
                                     and frame.f_globals.get("__name__") == "__main__"):
        frame = frame.f_back
    # (IPython runs each cell as "<module>" code of "__main__" too, from a file of its own)
    if frame is None or os.path.realpath(frame.f_code.co_filename) != os.path.realpath(path):
        return
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return
    line = frame.f_lineno
    guarded = any(isinstance(node, ast.If) and _is_main_test(node.test)
                  and node.lineno <= line <= (node.end_lineno or node.lineno)
                  for node in ast.walk(tree))
    if not guarded:
        raise SystemExit(MAIN_GUARD_MESSAGE)


def _tune_malloc() -> None:
    """Keep freed memory in the process (glibc only).

    The ensemble's tensors are a few MB each; by default glibc hands such blocks back to the
    system and page-faults them in again on the next step, which costs more than the
    arithmetic (BENCHMARKS.md, Sweep).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(-1, 1 << 30)   # M_TRIM_THRESHOLD: return memory only above 1 GiB free
    libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: heap, not mmap, for blocks up to 32 MiB


def _exit_with_parent(parent_pid: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os._exit(1)  # the sweep was killed: stop computing for nobody


def _worker_init(parent_pid: int) -> None:
    """Runs first in every worker of the default pool."""
    _tune_malloc()
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _default_executor(max_workers: int) -> concurrent.futures.ProcessPoolExecutor:
    # spawn, not fork: forking a process that already runs torch's thread pools can hang.
    return concurrent.futures.ProcessPoolExecutor(max_workers=max_workers,
                                                  mp_context=multiprocessing.get_context("spawn"),
                                                  initializer=_worker_init, initargs=(os.getpid(),))


def _stop(executor: concurrent.futures.ProcessPoolExecutor) -> None:
    """Shut the pool down now, terminating workers that are still computing.

    ``shutdown()`` alone waits for running jobs (minutes for a chunk), hence the processes'
    own terminate (``_processes`` is the pool's private table of them).
    """
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=10)


class _Terminated(BaseException):
    """Raised in the main thread by SIGTERM during a sweep, so that cleanup runs."""


class _SigtermRaises:
    """While a sweep runs in the main thread, SIGTERM raises :class:`_Terminated`."""

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            def handler(signum, frame):
                raise _Terminated()
            self.previous = signal.signal(signal.SIGTERM, handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        if exc[0] is _Terminated:
            raise SystemExit(128 + signal.SIGTERM)
        return False


Chunk = List[SweepJob]


def _run_in_own_pool(chunks: List[Chunk], workers: int, batched: bool,
                     done: Callable[[Chunk, List[RunSummary]], None],
                     failed: Callable[[Chunk, str], None]) -> None:
    """Run ``chunks`` in local worker processes, surviving dead workers.

    A dead worker breaks the whole pool and every unfinished job with it. The chunks that
    were running or queued then (the first ``workers + 1`` unfinished, in submission order)
    are suspects: each is rerun alone, so the one that kills its worker again is named;
    the others go back into a fresh pool.
    """
    queue, suspects = list(chunks), []
    while queue or suspects:
        alone = bool(suspects)
        batch = [suspects.pop(0)] if alone else queue
        queue = queue if alone else []
        pool = _default_executor(1 if alone else max(1, min(workers, len(batch))))
        try:
            futures = {pool.submit(_run, [job.config for job in chunk], batched): n
                       for n, chunk in enumerate(batch)}
            broken = []
            for future in concurrent.futures.as_completed(futures):
                chunk = batch[futures[future]]
                try:
                    summaries = future.result()
                except concurrent.futures.process.BrokenProcessPool:
                    broken.append(futures[future])
                    continue
                except Exception as error:  # noqa: BLE001 - named with its cells, the others go on
                    failed(chunk, f"{type(error).__name__}: {error}")
                    continue
                done(chunk, summaries)
        except BaseException:
            _stop(pool)
            raise
        pool.shutdown()
        broken = [batch[n] for n in sorted(broken)]
        if alone and broken:
            failed(broken[0], "its worker process died")
        elif broken:
            suspects += broken[:workers + 1]
            queue += broken[workers + 1:]


def _run_in_executor(chunks: List[Chunk], executor: concurrent.futures.Executor, batched: bool,
                     done: Callable[[Chunk, List[RunSummary]], None],
                     failed: Callable[[Chunk, str], None]) -> None:
    """Run ``chunks`` in the caller's executor (left open); a failed chunk is named, the others go on."""
    futures = {executor.submit(_run, [job.config for job in chunk], batched): n for n, chunk in enumerate(chunks)}
    try:
        for future in concurrent.futures.as_completed(futures):
            chunk = chunks[futures[future]]
            try:
                summaries = future.result()
            except Exception as error:  # noqa: BLE001 - e.g. dask's KilledWorker
                failed(chunk, f"{type(error).__name__}: {error}")
                continue
            done(chunk, summaries)
    except BaseException:
        for future in futures:
            future.cancel()
        raise


# ---------------------------------------------------------------------------
# The results file
# ---------------------------------------------------------------------------

def _number(value: float) -> Optional[float]:
    return None if value is None or not math.isfinite(value) else float(value)


def _load_results(path: Path) -> Dict[str, RunSummary]:
    """Key -> summary of every run in a results file (a torn last line is skipped)."""
    found: Dict[str, RunSummary] = {}
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            summary = RunSummary(loss=math.nan if row["loss"] is None else float(row["loss"]),
                                 accuracy=math.nan if row["accuracy"] is None else float(row["accuracy"]),
                                 diverged_at=row["diverged_at"])
        except (ValueError, KeyError, TypeError):
            continue  # a line cut off when the sweep was killed
        found[row["key"]] = summary
    return found


def _append_results(path: Path, rows: List[dict]) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write("".join(json.dumps(row) + "\n" for row in rows))
        out.flush()
        os.fsync(out.fileno())


# ---------------------------------------------------------------------------
# sweep()
# ---------------------------------------------------------------------------

def _check_grid(shapes: Sequence[Shape], scales: Sequence[float], resets: Sequence[str]) -> None:
    if isinstance(shapes, str) or len(shapes) == 0:
        raise ValueError(f"shapes must be a non-empty list of surrogate names; got {shapes!r}")
    if isinstance(scales, numbers.Real) or len(scales) == 0:
        raise ValueError(f"scales must be a non-empty list of numbers in (0, inf); got {scales!r}")
    unknown = [r for r in resets if r not in RESET_GRADIENTS]
    if unknown or len(resets) == 0:
        raise ValueError(f"resets must be a non-empty subset of {list(RESET_GRADIENTS)}; "
                         f"got {list(resets)!r}")


def _check_axis(name: str, values, field_name: str) -> Optional[Tuple]:
    """``lrs``/``seeds``: None, or a non-empty list of distinct valid TrainConfig values."""
    if values is None:
        return None
    declaration = params_of(TrainConfig)[field_name]
    if isinstance(values, (str, numbers.Number)) or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty list of values, each {declaration.expected_text()}; "
                         f"got {values!r}")
    checked = tuple(validate_value("sweep", f"{name}[]", declaration, v) for v in values)
    if len(set(checked)) != len(checked):
        raise ValueError(f"{name} must not repeat a value; got {list(values)!r}")
    return checked


def _chain(first: Callable, second: Optional[Callable]) -> Callable:
    return first if second is None else (lambda partial: (first(partial), second(partial)))


def _live_heatmap() -> Callable[["SweepResult"], None]:
    """An ``on_chunk`` callback that shows :meth:`SweepResult.heatmap` in a notebook and
    redraws its cells (and colour ranges) as chunks finish.

    Imports plotly and IPython when called, as :meth:`SweepResult.heatmap` does.
    """
    from IPython.display import display

    from .widgets.figures import CompactFigureWidget, refresh_snapshot, sweep_heatmaps

    shown: List[Any] = []

    def update(partial: "SweepResult") -> None:
        figure = sweep_heatmaps(partial)
        for trace in figure.data:  # a widget's messages are strict JSON: no NaN, so None
            trace.z = [[None if not math.isfinite(v) else v for v in row] for row in np.asarray(trace.z, float)]
        if not shown:
            shown.append(CompactFigureWidget(figure))
            display(shown[0])
            return
        with shown[0].batch_update():
            for trace, new in zip(shown[0].data, figure.data):
                trace.update(z=new.z, text=new.text, zmin=new.zmin, zmax=new.zmax)
        # a view that attaches later (a reloaded page) shows these cells, not the first chunk's
        refresh_snapshot(shown[0])

    return update


def _default_chunk_size(runs: int, workers: int) -> int:
    # Large enough that one vectorised pass pays for its overhead, small enough that every
    # worker has several chunks (the last one finishes soon after the others) and the
    # heatmap fills in as they finish. Past about 16 runs a chunk the cost per run and step
    # hardly changed in trials on 2 cores.
    return max(1, min(CHUNK_SIZE, math.ceil(runs / (2 * workers))))


#: The most runs one chunk trains together by default.
CHUNK_SIZE = 36


def sweep(shapes: Sequence[Shape], scales: Sequence[float], base_config: Optional[TrainConfig] = None, *,
          resets: Sequence[str] = tuple(RESET_GRADIENTS), lrs: Optional[Sequence[float]] = None,
          seeds: Optional[Sequence[int]] = None, executor: Optional[concurrent.futures.Executor] = None,
          max_workers: Optional[int] = None, progress: bool = True, results: Union[str, Path, None] = None,
          chunk_size: Optional[int] = None, batched: bool = True,
          on_chunk: Optional[Callable[["SweepResult"], None]] = None, live: bool = False) -> "SweepResult":
    """Train every (reset, shape, scale, lr, seed) combination and collect final loss and accuracy.

    Args:
        shapes: registered surrogate names, or surrogate instances (to choose their width),
            of surrogates that have a ``grad_scale``.
        scales: surrogate peaks to compare, each > 0.
        base_config: the training settings shared by every run (default ``TrainConfig()``);
            its ``surrogate``, ``detach_reset``, ``lr`` and ``seed`` are replaced per run.
        resets: which of ``"detached"`` and ``"differentiable"`` to run.
        lrs: learning rates; each cell is reported at its best one (default: the config's).
        seeds: seeds of data set, initial weights and batches; cells show the mean and
            the spread over them (default: the config's).
        executor: any ``concurrent.futures.Executor`` (e.g. Dask's ``client.get_executor()``);
            it stays open. Default: a local process pool with ``max_workers`` processes
            (default one per core; each run uses ``TrainConfig.threads`` torch threads),
            whose workers end with the sweep, also when it is interrupted or terminated.
        progress: show a tqdm progress bar over the runs.
        results: a JSONL file: each finished chunk appends one line per run, and runs
            already in it are not trained again, so the same call resumes a stopped sweep.
        chunk_size: runs trained together in one :func:`~sgexplore.ensemble.train_many` pass
            (default up to :data:`CHUNK_SIZE`, so that every worker gets several chunks).
        batched: False trains each run alone with :func:`~sgexplore.train.train` (the
            sequential path, for comparison).
        on_chunk: called with the partial :class:`SweepResult` after every finished chunk
            (what a live heatmap draws); runs not yet done are NaN.
        live: in a notebook, show the heatmap at once and fill it in as chunks finish
            (a plotly ``FigureWidget``; needs the notebook extras).

    A chunk that raises, or whose worker process dies, is reported as a warning naming its
    cells and listed in :attr:`SweepResult.failed`; its runs are NaN and the other chunks go on.
    """
    _check_grid(shapes, scales, resets)
    lrs = _check_axis("lrs", lrs, "lr")
    seeds = _check_axis("seeds", seeds, "seed")
    base_config = base_config if base_config is not None else TrainConfig()
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral)
                                   or chunk_size < 1):
        raise ValueError(f"chunk_size must be an integer >= 1; got {chunk_size!r}")
    jobs = sweep_jobs(shapes, scales, base_config, resets, lrs, seeds)
    lrs = lrs or (base_config.lr,)
    seeds = seeds or (base_config.seed,)
    grid = (len(resets), len(shapes), len(scales), len(lrs), len(seeds))
    loss, accuracy = np.full(grid, np.nan), np.full(grid, np.nan)
    diverged_at = np.full(grid, -1, dtype=int)
    failures: List[str] = []
    names = tuple(shape_name(s) for s in shapes)

    def label(job: SweepJob) -> Dict[str, Any]:
        r, i, j, l, k = job.index
        return dict(reset=resets[r], shape=names[i], scale=float(scales[j]), lr=lrs[l], seed=seeds[k])

    def store(job: SweepJob, summary: RunSummary) -> None:
        loss[job.index], accuracy[job.index] = summary.loss, summary.accuracy
        diverged_at[job.index] = -1 if summary.diverged_at is None else summary.diverged_at

    def result() -> SweepResult:
        return SweepResult.from_runs(shapes=names, scales=tuple(float(s) for s in scales), resets=tuple(resets),
                                     lrs=tuple(lrs), seeds=tuple(seeds), loss=loss, accuracy=accuracy,
                                     diverged_at=diverged_at, config=base_config, failed=tuple(failures))

    path = Path(results) if results is not None else None
    known = _load_results(path) if path is not None else {}
    pending = []
    for job in jobs:
        if job.key in known:
            store(job, known[job.key])
        else:
            pending.append(job)
    own_executor = executor is None
    workers = max_workers or min(max(1, len(pending)), os.cpu_count() or 1)
    size = 1 if not batched else (chunk_size or _default_chunk_size(len(pending), workers))
    chunks = [pending[n:n + size] for n in range(0, len(pending), size)]

    if live:
        on_chunk = _chain(_live_heatmap(), on_chunk)
        on_chunk(result())
    bar = None
    if progress and pending:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(jobs), initial=len(jobs) - len(pending), desc="sweep", unit="run")

    def done(chunk: Chunk, summaries: List[RunSummary]) -> None:
        for job, summary in zip(chunk, summaries):
            store(job, summary)
        if path is not None:
            _append_results(path, [dict(key=job.key, **label(job), loss=_number(s.loss),
                                        accuracy=_number(s.accuracy), diverged_at=s.diverged_at)
                                   for job, s in zip(chunk, summaries)])
        if bar is not None:
            bar.update(len(chunk))
        if on_chunk is not None:
            on_chunk(result())

    def failed(chunk: Chunk, why: str) -> None:
        cells = "; ".join(", ".join(f"{k} {v}" for k, v in label(job).items()) for job in chunk)
        failures.append(f"{why} (runs: {cells})")
        warnings.warn(f"sweep: a chunk of {len(chunk)} runs failed, {why}; its runs: {cells}", RuntimeWarning,
                      stacklevel=3)
        if bar is not None:
            bar.update(len(chunk))

    try:
        if chunks:
            with _SigtermRaises():
                if own_executor:
                    _check_main_guard()
                    _run_in_own_pool(chunks, workers, batched, done, failed)
                else:
                    _run_in_executor(chunks, executor, batched, done, failed)
    finally:
        if bar is not None:
            bar.close()
    return result()


@dataclass(frozen=True, eq=False)
class SweepResult:
    """Final loss and accuracy over the grid; cell arrays are indexed ``[reset, shape, scale]``.

    With several seeds or learning rates, each cell is reported at its best learning rate
    (:attr:`best_lr`): the one with the highest mean test accuracy over the seeds among
    those where no seed diverged (if every one had a diverged seed, among all). ``loss`` and
    ``accuracy`` are then the mean over the seeds at that learning rate, ``loss_std`` and
    ``accuracy_std`` their standard deviation (NaN with fewer than two finite seeds), and
    ``run_loss``, ``run_accuracy`` and ``run_diverged_at`` hold every run, indexed
    ``[reset, shape, scale, lr, seed]``.

    ``diverged_at`` holds the earliest step at which a seed of the cell's learning rate
    diverged (-1 if none did); such cells have NaN loss and accuracy in the pictures and
    "div" in the tables. ``failed`` names chunks that failed (their runs are NaN).
    """

    shapes: Tuple[str, ...]
    scales: Tuple[float, ...]
    resets: Tuple[str, ...]
    loss: np.ndarray
    accuracy: np.ndarray
    diverged_at: np.ndarray
    config: Optional[TrainConfig] = None
    lrs: Tuple[float, ...] = ()
    seeds: Tuple[int, ...] = ()
    best_lr: Optional[np.ndarray] = None
    loss_std: Optional[np.ndarray] = None
    accuracy_std: Optional[np.ndarray] = None
    run_loss: Optional[np.ndarray] = None
    run_accuracy: Optional[np.ndarray] = None
    run_diverged_at: Optional[np.ndarray] = None
    failed: Tuple[str, ...] = ()

    @classmethod
    def from_runs(cls, *, shapes, scales, resets, lrs, seeds, loss: np.ndarray, accuracy: np.ndarray,
                  diverged_at: np.ndarray, config: Optional[TrainConfig] = None,
                  failed: Tuple[str, ...] = ()) -> "SweepResult":
        """Summarise per-run arrays ``[reset, shape, scale, lr, seed]`` into cells (class docstring)."""
        loss, accuracy = np.asarray(loss, dtype=float), np.asarray(accuracy, dtype=float)
        diverged_at = np.asarray(diverged_at, dtype=int)
        diverged = diverged_at >= 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN, quietly
            mean_accuracy = np.nanmean(np.where(diverged, np.nan, accuracy), axis=-1)   # [r, i, j, lr]
            clean = ~diverged.any(axis=-1)
            # rank: no diverged seed first, then the mean accuracy; an lr with no value ranks last
            score = np.where(np.isnan(mean_accuracy), -np.inf, mean_accuracy) + np.where(clean, 2.0, 0.0)
            best = np.argmax(score, axis=-1)                                           # [r, i, j]
            pick = lambda a: np.take_along_axis(a, best[..., None, None], axis=-2)[..., 0, :]  # noqa: E731
            at_best_loss, at_best_accuracy, at_best_diverged = pick(loss), pick(accuracy), pick(diverged_at)
            finite = np.isfinite(at_best_accuracy) & (at_best_diverged < 0)
            cell_loss = np.nanmean(np.where(finite, at_best_loss, np.nan), axis=-1)
            cell_accuracy = np.nanmean(np.where(finite, at_best_accuracy, np.nan), axis=-1)
            enough = finite.sum(-1) >= 2
            loss_std = np.where(enough, np.nanstd(np.where(finite, at_best_loss, np.nan), axis=-1, ddof=1), np.nan)
            accuracy_std = np.where(enough, np.nanstd(np.where(finite, at_best_accuracy, np.nan), axis=-1, ddof=1),
                                    np.nan)
        first_divergence = np.where(at_best_diverged >= 0, at_best_diverged, np.iinfo(int).max).min(-1)
        cell_diverged = np.where(first_divergence == np.iinfo(int).max, -1, first_divergence)
        return cls(shapes=tuple(shapes), scales=tuple(scales), resets=tuple(resets), loss=cell_loss,
                   accuracy=cell_accuracy, diverged_at=cell_diverged, config=config, lrs=tuple(lrs),
                   seeds=tuple(seeds), best_lr=np.asarray(lrs, dtype=float)[best], loss_std=loss_std,
                   accuracy_std=accuracy_std, run_loss=loss, run_accuracy=accuracy, run_diverged_at=diverged_at,
                   failed=tuple(failed))

    def spread(self, name: str) -> Optional[np.ndarray]:
        """The standard deviation over seeds of ``"loss"`` or ``"accuracy"`` per cell (None
        for a result without seeds)."""
        self.metric(name)
        return getattr(self, f"{name}_std")

    def metric(self, name: str) -> np.ndarray:
        """The ``[reset, shape, scale]`` array of ``"loss"`` or ``"accuracy"``."""
        if name not in SWEEP_METRICS:
            raise ValueError(f"metric must be 'loss' or 'accuracy'; got {name!r}")
        return getattr(self, name)

    def shape_spread(self, metric: str = "accuracy") -> np.ndarray:
        """Per reset mode: how much the shape matters at matched scale.

        The range (max - min) over shapes at each scale, averaged over scales.
        Diverged runs are left out.
        """
        return _mean_range(self.metric(metric), axis=1)

    def scale_spread(self, metric: str = "accuracy") -> np.ndarray:
        """Per reset mode: how much the scale matters for a fixed shape.

        The range (max - min) over scales for each shape, averaged over shapes.
        Diverged runs are left out.
        """
        return _mean_range(self.metric(metric), axis=2)

    def table(self, metric: str = "accuracy", digits: int = 2) -> str:
        """The grid as rounded text, one block per reset mode ("div" marks a diverged run).

        With several seeds a cell reads ``mean±std``; with several learning rates the header
        says that each cell is at its best one (:meth:`lr_table` shows which).
        """
        values, spread = self.metric(metric), self.spread(metric)
        cells = [[["div" if self.diverged_at[r, i, j] >= 0 else
                   f"{values[r, i, j]:.{digits}f}" + (f"±{spread[r, i, j]:.{digits}f}"
                                                      if spread is not None and np.isfinite(spread[r, i, j]) else "")
                   for j in range(len(self.scales))] for i in range(len(self.shapes))]
                 for r in range(len(self.resets))]
        return self._grid_text(metric, cells)

    def lr_table(self) -> str:
        """The learning rate that won each cell, one block per reset mode."""
        if self.best_lr is None:
            raise ValueError("this result has no learning-rate axis (sweep(..., lrs=[...]) makes one)")
        cells = [[[format_number(self.best_lr[r, i, j]) for j in range(len(self.scales))]
                  for i in range(len(self.shapes))] for r in range(len(self.resets))]
        return self._grid_text("best learning rate", cells)

    def _grid_text(self, what: str, cells) -> str:
        name_width = max(len(s) for s in self.shapes)
        width = max(9, 2 + max(len(c) for block in cells for row in block for c in row))
        header = " " * name_width + "".join(f"{format_number(s):>{width}}" for s in self.scales)
        about = []
        if len(self.seeds) > 1 and what != "best learning rate":
            about.append(f"mean±std over {len(self.seeds)} seeds")
        if len(self.lrs) > 1 and what != "best learning rate":
            about.append(f"each cell at its best of {len(self.lrs)} learning rates")
        lines = []
        for r, reset in enumerate(self.resets):
            lines += [f"{what}, {reset} reset (columns: surrogate peak{''.join('; ' + a for a in about)})", header]
            for i, shape in enumerate(self.shapes):
                lines.append(f"{shape:<{name_width}}" + "".join(f"{c:>{width}}" for c in cells[r][i]))
        return "\n".join(lines)

    def heatmap(self, metric: str = "both"):
        """A plotly figure: one heatmap per (metric, reset mode); shapes × log-spaced scales.

        Drawn by :func:`sgexplore.widgets.figures.sweep_heatmaps`, imported only when called
        (as pandas' ``.plot`` imports matplotlib), so this module needs no plotly.
        """
        from .widgets.figures import sweep_heatmaps
        return sweep_heatmaps(self, metric)

    def to_html(self, path) -> Any:
        """Write a self-contained HTML report (see :func:`sgexplore.widgets.export.sweep_html`)."""
        from .widgets.export import sweep_html
        return sweep_html(self, path)


def _mean_range(values: np.ndarray, axis: int) -> np.ndarray:
    """Per reset mode: the mean over the other grid axis of (max - min) along ``axis``, NaNs left out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-diverged row gives NaN, quietly
        ranges = np.nanmax(values, axis=axis) - np.nanmin(values, axis=axis)
        return np.nanmean(ranges, axis=-1)
