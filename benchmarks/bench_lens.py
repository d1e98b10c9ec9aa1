"""Benchmark: what recording the membrane lens costs a training step (a benchmark, not a test).

Trains three runs of the default setting (``TrainConfig()``: 64 hidden units, batch 64, 50
time steps) side by side, with ``record_every=0`` (off), ``1`` (a histogram of every hidden
layer's ``v - thr`` on every step) and ``5`` (the TrainingExplorer's cadence). The runs take
their steps in turn, one step each in a rotating order, so that the machine's drifts and
pauses fall on all three alike. Each block of 10 steps is timed per run; the script prints
the median block time per step of each run and its ratio to no recording. The target
(issue 11) is at most 10 % more per step. A second line does the same for two hidden layers
of 128 (which the native kernels do not train: the module records them).

    .venv/bin/python benchmarks/bench_lens.py [--blocks 40] [--block 10]
"""

from __future__ import annotations

import argparse
import statistics
import time

from sgexplore.train import Run, TrainConfig

EVERY = (0, 1, 5)


def compare(blocks: int, block: int, **settings) -> dict:
    """record_every -> median seconds per step over ``blocks`` blocks of ``block`` steps."""
    steps = 1 + blocks * block
    runs = {every: Run(TrainConfig(steps=steps + 1, record_every=every, **settings)) for every in EVERY}
    for run in runs.values():
        run.step()  # the first step pays for setup (the kernels, the spike lists)
    per_step = {every: [] for every in EVERY}
    order = list(EVERY)
    for _ in range(blocks):
        spent = dict.fromkeys(EVERY, 0.0)
        for _ in range(block):
            order = order[1:] + order[:1]
            for every in order:
                start = time.perf_counter()
                runs[every].step()
                spent[every] += time.perf_counter() - start
        for every in EVERY:
            per_step[every].append(spent[every] / block)
    return {every: statistics.median(values) for every, values in per_step.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=40)
    parser.add_argument("--block", type=int, default=10, help="steps per timed block (a multiple of 5)")
    args = parser.parse_args()
    for label, settings in (("default (hidden 64)", {}), ("hidden 128, 128", {"hidden": (128, 128)})):
        median = compare(args.blocks, args.block, **settings)
        off = median[0]
        shown = "; ".join(f"record_every={every}: {median[every] * 1e3:.2f} ms, ratio {median[every] / off:.3f}"
                          for every in EVERY[1:])
        print(f"{label}: {off * 1e3:.2f} ms/step without recording; {shown}")


if __name__ == "__main__":
    main()
