"""Sweep surrogate shape × scale over the toy SNN (Zenke & Vogels 2021, Figs. 3 and 5).

Every cell of the grid trains the same network from the same seed; only the surrogate
changes. "Scale" is the surrogate's **peak**: each shape gets the ``grad_scale`` that
puts its maximum at the requested value, so shapes are compared at matched scale.
Each grid is trained twice, with the reset detached and with gradients flowing
through it (differentiable reset)::

    result = sweep(["FastSigmoid", "SigmoidDerivative", "Triangle"], [0.01, 0.1, 1, 10])
    result.heatmap()            # final loss and accuracy, one panel per reset mode
    print(result.table())

    result = QUICK.run()        # the course's settings: QUICK for tests, FULL for lectures

The runs go to any :class:`concurrent.futures.Executor`. By default that is a local
process pool over the cores; pass a cluster's executor (Dask: ``client.get_executor()``)
to run a large sweep there unchanged. Workers receive only
:class:`~sgexplore.train.TrainConfig` objects (picklable), never closures.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import multiprocessing
import numbers
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .params import Param, format_number, validate_value
from .surrogates import (ArcTan, FastSigmoid, Gaussian, SigmoidDerivative, SingleExponential, Surrogate,
                         Triangle, create)
from .train import TrainConfig, train
from .views import SWEEP_METRICS

__all__ = ["RESET_GRADIENTS", "SCALE", "QUICK", "FULL", "ZENKE_VOGELS_SHAPES", "COURSE_TASK", "SweepSetting",
           "SweepResult", "RunSummary", "shape_name", "surrogate_at_scale", "sweep_configs",
           "run_to_end", "sweep"]

#: The two ways the reset's gradient is treated in a sweep: name -> ``detach_reset``.
#: (Not :data:`sgexplore.snn.RESETS`, which says what the reset does to the membrane.)
RESET_GRADIENTS: Dict[str, bool] = {"detached": True, "differentiable": False}
#: A sweep's scale: the peak every shape is rescaled to.
SCALE = Param(1.0, low=0.0, low_open=True, slider=(0.01, 100.0, 0.1), log=True,
              doc="the surrogate's peak, which its grad_scale is set to reach")


Shape = Union[str, Surrogate]


@dataclass(frozen=True)
class SweepSetting:
    """A named grid: shapes, peak scales and the training settings shared by every run."""

    shapes: Tuple[Shape, ...]
    scales: Tuple[float, ...]
    config: Mapping[str, Any] = field(default_factory=dict)

    def run(self, **kwargs) -> "SweepResult":
        """``sweep(self.shapes, self.scales, TrainConfig(**self.config), **kwargs)``."""
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

#: For lectures: six shapes, nine scales, longer training (several minutes on a laptop).
#: The extra shapes also have area 0.2 at peak 1 (Gaussian: sigma·sqrt(2 pi) ≈ 0.2).
FULL = SweepSetting(
    shapes=ZENKE_VOGELS_SHAPES + (Gaussian(sigma=0.08), ArcTan(alpha=10.0),
                                  SingleExponential(grad_width=0.1)),
    scales=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0),
    config=dict(COURSE_TASK, steps=200),
)


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


def run_to_end(config: TrainConfig) -> RunSummary:
    """Train ``config`` to the end and summarise it (the function the workers run)."""
    losses: List[float] = []
    last = None
    for last in train(config):
        if last.status == "diverged":
            return RunSummary(loss=math.nan, accuracy=math.nan, diverged_at=last.step)
        losses.append(last.loss)
    # train() measures the test accuracy at the last step; fall back to the batch's if not.
    accuracy = last.test_accuracy if last.test_accuracy is not None else last.accuracy
    return RunSummary(loss=float(np.mean(losses[-FINAL_LOSS_STEPS:])), accuracy=float(accuracy))


def _default_executor(max_workers: int) -> concurrent.futures.Executor:
    # spawn, not fork: forking a process that already runs torch's thread pools can hang.
    return concurrent.futures.ProcessPoolExecutor(max_workers=max_workers,
                                                  mp_context=multiprocessing.get_context("spawn"))


def _check_grid(shapes: Sequence[Shape], scales: Sequence[float], resets: Sequence[str]) -> None:
    if isinstance(shapes, str) or len(shapes) == 0:
        raise ValueError(f"shapes must be a non-empty list of surrogate names; got {shapes!r}")
    if isinstance(scales, numbers.Real) or len(scales) == 0:
        raise ValueError(f"scales must be a non-empty list of numbers in (0, inf); got {scales!r}")
    unknown = [r for r in resets if r not in RESET_GRADIENTS]
    if unknown or len(resets) == 0:
        raise ValueError(f"resets must be a non-empty subset of {list(RESET_GRADIENTS)}; "
                         f"got {list(resets)!r}")


def sweep(shapes: Sequence[Shape], scales: Sequence[float], base_config: Optional[TrainConfig] = None, *,
          resets: Sequence[str] = tuple(RESET_GRADIENTS), executor: Optional[concurrent.futures.Executor] = None,
          max_workers: Optional[int] = None, progress: bool = True) -> "SweepResult":
    """Train every (reset, shape, scale) combination and collect final loss and accuracy.

    Args:
        shapes: registered surrogate names, or surrogate instances (to choose their width),
            of surrogates that have a ``grad_scale``.
        scales: surrogate peaks to compare, each > 0.
        base_config: the training settings shared by every run (default ``TrainConfig()``);
            its ``surrogate`` and ``detach_reset`` are replaced per cell.
        resets: which of ``"detached"`` and ``"differentiable"`` to run.
        executor: any ``concurrent.futures.Executor``; default a local process pool with
            ``max_workers`` processes (default: one per core, as each run uses
            ``TrainConfig.threads`` torch threads, 1 by default), shut down afterwards. An
            executor you pass stays open.
        progress: show a tqdm progress bar.
    """
    _check_grid(shapes, scales, resets)
    base_config = base_config if base_config is not None else TrainConfig()
    jobs = sweep_configs(shapes, scales, base_config, resets)
    shape_of_grid = (len(resets), len(shapes), len(scales))
    loss = np.full(shape_of_grid, np.nan)
    accuracy = np.full(shape_of_grid, np.nan)
    diverged_at = np.full(shape_of_grid, -1, dtype=int)

    own_executor = executor is None
    if own_executor:
        executor = _default_executor(max_workers or min(len(jobs), os.cpu_count() or 1))
    try:
        futures = {executor.submit(run_to_end, config): index for index, config in jobs}
        done = concurrent.futures.as_completed(futures)
        if progress:
            from tqdm.auto import tqdm
            done = tqdm(done, total=len(futures), desc="sweep", unit="run")
        for future in done:
            summary = future.result()
            index = futures[future]
            loss[index], accuracy[index] = summary.loss, summary.accuracy
            if summary.diverged_at is not None:
                diverged_at[index] = summary.diverged_at
    finally:
        if own_executor:
            executor.shutdown(cancel_futures=True)
    return SweepResult(shapes=tuple(shape_name(s) for s in shapes), scales=tuple(float(s) for s in scales),
                       resets=tuple(resets), loss=loss, accuracy=accuracy, diverged_at=diverged_at,
                       config=base_config)


@dataclass(frozen=True, eq=False)
class SweepResult:
    """Final loss and accuracy over the grid; arrays are indexed ``[reset, shape, scale]``.

    ``diverged_at`` holds the step at which a run diverged (-1 if it did not); such
    cells have NaN loss and accuracy.
    """

    shapes: Tuple[str, ...]
    scales: Tuple[float, ...]
    resets: Tuple[str, ...]
    loss: np.ndarray
    accuracy: np.ndarray
    diverged_at: np.ndarray
    config: Optional[TrainConfig] = None

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
        """The grid as rounded text, one block per reset mode ("div" marks a diverged run)."""
        values = self.metric(metric)
        name_width = max(len(s) for s in self.shapes)
        header = " " * name_width + "".join(f"{format_number(s):>9}" for s in self.scales)
        lines = []
        for r, reset in enumerate(self.resets):
            lines += [f"{metric}, {reset} reset (columns: surrogate peak)", header]
            for i, shape in enumerate(self.shapes):
                cells = ["div" if self.diverged_at[r, i, j] >= 0 else f"{values[r, i, j]:.{digits}f}"
                         for j in range(len(self.scales))]
                lines.append(f"{shape:<{name_width}}" + "".join(f"{c:>9}" for c in cells))
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
