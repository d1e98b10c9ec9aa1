"""What every picture shows, as plain numbers: no plotly, no ipywidgets.

The widgets (:mod:`sgexplore.widgets`) and the HTML export decide *how* a picture is drawn;
this module decides *what* is drawn, so plain pytest checks it without a browser or a
kernel, and a user's own plotting code gets the same numbers:

* :func:`membrane_grid`: the membrane potentials on a surrogate plot's x axis;
* :func:`surrogate_curve`: dS/dv through the real autograd spike, as training computes it;
* :func:`normalisation`: scaling a curve to peak 1 or area 1, when that is possible;
* :func:`surrogate_view`: everything the surrogate explorer draws for one setting;
* :func:`heatmap_cells` and :func:`heatmap_limits`: a finished sweep's heatmap data.

:func:`~sgexplore.surrogates.describe` is the one text description of a surrogate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import numpy as np
import torch

from .params import format_number
from .spike import spike, spike_forward
from .surrogates import Surrogate, check_threshold, describe

__all__ = ["POINTS", "NORMALISE", "membrane_grid", "surrogate_curve", "normalisation", "describe",
           "SurrogateView", "surrogate_view", "heatmap_cells", "heatmap_limits", "SWEEP_METRICS"]

POINTS = 1001
NORMALISE = ("none", "peak", "area")
SWEEP_METRICS = ("loss", "accuracy")


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
    there is no value. ``result`` is a :class:`~sgexplore.sweep.SweepResult`.
    """
    _check_metric(metric)
    z = np.asarray(getattr(result, metric)[reset], dtype=float)
    diverged = np.asarray(result.diverged_at[reset]) >= 0
    text = [["div" if d else (f"{v:.2f}" if math.isfinite(v) else "") for v, d in zip(row, drow)]
            for row, drow in zip(z, diverged)]
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
