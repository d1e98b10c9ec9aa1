"""Benchmark: what recording the membrane lens costs a training step (a benchmark, not a test).

Trains three runs of the default setting (``TrainConfig()``: 64 hidden units, batch 64, 50
time steps) side by side, with ``record_every=0`` (off), ``1`` (a histogram of every hidden
layer's ``v - thr`` on every step) and ``5`` (the TrainingExplorer's cadence). The runs take
their steps in turn, one step each in a rotating order, so that the machine's drifts and
pauses fall on all three alike. Each block of 10 steps is timed per run; the script prints
the median block time per step of each run and its ratio to no recording. The target
(issue 11) is at most 10 % more per step. A second line does the same for two hidden layers
of 128 (which the native kernels do not train: the module records them). A last line
alternates recording and not on the steps of one default run, and times its native forward.

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


def alternating(steps: int = 3000) -> None:
    """One default run whose steps record and do not record in turn (no test set), so that
    both share every drift; the medians, and the native forward's share of the difference."""
    import dataclasses

    from sgexplore import native

    run = Run(TrainConfig(steps=steps + 2, test_every=100000))
    run.step()
    state = run._state  # a private handle: the step itself, without Run's bookkeeping
    configs = {every: dataclasses.replace(state.config, record_every=every) for every in (0, 1)}
    step_s, forward_s = {0: [], 1: []}, {0: [], 1: []}
    forward, current = native.native_forward, [0]

    def timed(*args, **kwargs):
        start = time.perf_counter()
        result = forward(*args, **kwargs)
        forward_s[current[0]].append(time.perf_counter() - start)
        return result

    native.native_forward = timed
    try:
        for step in range(2, steps + 2):
            every = current[0] = step % 2
            state.config = configs[every]
            start = time.perf_counter()
            state.step(step, start)
            step_s[every].append(time.perf_counter() - start)
    finally:
        native.native_forward = forward
    med = {k: statistics.median(v) * 1e3 for k, v in step_s.items()}
    fwd = {k: statistics.median(v) * 1e3 for k, v in forward_s.items()}
    print(f"alternating on one default run ({steps} steps): {med[0]:.3f} ms/step without recording, "
          f"{med[1]:.3f} ms with, ratio {med[1] / med[0]:.3f}; the native forward {fwd[0]:.3f} against "
          f"{fwd[1]:.3f} ms")


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
    alternating()


if __name__ == "__main__":
    main()
