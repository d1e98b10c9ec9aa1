"""The membrane-potential lens: where a layer's ``v - thr`` lies, and how much of it a surrogate reaches.

A surrogate gives gradient only where it is not ~0. Training records, on some steps, a
histogram of ``x = v_mem - spike_threshold`` over every neuron, time step and sample of a
hidden layer (``TrainConfig.record_every``; ``StepRecord.membrane``). Against that
histogram:

* :func:`coverage` is the fraction of samples at which the surrogate is at least ``level``
  times its peak: the neurons that receive gradient;
* :func:`mean_gain` is the mean surrogate value over the samples, divided by its peak;
* :func:`fit_width` is the same surrogate with its width (``Surrogate.width``) set so that a
  requested fraction receives gradient.

A surrogate too narrow for the distribution leaves most neurons without gradient and
learning stalls: that is the picture these numbers summarise. The histogram's bins are
``BIN_WIDTH * thr`` wide, centred on ``0, ±BIN_WIDTH * thr, ...`` out to ``±RANGE * thr``
(so one bin is centred on the threshold); the two outer bins also hold every value
beyond them, and count at their outer edge. The lens functions evaluate the surrogate at
each bin's centre, so their resolution is one bin.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np
import torch

from .params import Param, ParamTypeError, as_number, shown, validate_value
from .surrogates import SPIKE_THRESHOLD, Surrogate

__all__ = ["MembraneHistogram", "histogram", "membrane_histogram", "membrane_histograms", "counted_histograms",
           "bin_arithmetic", "coverage", "mean_gain", "fit_width", "LEVEL",
           "COVERAGE", "RANGE", "BIN_WIDTH"]

#: The histogram spans ``±RANGE * thr`` around the threshold, in bins of ``BIN_WIDTH * thr``.
RANGE = 4.0
BIN_WIDTH = 0.02
LEVEL = Param(0.01, low=0.0, low_open=True, high=1.0, slider=(0.001, 1.0, 0.1), log=True,
              doc="fraction of the surrogate's peak at or above which a neuron counts as receiving gradient")
COVERAGE = Param(0.5, low=0.0, low_open=True, high=1.0, high_open=True, slider=(0.05, 0.95, 0.05),
                 doc="fraction of the samples that should receive gradient")


@dataclass(frozen=True)
class MembraneHistogram:
    """Counts of ``x = v_mem - spike_threshold`` in bins.

    ``edges`` has one more entry than ``counts``; bin ``i`` is ``[edges[i], edges[i+1])``,
    except that bin 0 also holds everything below ``edges[0]`` and the last bin everything
    at or above ``edges[-1]``. ``counts.sum()`` is the number of samples (neurons × time
    steps × batch samples).
    """

    edges: np.ndarray
    counts: np.ndarray

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    @property
    def centres(self) -> np.ndarray:
        """Where each bin counts: its centre, and the outer edge for the two outer bins."""
        centres = (self.edges[:-1] + self.edges[1:]) / 2
        centres[0], centres[-1] = self.edges[0], self.edges[-1]
        return centres

    def fractions(self) -> np.ndarray:
        """``counts / total`` (zeros for an empty histogram)."""
        return self.counts / max(self.total, 1)

    def mean(self) -> float:
        """The mean of ``x = v - thr``, each sample at its bin's position (:attr:`centres`)."""
        return float((self.centres * self.fractions()).sum())

    def fraction_at_or_above(self, x: float = 0.0) -> float:
        """The fraction of samples in bins whose position is at least ``x`` (0: the threshold,
        i.e. the samples that spike)."""
        number = as_number(x)
        if number is None:
            raise ParamTypeError(f"MembraneHistogram.fraction_at_or_above: x must be a number (-inf and inf "
                                 f"allowed); got {shown(x)} of type {type(x).__name__}")
        if math.isnan(number):
            raise ValueError("MembraneHistogram.fraction_at_or_above: x must be a number in [-inf, inf], "
                             "not NaN")
        x = number
        return float(self.fractions()[self.centres >= x].sum())


@functools.lru_cache(maxsize=64)
def edges_for(spike_threshold: float) -> np.ndarray:
    """The bin edges of every recorded histogram at this threshold (float64, read-only: the
    histograms at one threshold share them): bins of ``BIN_WIDTH * thr`` centred on the
    multiples of that width, one on the threshold itself."""
    half_count = int(round(RANGE / BIN_WIDTH))
    positions = np.arange(-half_count, half_count + 2, dtype=np.float64) - 0.5
    edges = positions * (BIN_WIDTH * spike_threshold)
    edges.flags.writeable = False
    return edges


