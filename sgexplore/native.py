"""A native kernel for the ensemble's commonest network: one C loop for the whole network.

:func:`sgexplore.ensemble.train_many` spends most of its time in elementwise passes over
``(N, T, B, H)`` tensors, one per op: the LIF time loop, the surrogate derivative (about ten
ops) and the backward recurrence each read and write the whole tensor again. For the
network the sweeps train (one hidden layer, no recurrent weights, the subtract reset or
none, single spikes, float32 on the CPU) this module compiles one C function for the
forward pass (input spikes -> LIF -> readout -> its maximum over time, the logits) and one
for the backward pass (logit gradients -> readout -> surrogate derivative -> recurrence ->
weight gradients), each
looping over configurations and samples with one sample's ``(T, H)`` block in cache.

**The surrogate is not rewritten by hand.** Its ``grad`` method is traced to an ATen graph
(as :mod:`sgexplore.fused` traces it, every float attribute a runtime input), and each
node becomes one line of C (:func:`c_source`). A graph with an op the translator does not
know, a float64 value, or a Python number read back from a tensor is not translated, and
the ensemble keeps its PyTorch path. Every translated kernel is checked against
``surrogate.grad`` on a probe of membrane values before it is used (:func:`kernels_for`).

What differs from the PyTorch path (``tests/test_native.py`` holds the two together):

* ``exp`` is a polynomial (Cephes' ``expf``, within 2 ulp of the exact value), flushed to
  0 at or below ``e**-87`` as the ensemble's ``exp`` is;
* sums run in a fixed order (a readout current adds the weights of the units that fired, in
  the order of the units), and the C is compiled with ``-ffp-contract=off``, so results do
  not depend on the CPU's vector width; they differ from PyTorch's in the last bits.

Compiling needs a C compiler (``$CC``, else ``cc``) on a POSIX system. A kernel takes about
0.3 s to compile, plus, once per process, about 1 s to import torch's tracer where the
translation is not cached yet; both are cached on disk (:func:`cache_dir`), per source (the
surrogate's translation and the layer sizes), compiler and machine. The loops run on one
thread: a sweep's parallelism is its worker processes. ``SGEXPLORE_NATIVE=0`` turns the native path off. :func:`unavailable_reason` says
why it cannot run here; the ensemble then uses PyTorch, with the same results up to rounding.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import inspect
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from .fused import _rebuild, _runtime_floats, drop_identity_ops, multiply_by_reciprocals, user_temp_dir
from .surrogates import Surrogate

__all__ = ["unavailable_reason", "c_source", "sg_expression", "kernels_for", "cache_dir", "Untranslatable",
           "NativeKernel", "ENV_SWITCH", "InputSpikes", "spike_lists", "NativeNetwork", "native_forward"]

#: Environment variable that turns the native path off when set to ``0``.
ENV_SWITCH = "SGEXPLORE_NATIVE"

_PRELUDE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

/* exp(x) for float32: Cephes' expf polynomial, 0 at or below e**-87 (as the ensemble's
   flushed exp), +inf above float32's range, NaN for NaN. Branch-free, so loops vectorise. */
static inline float sg_exp(float x) {
    float xc = x < -87.0f ? -87.0f : (x > 88.72283935546875f ? 88.72283935546875f : x);
    xc = x != x ? 0.0f : xc;             /* converting a NaN to int is undefined in C */
    float t = xc * 1.44269504088896341f + 12582912.0f;   /* round(x / ln 2) by 1.5 * 2**23 */
    float n = t - 12582912.0f;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * (r * r) + r + 1.0f;
    int32_t k = (int32_t)n;
    int32_t top = k > 127;               /* 2**128 is not a float: scale by 2**127, then 2 */
    int32_t bits = (k - top + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float e = y * scale;
    e = top ? e * 2.0f : e;
    e = x <= -87.0f ? 0.0f : e;
    e = x > 88.72283935546875f ? INFINITY : e;
    return x != x ? x : e;
}
"""

