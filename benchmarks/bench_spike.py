"""Spike forward+backward, eager and fused, as a ratio to ``torch.relu`` forward+backward.

Every figure is measured side by side in one run: for each tensor size, relu, (on CUDA)
a device copy, and spike() for every surrogate, mode and backend are timed in
interleaved rounds; each figure is a median over the rounds, warm-up and compilation
excluded. Within a round each case makes one untimed call before its timed calls, so
that no case inherits the caches and heap left by the case before it. One timed sample
is ``out = f(v); torch.autograd.grad(out, v, g)``.

On CUDA, GB/s counts the bytes a one-pass implementation must move, the same for every
case: the forward reads v and writes the spikes, the backward reads grad_output and v
and writes grad_input (5 tensors of v's size; relu likewise). The device copy
``y.copy_(x)`` moves 2. GPU time is measured with CUDA events behind a short
``torch.cuda._sleep`` so that host-side overhead (Python, guards, autograd) is queued
ahead and not counted; on CPU, and with ``--crossover`` on CUDA too, wall-clock time
includes it.

Usage (PYTHONPATH=. or an installed sgexplore):
    python benchmarks/bench_spike.py                    # CPU; 1e5, 1e6, 4e6 elements
    python benchmarks/bench_spike.py --quick            # fewer rounds, quick look
    python benchmarks/bench_spike.py --device cuda      # adds 2^27 elements and GB/s vs copy
    python benchmarks/bench_spike.py --crossover        # eager vs fused at 2^10..2^22 elements
    python benchmarks/bench_spike.py --kernels --sizes 1e6   # why: kernels alone, fixed costs
    python benchmarks/bench_spike.py --sizes 1e6 --surrogates Gaussian MultiGaussian

Targets (issue 6): on CPU, fused <= 1.3x relu at >= 1e6 elements for every surrogate;
on CUDA, fused >= 85% of copy bandwidth at 2^27 float32 elements. The last line of
output is ``SUMMARY {json}`` with every figure and the target verdicts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Callable, Dict, List

import torch

from sgexplore import fused
from sgexplore.spike import MODES, spike, spike_forward, surrogate_backward
from sgexplore.surrogates import registry

CPU_TARGET_RATIO = 1.3  # fused / relu, at >= CPU_TARGET_MIN_NUMEL elements
CPU_TARGET_MIN_NUMEL = 10**6
GPU_TARGET_FRACTION = 0.85  # fused GB/s / copy GB/s, at GPU_TARGET_NUMEL float32 elements
GPU_TARGET_NUMEL = 2**27
TENSORS_MOVED = 5  # forward: read v, write spikes; backward: read grad_output and v, write grad_input
MAX_SPIKES = 3


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--dtype", default="float32", choices=["float16", "bfloat16", "float32", "float64"])
    parser.add_argument("--sizes", nargs="+", type=float, default=None,
                        help="tensor sizes in elements (default 1e5 1e6 4e6, plus 2^27 on CUDA)")
    parser.add_argument("--surrogates", nargs="+", default=None, help="surrogate names (default: all)")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 11, 3 with --quick)")
    parser.add_argument("--quick", action="store_true", help="3 rounds: a quick look, noisier")
    parser.add_argument("--crossover", action="store_true",
                        help="eager vs fused (mode single) at 2^10..2^22 elements instead")
    parser.add_argument("--kernels", action="store_true",
                        help="diagnosis instead: the compiled kernels alone (no autograd) against relu's "
                             "forward and backward kernels, and the fixed per-call costs at 100 elements")
    args = parser.parse_args(argv)
    names = args.surrogates or list(registry())
    unknown = sorted(set(names) - set(registry()))
    if unknown:
        parser.error(f"unknown surrogate(s) {unknown}; choose from {sorted(registry())}")
    args.surrogates = names
    if args.kernels and not args.device.startswith("cpu"):
        parser.error("--kernels times host wall clock without synchronising: use it on the CPU")
    if args.rounds is None:
        args.rounds = 3 if args.quick else 11
    if args.sizes is None:
        if args.crossover:
            args.sizes = [2**k for k in range(10, 23, 2)]
        else:
            args.sizes = [1e5, 1e6, 4e6] + ([GPU_TARGET_NUMEL] if args.device.startswith("cuda") else [])
    args.sizes = [int(size) for size in args.sizes]
    if args.crossover:
        args.modes = ["single"]  # the backward, which dominates, does not depend on the mode
    return args


class Timer:
    """Seconds for ``repeat`` calls of a function.

    Wall clock on CPU, and on CUDA with ``wall=True`` (synchronised before and after,
    so host overhead counts: what decides the auto threshold). Otherwise on CUDA, the
    device time between two events, with the host's calls queued behind a short sleep.
    """

    def __init__(self, device: torch.device, wall: bool = False):
        self.cuda = device.type == "cuda"
        self.wall = wall or not self.cuda
        self.host_seconds = 1e-3  # per call, until measured by host_time()

    def host_time(self, function: Callable[[], object], repeat: int = 3) -> float:
        """Host seconds per call (no synchronisation), to size the GPU's head start."""
        start = time.perf_counter()
        for _ in range(repeat):
            function()
        seconds = (time.perf_counter() - start) / repeat
        if self.cuda:
            torch.cuda.synchronize()
        return seconds

    def __call__(self, function: Callable[[], object], repeat: int) -> float:
        if self.wall:
            if self.cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(repeat):
                function()
            if self.cuda:
                torch.cuda.synchronize()
            return time.perf_counter() - start
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        # The GPU sleeps while the host queues all calls (~2e6 cycles per ms at ~2 GHz).
        torch.cuda._sleep(int(2e6 * min(50.0, 1.0 + 1.5e3 * self.host_seconds * repeat)))
        start.record()
        for _ in range(repeat):
            function()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / 1000


