"""What every picture shows, as plain numbers: no plotly, no ipywidgets.

The widgets (:mod:`sgexplore.widgets`) and the HTML export decide *how* a picture is drawn;
this module decides *what* is drawn, so plain pytest checks it without a browser or a
kernel, and a user's own plotting code gets the same numbers:

* :func:`membrane_grid`: the membrane potentials on a surrogate plot's x axis;
* :func:`surrogate_curve`: dS/dv through the real autograd spike, as training computes it;
* :func:`normalisation`: scaling a curve to peak 1 or area 1, when that is possible;
* :func:`surrogate_view`: everything the surrogate explorer draws for one setting;
* :func:`heatmap_cells` and :func:`heatmap_limits`: a finished sweep's heatmap data;
* :func:`raster`, :func:`class_examples` and :func:`firing_rates`: the data and the hidden
  layer's activity (spike rasters, rates across neurons);
* :func:`smoothed`: a noisy per-batch curve as a trailing mean (the smoothed train loss).

:func:`~sgexplore.surrogates.describe` is the one text description of a surrogate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import numpy as np
import torch

from .params import Param, ParamTypeError, format_number, shown, validate_value
from .spike import spike, spike_forward
from .surrogates import Surrogate, check_threshold, describe

__all__ = ["POINTS", "NORMALISE", "membrane_grid", "surrogate_curve", "normalisation", "describe",
           "SurrogateView", "surrogate_view", "heatmap_cells", "heatmap_limits", "SWEEP_METRICS",
           "raster", "class_examples", "firing_rates", "smoothed", "SMOOTHING"]

POINTS = 1001
NORMALISE = ("none", "peak", "area")
SWEEP_METRICS = ("loss", "accuracy")
#: Steps in the trailing mean of the smoothed train loss.
SMOOTHING = Param(10, low=1, high=100_000, integer=True, slider=(1, 100, 1),
                  doc="points in the trailing mean of a smoothed curve")


def membrane_grid(spike_threshold: float, mode: str, points: int = POINTS) -> np.ndarray:
    """The membrane potentials on the x axis.

    ``single``: the threshold ± 2 (± 2 thr for thresholds above 1). ``multi``/``max``: from
    below 0 to 4.5 thresholds (at least to 3), so several steps of the staircase show.
    """
    if mode == "single":
        half = 2.0 * max(1.0, spike_threshold)
        return np.linspace(spike_threshold - half, spike_threshold + half, points)
    return np.linspace(-max(1.0, spike_threshold), max(3.0, 4.5 * spike_threshold), points)


def surrogate_curve(surrogate: Surrogate, v_mem: np.ndarray, spike_threshold: float,
                    mode: str = "single", max_spikes: Optional[int] = None) -> np.ndarray:
    """dS/dv at each ``v_mem`` (float32), from the autograd spike exactly as training computes it:
    ``spike(v, thr, surrogate, mode, max_spikes).sum().backward()``, then ``v.grad``."""
    v = torch.tensor(v_mem, dtype=torch.float32, requires_grad=True)
    spike(v, spike_threshold, surrogate, mode, max_spikes).sum().backward()
    return v.grad.numpy()


def normalisation(kind: str, peak: float, area: float) -> Tuple[float, str, str]:
    """(factor, kind applied, note): divide by the peak or the area when that is possible.

    An infinite or non-positive peak/area cannot be scaled to 1; the factor is then 1,
    the kind applied is "none", and the note says why.
    """
    if kind not in NORMALISE:
        raise ValueError(f"normalise must be one of {NORMALISE}; got {kind!r}")
    if kind == "none":
        return 1.0, "none", ""
    size = peak if kind == "peak" else area
    if np.isfinite(size) and size > 0:
        return 1.0 / size, kind, ""
    return 1.0, "none", f"{kind} is {format_number(size)}: cannot normalise to {kind} 1, showing raw values"


@dataclass(frozen=True)
class SurrogateView:
    """Everything the surrogate explorer draws for one setting (arrays already normalised)."""

    surrogate: Surrogate
    spike_threshold: float
    mode: str
    max_spikes: Optional[int]
    normalise: str            # the normalisation applied ("none" after a fallback)
    v_mem: np.ndarray
    derivative: np.ndarray
    primitive: np.ndarray
    forward: np.ndarray       # the true forward: step or staircase
    peak: float               # of the raw surrogate
    area: float
    note: str                 # why a requested normalisation was not applied, or ""

    @property
    def title(self) -> str:
        """The figure's title: the surrogate, the threshold and the spike mode."""
        return (f"{describe(self.surrogate)}<br>thr = {format_number(self.spike_threshold)}, "
                f"mode = {self.mode}" + (f" (max {self.max_spikes})" if self.max_spikes else ""))


def surrogate_view(surrogate: Surrogate, spike_threshold: float, mode: str = "single",
                   max_spikes: Optional[int] = None, normalise: str = "none",
                   points: int = POINTS) -> SurrogateView:
    """Compute a :class:`SurrogateView`; ValueError (naming the culprit) on bad input."""
    check_threshold(spike_threshold)
    v_mem = membrane_grid(spike_threshold, mode, points)
    derivative = surrogate_curve(surrogate, v_mem, spike_threshold, mode, max_spikes)
    v = torch.tensor(v_mem, dtype=torch.float32)
    primitive = surrogate.primitive(v, spike_threshold).numpy()
    forward = spike_forward(v, spike_threshold, mode, max_spikes).numpy()
    peak, area = surrogate.peak(spike_threshold), surrogate.area(spike_threshold)
    factor, applied, note = normalisation(normalise, peak, area)
    return SurrogateView(surrogate, float(spike_threshold), mode, max_spikes, applied, v_mem,
                         derivative * factor, primitive * factor, forward, peak, area, note)