_KERNELS = r"""
/* HID (hidden units) and CLS (readout classes) are compile-time constants: the loops over
   them then unroll and vectorise without remainders or runtime alias checks.
   Layouts (contiguous): times, units (N, B, M) int64 and values (N, B, M) float: each
   sample's input spikes, padded with value 0; w_in_t (N, I, HID); w_out (N, CLS, HID);
   logits and g_logits (N, B, CLS). */

static void input_currents(int64_t n, int64_t b, int64_t B, int64_t T, int64_t I, int64_t M,
                           const int64_t* restrict times, const int64_t* restrict units,
                           const float* restrict values, const float* restrict w_in_t,
                           float* restrict cur) {
    memset(cur, 0, sizeof(float) * T * HID);
    const int64_t base = (n * B + b) * M;
    for (int64_t m = 0; m < M; m++) {
        const float value = values[base + m];
        if (value == 0.0f) continue;
        const float* restrict column = w_in_t + (n * I + units[base + m]) * HID;
        float* restrict row = cur + times[base + m] * HID;
        for (int h = 0; h < HID; h++) row[h] += column[h] * value;
    }
}

/* The LIF layer of sample (n, b) over time: membranes before the reset into u (T, HID), the
   readout currents into oc (T, CLS) unless it is NULL, and the count of spikes. */
static int64_t lif_sample(int64_t n, int64_t b, int64_t B, int64_t T, int64_t I, int64_t M,
                          const int64_t* restrict times, const int64_t* restrict units,
                          const float* restrict values, const float* restrict w_in_t,
                          const float* restrict w_out, float thr, float beta, int subtract,
                          float* restrict u, float* restrict oc) {
    input_currents(n, b, B, T, I, M, times, units, values, w_in_t, u);
    const float* restrict wo = w_out + n * CLS * HID;
    float v[HID];
    int64_t count = 0;
    memset(v, 0, sizeof v);
    for (int64_t t = 0; t < T; t++) {
        float* restrict ut = u + t * HID;   /* holds the input current, becomes the membrane */
        int fired_here = 0;  /* an integer: a float sum would not vectorise */
        for (int h = 0; h < HID; h++) {
            float now = ut[h] + beta * v[h];
            float fired = now >= thr ? 1.0f : 0.0f;
            fired_here += now >= thr;
            v[h] = subtract ? now - fired * thr : now;
            ut[h] = now;
        }
        count += fired_here;
        if (!oc) continue;
        /* spikes are 0 or 1: a readout current is the sum of the weights of the units that
           fired, in the order of the units */
        float* restrict o = oc + t * CLS;
        for (int c = 0; c < CLS; c++) o[c] = 0.0f;
        if (fired_here) {
            int fired_at[HID], k = 0;
            for (int h = 0; h < HID; h++) {  /* without a branch per unit: spikes are irregular */
                fired_at[k] = h;
                k += ut[h] >= thr;
            }
            for (int j = 0; j < k; j++)
                for (int c = 0; c < CLS; c++) o[c] += wo[c * HID + fired_at[j]];
        }
    }
    return count;
}

/* The readout: a leaky integrator r[t] = beta r[t-1] + oc[t] of the readout currents (into
   r, (T, CLS)), and its maximum over time, the logits (a NaN anywhere makes the maximum NaN,
   as torch.amax does). */
static void readout_max(int64_t T, float beta, const float* restrict oc, float* restrict r,
                        float* restrict logits) {
    float level[CLS];
    for (int c = 0; c < CLS; c++) { level[c] = 0.0f; logits[c] = -INFINITY; }
    for (int64_t t = 0; t < T; t++)
        for (int c = 0; c < CLS; c++) {
            level[c] = beta * level[c] + oc[t * CLS + c];
            r[t * CLS + c] = level[c];
            if (level[c] > logits[c] || level[c] != level[c]) logits[c] = level[c];
        }
}

/* The bin of each of the K membranes in u, into at: i = trunc(clamp(v * scale + offset, 0,
   bins - 0.5)), sgexplore.lens's arithmetic in the same order and precision (a multiply,
   then an add: -ffp-contract=off keeps them unfused), so a value gets the bin the lens's
   own binning gives it; a NaN gets index bins (the count after the bins). */
static void bin_indices(int64_t K, const float* restrict u, int64_t bins, float scale, float offset,
                        int32_t* restrict at) {
    const float top = (float)bins - 0.5f;
    const int32_t nan_at = (int32_t)bins;
    for (int64_t k = 0; k < K; k++) {  /* without branches, so that it vectorises */
        float p = u[k] * scale;
        p = p + offset;
        float low = p > 0.0f ? p : 0.0f;  /* NaN compares false: 0 here, nan_at below */
        float clamped = low < top ? low : top;
        at[k] = p == p ? (int32_t)clamped : nan_at;
    }
}

/* Counts the K indices in at into hist (bins + 1 counts). */
static void count_indices(int64_t K, const int32_t* restrict at, int64_t* restrict hist) {
    for (int64_t k = 0; k < K; k++) hist[at[k]]++;
}

/* Logits (N, B, CLS) of every sample, each configuration's spike count (counts may be
   NULL), and the readout membranes (N, B, T, CLS) for the backward (readouts may be NULL).
   The hidden membranes are not kept for the backward, which recomputes them sample by
   sample (that costs less than writing them to memory and reading them back). On the
   lens's steps the forward bins them, before the reset, into histograms (N, bins + 1): the
   counts of bin_indices's bins, then of NaNs (else NULL); membranes (N, B, T, HID) receives
   the membranes themselves (else NULL: the tests compare the two). */
int sgx_forward(int64_t N, int64_t B, int64_t T, int64_t I, int64_t M,
                const int64_t* restrict times, const int64_t* restrict units,
                const float* restrict values, const float* restrict w_in_t,
                const float* restrict w_out, float thr, float beta, int subtract,
                int64_t* restrict counts, float* restrict logits, float* restrict readouts,
                float* restrict membranes, int64_t bins, float bin_scale, float bin_offset,
                int64_t* restrict histograms) {
    float* u = malloc(sizeof(float) * T * (HID + 2 * CLS));
    if (!u) return 1;
    int32_t* at = NULL;
    if (histograms) {
        at = malloc(sizeof(int32_t) * T * HID);
        if (!at) { free(u); return 1; }
    }
    float* restrict oc = u + T * HID;
    float* restrict scratch = oc + T * CLS;
    for (int64_t n = 0; n < N; n++) {
        int64_t count = 0;
        for (int64_t b = 0; b < B; b++) {
            count += lif_sample(n, b, B, T, I, M, times, units, values, w_in_t, w_out, thr, beta,
                                subtract, u, oc);
            if (membranes) memcpy(membranes + (n * B + b) * T * HID, u, sizeof(float) * T * HID);
            if (histograms) {  /* while the sample's membranes are still in the cache */
                bin_indices(T * HID, u, bins, bin_scale, bin_offset, at);
                count_indices(T * HID, at, histograms + n * (bins + 1));
            }
            float* restrict r = readouts ? readouts + (n * B + b) * T * CLS : scratch;
            readout_max(T, beta, oc, r, logits + (n * B + b) * CLS);
        }
        if (counts) counts[n] = count;
    }
    free(u);
    free(at);
    return 0;
}

int sgx_backward(int64_t n0, int64_t n1, int64_t B, int64_t T, int64_t I, int64_t M,
                 const int64_t* restrict times, const int64_t* restrict units,
                 const float* restrict values, const float* restrict w_in_t,
                 const float* restrict w_out, const float* restrict logits,
                 const float* restrict readouts, const float* restrict g_logits, float thr, float beta,
                 int subtract, const float* restrict keep, const float* restrict scale,
                 const float* restrict p, float* restrict g_w_in_t, float* restrict g_w_out) {
    float* u = malloc(sizeof(float) * T * (2 * HID + CLS));
    if (!u) return 1;
    float* restrict g_cur = u + T * HID;
    float* restrict g_oc = g_cur + T * HID;
    float carry[HID], g_s[HID];  /* carry: g_u of the step after */
    for (int64_t n = n0; n < n1; n++) {
        const float* restrict wo = w_out + n * CLS * HID;
        float* restrict gwo = g_w_out + n * CLS * HID;
        const float scale_n = scale[n];
        const float decay_slope = keep[n] * (-thr * beta);   /* d(decay)/d(sg) */
        for (int64_t b = 0; b < B; b++) {
            lif_sample(n, b, B, T, I, M, times, units, values, w_in_t, w_out, thr, beta, subtract,
                       u, NULL);
            /* the maximum's gradient, shared equally by the time steps that reach it (as
               torch.amax's), then back through the leaky integrator */
            float share[CLS], acc[CLS];
            const float* restrict top = logits + (n * B + b) * CLS;
            const float* restrict r = readouts + (n * B + b) * T * CLS;
            const float* restrict gl = g_logits + (n * B + b) * CLS;
            for (int c = 0; c < CLS; c++) {
                int64_t ties = 0;
                for (int64_t t = 0; t < T; t++) ties += r[t * CLS + c] == top[c];
                share[c] = gl[c] / (float)ties;
                acc[c] = 0.0f;
            }
            for (int64_t t = T - 1; t >= 0; t--)
                for (int c = 0; c < CLS; c++) {
                    float at_top = r[t * CLS + c] == top[c] ? share[c] : 0.0f;
                    acc[c] = at_top + beta * acc[c];
                    g_oc[t * CLS + c] = acc[c];
                }
            memset(carry, 0, sizeof carry);
            for (int64_t t = T - 1; t >= 0; t--) {
                const float* restrict ut = u + t * HID;
                float g_o[CLS];
                for (int c = 0; c < CLS; c++) g_o[c] = g_oc[t * CLS + c];
                for (int h = 0; h < HID; h++) {
                    float sum = 0.0f;
                    for (int c = 0; c < CLS; c++) sum += g_o[c] * wo[c * HID + h];
                    g_s[h] = sum;
                }
                float* restrict gu = g_cur + t * HID;
                int fired_here = 0;
                for (int h = 0; h < HID; h++) {
                    /* g_u[t] = g_s[t] sg[t] + g_u[t+1] beta (1 - thr keep sg[t]) */
                    float sg = SG(ut[h], thr, p) * scale_n;
                    float decay = subtract ? beta + sg * decay_slope : beta;
                    float g = g_s[h] * sg + carry[h] * decay;
                    gu[h] = g;
                    carry[h] = g;
                    fired_here |= ut[h] >= thr;
                }
                /* the readout's weight gradient: g_o[c] added where a unit fired (s is 0 or 1;
                   adding g_o[c] * 0 changes nothing, and vectorises where a branch would not) */
                if (fired_here)
                    for (int c = 0; c < CLS; c++)
                        for (int h = 0; h < HID; h++)
                            gwo[c * HID + h] += g_o[c] * (ut[h] >= thr ? 1.0f : 0.0f);
            }
            const int64_t base = (n * B + b) * M;
            for (int64_t m = 0; m < M; m++) {
                const float value = values[base + m];
                if (value == 0.0f) continue;
                float* restrict column = g_w_in_t + (n * I + units[base + m]) * HID;
                const float* restrict gu = g_cur + times[base + m] * HID;
                for (int h = 0; h < HID; h++) column[h] += gu[h] * value;
            }
        }
    }
    free(u);
    return 0;
}

/* The surrogate alone, for the check against surrogate.grad. */
void sgx_surrogate(int64_t count, const float* restrict v, float thr, const float* restrict p,
                   float* restrict out) {
    for (int64_t k = 0; k < count; k++) out[k] = SG(v[k], thr, p);
}
"""


