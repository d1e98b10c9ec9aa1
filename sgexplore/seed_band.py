"""Several seeds of one setting, trained together: a mean record per step and the seeds' band.

A 0.01 difference between two settings may be seed noise. :func:`train_seeds` trains seeds
``seed, seed + 1, …`` of one config in one vectorised pass (:func:`sgexplore.train_many`,
less than one ``train()`` run at these sizes with the native kernels, about 1.2 times one
without them, benchmarks/bench_seed_band.py) and yields, per step,
their mean record and the band from the lowest to the highest value of each metric. The
TrainingExplorer draws the mean as its curve and the band around it.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

import numpy as np

from .ensemble import train_many
from .params import Param, validate_value
from .train import StepRecord, TrainConfig

__all__ = ["SEEDS", "SeedStep", "seed_configs", "train_seeds", "BAND_METRICS"]

SEEDS = Param(1, low=1, high=5, integer=True, slider=(1, 5, 2),
              doc="train this many seeds (seed, seed + 1, …) together and draw their mean with a band from "
                  "the lowest to the highest; the lens and the activity need 1")
#: The metrics whose band is given (every step has them).
BAND_METRICS = ("loss", "accuracy")


class SeedStep(NamedTuple):
    """One step of several seeds: their mean record, each metric's (lowest, highest), and the
    seeds' own records (None for one that diverged earlier)."""

    mean: StepRecord
    band: Dict[str, Tuple[float, float]]
    records: Tuple[Optional[StepRecord], ...]


def seed_configs(config: TrainConfig, seeds: int) -> List[TrainConfig]:
    """``config`` with seeds ``config.seed + k`` for ``k < seeds``, as :func:`train_seeds` trains
    them: Adam and no membrane histograms (what training seeds together supports)."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
    seeds = validate_value("seed_configs", "seeds", SEEDS, seeds)
    if config.optimizer != "adam":
        raise ValueError(f"seeds > 1 trains the seeds together, with Adam only; got optimizer "
                         f"{config.optimizer!r} (choose 'adam', or seeds = 1)")
    return [dataclasses.replace(config, seed=config.seed + k, record_every=0) for k in range(seeds)]


def train_seeds(config: TrainConfig, seeds: int) -> Iterator[SeedStep]:
    """Train :func:`seed_configs` together; per step their mean record and band.

    The mean is over the seeds whose step is "ok": a seed that diverges leaves the mean from
    that step on (the records say which). When every seed has diverged, the last step's
    mean is the first diverged record itself.
    """
    for records in train_many(seed_configs(config, seeds)):
        done = [r for r in records if r is not None]
        ok = [r for r in done if r.status == "ok"]
        if not ok:
            if done:
                yield SeedStep(done[0], {}, records)
            return
        yield SeedStep(_mean(ok), {m: (min(getattr(r, m) for r in ok), max(getattr(r, m) for r in ok))
                                   for m in BAND_METRICS}, records)


def _mean(records: List[StepRecord]) -> StepRecord:
    tested = [r for r in records if r.test_accuracy is not None]

    def mean(values) -> float:
        return float(np.mean(values))

    return dataclasses.replace(
        records[0], loss=mean([r.loss for r in records]), accuracy=mean([r.accuracy for r in records]),
        grad_norms=tuple(np.mean([r.grad_norms for r in records], axis=0).tolist()),
        spike_rates=tuple(np.mean([r.spike_rates for r in records], axis=0).tolist()),
        test_accuracy=mean([r.test_accuracy for r in tested]) if tested else None,
        test_loss=mean([r.test_loss for r in tested]) if tested else None,
        elapsed_s=max(r.elapsed_s for r in records), membrane=None)
