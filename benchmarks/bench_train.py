"""Benchmark of the training engine (a benchmark, not a test: it prints figures).

(a) Wall seconds of a complete default run, ``list(train(TrainConfig()))``, with its final
    test accuracy and the latency of the first record. The first run in the process
    (cold: data generated, caches empty) is reported apart from the median of the later runs.
(b) Seconds per optimizer step (forward, backward, Adam) of ``SNN([100, 128, 10])`` with
    T = 100, batch 64 and Poisson input, against a plain-torch reference loop written below
    in the style of the spytorch tutorials (same math: LIF with subtractive, non-detached
    reset, fast-sigmoid surrogate, leaky readout, max-over-time cross-entropy). The two are
    timed in alternation, and the median over repeats is reported with the ratio.

(c) The default run of (a) through the native kernels (sgexplore.native, which ``train()``
    uses for this network) against the network module (``SGEXPLORE_NATIVE=0``), interleaved.

    .venv/bin/python benchmarks/bench_train.py [--repeats 7] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F

from sgexplore import native
from sgexplore.snn import SNN
from sgexplore.surrogates import FastSigmoid
from sgexplore.train import TrainConfig, train

T, BATCH, N_IN, N_HIDDEN, N_OUT = 100, 64, 100, 128, 10
BETA, THRESHOLD, SLOPE, RATE = 0.9, 1.0, 10.0, 0.05


# -- the plain-torch reference ----------------------------------------------------------

class ReferenceSpike(torch.autograd.Function):
    """Heaviside forward, fast-sigmoid surrogate backward (spytorch's SurrGradSpike)."""

    @staticmethod
    def forward(ctx, v_minus_threshold):
        ctx.save_for_backward(v_minus_threshold)
        return (v_minus_threshold >= 0).float()

    @staticmethod
    def backward(ctx, grad_output):
        (v_minus_threshold,) = ctx.saved_tensors
        return grad_output / (SLOPE * torch.abs(v_minus_threshold) + 1.0) ** 2


def reference_forward(x: torch.Tensor, w_hidden: torch.Tensor, w_out: torch.Tensor,
                      unbind: bool = False) -> torch.Tensor:
    """LIF hidden layer and leaky readout as a plain loop over time; returns (T, B, n_out).

    ``unbind=False`` indexes ``current[t]`` at each step, as tutorials do; ``unbind=True``
    walks ``current.unbind(0)``, the one change that avoids a full-size gradient buffer per
    step in the backward pass.
    """
    hidden_current = x @ w_hidden.t()
    v_mem = torch.zeros(x.shape[1], w_hidden.shape[0])
    spikes = []
    for current in _time_slices(hidden_current, unbind):
        v_mem = BETA * v_mem + current
        s = ReferenceSpike.apply(v_mem - THRESHOLD)
        v_mem = v_mem - s * THRESHOLD
        spikes.append(s)
    out_current = torch.stack(spikes) @ w_out.t()
    u = torch.zeros(x.shape[1], w_out.shape[0])
    readout = []
    for current in _time_slices(out_current, unbind):
        u = BETA * u + current
        readout.append(u)
    return torch.stack(readout)


def _time_slices(tensor: torch.Tensor, unbind: bool):
    return tensor.unbind(0) if unbind else (tensor[t] for t in range(tensor.shape[0]))


# -- (b) seconds per optimizer step ------------------------------------------------------

def _optimizer_step(forward, params):
    """A closure doing one forward, backward and Adam step of ``forward``, and its parameters."""
    optimizer = torch.optim.Adam(params, lr=1e-3)

    def step(x, y):
        loss = F.cross_entropy(forward(x).amax(0), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def _seconds_per_step(step, x, y, n_steps: int):
    """(wall, CPU) seconds per step; CPU time is the steadier figure on a shared machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n_steps):
        step(x, y)
    return (time.perf_counter() - wall) / n_steps, (time.process_time() - cpu) / n_steps


def bench_step(repeats: int, n_steps: int) -> dict:
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(T, BATCH, N_IN, generator=generator) < RATE).float()
    y = torch.randint(0, N_OUT, (BATCH,), generator=generator)
    net = SNN([N_IN, N_HIDDEN, N_OUT], FastSigmoid(slope=SLOPE), beta=BETA,
              spike_threshold=THRESHOLD, weight_scale=5.0, generator=generator)
    weights = {name: [net.hidden[0].weight.detach().clone().requires_grad_(),
                      net.readout.weight.detach().clone().requires_grad_()]
               for name in ("indexing", "unbind")}

    # Same math: before any update, all three give the same loss and hidden-weight gradient.
    F.cross_entropy(net(x).amax(0), y).backward()
    for name, (w_hidden, w_out) in weights.items():
        F.cross_entropy(reference_forward(x, w_hidden, w_out, name == "unbind").amax(0), y).backward()
        assert torch.allclose(net.hidden[0].weight.grad, w_hidden.grad, rtol=1e-4, atol=1e-6), name
        assert torch.allclose(net.readout.weight.grad, w_out.grad, rtol=1e-4, atol=1e-6), name
    with torch.no_grad():
        spike_rate = float(net(x, record=True)[1][0].mean())

    steps = {
        "sgexplore": _optimizer_step(net, net.parameters()),
        "reference (x[t])": _optimizer_step(
            lambda x: reference_forward(x, *weights["indexing"]), weights["indexing"]),
        "reference (unbind)": _optimizer_step(
            lambda x: reference_forward(x, *weights["unbind"], unbind=True), weights["unbind"]),
    }
    for step in steps.values():  # warm-up
        _seconds_per_step(step, x, y, 2)
    seconds = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            seconds[name].append(_seconds_per_step(step, x, y, n_steps))
    result = dict(spike_rate=spike_rate)
    for clock, i in (("wall", 0), ("cpu", 1)):
        ours = [s[i] for s in seconds["sgexplore"]]
        result[clock] = {name: statistics.median(s[i] for s in times) for name, times in seconds.items()}
        result[clock + "_ratio"] = {name: statistics.median(o / s[i] for o, s in zip(ours, times))
                                    for name, times in seconds.items() if name != "sgexplore"}
    return result


# -- (a) the default run ------------------------------------------------------------------

def _one_run(config: TrainConfig):
    start, cpu = time.perf_counter(), time.process_time()
    records = train(config)
    first = next(records)
    first_s = time.perf_counter() - start
    rest = list(records)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    last = rest[-1] if rest else first
    return wall, first_s, last.test_accuracy, last.status, cpu


def bench_default_run(repeats: int) -> dict:
    config = TrainConfig()
    cold = _one_run(config)
    warm = [_one_run(config) for _ in range(repeats)]
    return dict(cold_wall=cold[0], cold_first=cold[1], cold_cpu=cold[4],
                cpu=statistics.median(w[4] for w in warm), wall=statistics.median(w[0] for w in warm),
                first=statistics.median(w[1] for w in warm), test_accuracy=warm[-1][2],
                status=warm[-1][3], chance=1 / config.classes, steps=config.steps)


def bench_native(repeats: int) -> dict:
    """Wall seconds of the default run with the native kernels and with the network module."""
    config = TrainConfig()
    if native.unavailable_reason() is not None:
        raise SystemExit(f"(c) needs the native kernels: {native.unavailable_reason()}")
    list(train(config))  # kernels built and data cached before timing
    times = {"native": [], "module": []}
    for _ in range(repeats):
        for name in times:
            if name == "module":
                os.environ[native.ENV_SWITCH] = "0"
            start = time.perf_counter()
            list(train(config))
            times[name].append(time.perf_counter() - start)
            os.environ.pop(native.ENV_SWITCH, None)
    ratios = [n / m for n, m in zip(times["native"], times["module"])]
    return dict(native=statistics.median(times["native"]), module=statistics.median(times["module"]),
                ratio=statistics.median(ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10, help="optimizer steps per timing in (b)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for (b)")
    args = parser.parse_args()

    a = bench_default_run(args.repeats)
    print(f"(a) default run, {a['steps']} steps ({TrainConfig().threads} thread(s) inside train):")
    print(f"    cold first run  {a['cold_wall']:.3f} s wall, {a['cold_cpu']:.3f} s CPU "
          f"(first record after {a['cold_first'] * 1e3:.0f} ms)")
    print(f"    warm, median    {a['wall']:.3f} s wall, {a['cpu']:.3f} s CPU "
          f"(first record after {a['first'] * 1e3:.0f} ms)")
    print(f"    final test accuracy {a['test_accuracy']:.3f} (chance {a['chance']:.3f}), status {a['status']}")

    c = bench_native(args.repeats)
    print(f"(c) default run through the native kernels against the network module "
          f"({native.ENV_SWITCH}=0), medians of {args.repeats} interleaved repeats:")
    print(f"    kernels {c['native']:.3f} s wall, module {c['module']:.3f} s wall, "
          f"ratio {c['ratio']:.3f} (median of the per-repeat ratios)")

    torch.set_num_threads(args.threads)
    b = bench_step(args.repeats, args.steps)
    print(f"(b) SNN([{N_IN}, {N_HIDDEN}, {N_OUT}]), T={T}, batch {BATCH}, Poisson p={RATE}, "
          f"{args.threads} thread(s), hidden spike rate {b['spike_rate']:.3f}:")
    print(f"    {'':<20} {'wall ms/step':>12} {'CPU ms/step':>12}")
    for name in b["wall"]:
        print(f"    {name:<20} {b['wall'][name] * 1e3:12.2f} {b['cpu'][name] * 1e3:12.2f}")
    for name in b["wall_ratio"]:
        print(f"    sgexplore / {name:<20} wall {b['wall_ratio'][name]:.3f}, CPU {b['cpu_ratio'][name]:.3f}"
              f" (medians of {args.repeats} interleaved ratios)")


if __name__ == "__main__":
    main()