class Untranslatable(Exception):
    """A surrogate's ``grad`` uses something :func:`sg_expression` cannot write in C."""


class _CompileError(RuntimeError):
    """The compiler ran and rejected one kernel's source."""


def _literal(value: float) -> str:
    """A Python number as a C float: its exact double, rounded to float as PyTorch rounds a
    Python scalar applied to a float32 tensor."""
    value = float(value)
    if value != value:
        return "NAN"
    if value in (float("inf"), float("-inf")):
        return "INFINITY" if value > 0 else "(-INFINITY)"
    return f"((float){value.hex()})"


def _binary(symbol):
    return lambda self, other, **_: f"({self} {symbol} {other})"


def _compare(symbol):
    return lambda self, other, **_: f"(({self} {symbol} {other}) ? 1.0f : 0.0f)"


def _unary(form):
    return lambda self, **_: form.format(self)


def _scaled(form):
    """``self ± alpha·other`` (alpha a number, 1 by default)."""
    return lambda self, other, alpha=1, **_: form.format(
        self=self, other=other if alpha == 1 else f"{_literal(alpha)} * {other}")


def _pow(self, exponent, **_):
    # ATen's pow with these scalar exponents is exactly these products (no powf)
    forms = {1: "{0}", 2: "({0} * {0})", 3: "({0} * {0} * {0})", -1: "(1.0f / {0})",
             -2: "(1.0f / ({0} * {0}))", 0.5: "sqrtf({0})", -0.5: "(1.0f / sqrtf({0}))", 0: "1.0f"}
    if not isinstance(exponent, (int, float)) or exponent not in forms:
        raise Untranslatable(f"pow with exponent {exponent!r}")
    return forms[exponent].format(self)


