"""Benchmark of the shape × scale sweep (a benchmark, not a test: it prints figures).

Measured side by side in one invocation, each sweep in a fresh interpreter so that its
peak memory is its own:

(a) ``FULL`` (6 shapes × 9 peaks × 2 resets = 108 runs of 200 steps) on the sequential
    path, one ``train()`` per run (``sweep(..., batched=False)``), and on the batched path,
    chunks of runs trained together by ``train_many`` (``sweep(...)``, the default), both
    in the default local process pool; their ratio, and how far the two agree.
    "full-batched-pytorch" is the batched path with the native kernels turned off
    (``SGEXPLORE_NATIVE=0``): the ensemble's PyTorch code, for the kernels' share.
    "full-batched" starts from an empty kernel cache (``sgexplore.native.cache_dir()`` is
    removed first), so it includes translating and compiling its six kernels, as the
    first sweep on a fresh machine does; "full-batched-warm" is the same sweep again, with
    the kernels cached, as every later sweep runs.
(b) ``ZENKE_VOGELS`` (``FULL`` × 4 learning rates × 3 seeds = 1,296 runs), batched.

Peak memory is the largest resident set of the sweep's processes (the main one and each
worker, from ``getrusage``); CPU seconds add up the main process and its workers, and are
the steadier figure when other jobs share the cores.

    .venv/bin/python benchmarks/bench_sweep.py [--workers 2] [--only full-batched ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time

MEASUREMENTS = ("full-sequential", "full-batched-pytorch", "full-batched", "full-batched-warm",
                "zenke-vogels-batched")
#: Measurements run with the native kernels turned off (sgexplore.native.ENV_SWITCH=0).
PYTORCH_ONLY = ("full-batched-pytorch",)


def measure(name: str, workers: int, chunk_size) -> dict:
    """Run one sweep here and return its wall seconds, peak memory and a digest of its result."""
    import numpy as np

    from sgexplore import sweep as sw
    from sgexplore.train import TrainConfig

    setting = sw.ZENKE_VOGELS if name.startswith("zenke") else sw.FULL
    start = time.perf_counter()
    result = sw.sweep(setting.shapes, setting.scales, TrainConfig(**setting.config), lrs=setting.lrs,
                      seeds=setting.seeds, max_workers=workers, progress=False, batched="batched" in name,
                      chunk_size=chunk_size)
    wall = time.perf_counter() - start
    # CPU seconds of this process and of its (joined) workers: steadier than wall time when
    # other jobs share the cores
    cpu = sum(getattr(resource.getrusage(who), field) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for field in ("ru_utime", "ru_stime"))
    peak_kib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # KiB on Linux
    return dict(name=name, runs=int(result.run_loss.size), wall_s=wall, cpu_s=cpu, peak_mib=peak_kib / 1024,
                accuracy=result.run_accuracy.tolist(), failed=len(result.failed),
                diverged=int((result.run_diverged_at >= 0).sum()),
                mean_accuracy=float(np.nanmean(result.run_accuracy)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--only", nargs="+", choices=MEASUREMENTS, default=list(MEASUREMENTS))
    parser.add_argument("--child", choices=MEASUREMENTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.workers, args.chunk_size)))
        return

    import numpy as np
    import torch

    print(f"torch {torch.__version__}, {os.cpu_count()} cores, {args.workers} workers, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, load average {os.getloadavg()[0]:.2f}")
    found = {}
    for name in args.only:
        command = [sys.executable, __file__, "--child", name, "--workers", str(args.workers)]
        if args.chunk_size:
            command += ["--chunk-size", str(args.chunk_size)]
        env = dict(os.environ, SGEXPLORE_NATIVE="0") if name in PYTORCH_ONLY else None
        if name == "full-batched":
            from sgexplore import native
            shutil.rmtree(native.cache_dir(), ignore_errors=True)  # count the compilations once
        done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
        found[name] = row = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{name:>22}: {row['runs']:5d} runs in {row['wall_s']:7.1f} s "
              f"({row['wall_s'] / row['runs'] * 1000:6.1f} ms per run), {row['cpu_s']:7.1f} CPU s, peak memory {row['peak_mib']:6.0f} MiB, "
              f"{row['diverged']} diverged, {row['failed']} failed chunks, mean accuracy {row['mean_accuracy']:.3f}",
              flush=True)
    for batched, label in (("full-batched", "first sweep, kernels compiled"),
                           ("full-batched-warm", "kernels cached")):
        if "full-sequential" in found and batched in found:
            seq, bat = found["full-sequential"], found[batched]
            print(f"FULL batched ({label}) / sequential wall time: {bat['wall_s'] / seq['wall_s']:.3f} "
                  f"(target at most 0.1); speed-up {seq['wall_s'] / bat['wall_s']:.1f}x; "
                  f"CPU seconds ratio {bat['cpu_s'] / seq['cpu_s']:.3f}")
    if "full-sequential" in found and "full-batched" in found:
        seq, bat = found["full-sequential"], found["full-batched"]
        difference = np.abs(np.array(seq["accuracy"]) - np.array(bat["accuracy"]))
        print(f"test accuracy, batched vs sequential: {int((difference < 1e-9).sum())} of {difference.size} runs "
              f"equal, largest difference {np.nanmax(difference):.3f} (chaotic runs amplify rounding)")
    if "full-batched-pytorch" in found and "full-batched" in found:
        torch_path, bat = found["full-batched-pytorch"], found["full-batched"]
        print(f"FULL batched, native / PyTorch kernels: wall {bat['wall_s'] / torch_path['wall_s']:.3f}, "
              f"CPU {bat['cpu_s'] / torch_path['cpu_s']:.3f}")
    if "zenke-vogels-batched" in found:
        print(f"ZENKE_VOGELS (1,296 runs) batched: {found['zenke-vogels-batched']['wall_s']:.1f} s (target 120 s)")
    # other jobs on the cores stretch wall times; the load at both ends says how much
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
