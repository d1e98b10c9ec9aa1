"""Train N configurations of one architecture together, in one vectorised pass.

The toy network is so small that a single run spends most of its time on Python and
dispatch overhead, op by op. :func:`train_many` pays that overhead once for N runs: every
weight is stacked ``(N, ...)``, each hidden layer's time loop runs on ``(N, B, H)`` tensors,
and what differs between the configurations enters as broadcast tensors:

* the surrogate: configurations whose surrogates differ only in ``grad_scale`` form one
  group, whose surrogate derivative is computed once on the group's slice and multiplied
  by each configuration's scale (``grad_scale`` multiplies the whole surrogate; a surrogate
  for which a probe shows otherwise is a group of its own); other shapes are further groups;
* ``lr`` (Adam's step size is a per-configuration tensor; Adam is elementwise, so stacked
  Adam equals N separate ones), ``detach_reset`` (a per-configuration mask on the reset's
  gradient), ``seed`` (each configuration's own data set, initial weights and batch order,
  drawn by its own generator exactly as :func:`sgexplore.train.train` draws them),
  ``weight_scale``, ``steps`` and ``test_every``.

The loss is the sum over configurations of each one's mean cross-entropy, so no gradient
mixes two configurations. A configuration that diverges or finishes leaves the stack.

Each hidden layer is one autograd function, :class:`LIFEnsemble`, whose backward is the
hand-written backpropagation through time of the LIF recurrence: the same arithmetic as
autograd through :func:`sgexplore.snn.lif_step`, without one graph node per op and time
step, and with the surrogate derivative computed once per group and block of time steps
(its exponentials flushed to zero below ``e**-87``, :class:`_ExpFlushedToZero`: ATen's
``exp`` is many times slower there). Without recurrent weights the backward recurrence is
linear and costs one op per time step. The input layer adds one weight column per input
spike instead of multiplying by a tensor of mostly zeros.

The network the sweeps train (one hidden layer without recurrent weights, the subtract
reset or none, single spikes, float32 on the CPU) goes further: its hidden layer and
readout currents run as one compiled C loop each way (:class:`~sgexplore.native.NativeNetwork`,
:mod:`sgexplore.native`), the surrogate translated from its own ``grad``. Where that is not
possible (no C compiler, ``SGEXPLORE_NATIVE=0``, a ``grad`` the translator does not know) the
PyTorch layers above run instead, with the same results up to float rounding. The kernels run
on one thread (``threads`` sets PyTorch's, for the rest of the step).
BENCHMARKS.md (Sweep) has the speed against one ``train()`` per run.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from . import native, tasks
from .native import InputSpikes, NativeNetwork, native_forward, spike_lists
from .snn import decay_kernel
from .spike import spike_forward
from .surrogates import Surrogate
from .train import StepRecord, TrainConfig, _Threads, build_network

__all__ = ["train_many", "SHARED_FIELDS", "VARYING_FIELDS", "surrogate_groups", "LIFEnsemble"]

#: What every configuration trained together must share: the task (but its seed), the
#: architecture and the batch size.
SHARED_FIELDS = ("task", "classes", "units", "time_steps", "manifold_dim", "alpha",
                 "samples_per_class", "hidden", "spike_threshold", "beta", "reset", "recurrent",
                 "mode", "batch_size", "threads", "device")
#: What may differ between them.
VARYING_FIELDS = ("surrogate", "detach_reset", "lr", "seed", "weight_scale", "steps", "test_every")


def _check_configs(configs) -> List[TrainConfig]:
    if isinstance(configs, TrainConfig) or not isinstance(configs, Sequence) or len(configs) == 0:
        raise ValueError(f"train_many() takes a non-empty list of TrainConfig; got {configs!r:.80}")
    for k, config in enumerate(configs):
        if not isinstance(config, TrainConfig):
            raise ValueError(f"train_many(): configs[{k}] must be a TrainConfig; got {type(config).__name__}")
    first = configs[0]
    for k, config in enumerate(configs):
        # what train() offers but the stacked ensemble does not (yet): say so, never ignore it
        if config.optimizer != "adam":
            raise ValueError(f"train_many(): configs[{k}].optimizer is {config.optimizer!r}; the ensemble "
                             "trains with Adam only ('adam'); use train() for other optimizers")
        if config.record_every != 0:
            raise ValueError(f"train_many(): configs[{k}].record_every is {config.record_every}; the "
                             "ensemble records no membrane histograms (0); use train() for the lens")
    for k, config in enumerate(configs[1:], 1):
        for name in SHARED_FIELDS:
            if getattr(config, name) != getattr(first, name):
                raise ValueError(
                    f"train_many(): configs[{k}].{name} is {getattr(config, name)!r} but configs[0].{name} "
                    f"is {getattr(first, name)!r}; configurations trained together share {name} "
                    f"(only {', '.join(VARYING_FIELDS)} may differ)")
    return list(configs)


# ---------------------------------------------------------------------------
# Surrogate groups
# ---------------------------------------------------------------------------

_PROBE = torch.linspace(-3.0, 5.0, 161, dtype=torch.float64)


@functools.lru_cache(maxsize=4096)
def _unit_and_scale(surrogate: Surrogate) -> Tuple[Surrogate, float]:
    """``(u, s)`` with ``surrogate.grad == s * u.grad``: ``u`` at ``grad_scale = 1``.

    A surrogate without a ``grad_scale``, or one whose ``grad_scale`` does not multiply the
    whole formula (checked on a probe grid), is its own unit with scale 1.
    """
    if "grad_scale" not in surrogate.params():
        return surrogate, 1.0
    scale = float(surrogate.grad_scale)
    unit = surrogate.replace(grad_scale=1.0)
    for thr in (0.5, 1.0, 2.0):
        expected = surrogate.grad(_PROBE, thr)
        if not torch.allclose(unit.grad(_PROBE, thr) * scale, expected, rtol=1e-9, atol=0.0):
            return surrogate, 1.0
    return unit, scale


def surrogate_groups(surrogates: Sequence[Surrogate]) -> Tuple[List[int], List[Tuple[Surrogate, int]]]:
    """Group surrogates that differ only in ``grad_scale``.

    Returns ``(order, groups)``: ``order`` lists the indices of ``surrogates`` sorted so that
    each group is contiguous (first appearance first), ``groups`` holds ``(unit surrogate,
    size)`` for each group in that order.
    """
    keyed: Dict[Surrogate, List[int]] = {}
    for k, surrogate in enumerate(surrogates):
        keyed.setdefault(_unit_and_scale(surrogate)[0], []).append(k)
    order = [k for members in keyed.values() for k in members]
    return order, [(unit, len(members)) for unit, members in keyed.items()]


# ---------------------------------------------------------------------------
# The layers of N networks; tensors are configuration-major: (N, T, B, features)
# ---------------------------------------------------------------------------

class _ExpFlushedToZero(TorchFunctionMode):
    """``exp(x)`` as a CPU in flush-to-zero mode computes it: 0 wherever it is at most
    ``e**FLOOR`` (about float32's smallest normal number, ``2**-126``), ``exp(x)`` elsewhere.

    ATen's vectorised ``exp`` hands a vector with any argument below about -87.3 (float32)
    to a scalar path that costs 10 to 50 times more per element; the Gaussian's, the
    sigmoid derivative's and the single exponential's arguments far from the threshold are
    mostly such. Here ``exp`` sees the argument clamped at ``FLOOR`` and the results at or
    below ``e**FLOOR`` become 0: identical wherever ``exp(x) > e**FLOOR``, and off by at
    most ``e**FLOOR`` (1.6e-38) elsewhere. Only the surrogates' ``grad`` runs under this mode.
    """

    FLOOR = {torch.float32: -87.0, torch.float64: -708.0}
    #: ``e**FLOOR`` rounded to the dtype, as ``exp`` of the clamped argument returns it.
    SMALLEST = {dtype: float(torch.exp(torch.tensor(floor, dtype=dtype))) for dtype, floor in FLOOR.items()}
    EXPS = (torch.exp, torch.Tensor.exp)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in self.EXPS and not kwargs and len(args) == 1 and isinstance(args[0], torch.Tensor):
            floor = self.FLOOR.get(args[0].dtype)
            if floor is not None:
                # clamp and threshold both keep a NaN a NaN: divergence is still seen
                clamped = torch.clamp(args[0], min=floor)
                return torch.threshold(torch.exp(clamped), self.SMALLEST[args[0].dtype], 0.0)
        return func(*args, **(kwargs or {}))


class _ExpCalls(TorchFunctionMode):
    """Counts the ``exp`` calls of the code run under it."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += func in _ExpFlushedToZero.EXPS
        return func(*args, **(kwargs or {}))


@functools.lru_cache(maxsize=4096)
def _calls_exp(surrogate: Surrogate) -> bool:
    """Whether ``surrogate.grad`` calls ``exp`` (on a probe): only then is it worth running
    under :class:`_ExpFlushedToZero`, whose Python dispatch costs a few microseconds per op."""
    with _ExpCalls() as calls:
        surrogate.grad(_PROBE.float(), 1.0)
    return calls.count > 0


class _LayerSpec:
    """What a stack of LIF layers needs besides its inputs: the shared neuron settings and
    the per-configuration surrogates and reset-gradient masks (index 0 of every tensor)."""

    def __init__(self, config: TrainConfig, units: List[Surrogate], sizes: List[int],
                 scales: torch.Tensor, detach: torch.Tensor):
        self.spike_threshold = float(config.spike_threshold)
        self.beta = float(config.beta)
        self.reset, self.mode = config.reset, config.mode
        self.units, self.sizes = units, sizes
        self.scales = scales.view(-1, 1, 1, 1)              # each configuration's grad_scale
        self.keep = (~detach).to(scales.dtype).view(-1, 1, 1)  # 1 where the reset passes gradient

    def surrogate_grad(self, v_mem: torch.Tensor) -> torch.Tensor:
        """The surrogate derivative of every configuration at ``v_mem`` ``(N, t, B, H)``: one
        call per group, times each configuration's ``grad_scale``."""
        grad, start = torch.empty_like(v_mem), 0
        for unit, size in zip(self.units, self.sizes):
            part = slice(start, start + size)
            with _ExpFlushedToZero() if _calls_exp(unit) else contextlib.nullcontext():
                values = unit.grad(v_mem[part], self.spike_threshold)
            torch.mul(values, self.scales[part], out=grad[part])
            start += size
        return grad


def _config_major(like: torch.Tensor, shape, zero: bool = False) -> torch.Tensor:
    """A new ``(N, ..., H)`` tensor whose configurations lie at least 64 floats more than
    their size apart, the gap a whole number of rows of ``H`` (:func:`_rows` relies on it).

    Each configuration's block is a multiple of the page size; back to back, the ``(N, B, H)``
    slices of one time step would all map to the same cache sets and evict each other.
    """
    n, rest, width = shape[0], math.prod(shape[1:]), shape[-1]
    gap = -(-64 // width) * width
    flat = (torch.zeros if zero else torch.empty)(n, rest + gap, dtype=like.dtype, device=like.device)
    return flat[:, :rest].view(shape)


def _rows(tensor: torch.Tensor) -> Tuple[torch.Tensor, int]:
    """``tensor`` ``(N, T, B, H)`` as rows of ``H``: a ``(rows, H)`` view of its memory and the
    rows from one configuration to the next (row of ``[n, t, b]``: ``n·that + t·B + b``).

    Copies a tensor whose time steps and samples are not contiguous rows (not one that
    :func:`_config_major` made) into one that is.
    """
    n, steps, batch, width = tensor.shape
    stride = tensor.stride()
    if stride[1:] != (batch * width, width, 1) or stride[0] % width:
        copy = _config_major(tensor, tensor.shape)
        copy.copy_(tensor)
        tensor, stride = copy, copy.stride()
    per_config = stride[0] // width
    count = (n - 1) * per_config + steps * batch
    return tensor.as_strided((count, width), (width, 1)), per_config


class LIFEnsemble(torch.autograd.Function):
    """N LIF layers over time: input currents ``(N, T, B, H)`` -> spikes ``(N, T, B, H)``.

    Forward is :func:`sgexplore.snn.lif_step` over time for every configuration at once.
    Backward is its backpropagation through time written out: with ``u`` the membrane before
    the reset, ``s`` the spikes, ``sg`` the surrogate derivative at ``u`` and ``g`` gradients,

        g_u[t] = g_v[t]·(reset factor) + (g_s[t] + g_v[t]·(reset path))·sg[t]
        g_v[t-1] = beta·g_u[t]

    where the reset paths are those of :func:`sgexplore.spike.reset_subtract` and
    :func:`~sgexplore.spike.reset_to_value`, masked per configuration by ``detach_reset``.
    Without recurrent weights and with the subtract reset (or none) ``g_s[t]`` is known
    before the loop, so the recurrence is linear in ``g_u``:

        g_u[t] = g_s[t]·sg[t] + g_u[t+1]·beta·(1 - thr·keep·sg[t])

    whose two factors are computed for a block of time steps at once, leaving one
    ``addcmul`` per time step (the same sum as autograd's, in another order: float rounding).
    """

    #: Time steps whose surrogate derivative backward computes in one call: few enough that
    #: the block stays in cache, enough that the per-call overhead is shared.
    BLOCK = 5

    @staticmethod
    def forward(ctx, currents, recurrent_weight, spec: _LayerSpec):
        thr, beta = spec.spike_threshold, spec.beta
        v_mem = currents.new_zeros(currents[:, 0].shape)
        after_reset = torch.empty_like(v_mem)  # the state between steps, reused
        spikes = v_mem
        membranes = _config_major(currents, currents.shape)
        out = _config_major(currents, currents.shape)
        for t in range(currents.shape[1]):
            current = currents[:, t]
            if recurrent_weight is not None:
                current = torch.baddbmm(current, spikes, recurrent_weight.transpose(1, 2))
            v_mem = torch.add(current, v_mem, alpha=beta, out=membranes[:, t])
            spikes = out[:, t]
            if spec.mode == "single":
                torch.ge(v_mem, thr, out=spikes)  # spike_forward's (v >= thr), written as floats
            else:
                spikes.copy_(spike_forward(v_mem, thr, spec.mode))
            if spec.reset == "subtract":
                # v - s·thr, exact: s·thr is 0 or thr
                v_mem = torch.add(v_mem, spikes, alpha=-thr, out=after_reset)
            elif spec.reset == "zero":
                fired_once = torch.clamp(spikes, max=1.0)
                v_mem = v_mem * (1 - fired_once) + fired_once * 0.0
        ctx.spec = spec
        ctx.save_for_backward(membranes, out, recurrent_weight)
        return out

    @staticmethod
    def backward(ctx, grad_spikes):
        membranes, spikes, recurrent_weight = ctx.saved_tensors
        if recurrent_weight is None and ctx.spec.reset in ("subtract", "none"):
            return LIFEnsemble._backward_linear(ctx.spec, grad_spikes, membranes), None, None
        return LIFEnsemble._backward_general(ctx.spec, grad_spikes, membranes, spikes, recurrent_weight)

    @staticmethod
    def _backward_linear(spec: _LayerSpec, grad_spikes, membranes):
        """``g_u`` of the linear recurrence (no recurrent weights; subtract reset or none)."""
        thr, beta = spec.spike_threshold, spec.beta
        grad_u = _config_major(membranes, membranes.shape)
        steps, block = membranes.shape[1], LIFEnsemble.BLOCK
        decay = None
        if spec.reset == "subtract":
            minus_thr_beta_keep = spec.keep.unsqueeze(1) * (-thr * beta)  # (N, 1, 1, 1)
            beta_tensor = torch.tensor(beta, dtype=membranes.dtype, device=membranes.device)
        for last in range(steps - 1, -1, -block):
            first = max(0, last - block + 1)
            part = slice(first, last + 1)
            surrogate = spec.surrogate_grad(membranes[:, part])
            torch.mul(grad_spikes[:, part], surrogate, out=grad_u[:, part])
            if spec.reset == "subtract":
                # beta·(1 - thr·keep·sg) = beta + sg·(-thr·beta·keep), in place of sg
                decay = torch.addcmul(beta_tensor, surrogate, minus_thr_beta_keep, out=surrogate)
            for t in range(last, first - 1, -1):
                if t == steps - 1:
                    continue
                if decay is None:
                    grad_u[:, t].add_(grad_u[:, t + 1], alpha=beta)
                else:
                    grad_u[:, t].addcmul_(grad_u[:, t + 1], decay[:, t - first])
        return grad_u

    @staticmethod
    def _backward_general(spec: _LayerSpec, grad_spikes, membranes, spikes, recurrent_weight):
        """``g_u`` step by step: recurrent weights feed ``g_s``, or the zero reset's gradient."""
        thr, beta = spec.spike_threshold, spec.beta
        grad_currents = _config_major(membranes, membranes.shape)
        grad_v = torch.zeros_like(membranes[:, 0])
        grad_carry = None  # gradient reaching s[t] through the recurrent weights at t + 1
        grad_recurrent = torch.zeros_like(recurrent_weight) if recurrent_weight is not None else None
        minus_thr_keep = spec.keep * (-thr)
        block, steps = LIFEnsemble.BLOCK, membranes.shape[1]
        for t in range(steps - 1, -1, -1):
            if t == steps - 1 or (t + 1) % block == 0:
                first = t - t % block
                surrogate = spec.surrogate_grad(membranes[:, first:t + 1])
            grad_s = grad_spikes[:, t] if grad_carry is None else grad_spikes[:, t] + grad_carry
            if spec.reset == "subtract":
                # v = u - s·thr
                grad_s = torch.addcmul(grad_s, grad_v, minus_thr_keep)
                grad_u = grad_v
            elif spec.reset == "zero":
                # v = u·(1 - f) + 0·f with f = clamp(s, max=1)
                fired = torch.clamp(spikes[:, t], max=1.0)
                grad_u = grad_v * (1 - fired)
                passes = (spikes[:, t] <= 1.0).to(grad_v.dtype) * spec.keep
                grad_s = grad_s - grad_v * membranes[:, t] * passes
            else:
                grad_u = grad_v
            grad_u = torch.addcmul(grad_u, grad_s, surrogate[:, t - first], out=grad_currents[:, t])
            if recurrent_weight is not None:
                if t > 0:
                    grad_recurrent.baddbmm_(grad_u.transpose(1, 2), spikes[:, t - 1])
                grad_carry = torch.bmm(grad_u, recurrent_weight)
            grad_v = grad_u * beta
        return grad_currents, grad_recurrent, None


class _SpikeCurrents(torch.autograd.Function):
    """Input currents ``(N, T, B, H)`` of sparse input spikes: per spike one weight column.

    The dense product ``x @ weight.T`` with the Randman task's input (each unit fires once
    in 50 steps) is almost all multiplications by zero; this adds the columns the spikes pick
    to the rows ``(n, t, b)`` of the currents (``index_add_``; each row's columns in the order
    of the units, as the dense product sums them), and backward gathers the current
    gradients of the same rows.
    """

    @staticmethod
    def forward(ctx, weight, spikes: InputSpikes):
        n, batch, per_sample = spikes.times.shape
        n_out = weight.shape[1]
        config = torch.arange(n, device=weight.device).view(-1, 1, 1)
        sample = torch.arange(batch, device=weight.device).view(1, -1, 1)
        columns = (config * spikes.n_in + spikes.units).reshape(-1)
        values = spikes.values.reshape(-1, 1)
        by_column = weight.transpose(1, 2).reshape(-1, n_out)   # (N·units, H)
        currents = _config_major(weight, (n, spikes.steps, batch, n_out), zero=True)
        rows, per_config = _rows(currents)
        where = (config * per_config + spikes.times * batch + sample).reshape(-1)
        rows.index_add_(0, where, by_column.index_select(0, columns) * values)
        ctx.save_for_backward(config, sample, spikes.times, columns, values)
        ctx.shape = (n, spikes.n_in, n_out)
        return currents

    @staticmethod
    def backward(ctx, grad_currents):
        config, sample, times, columns, values = ctx.saved_tensors
        n, n_in, n_out = ctx.shape
        rows, per_config = _rows(grad_currents)
        where = (config * per_config + times * grad_currents.shape[2] + sample).reshape(-1)
        picked = rows.index_select(0, where) * values
        grad = picked.new_zeros(n * n_in, n_out).index_add_(0, columns, picked)
        return grad.view(n, n_in, n_out).transpose(1, 2), None


class _PerConfigLinear(torch.autograd.Function):
    """``x @ weight.T`` per configuration: ``(N, T, B, I)`` with ``(N, O, I)`` -> ``(N, T, B, O)``.

    One 2-D product per configuration, with no copies as every slice is contiguous: for the
    readout's four outputs about twice as fast as ``bmm`` here (one measurement, 16 runs).
    """

    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        out = x.new_empty(*x.shape[:-1], weight.shape[1])
        for n in range(x.shape[0]):
            torch.mm(x[n].reshape(-1, x.shape[-1]), weight[n].t(), out=out[n].view(-1, weight.shape[1]))
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        grad_x = _config_major(x, x.shape) if ctx.needs_input_grad[0] else None
        grad_w = torch.empty_like(weight)
        for n in range(x.shape[0]):
            g = grad_out[n].reshape(-1, weight.shape[1])
            if grad_x is not None:
                torch.mm(g, weight[n], out=grad_x[n].view(-1, x.shape[-1]))
            torch.mm(g.t(), x[n].reshape(-1, x.shape[-1]), out=grad_w[n])
        return grad_x, grad_w


# ---------------------------------------------------------------------------
# The stacked networks and their training
# ---------------------------------------------------------------------------

class _Stack:
    """The active configurations' stacked weights, Adam state and settings (slot order)."""

    def __init__(self, configs: List[TrainConfig], slots: List[int], n_in: int):
        self.slots = slots                              # original index of each stacked entry
        self.configs = [configs[k] for k in slots]
        networks = []
        self.generators = []
        for config in self.configs:
            generator = torch.Generator().manual_seed(config.seed)
            networks.append(build_network(config, n_in, generator))
            self.generators.append(generator)
        device = torch.device(self.configs[0].device)
        first = networks[0]
        self.layer_params: List[List[torch.Tensor]] = []  # per hidden layer, then the readout
        for index in range(len(first.hidden)):
            names = ["weight"] + (["recurrent_weight"] if first.hidden[index].recurrent_weight is not None else [])
            self.layer_params.append([torch.stack([getattr(n.hidden[index], name).detach() for n in networks])
                                      .to(device).requires_grad_() for name in names])
        self.layer_params.append([torch.stack([n.readout.weight.detach() for n in networks])
                                  .to(device).requires_grad_()])
        self.mean = [[torch.zeros_like(p) for p in layer] for layer in self.layer_params]
        self.square = [[torch.zeros_like(p) for p in layer] for layer in self.layer_params]
        self.lr = torch.tensor([c.lr for c in self.configs], dtype=torch.float64)
        self._settle(device)

    def _settle(self, device) -> None:
        """Surrogate groups, masks and per-slot tensors for the current active set."""
        units, sizes, scales = [], [], []
        for config in self.configs:
            unit, scale = _unit_and_scale(config.surrogate)
            if units and units[-1] == unit:
                sizes[-1] += 1
            else:
                units.append(unit)
                sizes.append(1)
            scales.append(scale)
        dtype = self.layer_params[0][0].dtype
        detach = torch.tensor([c.detach_reset for c in self.configs], device=device)
        self.spec = _LayerSpec(self.configs[0], units, sizes, torch.tensor(scales, dtype=dtype, device=device),
                               detach)
        self.kernels = self._native_kernels(device, dtype)

    def _native_kernels(self, device, dtype):
        """The native kernels for this stack, or None where its network or surrogates need
        the PyTorch path (:mod:`sgexplore.native`)."""
        first = self.configs[0]
        if (len(self.layer_params) != 2 or len(self.layer_params[0]) != 1 or first.reset not in ("subtract", "none")
                or first.mode != "single" or device.type != "cpu" or dtype != torch.float32):
            return None
        hidden, classes = self.layer_params[0][0].shape[1], self.layer_params[1][0].shape[1]
        return native.kernels_for(self.spec.units, self.spec.spike_threshold, hidden, classes)

    def keep_only(self, keep: List[int]) -> None:
        """Drop every stacked entry whose position is not in ``keep``."""
        index = torch.tensor(keep, device=self.layer_params[0][0].device)
        select = lambda t: t.detach().index_select(0, index)  # noqa: E731
        self.layer_params = [[select(p).requires_grad_() for p in layer] for layer in self.layer_params]
        self.mean = [[select(m) for m in layer] for layer in self.mean]
        self.square = [[select(s) for s in layer] for layer in self.square]
        self.slots = [self.slots[k] for k in keep]
        self.configs = [self.configs[k] for k in keep]
        self.generators = [self.generators[k] for k in keep]
        self.lr = self.lr[keep]
        self._settle(index.device)

    def forward(self, inputs: InputSpikes, record: bool = False):
        """Logits ``(N, B, C)``: the readout membranes' maximum over time (and each hidden
        layer's spike rate ``(N,)``) for the inputs."""
        rates = []  # each hidden layer's spike rate (N,)
        x = None
        if self.kernels is not None and torch.is_grad_enabled():
            logits, rate = NativeNetwork.apply(self.layer_params[0][0], self.layer_params[1][0],
                                                inputs, self.spec, self.kernels)
            return (logits, [rate]) if record else logits
        if self.kernels is not None:
            logits, rate, *_ = native_forward(self.layer_params[0][0], self.layer_params[1][0], inputs,
                                               self.spec, self.kernels, rates=record)
            return (logits, [rate]) if record else logits
        for layer in self.layer_params[:-1]:
            recurrent = layer[1] if len(layer) > 1 else None
            currents = (_SpikeCurrents.apply(layer[0], inputs) if x is None
                        else _PerConfigLinear.apply(x, layer[0]))
            x = LIFEnsemble.apply(currents, recurrent, self.spec)
            rates.append(x.detach().mean((1, 2, 3)))
        currents = _PerConfigLinear.apply(x, self.layer_params[-1][0])
        n, steps, batch, classes = currents.shape
        kernel = decay_kernel(steps, self.spec.beta, currents.dtype, currents.device)
        readout = torch.matmul(kernel, currents.view(n, steps, batch * classes)).view(currents.shape)
        logits = readout.amax(1)
        return (logits, rates) if record else logits

    @torch.no_grad()
    def adam_step(self, step_count: int, betas=(0.9, 0.999), eps: float = 1e-8) -> None:
        """:class:`sgexplore.train.Adam`'s update, each configuration with its own learning rate."""
        beta1, beta2 = betas
        bias1 = 1 - beta1 ** step_count
        bias2 = 1 - beta2 ** step_count
        for layer, means, squares in zip(self.layer_params, self.mean, self.square):
            for p, mean, square in zip(layer, means, squares):
                step_size = (-self.lr / bias1).to(p.dtype).view(-1, *([1] * (p.dim() - 1)))
                mean.lerp_(p.grad, 1 - beta1)
                square.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                denominator = (square.sqrt() / math.sqrt(bias2)).add_(eps)
                p.addcdiv_(mean * step_size, denominator)
                p.grad = None

    def grad_norms(self) -> torch.Tensor:
        """``(N, layers)`` float64: each layer's weight-gradient L2 norm (a recurrent layer's
        covers both of its matrices)."""
        columns = []
        for layer in self.layer_params:
            squares = sum(torch.linalg.vector_norm(p.grad, dim=tuple(range(1, p.dim())), dtype=torch.float64) ** 2
                          for p in layer)
            columns.append(squares.sqrt())
        return torch.stack(columns, 1)


class _Data:
    """Each distinct seed's data set as spike lists, stacked so that one index picks any
    seed's sample."""

    def __init__(self, configs: List[TrainConfig]):
        first = configs[0]
        seeds = sorted({c.seed for c in configs})
        self.seed_index = {seed: k for k, seed in enumerate(seeds)}
        sets = [tasks.load(first.task, first.classes, first.units, first.time_steps, first.manifold_dim,
                           first.alpha, first.samples_per_class, seed) for seed in seeds]
        device = torch.device(first.device)
        self.steps, self.n_in = first.time_steps, sets[0].x_train.shape[-1]
        self.n_train, self.n_test = sets[0].y_train.shape[0], sets[0].y_test.shape[0]
        # (seeds · samples, M) spike lists, samples of seed k at k·samples
        train_x = torch.cat([d.x_train.transpose(0, 1) for d in sets])
        test_x = torch.cat([d.x_test.transpose(0, 1) for d in sets])
        self.train = tuple(a.to(device) for a in spike_lists(train_x))
        self.test = tuple(a.to(device) for a in spike_lists(test_x))
        self.y_train = torch.cat([d.y_train for d in sets]).to(device)
        self.y_test = torch.cat([d.y_test for d in sets]).to(device)

    def _pick(self, lists, index: torch.Tensor) -> InputSpikes:
        times, units, values = (a[index] for a in lists)
        return InputSpikes(times, units, values, self.steps, self.n_in)

    def batch(self, stack: _Stack, batch_size: int) -> Tuple[InputSpikes, torch.Tensor]:
        """Each configuration's next batch, drawn by its own generator as train() draws it,
        and its labels ``(N, B)``."""
        rows = []
        for config, generator in zip(stack.configs, stack.generators):
            offset = self.seed_index[config.seed] * self.n_train
            rows.append(torch.randperm(self.n_train, generator=generator)[:batch_size] + offset)
        index = torch.stack(rows).to(self.y_train.device)
        return self._pick(self.train, index), self.y_train[index]

    def test_set(self, stack: _Stack) -> Tuple[InputSpikes, torch.Tensor]:
        """Each configuration's whole test set, and its labels ``(N, n_test)``."""
        offsets = torch.tensor([self.seed_index[c.seed] * self.n_test for c in stack.configs],
                               device=self.y_test.device)
        index = offsets[:, None] + torch.arange(self.n_test, device=offsets.device)
        return self._pick(self.test, index), self.y_test[index]


def train_many(configs: Sequence[TrainConfig]) -> Iterator[Tuple[Optional[StepRecord], ...]]:
    """Train N configurations of one architecture together, yielding one tuple per step.

    The tuple has one :class:`~sgexplore.train.StepRecord` per configuration, in the order
    given; an entry is None once its configuration has diverged or finished (each config
    keeps its own ``steps``). Each configuration's records match its own
    ``train(config)`` up to float rounding: same data set, initial weights and batches (from
    its own seed), same loss, Adam and divergence rule. Rounding differences stay at the last
    bits for well-behaved runs; runs with exploding gradients amplify them, as they amplify
    another machine's. ``elapsed_s`` is the time since the ensemble started.

    Only ``surrogate``, ``detach_reset``, ``lr``, ``seed``, ``weight_scale``, ``steps`` and
    ``test_every`` may differ (:data:`VARYING_FIELDS`); other differences raise ValueError
    naming the field. Surrogates that differ only in ``grad_scale`` share one group. The
    ensemble trains with Adam and records no membrane histograms: a config with another
    ``optimizer`` or a nonzero ``record_every`` raises ValueError (``train()`` does both).
    """
    return _stream_many(_check_configs(configs))


def _stream_many(configs: List[TrainConfig]) -> Iterator[Tuple[Optional[StepRecord], ...]]:
    start = time.perf_counter()
    first = configs[0]
    with _Threads(first.threads):
        data = _Data(configs)
        order, _ = surrogate_groups([c.surrogate for c in configs])
        stack = _Stack(configs, order, data.n_in)
    for step in range(1, max(c.steps for c in configs) + 1):
        with _Threads(first.threads):
            records, keep = _step(stack, data, step, start)
        out: List[Optional[StepRecord]] = [None] * len(configs)
        for slot, record in records.items():
            out[slot] = record
        yield tuple(out)
        if not keep:
            return
        if len(keep) < len(stack.slots):
            with _Threads(first.threads):
                stack.keep_only(keep)


def _step(stack: _Stack, data: _Data, step: int, start: float) -> Tuple[Dict[int, StepRecord], List[int]]:
    """One optimizer step of every active configuration: their records, and the positions of
    those that go on."""
    config = stack.configs[0]
    x, y = data.batch(stack, config.batch_size)
    logits, rates = stack.forward(x, record=True)                        # (N, B, C)
    n, batch, classes = logits.shape
    losses = F.cross_entropy(logits.reshape(n * batch, classes), y.reshape(-1),
                             reduction="none").view(n, batch).mean(1)
    losses.sum().backward()
    loss_values = losses.detach().tolist()
    accuracy = (logits.detach().argmax(2) == y).float().mean(1).tolist()
    norms = stack.grad_norms().tolist()
    rates = torch.stack(rates, 1).tolist()
    finite = [math.isfinite(loss) and all(math.isfinite(g) for g in row)
              for loss, row in zip(loss_values, norms)]
    stack.adam_step(step)  # a diverged entry's update is thrown away with it below
    tested = [f and (step % c.test_every == 0 or step == c.steps) for f, c in zip(finite, stack.configs)]
    test_accuracy, test_loss = _test_metrics(stack, data) if any(tested) else (None, None)
    elapsed = time.perf_counter() - start
    records: Dict[int, StepRecord] = {}
    keep = []
    for k, (slot, c) in enumerate(zip(stack.slots, stack.configs)):
        records[slot] = StepRecord(step=step, loss=loss_values[k], accuracy=accuracy[k],
                                   test_accuracy=test_accuracy[k] if tested[k] else None,
                                   test_loss=test_loss[k] if tested[k] else None,
                                   grad_norms=tuple(norms[k]), spike_rates=tuple(rates[k]),
                                   elapsed_s=elapsed, status="ok" if finite[k] else "diverged")
        if finite[k] and step < c.steps:
            keep.append(k)
    return records, keep


def _test_metrics(stack: _Stack, data: _Data) -> Tuple[List[float], List[float]]:
    """Each configuration's test accuracy and test cross-entropy (as ``train()`` reports them)."""
    x, y = data.test_set(stack)
    with torch.no_grad():
        logits = stack.forward(x)                                         # (N, B, C)
        n, batch, classes = logits.shape
        loss = F.cross_entropy(logits.reshape(n * batch, classes), y.reshape(-1),
                               reduction="none").view(n, batch).mean(1)
    return (logits.argmax(2) == y).float().mean(1).tolist(), loss.tolist()