def _check_metric(metric: str) -> None:
    if metric not in SWEEP_METRICS:
        raise ValueError(f"metric must be 'loss' or 'accuracy'; got {metric!r}")


def heatmap_cells(result: Any, metric: str, reset: int) -> Tuple[np.ndarray, List[List[str]]]:
    """One heatmap panel of a sweep: ``(z, text)`` for reset mode number ``reset``.

    ``z[shape, scale]`` is the metric (NaN where the run diverged or has no value);
    ``text`` labels each cell with two decimals, "div" where the run diverged, "" where
    there is no value, and ``mean±std`` where the result has a spread over seeds
    (``result.spread(metric)``). ``result`` is a :class:`~sgexplore.sweep.SweepResult`.
    """
    _check_metric(metric)
    z = np.asarray(getattr(result, metric)[reset], dtype=float)
    diverged = np.asarray(result.diverged_at[reset]) >= 0
    spread = getattr(result, "spread", lambda name: None)(metric)
    spread = np.full(z.shape, np.nan) if spread is None else np.asarray(spread[reset], dtype=float)

    def label(v: float, s: float, d: bool) -> str:
        if d:
            return "div"
        if not math.isfinite(v):
            return ""
        return f"{v:.2f}±{s:.2f}" if math.isfinite(s) else f"{v:.2f}"

    text = [[label(v, s, d) for v, s, d in zip(row, srow, drow)] for row, srow, drow in zip(z, spread, diverged)]
    return np.where(diverged, np.nan, z), text


def heatmap_limits(result: Any, metric: str) -> Tuple[float, float]:
    """The colour range of a metric over every reset mode: [0, 1] for accuracy, the finite
    range for the loss ([0, 1] if nothing is finite)."""
    _check_metric(metric)
    if metric == "accuracy":
        return 0.0, 1.0
    values = np.asarray(result.loss, dtype=float)
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)


def raster(spikes) -> Tuple[np.ndarray, np.ndarray]:
    """``(times, neurons)`` of every nonzero entry of a ``(T, N)`` spike array: one dot per
    neuron and step that spiked (a multi-spike step is one dot)."""
    spikes = _spike_array(spikes)
    times, neurons = np.nonzero(spikes)
    return times.astype(np.int32), neurons.astype(np.int32)


def _spike_array(spikes) -> np.ndarray:
    """``spikes`` as a (T, N) array of finite counts >= 0: ParamTypeError for what is not an
    array, tensor or nested list of real numbers, ValueError for another shape or a bad entry."""
    expected = "spikes must be a (T, N) array or tensor of spike counts (finite, >= 0)"
    if isinstance(spikes, torch.Tensor):
        spikes = spikes.detach().cpu().numpy()
    try:
        array = np.asarray(spikes)
    except ValueError:  # a ragged nested list
        raise ValueError(f"{expected}; got a ragged sequence") from None
    if array.dtype.kind not in "biuf":
        raise ParamTypeError(f"{expected}; got {shown(spikes)} of type {type(spikes).__name__}"
                             f" (dtype {array.dtype})")
    if array.ndim != 2:
        raise ValueError(f"{expected}; got shape {array.shape}")
    if array.size and not (np.all(np.isfinite(array)) and array.min() >= 0):
        raise ValueError(f"{expected}; got an entry that is negative, NaN or infinite")
    return array


def class_examples(x: torch.Tensor, y: torch.Tensor) -> List[Tuple[int, np.ndarray]]:
    """``(label, (T, units) spikes)`` of the first sample of each class, in label order, from
    time-major inputs ``x`` ``(T, samples, units)`` and labels ``y`` (integers >= 0, one per
    sample)."""
    if not isinstance(x, torch.Tensor):
        raise ParamTypeError(f"x must be a (T, samples, units) tensor; got {type(x).__name__}")
    if x.ndim != 3:
        raise ValueError(f"x must be a (T, samples, units) tensor; got shape {tuple(x.shape)}")
    if not isinstance(y, torch.Tensor) or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ParamTypeError(f"y must be a tensor of integer labels; got {type(y).__name__}"
                             + (f" of dtype {y.dtype}" if isinstance(y, torch.Tensor) else ""))
    if y.shape != (x.shape[1],):
        raise ValueError(f"y must hold one label per sample of x, shape ({x.shape[1]},); "
                         f"got shape {tuple(y.shape)}")
    if y.numel() and int(y.min()) < 0:
        raise ValueError(f"y must hold labels >= 0; got {int(y.min())}")
    x = x.detach().cpu()
    labels = y.tolist()
    return [(label, x[:, labels.index(label)].numpy()) for label in sorted(set(labels))]


def firing_rates(spikes) -> np.ndarray:
    """Each neuron's mean spikes per time step in a ``(T, N)`` spike array."""
    return _spike_array(spikes).astype(np.float64).mean(axis=0)


def smoothed(values, window: int = SMOOTHING.default) -> np.ndarray:
    """The trailing mean of ``values`` over ``window`` points (fewer at the start): point i is
    the mean of points ``max(0, i - window + 1)`` to ``i``, so the curve never looks ahead."""
    window = validate_value("smoothed", "window", SMOOTHING, window)
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"values must be one-dimensional; got shape {array.shape}")
    total = np.concatenate([[0.0], np.cumsum(array)])
    ends = np.arange(1, len(array) + 1)
    starts = np.maximum(0, ends - window)
    return (total[ends] - total[starts]) / (ends - starts)
