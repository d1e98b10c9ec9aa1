"""Benchmark: what the TrainingExplorer's seed band costs against one run (a benchmark, not a test).

Times a complete run of the explorer's default setting (``TrainConfig()``, 64 hidden units,
batch 64, 50 time steps) three ways, in alternation: one seed with ``train`` (what seeds = 1
trains), and 3 and 5 seeds trained together with ``sgexplore.seed_band.train_seeds`` (what
seeds = 3 and 5 train). Prints the median wall and CPU seconds of each and their ratios to one
run (issue 13's aim: "about the cost of one run").

    .venv/bin/python benchmarks/bench_seed_band.py [--repeats 5] [--steps 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

from sgexplore.seed_band import train_seeds
from sgexplore.train import TrainConfig, train


def timed(run) -> tuple:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in run():
        pass
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=TrainConfig().steps)
    args = parser.parse_args()
    config = TrainConfig(steps=args.steps)
    ways = {"1 seed (train)": lambda: train(config),
            "3 seeds (train_seeds)": lambda: train_seeds(config, 3),
            "5 seeds (train_seeds)": lambda: train_seeds(config, 5)}
    timed(lambda: train(TrainConfig(steps=3)))  # warm-up: first allocations, lazy imports
    timed(lambda: train_seeds(TrainConfig(steps=3), 3))
    times = {name: [] for name in ways}
    for _ in range(args.repeats):
        for name, way in ways.items():
            times[name].append(timed(way))
    one = times["1 seed (train)"]
    print(f"default run, {args.steps} steps, medians of {args.repeats} interleaved repeats:")
    for name, values in times.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        ratio_wall = statistics.median(v[0] / o[0] for v, o in zip(values, one))
        ratio_cpu = statistics.median(v[1] / o[1] for v, o in zip(values, one))
        print(f"  {name:<22} {wall:7.3f} s wall {cpu:7.3f} s CPU   ratio to one run: wall {ratio_wall:.2f}, "
              f"CPU {ratio_cpu:.2f}")


if __name__ == "__main__":
    main()
