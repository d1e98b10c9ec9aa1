"""Probe: can MultiGaussian's backward reach the CPU target with any kernel we could write?

Issue 6 asks for fused spike forward+backward at most 1.3x relu forward+backward at 1e6
elements. MultiGaussian's backward needs three exponentials per element. This script
times, side by side at 1e6 float32 elements (medians of interleaved rounds):

* relu's forward and backward kernels (the budget: 1.3x their sum, less the spike
  forward and the fixed costs, leaves about 0.4 ms for the backward here);
* sgexplore's fused backward (Inductor-compiled ``grad_output * surrogate.grad``);
* a hand-vectorised C++ backward (ATen's ``Vectorized<float>``, ``at::parallel_for``),
  built here with ``torch.utils.cpp_extension.load_inline`` (~20 s, needs g++), once with
  the SLEEF ``exp`` Inductor also uses and once with ATen's faster, less exact
  ``exp_u20``.

The C++ kernel is a probe only: the package does not use it. It prints the error of each
against float64, and the times. Usage: ``PYTHONPATH=. python benchmarks/probe_multigaussian_cpu.py``.
"""

from __future__ import annotations

import time

import torch
from torch.utils.cpp_extension import load_inline

from bench_spike import interleaved_medians  # this script's folder is on sys.path
from sgexplore import fused
from sgexplore.spike import surrogate_backward
from sgexplore.surrogates import MultiGaussian

CPP = r'''
#include <torch/extension.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/Parallel.h>
using Vec = at::vec::Vectorized<float>;

template <bool FAST_EXP>
torch::Tensor backward(torch::Tensor g, torch::Tensor v, double thr, double mu, double sigma,
                       double h, double s, double norm_narrow, double norm_wide, double scale) {
  auto out = torch::empty_like(v);
  const float* gp = g.data_ptr<float>();
  const float* vp = v.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const double wide = s * sigma;
  const Vec threshold(thr), centre(mu), shift(sigma);
  const Vec narrow_rate(-1.0 / (2 * sigma * sigma)), wide_rate(-1.0 / (2 * wide * wide));
  const Vec narrow_gain((1 + h) / norm_narrow * scale), wide_gain(h / norm_wide * scale);
  auto exp = [](Vec x) { return FAST_EXP ? x.exp_u20() : x.exp(); };
  at::parallel_for(0, v.numel(), 32768, [&](int64_t begin, int64_t end) {
    int64_t i = begin;
    for (; i + Vec::size() <= end; i += Vec::size()) {
      Vec x = Vec::loadu(vp + i) - threshold;
      Vec d0 = x - centre, d1 = x - shift, d2 = x + shift;
      Vec surrogate = narrow_gain * exp(d0 * d0 * narrow_rate)
                      - wide_gain * (exp(d1 * d1 * wide_rate) + exp(d2 * d2 * wide_rate));
      (Vec::loadu(gp + i) * surrogate).store(op + i);
    }
    if (i < end) {  // the tail, through the same vector code on a partial load
      int64_t rest = end - i;
      Vec x = Vec::loadu(vp + i, rest) - threshold;
      Vec d0 = x - centre, d1 = x - shift, d2 = x + shift;
      Vec surrogate = narrow_gain * exp(d0 * d0 * narrow_rate)
                      - wide_gain * (exp(d1 * d1 * wide_rate) + exp(d2 * d2 * wide_rate));
      (Vec::loadu(gp + i, rest) * surrogate).store(op + i, rest);
    }
  });
  return out;
}
torch::Tensor backward_sleef(torch::Tensor g, torch::Tensor v, double thr, double mu, double sigma,
    double h, double s, double n1, double n2, double scale) {
  return backward<false>(g, v, thr, mu, sigma, h, s, n1, n2, scale);
}
torch::Tensor backward_exp_u20(torch::Tensor g, torch::Tensor v, double thr, double mu, double sigma,
    double h, double s, double n1, double n2, double scale) {
  return backward<true>(g, v, thr, mu, sigma, h, s, n1, n2, scale);
}
'''
AVX512_FLAGS = ["-O3", "-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mfma",
                "-DCPU_CAPABILITY_AVX512", "-DCPU_CAPABILITY=AVX512", "-fopenmp"]


def main():
    start = time.perf_counter()
    extension = load_inline("sgexplore_probe_multigaussian", cpp_sources=[CPP],
                            functions=["backward_sleef", "backward_exp_u20"],
                            extra_cflags=AVX512_FLAGS, extra_ldflags=["-fopenmp"])
    print(f"built the probe extension in {time.perf_counter() - start:.0f} s")
    surrogate = MultiGaussian()
    narrow_norm, wide_norm = surrogate._norms
    parameters = (1.0, surrogate.mu, surrogate.sigma, surrogate.h, surrogate.s, narrow_norm, wide_norm,
                  surrogate.grad_scale)
    generator = torch.Generator().manual_seed(0)
    v = torch.randn(10**6, generator=generator) + 0.5
    g = torch.randn(10**6, generator=generator)
    compiled = fused._compile(surrogate_backward, (g, v, 1.0, surrogate))
    cases = {
        "relu forward": lambda: torch.relu(v),
        "relu backward (threshold_backward)": lambda: torch.ops.aten.threshold_backward(g, v, 0),
        "sgexplore fused backward (Inductor)": lambda: compiled(g, v, 1.0, surrogate),
        "C++ backward, SLEEF exp": lambda: extension.backward_sleef(g, v, *parameters),
        "C++ backward, ATen exp_u20": lambda: extension.backward_exp_u20(g, v, *parameters),
    }
    exact = surrogate_backward(g.double(), v.double(), 1.0, surrogate)
    for key in list(cases)[2:]:
        error = (cases[key]().double() - exact).abs().max() / exact.abs().max()
        print(f"{key:40s} max error / max |grad| = {error.item():.1e}")
    times = interleaved_medians(cases, rounds=21, repeat=10)
    relu = times["relu forward"] + times["relu backward (threshold_backward)"]
    print(f"\n1,000,000 float32 elements, {torch.get_num_threads()} threads; ms, and ratio to relu's two kernels")
    for key, seconds in times.items():
        print(f"  {key:40s} {seconds * 1e3:7.3f}  {seconds / relu:5.2f}")


if __name__ == "__main__":
    main()