def _clamp(self, min=None, max=None, **_):  # noqa: A002 - the schema's names
    out = self
    if min is not None:
        out = f"({out} < {min} ? {min} : {out})"
    if max is not None:
        out = f"({out} > {max} ? {max} : {out})"
    return out


#: ATen op (its packet name and overload) -> C, for what surrogates' ``grad`` methods use.
#: Each takes the op's arguments by their schema names, tensors and numbers as C text except
#: those in :data:`_NUMBER_ARGUMENTS`.
_OPS = {
    "add.Tensor": _scaled("({self} + {other})"),
    "sub.Tensor": _scaled("({self} - {other})"),
    "rsub.Scalar": lambda self, other, alpha=1, **_: _scaled("({self} - {other})")(other, self, alpha),  # other - alpha·self
    "mul.Tensor": _binary("*"),
    "div.Tensor": _binary("/"),
    "neg.default": _unary("(-{0})"),
    "abs.default": _unary("fabsf({0})"),
    "exp.default": _unary("sg_exp({0})"),
    "reciprocal.default": _unary("(1.0f / {0})"),
    "sqrt.default": _unary("sqrtf({0})"),
    "floor.default": _unary("floorf({0})"),
    "ceil.default": _unary("ceilf({0})"),
    "rsqrt.default": _unary("(1.0f / sqrtf({0}))"),
    "sigmoid.default": _unary("(1.0f / (1.0f + sg_exp(-{0})))"),
    "pow.Tensor_Scalar": _pow,
    "lt.Tensor": _compare("<"), "lt.Scalar": _compare("<"),
    "le.Tensor": _compare("<="), "le.Scalar": _compare("<="),
    "gt.Tensor": _compare(">"), "gt.Scalar": _compare(">"),
    "ge.Tensor": _compare(">="), "ge.Scalar": _compare(">="),
    "eq.Tensor": _compare("=="), "eq.Scalar": _compare("=="),
    "ne.Tensor": _compare("!="), "ne.Scalar": _compare("!="),
    "logical_not.default": _unary("({0} == 0.0f ? 1.0f : 0.0f)"),
    "bitwise_not.default": _unary("(1.0f - {0})"),                   # on bools only (0 or 1)
    "logical_and.default": lambda self, other, **_: f"(({self} != 0.0f && {other} != 0.0f) ? 1.0f : 0.0f)",
    "bitwise_and.Tensor": _binary("*"),                              # on bools only (0 or 1)
    "where.self": lambda condition, self, other, **_: f"({condition} != 0.0f ? {self} : {other})",
    "clamp.default": _clamp,
    "clamp_min.default": _clamp,
    "clamp_max.default": _clamp,
    "ones_like.default": lambda **_: "1.0f",
    "zeros_like.default": lambda **_: "0.0f",
    "full_like.default": lambda fill_value, **_: _literal(fill_value),
    "_to_copy.default": _unary("{0}"),          # only to float32 (checked), from float or bool
    "clone.default": _unary("{0}"),
    "alias.default": _unary("{0}"),
    "detach.default": _unary("{0}"),
    "lift_fresh_copy.default": _unary("{0}"),
}

#: Arguments a mapping reads as numbers (an exponent picks a formula), not as C text.
_NUMBER_ARGUMENTS = ("alpha", "exponent", "fill_value")
#: The arguments of tensors and numbers; the others (dtype, layout, device, ...) are checked
#: where they matter (``_to_copy``'s dtype) and otherwise have no C.
_VALUE_ARGUMENTS = ("self", "other", "condition", "min", "max") + _NUMBER_ARGUMENTS


#: The ops whose result may be a bool (0.0 or 1.0 in C); any other op on bools is refused.
_BOOL_RESULTS = frozenset(key for key in _OPS if key.split(".")[0] in (
    "lt", "le", "gt", "ge", "eq", "ne", "logical_not", "bitwise_not", "logical_and", "bitwise_and",
    "where", "_to_copy", "clone", "alias", "detach", "lift_fresh_copy"))


def _trace(unit: Surrogate):
    """``unit.grad(v, thr)`` as an ATen graph whose inputs are ``v``, then its runtime floats
    (the threshold's last), and those floats."""
    from torch.fx.experimental.proxy_tensor import make_fx

    for name, value in vars(unit).items():
        # anything but plain values could change in place and leave a compiled kernel stale
        if not isinstance(value, (int, float, str, type(None))) and not (
                type(value) is tuple and all(isinstance(item, (int, float)) for item in value)):
            raise Untranslatable(f"its attribute {name} is a {type(value).__name__}, not a number")
    args = (unit, torch.zeros(8), 1.0)
    floats = _runtime_floats(args)

    def on_inputs(v, *scalars):
        rebuilt = _rebuild(args, [v], scalars)
        return rebuilt[0].grad(rebuilt[1], rebuilt[2])

    example = [torch.zeros(8)] + [torch.tensor(value, dtype=torch.float32) for value in floats]
    try:
        with torch.no_grad():
            graph = make_fx(on_inputs, tracing_mode="fake", _allow_non_fake_inputs=True)(*example)
    except Exception as error:  # a Python branch on a parameter, a float() of a tensor, ...
        raise Untranslatable(f"its grad could not be traced ({type(error).__name__})") from error
    return graph, floats


