"""Benchmark: what recording the membrane lens costs a training step (a benchmark, not a test).

Times optimizer steps of the default run (``TrainConfig()``: 64 hidden units, batch 64, 50
time steps) with ``record_every=0`` (off), ``1`` (a histogram of every hidden layer's
``v - thr`` on every step) and ``5``, in alternation, one fresh run of each per repeat, and
prints the median seconds per step of each and its ratio to no recording. The target (issue 11) is at most
10 % more per step. A second line does the same for two hidden layers of 128.

    .venv/bin/python benchmarks/bench_lens.py [--repeats 7] [--steps 40]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from sgexplore.train import TrainConfig, train


def seconds_per_step(config: TrainConfig) -> float:
    records = iter(train(config))
    next(records)  # the first step pays for setup; time the others
    start = time.perf_counter()
    count = sum(1 for _ in records)
    return (time.perf_counter() - start) / count


EVERY = (0, 1, 5)


def compare(base: TrainConfig, repeats: int) -> dict:
    """record_every -> median seconds per step, the three timed in alternation."""
    times = {every: [] for every in EVERY}
    for _ in range(repeats):
        for every in EVERY:
            times[every].append(seconds_per_step(dataclasses.replace(base, record_every=every)))
    return {every: statistics.median(values) for every, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    for label, base in (("default (hidden 64)", TrainConfig(steps=args.steps)),
                        ("hidden 128, 128", TrainConfig(steps=args.steps, hidden=(128, 128)))):
        median = compare(base, args.repeats)
        off = median[0]
        shown = "; ".join(f"record_every={every}: {median[every] * 1e3:.2f} ms, ratio {median[every] / off:.3f}"
                          for every in EVERY[1:])
        print(f"{label}: {off * 1e3:.2f} ms/step without recording; {shown}")


if __name__ == "__main__":
    main()
