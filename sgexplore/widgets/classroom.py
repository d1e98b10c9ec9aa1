"""The classroom setting: narrowed declarations that bound what one visitor's run costs.

``TrainingExplorer(classroom=True)`` (what apps/explorer.ipynb builds for ``make demo``)
reads its training controls' ranges from :data:`CLASSROOM_LIMITS` instead of
``params_of(TrainConfig)``, and checks every config it is about to train with
:func:`check_classroom`. Both read the caps declared here, once: each is the TrainConfig
declaration with its upper end (and its slider's) lowered, so its meaning, default and
lower end stay the TrainConfig's. The worst run inside them, and the longest step, are
measured in BENCHMARKS.md ("Classroom demo"; benchmarks/bench_classroom.py --worst-run).
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

from ..params import Param, params_of, validate_value
from ..seed_band import SEEDS
from ..train import HIDDEN_SIZE, TrainConfig

__all__ = ["CLASSROOM_CAPS", "CLASSROOM_LIMITS", "CLASSROOM_LAYER_SIZE", "CLASSROOM_LAYERS",
           "CLASSROOM_SEEDS", "narrowed", "check_classroom", "check_classroom_hidden",
           "check_classroom_seeds", "hidden_range_text"]

#: The most each TrainConfig field may be in the classroom: the run's length, its batch,
#: the task's size and the torch threads one visitor's step may use.
CLASSROOM_CAPS: Dict[str, int] = {
    "steps": 120,
    "batch_size": 64,
    "samples_per_class": 200,
    "classes": 10,
    "units": 50,
    "time_steps": 50,
    "threads": 1,
}
#: The most hidden layers, and the widest one, in the classroom.
CLASSROOM_LAYERS = 2
_WIDEST_LAYER = 64


def narrowed(declaration: Param, high: float) -> Param:
    """``declaration`` with its valid range and its slider ending at ``high`` at most."""
    lo, hi, step = declaration.slider
    top = min(hi, high)
    # a one-value range (threads <= 1) keeps a slider of two stops; no control shows it
    return dataclasses.replace(declaration, high=min(declaration.high, high),
                               slider=(lo, top if top > lo else lo + step, step))


#: The narrowed declarations, by TrainConfig field.
CLASSROOM_LIMITS: Dict[str, Param] = {name: narrowed(params_of(TrainConfig)[name], cap)
                                      for name, cap in CLASSROOM_CAPS.items()}
#: One hidden layer's width in the classroom.
CLASSROOM_LAYER_SIZE = narrowed(HIDDEN_SIZE, _WIDEST_LAYER)
#: Seeds trained together in the classroom: one, because each step of a band of n seeds
#: costs about n steps (BENCHMARKS.md, "Classroom demo").
CLASSROOM_SEEDS = narrowed(SEEDS, 1)


def hidden_range_text() -> str:
    """The classroom's hidden layers, as messages and tooltips say it."""
    return f"1 to {CLASSROOM_LAYERS} layers, each {CLASSROOM_LAYER_SIZE.expected_text()}"


def check_classroom_hidden(hidden: Tuple[int, ...]) -> None:
    """ValueError unless ``hidden`` (layer widths) is inside the classroom's caps."""
    if not 1 <= len(hidden) <= CLASSROOM_LAYERS:
        raise ValueError(f"hidden must be {hidden_range_text()} in the classroom; got "
                         f"{len(hidden)} layers")
    for width in hidden:
        _in_classroom("hidden: each layer", CLASSROOM_LAYER_SIZE, width)


def check_classroom_seeds(seeds: int) -> None:
    """ValueError unless ``seeds`` (trained together) is inside the classroom's cap."""
    _in_classroom("seeds", CLASSROOM_SEEDS, seeds)


def check_classroom(config: TrainConfig) -> None:
    """ValueError naming the first field of ``config`` beyond the classroom's caps, and its
    classroom range (for instance ``steps must be an integer in [1, 300] in the classroom;
    got 1000``)."""
    for name, declaration in CLASSROOM_LIMITS.items():
        _in_classroom(name, declaration, getattr(config, name))
    check_classroom_hidden(config.hidden)


def _in_classroom(name: str, declaration: Param, value) -> None:
    try:
        validate_value("", name, declaration, value)
    except ValueError as error:
        head, _, got = str(error).partition("; got ")
        raise ValueError(f"{head} in the classroom; got {got}") from None