def sg_expression(unit: Surrogate) -> Tuple[str, int]:
    """C statements of ``unit.grad`` as ``SG(x, thr, p)`` (``p[k]``: its k-th runtime float,
    the threshold excluded), and how many floats ``p`` holds; raises :class:`Untranslatable`."""
    graph, floats = _trace(unit)
    # as the fused path does: x / c as x * (1 / c) where that cannot change a branch (within an
    # ulp; 1 / c is computed once per call), and x * 1, x - 0 dropped (exact)
    multiply_by_reciprocals(graph)
    drop_identity_ops(graph)
    names: Dict[Any, str] = {}
    lines: List[str] = []
    placeholders = [node for node in graph.graph.nodes if node.op == "placeholder"]
    if len(placeholders) != 1 + len(floats):
        raise Untranslatable("unexpected graph inputs")
    names[placeholders[0]] = "x"
    # the threshold is the last runtime float (after the surrogate's own attributes)
    for k, node in enumerate(placeholders[1:]):
        names[node] = "thr" if k == len(floats) - 1 else f"p[{k}]"

    def value_of(arg):
        if isinstance(arg, torch.fx.Node):
            return names[arg]
        if isinstance(arg, bool):
            return "1.0f" if arg else "0.0f"
        if isinstance(arg, (int, float)):
            return _literal(arg)
        if arg is None:
            return None
        raise Untranslatable(f"argument {arg!r:.40}")

    result = None
    for node in graph.graph.nodes:
        if node.op == "placeholder":
            continue
        if node.op == "output":
            result = node.args[0]
            break
        if node.op == "get_attr":
            constant = getattr(graph, node.target)
            if not isinstance(constant, torch.Tensor) or constant.numel() != 1:
                raise Untranslatable("a tensor constant")
            names[node] = _literal(float(constant))
            continue
        if node.op != "call_function" or not hasattr(node.target, "overloadpacket"):
            raise Untranslatable(f"node {node.op} {node.target}")
        value = node.meta.get("val")
        if isinstance(value, torch.Tensor) and value.dtype not in (torch.float32, torch.bool):
            raise Untranslatable(f"a {value.dtype} value ({node.target})")
        key = f"{node.target.overloadpacket.__name__}.{node.target._overloadname}"
        if key not in _OPS:
            raise Untranslatable(f"the op {key}")
        if isinstance(value, torch.Tensor) and value.dtype == torch.bool and key not in _BOOL_RESULTS:
            raise Untranslatable(f"{key} on bools")  # bools are 0.0/1.0 in C: 1 + 1 would be 2
        schema = node.target._schema.arguments
        bound = {arg.name: arg.default_value for arg in schema if arg.has_default_value()}
        bound.update(zip((arg.name for arg in schema), node.args))
        bound.update(node.kwargs)
        if key == "_to_copy.default" and bound.get("dtype") not in (None, torch.float32):
            raise Untranslatable(f"a conversion to {bound.get('dtype')}")
        named = {k: v if k in _NUMBER_ARGUMENTS else value_of(v) for k, v in bound.items() if k in _VALUE_ARGUMENTS}
        name = f"t{len(lines)}"
        try:
            expression = _OPS[key](**named)
        except TypeError as error:  # a signature the mapping does not expect
            raise Untranslatable(f"{key} with arguments {node.args!r:.60}") from error
        lines.append(f"    const float {name} = {expression};")
        names[node] = name
    if not isinstance(result, torch.fx.Node):
        raise Untranslatable("its output is not one tensor")
    lines.append(f"    return {names[result]};")
    return "\n".join(lines), max(len(floats) - 1, 0)


def _translation_key(unit: Surrogate) -> Optional[str]:
    """A key for :func:`sg_expression`'s result that changes with anything it depends on:
    the source files of the unit's class and its bases, its attributes other than floats
    (floats are runtime inputs), torch's version and this translator. None where a source
    file cannot be read (a class defined in a notebook): that unit is traced every time."""
    # this translator and the fused path's tracing helpers and graph passes it runs
    parts = [torch.__version__, inspect.getsource(sys.modules[__name__]),
             inspect.getsource(sys.modules[_rebuild.__module__])]
    try:
        for cls in type(unit).__mro__[:-1]:
            parts.append(f"{cls.__module__}.{cls.__qualname__}")
            with open(inspect.getsourcefile(cls), "rb") as handle:
                parts.append(hashlib.sha256(handle.read()).hexdigest())
    except (OSError, TypeError):
        return None
    parts += [f"{name}={value!r}" for name, value in sorted(vars(unit).items()) if type(value) is not float]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]


@functools.lru_cache(maxsize=256)
def _cached_expression(unit: Surrogate) -> Tuple[str, int]:
    """:func:`sg_expression`, kept on disk next to the kernels: tracing imports torch's
    tracer and costs about a second per process, which each sweep worker would pay."""
    key = _translation_key(unit)
    path = None if key is None else os.path.join(_private_cache_dir(), f"sg_{key}.json")
    if path is not None and os.path.exists(path):
        try:
            with open(path) as handle:
                stored = json.load(handle)
            return stored["body"], int(stored["count"])
        except (OSError, ValueError, KeyError):
            pass  # unreadable: translate again and rewrite it
    body, count = sg_expression(unit)
    if path is not None:
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".json")
        with os.fdopen(handle, "w") as stream:
            json.dump({"body": body, "count": count}, stream)
        os.replace(temporary, path)  # atomic: another worker reads the whole file or none
    return body, count


def c_source(unit: Surrogate, hidden: int, classes: int) -> Tuple[str, int]:
    """The whole C file for ``unit``'s kernels at these layer sizes, and the number of the
    unit's runtime floats."""
    body, count = _cached_expression(unit)
    sizes = f"#define HID {int(hidden)}\n#define CLS {int(classes)}\n"
    sg = f"static inline float SG(float x, float thr, const float* p) {{\n    (void)p; (void)thr;\n{body}\n}}\n"
    return _PRELUDE + sizes + sg + _KERNELS, count