def histogram(offsets: torch.Tensor, spike_threshold: float) -> MembraneHistogram:
    """The histogram of ``offsets`` (``v_mem - thr``, any shape) in :func:`edges_for`'s bins.

    ``offsets`` is a floating-point tensor; ±inf counts in the outer bins, NaN (which has no
    bin) is a ValueError, as is a threshold outside :data:`SPIKE_THRESHOLD`'s range.
    """
    return _binned(offsets, spike_threshold, 0.0, "histogram", "offsets")


def membrane_histogram(v_mem: torch.Tensor, spike_threshold: float) -> MembraneHistogram:
    """The histogram of ``v_mem - spike_threshold`` (what training records), without a pass
    over the data for the subtraction; bad input is rejected as :func:`histogram` rejects it."""
    thr = _threshold("membrane_histogram", spike_threshold)
    return _binned(v_mem, thr, thr, "membrane_histogram", "v_mem")


def _threshold(owner: str, spike_threshold: float) -> float:
    """A number threshold in :data:`SPIKE_THRESHOLD`'s range (bins need one width: no tensor)."""
    return validate_value(owner, "spike_threshold", SPIKE_THRESHOLD, spike_threshold)


def membrane_histograms(v_mems: Sequence[torch.Tensor], spike_threshold: float
                        ) -> Optional[Tuple[MembraneHistogram, ...]]:
    """:func:`membrane_histogram` of each tensor, or None when any of them holds NaN.

    What training records on a lens step: the NaN check is the binning's own (a NaN
    membrane means the run diverged), not a separate pass over the values.
    """
    thr = _threshold("membrane_histograms", spike_threshold)
    edges = edges_for(thr)
    counts = [_counts(v, thr, thr, len(edges) - 1, "membrane_histograms", "v_mem") for v in v_mems]
    if any(c is None for c in counts):
        return None
    return tuple(MembraneHistogram(edges, c) for c in counts)


def _binned(values: torch.Tensor, spike_threshold: float, shift: float, owner: str, name: str) -> MembraneHistogram:
    spike_threshold = _threshold(owner, spike_threshold)
    edges = edges_for(spike_threshold)
    counts = _counts(values, spike_threshold, shift, len(edges) - 1, owner, name)
    if counts is None:
        raise ValueError(f"{owner}: {name} must hold numbers (-inf and inf count in the outer bins); "
                         "got NaN in it")
    return MembraneHistogram(edges, counts)


def _counts(values: torch.Tensor, spike_threshold: float, shift: float, bins: int, owner: str,
            name: str) -> Optional[np.ndarray]:
    """The counts of ``values - shift`` in the ``bins`` bins at this threshold; None for NaN."""
    if not isinstance(values, torch.Tensor) or not values.is_floating_point():
        raise ParamTypeError(f"{owner}: {name} must be a floating-point tensor; got {type(values).__name__}"
                             + (f" of dtype {values.dtype}" if isinstance(values, torch.Tensor) else ""))
    scale, offset = bin_arithmetic(spike_threshold, shift)
    # a multiply, then an add in place: the same rounding on every CPU (a fused multiply-add
    # would move values at a bin edge on some machines and not others)
    position = (values.detach().reshape(-1) * scale).add_(offset)
    # NaN has no bin (and no defined integer index); max propagates NaN, at a tenth of isnan().any()
    if position.numel() and math.isnan(float(position.max())):
        return None
    index = position.clamp_(0, bins - 0.5).to(torch.int32)  # truncation is floor here: >= 0
    return torch.bincount(index, minlength=bins).cpu().numpy().astype(np.int64)


def bin_arithmetic(spike_threshold: float, shift: float) -> Tuple[float, float]:
    """``(scale, offset)``: a value ``v`` falls in bin ``trunc(clamp(v * scale + offset, 0,
    bins - 0.5))`` of :func:`edges_for`'s ``bins`` bins, ``x = v - shift`` being what is
    binned. The multiply and the add are done in the values' precision, in that order, by
    this module and by :mod:`sgexplore.native`'s forward alike."""
    # Bin i is [(i - h - 1/2) w, (i - h + 1/2) w) of x, so i = floor(v / w + h + 1/2 - shift / w),
    # clamped into the outer bins: about ten times faster than a search over the edges (a
    # recorded step must stay cheap, benchmarks/bench_lens.py); a value within float32
    # rounding of an edge (1e-4 of a bin) may land in either neighbour.
    width, half_count = BIN_WIDTH * float(spike_threshold), int(round(RANGE / BIN_WIDTH))
    return 1.0 / width, half_count + 0.5 - shift / width


