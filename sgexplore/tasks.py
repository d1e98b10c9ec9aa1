"""Synthetic spike-timing tasks, generated in memory from a seed.

:func:`randman` follows the random-manifold task of Zenke & Vogels (2021, Neural Computation
33:899), written here from the algorithm rather than copied:

* Each class is its own random smooth manifold of dimension ``manifold_dim``.
* For input unit ``u`` and manifold coordinate ``d`` draw amplitudes ``A``, frequency factors
  ``B`` and phases ``C`` uniformly in [0, 1) and form the smooth 1-D function
  ``g_ud(x) = sum_k k**(-alpha) * A_udk * sin(2 pi (k B_udk x + C_udk))``, ``k = 1..F``.
  Larger ``alpha`` damps high frequencies faster: a smoother manifold. ``F`` is the number of
  terms until ``k**(-alpha)`` falls below 1e-3 (at most 1000).
* A point ``x`` drawn uniformly from ``[0, 1)**manifold_dim`` maps to ``f_u(x) = prod_d g_ud(x_d)``.
* Each unit's values are min-max scaled over the class's samples to [0, 1] and become spike
  times in the first ``active_fraction`` of the time window (the rest lets the network answer
  late spikes). Every unit fires exactly once per sample, so spike counts carry no
  information: only relative timing does.

:func:`two_patterns` is the trivially easy smoke-test task: two fixed random spike patterns,
jittered by at most one step per sample.

Inputs are dense, time-major spike tensors ``(T, N, units)``, ready for :class:`sgexplore.snn.SNN`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from .params import Param, validate_value

__all__ = ["Dataset", "randman", "two_patterns", "load", "test_count", "TASKS", "TEST_FRACTION",
           "TASK", "TASK_PARAMS"]

TASKS = ("randman", "two_patterns")
TASK = Param("randman", choices=TASKS, doc="the synthetic task: " + " or ".join(TASKS))
#: The settings of a task, declared once (TrainConfig's fields use these declarations).
TASK_PARAMS = {
    "classes": Param(10, low=2, high=20, integer=True, slider=(2, 10, 1),
                     doc="number of classes (two_patterns needs 2)"),
    "units": Param(20, low=1, high=1000, integer=True, slider=(5, 100, 5),
                   doc="input units; each fires once per sample"),
    "time_steps": Param(50, low=2, high=1000, integer=True, slider=(10, 200, 10),
                        doc="time steps per sample"),
    "manifold_dim": Param(1, low=1, high=10, integer=True, slider=(1, 4, 1),
                          doc="intrinsic dimension of each class's manifold (randman)"),
    "alpha": Param(2.0, low=0.0, low_open=True, high=10.0, slider=(0.5, 4.0, 0.25),
                   doc="smoothness: how fast the manifold's spectrum decays (randman)"),
    "samples_per_class": Param(200, low=2, high=10000, integer=True, slider=(20, 1000, 20),
                               doc="samples per class, 80 % train and 20 % test"),
    "seed": Param(0, low=0, high=10**9, integer=True, slider=(0, 100, 1),
                  doc="seeds the data set, the initial weights and the batches"),
}
TEST_FRACTION = 0.2
_PRECISION = 1e-3      # drop Fourier terms whose weight k**-alpha is below this
_MAX_FREQUENCIES = 1000


@dataclass(frozen=True)
class Dataset:
    """A train/test split of spike inputs and labels.

    Attributes:
        x_train, x_test: float32 spike tensors ``(T, N, units)`` (time-major).
        y_train, y_test: int64 class labels ``(N,)``.
        classes: number of classes.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: int


def _frequency_count(alpha: float) -> int:
    return math.ceil(min(_PRECISION ** (-1.0 / alpha), _MAX_FREQUENCIES))  # min first: inf for tiny alpha


def _manifold_points(units: int, manifold_dim: int, alpha: float, samples: int,
                     generator: torch.Generator) -> torch.Tensor:
    """``samples`` points of one random manifold embedded in ``units`` dimensions, ``(samples, units)``."""
    n_freq = _frequency_count(alpha)
    amplitude, frequency, phase = torch.rand(3, units, manifold_dim, n_freq, generator=generator,
                                             dtype=torch.float32)
    x = torch.rand(samples, manifold_dim, generator=generator, dtype=torch.float32)
    k = torch.arange(1, n_freq + 1, dtype=torch.float32)
    weight = amplitude * k ** (-alpha)                                    # (units, dim, F)
    angle = 2 * math.pi * (k * frequency * x[:, None, :, None] + phase)   # (samples, units, dim, F)
    per_dim = (weight * torch.sin(angle)).sum(-1)                         # (samples, units, dim)
    return per_dim.prod(-1)