def cache_dir() -> str:
    """The folder compiled kernels are cached in (one per user, on this machine)."""
    return user_temp_dir("sgexplore_native")


def _private_cache_dir() -> str:
    """:func:`cache_dir`, created private to this user, after checking that it is: a
    library loaded from a folder that someone else can write to runs their code."""
    folder = cache_dir()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    status = os.lstat(folder)
    if (not stat.S_ISDIR(status.st_mode) or (hasattr(os, "getuid") and status.st_uid != os.getuid())
            or status.st_mode & 0o022):
        raise RuntimeError(f"the kernel cache {folder} is not a folder private to this user "
                           "(a link, another owner, or writable by others); remove it")
    return folder


def _compiler() -> Optional[str]:
    return _find_compiler(os.environ.get("CC", "cc"))


@functools.lru_cache(maxsize=8)
def _find_compiler(name: str) -> Optional[str]:
    # once per name: every training step asks (kernels_for), and a PATH search stats each of
    # its folders, about 0.1 ms a step here (a compiler installed later needs a new process)
    return shutil.which(name)


@functools.lru_cache(maxsize=1)
def _machine() -> str:
    """What a ``-march=native`` build depends on: the architecture and the CPU's features."""
    parts = [platform.machine(), platform.system()]
    try:
        with open("/proc/cpuinfo") as info:
            parts += sorted({line for line in info if line.startswith(("flags", "model name", "Features"))})
    except OSError:
        parts.append(platform.processor())
    return "\n".join(parts)


_FLAGS = ["-O3", "-shared", "-fPIC", "-ffp-contract=off", "-fno-math-errno"]


_failure: List[str] = []  # why building a kernel failed here, once it has


def unavailable_reason() -> Optional[str]:
    """Why the native kernels cannot run here, or None if they can."""
    if _failure:
        return _failure[0]
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return f"{ENV_SWITCH}=0 turns it off"
    if os.name != "posix":
        return "native kernels are built on POSIX systems only"
    if _compiler() is None:
        return f"no C compiler ({os.environ.get('CC', 'cc')!r} not found; set CC)"
    return None


def _build(source: str) -> str:
    """Compile ``source`` to a shared library in :func:`cache_dir` (once per source,
    compiler and machine) and return its path."""
    compiler = _compiler()
    key = hashlib.sha256("\0".join([source, compiler, " ".join(_FLAGS), _machine()]).encode()).hexdigest()[:20]
    folder = _private_cache_dir()
    path = os.path.join(folder, f"sgx_{key}.so")
    if os.path.exists(path):
        return path
    with tempfile.TemporaryDirectory(dir=folder) as work:
        c_file = os.path.join(work, "kernel.c")
        with open(c_file, "w") as handle:
            handle.write(source)
        built = os.path.join(work, "kernel.so")
        errors = ""
        for extra in (["-march=native"], []):  # not every compiler knows -march=native
            run = subprocess.run([compiler, *_FLAGS, *extra, c_file, "-o", built, "-lm"],
                                 capture_output=True, text=True, timeout=120)
            if run.returncode == 0:
                break
            errors = run.stderr.strip()
        else:
            raise _CompileError(f"compiling the native kernel failed: {errors[-500:]}")
        os.replace(built, path)  # atomic: a concurrent worker sees the whole file or none
    return path


_I64, _F32, _P = ctypes.c_int64, ctypes.c_float, ctypes.c_void_p


class NativeKernel:
    """The compiled forward, backward and surrogate functions for one unit surrogate
    (``grad_scale`` 1; each configuration's scale is a kernel argument)."""

    def __init__(self, unit: Surrogate, hidden: int = 64, classes: int = 4):
        source, count = c_source(unit, hidden, classes)
        library = ctypes.CDLL(_build(source))  # ctypes releases the GIL during each call
        self.forward_fn = library.sgx_forward
        self.forward_fn.argtypes = [_I64] * 5 + [_P] * 5 + [_F32, _F32, ctypes.c_int] + [_P] * 4 + [_I64, _F32, _F32, _P]
        self.forward_fn.restype = ctypes.c_int
        self.backward_fn = library.sgx_backward
        self.backward_fn.argtypes = [_I64] * 6 + [_P] * 8 + [_F32, _F32, ctypes.c_int] + [_P] * 5
        self.backward_fn.restype = ctypes.c_int
        self.surrogate_fn = library.sgx_surrogate
        self.surrogate_fn.argtypes = [_I64, _P, _F32, _P, _P]
        self.surrogate_fn.restype = None
        self.unit, self.count, self.hidden, self.classes = unit, count, hidden, classes
        self.params = self._unit_floats()  # p of SG(x, thr, p): fixed, as the unit is frozen

    def _unit_floats(self) -> torch.Tensor:
        """The unit's runtime floats (the threshold not among them) as the kernel reads them."""
        floats = _runtime_floats((self.unit, torch.zeros(1), 1.0))[:-1]
        if len(floats) != self.count:  # the kernel would read past them
            raise RuntimeError(f"{self.unit!r} has {len(floats)} float attributes, its kernel was "
                               f"translated with {self.count}")
        return torch.tensor(floats if floats else [0.0], dtype=torch.float32)

    def surrogate(self, v_mem: torch.Tensor, spike_threshold: float) -> torch.Tensor:
        """The C surrogate at ``v_mem`` (float32): what the backward kernel uses."""
        v = v_mem.detach().to(torch.float32).contiguous()
        out = torch.empty_like(v)
        self.surrogate_fn(v.numel(), v.data_ptr(), spike_threshold, self.params.data_ptr(), out.data_ptr())
        return out

    def check(self, spike_threshold: float) -> Optional[str]:
        """None if the C surrogate matches ``unit.grad`` on a probe (float32): the same
        infinities and NaNs, and elsewhere within ``1e-5`` of the largest finite value plus
        ``2e-5`` relative; else what differs."""
        scale = self.unit.length_scale(spike_threshold)
        v = spike_threshold + torch.cat([torch.linspace(-12.0, 12.0, 4001) * scale,
                                         torch.linspace(-50.0, 50.0, 201) * max(spike_threshold, 1.0),
                                         torch.tensor([0.0, 1e-7, -1e-7])])
        v = v.to(torch.float32)
        expected = self.unit.grad(v, spike_threshold).to(torch.float32).expand(v.shape)
        got = self.surrogate(v, spike_threshold)
        finite = torch.isfinite(expected)
        infinite = lambda t: torch.where(torch.isinf(t), t, 0.0)  # noqa: E731 - keeps the sign of an inf
        same_non_finite = (torch.equal(torch.isnan(got), torch.isnan(expected))
                           and torch.equal(infinite(got), infinite(expected)))
        if not same_non_finite or not torch.isfinite(got[finite]).all():
            worst = int(torch.argmax((torch.isfinite(got) != finite).to(torch.int8)))
            return (f"at v = {float(v[worst]):.6g} the C surrogate gives {float(got[worst]):.6g}, "
                    f"its grad {float(expected[worst]):.6g}")
        if not finite.any():
            return None
        peak = float(expected[finite].abs().max())
        error = torch.where(finite, (got - expected).abs() - (1e-5 * peak + 2e-5 * expected.abs()), -1.0)
        if bool((error > 0).any()):
            worst = int(torch.argmax(error))
            return (f"at v = {float(v[worst]):.6g} the C surrogate gives {float(got[worst]):.6g}, "
                    f"its grad {float(expected[worst]):.6g}")
        return None


