"""Compilations and time per new parameter value at a fused size (CPU).

A slider, a schedule or a learned surrogate width hands spike() a new parameter value on
every call. This script trains nothing: it runs ``spike(v, thr, MultiGaussian(grad_scale=g))``
forward and backward at a size where ``backend="auto"`` takes the fused path (a hidden
layer of 1024 with batch 256: 262144 elements), first for one value (which compiles the
forward and the backward), then for ``--values`` new ``grad_scale`` values, then for
``--values`` new float thresholds, and reports, side by side in one run:

* compilations for the first value and for all the new values (sgexplore.fused.compilations());
* seconds for the first value (the compilation) and the median per new value;
* the median eager call at the same size, and the ratio fused / eager per new value;
* the bytes in sgexplore's on-disk Inductor cache afterwards, against its bound;
* with ``--ab``: what runtime inputs cost per call against values compiled in as
  constants (the previous design), at 1e6 elements, interleaved rounds, the median ratio
  runtime / constants for a few surrogates (CPU time of the one torch thread, so that
  other processes on a shared machine disturb it less than wall-clock time).

Usage (PYTHONPATH=. or an installed sgexplore):
    python benchmarks/bench_recompile.py               # 20 values
    python benchmarks/bench_recompile.py --values 50
    python benchmarks/bench_recompile.py --ab --rounds 11

The last line is ``SUMMARY {json}``. Target (issue 15): the new values cost no compilation
(at most one for the whole sequence).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from sgexplore import fused
from sgexplore.spike import spike
from sgexplore.surrogates import MultiGaussian, registry


def one_call(v: torch.Tensor, grad_output: torch.Tensor, threshold: float, grad_scale: float,
             backend: str) -> float:
    """Seconds for one forward and backward."""
    x = v.detach().requires_grad_()
    start = time.perf_counter()
    out = spike(x, threshold, MultiGaussian(grad_scale=grad_scale), backend=backend)
    torch.autograd.grad(out, x, grad_output)
    return time.perf_counter() - start


def _constants_key(original):
    """fused._key as it was before runtime inputs: float values in the key, compiled in."""
    def key(function, args):
        if fused._on_cpu(args):
            return (function.__module__, function.__qualname__, "constants", fused._signature(args))
        return original(function, args)
    return key


def runtime_against_constants(names, rounds: int, calls: int = 5) -> dict:
    """Median per-call seconds of the fused path with runtime inputs and with constants."""
    v = torch.linspace(-2.0, 4.0, 10**6)
    grad_output = torch.ones_like(v)
    original = fused._key
    variants = {"runtime": original, "constants": _constants_key(original)}
    times = {(name, variant): [] for name in names for variant in variants}
    try:
        for _ in range(rounds + 1):  # the first round compiles and warms up, untimed
            for name in names:
                surrogate = registry()[name]()
                for variant, key in variants.items():
                    fused._key = key
                    samples = []
                    for _ in range(calls):
                        x = v.detach().requires_grad_()
                        start = time.thread_time()  # CPU time of this thread: robust to other load
                        out = spike(x, 1.0, surrogate, backend="fused")
                        torch.autograd.grad(out, x, grad_output)
                        samples.append(time.thread_time() - start)
                    times[(name, variant)].append(statistics.median(samples))
    finally:
        fused._key = original
    return {name: round(statistics.median(times[(name, "runtime")][1:])
                        / statistics.median(times[(name, "constants")][1:]), 3) for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--values", type=int, default=20, help="new values of each kind (default 20)")
    parser.add_argument("--ab", action="store_true", help="also: runtime inputs against constants")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds for --ab (default 7)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    numel = 1024 * 256
    v = torch.linspace(-2.0, 4.0, numel)
    grad_output = torch.ones(numel)
    assert fused.choose_backend(v, "auto") == "fused", "not a fused size"

    before = fused.compilations()
    first_s = one_call(v, grad_output, 1.0, 1.0, "auto")
    first_compilations = fused.compilations() - before

    scales = torch.logspace(-2, 2, args.values, dtype=torch.float64).tolist()
    thresholds = torch.linspace(0.5, 2.0, args.values, dtype=torch.float64).tolist()
    fused_s, eager_s = [], []
    before = fused.compilations()
    for scale, threshold in [(s, 1.0) for s in scales] + [(1.0, t) for t in thresholds]:
        fused_s.append(one_call(v, grad_output, threshold, scale, "auto"))   # interleaved,
        eager_s.append(one_call(v, grad_output, threshold, scale, "eager"))  # side by side
    new_compilations = fused.compilations() - before

    disk = fused._prune_disk_cache()  # prunes nothing below the bound; returns the bytes held
    summary = dict(
        numel=numel, new_values=2 * args.values,
        first_value=dict(compilations=first_compilations, seconds=round(first_s, 2)),
        new_values_compilations=new_compilations,
        fused_ms_per_new_value=round(1e3 * statistics.median(fused_s), 3),
        eager_ms_per_call=round(1e3 * statistics.median(eager_s), 3),
        fused_over_eager=round(statistics.median(fused_s) / statistics.median(eager_s), 3),
        disk_cache_bytes=disk, disk_cache_bound=fused.DISK_CACHE_BYTES,
        target_met=new_compilations <= 1)
    print(f"first value: {first_compilations} compilations (forward and backward), {first_s:.2f} s")
    print(f"{2 * args.values} new values ({args.values} grad_scale, {args.values} thresholds): "
          f"{new_compilations} compilations")
    print(f"per new value: fused {summary['fused_ms_per_new_value']} ms, eager "
          f"{summary['eager_ms_per_call']} ms, fused/eager {summary['fused_over_eager']}")
    print(f"on-disk cache: {disk / 2**20:.1f} MiB (bound {fused.DISK_CACHE_BYTES / 2**20:.0f} MiB)")
    if args.ab:
        names = ["Gaussian", "MultiGaussian", "SingleExponential", "FastSigmoid", "ArcTan"]
        summary["runtime_over_constants_1e6"] = ratios = runtime_against_constants(names, args.rounds)
        print("per call at 1e6 elements, runtime inputs / constants: "
              + ", ".join(f"{name} {ratio}" for name, ratio in ratios.items()))
    print("SUMMARY " + json.dumps(summary))


if __name__ == "__main__":
    main()