def _min_max(values: torch.Tensor) -> torch.Tensor:
    """Scale each column to [0, 1] over the rows."""
    low, high = values.min(0).values, values.max(0).values
    return (values - low) / (high - low).clamp_min(1e-12)


def _to_spikes(spike_times: torch.Tensor, time_steps: int) -> torch.Tensor:
    """One spike per unit: integer times ``(N, units)`` -> dense ``(T, N, units)`` float32."""
    n, units = spike_times.shape
    x = torch.zeros(time_steps, n, units)
    x[spike_times, torch.arange(n)[:, None], torch.arange(units)[None, :]] = 1.0
    return x


def test_count(samples_per_class: int, test_fraction: float = TEST_FRACTION) -> int:
    """How many of each class's samples go to the test set (at least one)."""
    return max(1, round(samples_per_class * test_fraction))


def _split(x: torch.Tensor, labels: torch.Tensor, classes: int, samples_per_class: int,
           test_fraction: float) -> Dataset:
    """Per class, the first samples train and the last ``test_fraction`` test (samples are iid)."""
    n_test = test_count(samples_per_class, test_fraction)
    position = torch.arange(classes * samples_per_class) % samples_per_class
    is_test = position >= samples_per_class - n_test
    return Dataset(x[:, ~is_test].contiguous(), labels[~is_test], x[:, is_test].contiguous(),
                   labels[is_test], classes)


def _check(owner: str, **values) -> None:
    for name, value in values.items():
        validate_value(owner, name, TASK_PARAMS[name], value)


def randman(classes: int = 10, units: int = 20, time_steps: int = 50, manifold_dim: int = 1,
            alpha: float = 2.0, samples_per_class: int = 200, seed: int = 0,
            test_fraction: float = TEST_FRACTION, active_fraction: float = 0.8) -> Dataset:
    """The Randman task: ``classes`` random smooth manifolds in spike-time space (module docstring)."""
    _check("randman", classes=classes, units=units, time_steps=time_steps, manifold_dim=manifold_dim,
           alpha=alpha, samples_per_class=samples_per_class, seed=seed)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction!r}")
    if not 0 < active_fraction <= 1:
        raise ValueError(f"active_fraction must be in (0, 1]; got {active_fraction!r}")
    generator = torch.Generator().manual_seed(seed)
    last_step = max(0, math.floor((time_steps - 1) * active_fraction))
    times = []
    for _ in range(classes):
        unit_values = _min_max(_manifold_points(units, manifold_dim, alpha, samples_per_class,
                                                generator))
        times.append(torch.round(unit_values * last_step).long())
    spikes = _to_spikes(torch.cat(times), time_steps)
    labels = torch.arange(classes).repeat_interleave(samples_per_class)
    return _split(spikes, labels, classes, samples_per_class, test_fraction)


def two_patterns(units: int = 20, time_steps: int = 50, samples_per_class: int = 200,
                 seed: int = 0, test_fraction: float = TEST_FRACTION, active_fraction: float = 0.8) -> Dataset:
    """Two classes, each a fixed random spike pattern (one spike per unit) jittered by at most one step."""
    _check("two_patterns", units=units, time_steps=time_steps, samples_per_class=samples_per_class, seed=seed)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction!r}")
    generator = torch.Generator().manual_seed(seed)
    last_step = max(0, math.floor((time_steps - 1) * active_fraction))
    patterns = torch.randint(0, last_step + 1, (2, units), generator=generator)
    jitter = torch.randint(-1, 2, (2, samples_per_class, units), generator=generator)
    times = (patterns[:, None, :] + jitter).clamp(0, last_step).reshape(2 * samples_per_class, units)
    labels = torch.arange(2).repeat_interleave(samples_per_class)
    return _split(_to_spikes(times, time_steps), labels, 2, samples_per_class, test_fraction)


@functools.lru_cache(maxsize=8)
def load(task: str, classes: int, units: int, time_steps: int, manifold_dim: int, alpha: float,
         samples_per_class: int, seed: int) -> Dataset:
    """The named task, generated once per parameter set and then served from a cache.

    The returned tensors are shared between callers: treat them as read-only.
    ``two_patterns`` requires ``classes == 2`` and ignores ``manifold_dim`` and ``alpha``.
    """
    if task == "randman":
        return randman(classes, units, time_steps, manifold_dim, alpha, samples_per_class, seed)
    if task == "two_patterns":
        if classes != 2:
            raise ValueError(f"classes must be 2 for task='two_patterns'; got {classes!r}")
        return two_patterns(units, time_steps, samples_per_class, seed)
    validate_value("", "task", TASK, task)
    raise AssertionError("unreachable: every task in TASKS is handled above")