_building = threading.Lock()  # one build at a time per process (make_fx is not thread-safe)


def _kernel(unit: Surrogate, spike_threshold: float, hidden: int, classes: int) -> Optional[NativeKernel]:
    with _building:
        return _kernel_unlocked(unit, spike_threshold, hidden, classes)


@functools.lru_cache(maxsize=256)
def _kernel_unlocked(unit: Surrogate, spike_threshold: float, hidden: int,
                     classes: int) -> Optional[NativeKernel]:
    try:
        kernel = NativeKernel(unit, hidden, classes)
        difference = kernel.check(spike_threshold)
    except Untranslatable:
        return None
    except _CompileError as error:  # this surrogate's C: a translator bug, not the compiler's
        warnings.warn(f"sgexplore.native: {error}; {unit!r} trains with PyTorch", RuntimeWarning, stacklevel=4)
        return None
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        # a broken compiler or a full disk: say so once, and train with PyTorch from here on
        _failure.append(f"building a native kernel failed: {str(error)[:300]}")
        warnings.warn(f"sgexplore.native: {_failure[0]}; the ensemble trains with PyTorch instead "
                      "(same results up to rounding, slower)", RuntimeWarning, stacklevel=4)
        return None
    if difference is not None:  # a translator bug: never train with it
        warnings.warn(f"sgexplore.native: the C translation of {unit!r} differs from its grad "
                      f"({difference}); that surrogate trains with PyTorch", RuntimeWarning, stacklevel=4)
        return None
    return kernel


def kernels_for(units: Sequence[Surrogate], spike_threshold: float, hidden: int,
                classes: int) -> Optional[List[NativeKernel]]:
    """One checked kernel per unit surrogate for a network of ``hidden`` units and
    ``classes`` outputs, or None if the native path cannot serve them all (not available
    here, an untranslatable ``grad``, or a kernel that fails its check)."""
    if unavailable_reason() is not None:
        return None
    kernels = [_kernel(unit, float(spike_threshold), int(hidden), int(classes)) for unit in units]
    return None if any(k is None for k in kernels) else kernels


# ---------------------------------------------------------------------------
# The network the kernels compute, as an autograd function
# ---------------------------------------------------------------------------

class InputSpikes:
    """Sparse input spikes of N configurations: for each (configuration, sample) the times,
    units and values of its spikes, padded with zero values to one length ``M``."""

    def __init__(self, times: torch.Tensor, units: torch.Tensor, values: torch.Tensor, steps: int, n_in: int):
        self.times, self.units, self.values = times, units, values  # (N, B, M) each
        self.steps, self.n_in = steps, n_in