def counted_histograms(counts: np.ndarray, spike_threshold: float) -> Optional[Tuple[MembraneHistogram, ...]]:
    """One histogram per row of ``counts`` (int, ``(layers, bins + 1)``: the counts of
    :func:`edges_for`'s bins, then the number of NaNs, as the native forward counts them), or
    None when any row counted a NaN (a diverged step, as :func:`membrane_histograms`)."""
    thr = _threshold("counted_histograms", spike_threshold)
    edges = edges_for(thr)
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 2 or counts.shape[1] != len(edges):
        raise ValueError(f"counted_histograms: counts must have shape (layers, {len(edges)}); "
                         f"got {counts.shape}")
    if counts[:, -1].any():
        return None
    return tuple(MembraneHistogram(edges, row[:-1].copy()) for row in counts)


def _checked(surrogate: Surrogate, hist: MembraneHistogram, spike_threshold: float, owner: str) -> float:
    """The threshold, after checking the three arguments the lens functions share."""
    if not isinstance(surrogate, Surrogate):
        raise ParamTypeError(f"{owner}: surrogate must be an sgexplore Surrogate instance; got {shown(surrogate)}")
    if not isinstance(hist, MembraneHistogram):
        raise ParamTypeError(f"{owner}: hist must be a MembraneHistogram (StepRecord.membrane[i]); "
                             f"got {shown(hist)}")
    return _threshold(owner, spike_threshold)


def _gains(surrogate: Surrogate, hist: MembraneHistogram, spike_threshold: float,
           owner: str = "lens") -> np.ndarray:
    """The surrogate at each bin, divided by its peak (0 for a surrogate whose peak is 0)."""
    thr = _checked(surrogate, hist, spike_threshold, owner)
    peak = surrogate.peak(thr)
    if peak <= 0:
        return np.zeros(len(hist.counts))
    v = torch.as_tensor(hist.centres + thr, dtype=torch.float64)
    return surrogate.grad(v, thr).numpy() / peak


def coverage(surrogate: Surrogate, hist: MembraneHistogram, spike_threshold: float,
             level: float = LEVEL.default) -> float:
    """Fraction of the histogram's samples at which ``surrogate`` is at least ``level`` × its peak."""
    level = validate_value("coverage", "level", LEVEL, level)
    return _coverage_of(surrogate, hist, spike_threshold, level, "coverage")


def mean_gain(surrogate: Surrogate, hist: MembraneHistogram, spike_threshold: float) -> float:
    """Mean of ``surrogate`` over the histogram's samples, divided by its peak (in [0, 1] for
    a non-negative surrogate; MultiGaussian's negative lobes can pull it lower)."""
    gains = _gains(surrogate, hist, spike_threshold, "mean_gain")
    return float((hist.fractions() * gains).sum())


def fit_width(surrogate: Surrogate, hist: MembraneHistogram, spike_threshold: float,
              coverage: float = COVERAGE.default, level: float = LEVEL.default) -> Surrogate:
    """``surrogate`` with its width parameter (:attr:`Surrogate.width`) set so that a fraction
    ``coverage`` of the histogram's samples receives gradient (at ``level``).

    Bisects the parameter, on a log scale, within its declared valid range; a steepness
    (a slope) moves the other way from a width, which the bisection finds by itself.
    ValueError when the surrogate has no width, or no value in the range reaches the target
    (the message names the coverage at both ends).
    """
    _checked(surrogate, hist, spike_threshold, "fit_width")
    target = validate_value("fit_width", "coverage", COVERAGE, coverage)
    name = type(surrogate).width
    if not name:
        raise ValueError(f"fit_width: surrogate {type(surrogate).__name__} has no width parameter to fit "
                         "(Surrogate.width is empty)")
    level = validate_value("fit_width", "level", LEVEL, level)
    declaration = type(surrogate).params()[name]
    # within the valid range, and within a factor 1000 of the slider's ends
    low = max(declaration.low, declaration.slider[0] / 1e3, 1e-12)
    high = min(declaration.high, declaration.slider[1] * 1e3)

    def covered(value: float) -> float:
        return _coverage_of(surrogate.replace(**{name: value}), hist, spike_threshold, level)

    ends = covered(low), covered(high)
    if not min(ends) <= target <= max(ends):
        raise ValueError(f"fit_width: no {name} in [{low:g}, {high:g}] gives coverage {target:g}; "
                         f"coverage there is {ends[0]:.3g} and {ends[1]:.3g}")
    grows = ends[1] >= ends[0]
    lo, hi = math.log(low), math.log(high)
    for _ in range(60):  # far below one bin's effect on coverage
        middle = (lo + hi) / 2
        if (covered(math.exp(middle)) < target) == grows:
            lo = middle
        else:
            hi = middle
    # the side that reaches the target (coverage moves in steps of one bin)
    value = math.exp(hi if grows else lo)
    return surrogate.replace(**{name: value})


def _coverage_of(surrogate: Surrogate, hist: MembraneHistogram, spike_threshold: float, level: float,
                 owner: str = "fit_width") -> float:
    gains = _gains(surrogate, hist, spike_threshold, owner)
    return float(hist.fractions()[gains >= level].sum())