def spike_case(v: torch.Tensor, g: torch.Tensor, surrogate, mode: str, backend: str) -> Callable:
    max_spikes = MAX_SPIKES if mode == "max" else None

    def run():
        out = spike(v, 1.0, surrogate, mode, max_spikes, backend=backend)
        return torch.autograd.grad(out, v, g)

    return run


def relu_case(v: torch.Tensor, g: torch.Tensor) -> Callable:
    return lambda: torch.autograd.grad(torch.relu(v), v, g)


def measure_size(numel: int, args, device: torch.device, dtype: torch.dtype) -> Dict:
    """Median seconds per call of every case at one size, from interleaved rounds."""
    generator = torch.Generator().manual_seed(numel)
    v = (torch.randn(numel, generator=generator) + 0.5).to(device, dtype).requires_grad_()
    g = torch.randn(numel, generator=generator).to(device, dtype)
    cases: Dict[str, Callable] = {"relu": relu_case(v, g)}
    if device.type == "cuda":
        x, y = torch.randn(numel, device=device, dtype=dtype), torch.empty(numel, device=device, dtype=dtype)
        cases["copy"] = lambda: y.copy_(x)
    for name in args.surrogates:
        surrogate = registry()[name]()
        for mode in args.modes:
            for backend in ("eager", "fused"):
                cases[f"{name}|{mode}|{backend}"] = spike_case(v, g, surrogate, mode, backend)
    # Enough calls per sample that one sample lasts about a millisecond or more.
    repeat = max(1, min(50, (2 * 10**6) // numel)) if device.type == "cpu" else max(3, min(10, 2**24 // numel))
    timer = Timer(device, wall=args.crossover)
    host_seconds = {}
    for key, function in cases.items():  # warm-up: compile, allocate, fault pages in
        timer(function, 2)
        host_seconds[key] = timer.host_time(function)
    samples: Dict[str, List[float]] = {key: [] for key in cases}
    for _ in range(args.rounds):
        for key, function in cases.items():
            timer.host_seconds = host_seconds[key]
            # One untimed call first: every case is timed in its own steady state, not
            # in the cache and allocator state the previous case (often eager, with a
            # dozen temporaries) left behind; otherwise the order of cases biases them.
            function()
            samples[key].append(timer(function, repeat) / repeat)
    return {key: statistics.median(times) for key, times in samples.items()}


def report_size(numel: int, medians: Dict, args, device: torch.device, dtype: torch.dtype) -> Dict:
    """Print one size's table; return its machine-readable summary."""
    relu = medians["relu"]
    itemsize = torch.empty(0, dtype=dtype).element_size()
    cuda = device.type == "cuda"
    copy_gbps = 2 * itemsize * numel / medians["copy"] / 1e9 if cuda else None
    relu_gbps = TENSORS_MOVED * itemsize * numel / relu / 1e9
    head = f"\n{numel:,} elements, {args.dtype}, {device.type}: relu fwd+bwd {relu * 1e3:.3f} ms"
    if cuda:
        head += f" ({relu_gbps:.0f} GB/s); copy {medians['copy'] * 1e3:.3f} ms ({copy_gbps:.0f} GB/s)"
    print(head)
    columns = f"{'surrogate':30s} {'mode':6s} {'eager/relu':>10s} {'fused/relu':>10s}"
    if cuda:
        columns += f" {'eager GB/s':>10s} {'fused GB/s':>10s} {'fused %copy':>11s}"
    print(columns)
    rows = []
    for name in args.surrogates:
        for mode in args.modes:
            eager, fused_time = medians[f"{name}|{mode}|eager"], medians[f"{name}|{mode}|fused"]
            row = {"surrogate": name, "mode": mode, "eager_ms": eager * 1e3, "fused_ms": fused_time * 1e3,
                   "eager_over_relu": eager / relu, "fused_over_relu": fused_time / relu}
            line = f"{name:30s} {mode:6s} {eager / relu:10.2f} {fused_time / relu:10.2f}"
            if cuda:
                row["eager_gbps"] = TENSORS_MOVED * itemsize * numel / eager / 1e9
                row["fused_gbps"] = TENSORS_MOVED * itemsize * numel / fused_time / 1e9
                row["fused_fraction_of_copy"] = row["fused_gbps"] / copy_gbps
                line += (f" {row['eager_gbps']:10.0f} {row['fused_gbps']:10.0f}"
                         f" {100 * row['fused_fraction_of_copy']:10.1f}%")
            rows.append(row)
            print(line)
    return {"numel": numel, "relu_ms": relu * 1e3, "relu_gbps": relu_gbps if cuda else None,
            "copy_gbps": copy_gbps, "rows": rows}


def verdicts(results: List[Dict], args, device: torch.device) -> Dict:
    """The issue's targets, checked on what was measured (None where not measured)."""
    out = {}
    if device.type == "cpu" and args.dtype == "float32":
        big = [row for result in results if result["numel"] >= CPU_TARGET_MIN_NUMEL for row in result["rows"]]
        if big:
            worst = max(big, key=lambda row: row["fused_over_relu"])
            out["cpu_fused_max_over_relu_at_1e6_plus"] = worst["fused_over_relu"]
            out["cpu_worst_case"] = f"{worst['surrogate']}|{worst['mode']}"
            out["cpu_target_met"] = worst["fused_over_relu"] <= CPU_TARGET_RATIO
    if device.type == "cuda" and args.dtype == "float32":
        at_target = [result for result in results if result["numel"] == GPU_TARGET_NUMEL]
        if at_target:
            worst = min(at_target[0]["rows"], key=lambda row: row["fused_fraction_of_copy"])
            out["gpu_fused_min_fraction_of_copy_at_2_27"] = worst["fused_fraction_of_copy"]
            out["gpu_worst_case"] = f"{worst['surrogate']}|{worst['mode']}"
            out["gpu_target_met"] = worst["fused_fraction_of_copy"] >= GPU_TARGET_FRACTION
    return out


def crossovers(results: List[Dict]) -> Dict[str, int]:
    """Per surrogate, the smallest size from which fused is faster than eager at every larger size."""
    out = {}
    for name in sorted({row["surrogate"] for result in results for row in result["rows"]}):
        faster = [(result["numel"], row["fused_ms"] < row["eager_ms"])
                  for result in results for row in result["rows"] if row["surrogate"] == name]
        faster.sort()
        crossover = None
        for numel, is_faster in reversed(faster):
            if not is_faster:
                break
            crossover = numel
        out[name] = crossover
    return out


class _ReluFunction(torch.autograd.Function):
    """relu as a Python autograd.Function: the fixed cost of the mechanism spike() uses."""

    @staticmethod
    def forward(ctx, v):
        out = torch.relu(v)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return torch.ops.aten.threshold_backward(grad_output, out, 0)


def interleaved_medians(cases: Dict[str, Callable], rounds: int, repeat: int) -> Dict[str, float]:
    """Median seconds per call of each case (CPU wall clock), over interleaved rounds."""
    for function in cases.values():  # warm-up: compile, allocate
        function()
        function()
    samples: Dict[str, List[float]] = {key: [] for key in cases}
    for _ in range(rounds):
        for key, function in cases.items():
            function()
            start = time.perf_counter()
            for _ in range(repeat):
                function()
            samples[key].append((time.perf_counter() - start) / repeat)
    return {key: statistics.median(times) for key, times in samples.items()}


def kernels(args, device: torch.device, dtype: torch.dtype) -> Dict:
    """The compiled kernels timed alone, next to relu's own kernels; then fixed costs."""
    out = {}
    for numel in args.sizes:
        generator = torch.Generator().manual_seed(numel)
        v = (torch.randn(numel, generator=generator) + 0.5).to(device, dtype)
        g = torch.randn(numel, generator=generator).to(device, dtype)
        cases: Dict[str, Callable] = {
            "relu forward": lambda: torch.relu(v),
            "relu backward (threshold_backward)": lambda: torch.ops.aten.threshold_backward(g, v, 0)}
        for mode in args.modes:
            max_spikes = MAX_SPIKES if mode == "max" else None
            cases[f"fused forward, {mode}"] = (
                lambda mode=mode, max_spikes=max_spikes: fused.run_fused(spike_forward, v, 1.0, mode, max_spikes))
        for name in args.surrogates:
            surrogate = registry()[name]()
            cases[f"fused backward, {name}"] = (
                lambda surrogate=surrogate: fused.run_fused(surrogate_backward, g, v, 1.0, surrogate))
        medians = interleaved_medians(cases, args.rounds, max(1, min(50, (2 * 10**6) // numel)))
        print(f"\n{numel:,} elements, {args.dtype}: kernels alone, ms per call")
        for key, seconds in medians.items():
            print(f"  {key:44s} {seconds * 1e3:8.3f}")
        out[numel] = {key: seconds * 1e3 for key, seconds in medians.items()}
    v = torch.randn(100, device=device, dtype=dtype).requires_grad_()
    g = torch.randn(100, device=device, dtype=dtype)
    surrogate = registry()[args.surrogates[0]]()
    cases = {
        "relu forward+backward (C++ autograd node)": lambda: torch.autograd.grad(torch.relu(v), v, g),
        "relu forward+backward as a Python autograd.Function":
            lambda: torch.autograd.grad(_ReluFunction.apply(v), v, g),
        f"spike fused forward+backward ({type(surrogate).__name__})":
            lambda: torch.autograd.grad(spike(v, 1.0, surrogate, backend="fused"), v, g)}
    medians = interleaved_medians(cases, args.rounds, 200)
    print("\nfixed costs at 100 elements, us per call")
    for key, seconds in medians.items():
        print(f"  {key:58s} {seconds * 1e6:8.1f}")
    out["fixed_us_at_100"] = {key: seconds * 1e6 for key, seconds in medians.items()}
    return out


def main(argv=None) -> Dict:
    args = parse_args(argv)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    if args.kernels:
        summary = {"device": device.type, "dtype": args.dtype, "torch": torch.__version__,
                   "kernels_ms": kernels(args, device, dtype)}
        print("SUMMARY " + json.dumps(summary))
        return summary
    print(f"torch {torch.__version__}, {device.type}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else
             f", {torch.get_num_threads()} threads")
          + f"; auto uses fused from {fused.AUTO_MIN_NUMEL.get(device.type)} elements; "
            f"{args.rounds} interleaved rounds", flush=True)
    results = []
    for numel in args.sizes:
        start = time.perf_counter()
        medians = measure_size(numel, args, device, dtype)
        results.append(report_size(numel, medians, args, device, dtype))
        print(f"({time.perf_counter() - start:.0f} s with warm-up and compilation)", flush=True)
    summary = {"device": device.type, "dtype": args.dtype, "rounds": args.rounds,
               "torch": torch.__version__, "results": results}
    if args.crossover:
        summary["crossover_numel"] = crossovers(results)
        print("\nfused faster than eager from (elements):")
        for name, numel in summary["crossover_numel"].items():
            print(f"  {name:30s} {numel if numel is not None else 'not in the measured range'}")
    else:
        summary["targets"] = verdicts(results, args, device)
        print("\ntargets:", json.dumps(summary["targets"]))
    print("SUMMARY " + json.dumps(summary))
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