def spike_lists(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Samples ``(S, T, units)`` as padded spike lists ``(S, M)``: times, units, values."""
    flat = x.reshape(x.shape[0], -1)
    count = int((flat != 0).sum(1).max())
    values, where = torch.topk((flat != 0).to(torch.int8), max(count, 1), dim=1, sorted=False)
    where = torch.sort(where, dim=1).values            # the order of a dense product's sum
    values = flat.gather(1, where)                      # 0 for padding: adds nothing
    return where // x.shape[2], where % x.shape[2], values


class NativeNetwork(torch.autograd.Function):
    """N one-layer networks in one C call each way (:mod:`sgexplore.native`): input
    spikes -> logits ``(N, B, C)`` (the readout's maximum over time), with each
    configuration's hidden spike rate ``(N,)`` as a second, non-differentiable output.

    The same arithmetic as the ensemble's PyTorch layers (or :class:`sgexplore.snn.SNN`'s):
    the input currents, the LIF layer with its reset, the readout's leaky integration (a
    recurrence here, a matmul with :func:`~sgexplore.snn.decay_kernel` there) and ``amax``
    over time (its gradient shared by tied time steps, as ``amax``'s is), summed in another
    order. The backward recomputes each sample instead of keeping its membranes.

    ``spec`` holds the shared neuron settings (``spike_threshold``, ``beta``, ``reset``) and,
    per configuration, ``keep`` (1 where the reset passes gradient) and ``scales`` (the
    ``grad_scale`` each kernel's unit surrogate is multiplied by), and ``sizes``, how many
    consecutive configurations each kernel serves.
    """

    @staticmethod
    def forward(ctx, weight_in, weight_out, inputs: InputSpikes, spec, kernels):
        logits, rates, lists, w_in_t, w_out, readouts = native_forward(weight_in, weight_out, inputs, spec,
                                                                        kernels, rates=True, keep=True)
        ctx.mark_non_differentiable(rates)
        ctx.save_for_backward(w_in_t, w_out, logits, readouts)
        ctx.lists, ctx.spec, ctx.kernels, ctx.steps = lists, spec, kernels, inputs.steps
        return logits, rates

    @staticmethod
    def backward(ctx, grad_logits, _grad_rates):
        w_in_t, w_out, logits, readouts = ctx.saved_tensors
        spec, (times, units, values) = ctx.spec, ctx.lists
        n, batch, per_sample = times.shape
        grad_logits = grad_logits.contiguous()
        grad_in_t = torch.zeros_like(w_in_t)
        grad_out_weight = torch.zeros_like(w_out)
        keep = spec.keep.reshape(-1).contiguous()
        scales = spec.scales.reshape(-1).contiguous()
        start = 0
        for kernel, size in zip(ctx.kernels, spec.sizes):
            failed = kernel.backward_fn(
                start, start + size, batch, ctx.steps, w_in_t.shape[1], per_sample,
                times.data_ptr(), units.data_ptr(), values.data_ptr(), w_in_t.data_ptr(), w_out.data_ptr(),
                logits.data_ptr(), readouts.data_ptr(), grad_logits.data_ptr(), spec.spike_threshold, spec.beta, spec.reset == "subtract",
                keep.data_ptr(), scales.data_ptr(), kernel.params.data_ptr(), grad_in_t.data_ptr(),
                grad_out_weight.data_ptr())
            if failed:
                raise MemoryError("the native backward kernel could not allocate its buffer")
            start += size
        return grad_in_t.transpose(1, 2), grad_out_weight, None, None, None


def _membranes_out(spec, n: int, batch: int, steps: int, hidden: int):
    """The address of ``spec.membranes`` after checking its layout, or None when it has none."""
    out = getattr(spec, "membranes", None)
    if out is None:
        return None
    if out.shape != (n, batch, steps, hidden) or out.dtype != torch.float32 or not out.is_contiguous():
        raise ValueError(f"membranes must be a contiguous float32 tensor of shape {(n, batch, steps, hidden)}; "
                         f"got {tuple(out.shape)} {out.dtype}")
    return out.data_ptr()


def _histograms_out(spec, n: int):
    """``(bins, scale, offset, address)`` of ``spec.histograms`` after checking its layout
    and its binning (``spec.bin_scale``, ``spec.bin_offset``), or ``(0, 0, 0, None)``."""
    out = getattr(spec, "histograms", None)
    if out is None:
        return 0, 0.0, 0.0, None
    if out.dim() != 2 or out.shape[0] != n or out.shape[1] < 2 or out.dtype != torch.int64 \
            or not out.is_contiguous():
        raise ValueError(f"histograms must be a contiguous int64 tensor of shape ({n}, bins + 1) "
                         f"with bins >= 1; got {tuple(out.shape)} {out.dtype}")
    return out.shape[1] - 1, float(spec.bin_scale), float(spec.bin_offset), out.data_ptr()


def native_forward(weight_in, weight_out, inputs: InputSpikes, spec, kernels, rates: bool,
                    keep: bool = False):
    """The native forward: logits ``(N, B, C)``, the hidden spike rates ``(N,)`` (None
    unless ``rates``), the contiguous inputs its backward reads, and (if ``keep``, else None)
    the readout membranes ``(N, B, T, C)`` it reads too. When ``spec`` has a ``membranes``
    tensor ``(N, B, T, H)`` (float32, contiguous), the hidden membranes before the reset are
    written into it. When it has ``histograms`` (int64 ``(N, bins + 1)``, zeros), the forward
    adds into it the counts of those membranes in the bins ``i = trunc(clamp(v * bin_scale +
    bin_offset, 0, bins - 0.5))`` (float32 arithmetic, as :mod:`sgexplore.lens` bins), then
    the count of NaNs: what the lens records, without the membranes leaving the cache."""
    n, hidden, n_in = weight_in.shape
    classes = weight_out.shape[1]
    batch, steps = inputs.times.shape[1], inputs.steps
    times, units = inputs.times.to(torch.int64).contiguous(), inputs.units.to(torch.int64).contiguous()
    values = inputs.values.to(torch.float32).contiguous()
    w_in_t = weight_in.detach().transpose(1, 2).contiguous()
    w_out = weight_out.detach().contiguous()
    logits = torch.empty(n, batch, classes)
    counts = torch.zeros(n, dtype=torch.int64) if rates else None
    readouts = torch.empty(n, batch, steps, classes) if keep else None
    failed = kernels[0].forward_fn(
        n, batch, steps, n_in, times.shape[2], times.data_ptr(), units.data_ptr(), values.data_ptr(),
        w_in_t.data_ptr(), w_out.data_ptr(), spec.spike_threshold, spec.beta, spec.reset == "subtract",
        None if counts is None else counts.data_ptr(), logits.data_ptr(),
        None if readouts is None else readouts.data_ptr(), _membranes_out(spec, n, batch, steps, hidden),
        *_histograms_out(spec, n))
    if failed:
        raise MemoryError("the native forward kernel could not allocate its buffer")
    spike_rates = None if counts is None else counts.to(torch.float32) / (steps * batch * hidden)
    return logits, spike_rates, (times, units, values), w_in_t, w_out, readouts
