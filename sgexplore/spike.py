"""The spike as an autograd function: a true step forward, a surrogate backward.

``spike(v_mem, spike_threshold, surrogate)`` returns spikes with sinabs' forward
semantics and, in the backward pass, ``grad_output * surrogate(v_mem, spike_threshold)``
in place of the step's derivative (which is zero almost everywhere).

Modes (as sinabs' ``SingleSpike``, ``MultiSpike`` and ``MaxSpike``):

* ``"single"``: ``(v >= thr)``, at most one spike per step;
* ``"multi"``: ``(v > 0) * trunc(v / thr)``, one spike per threshold crossed;
* ``"max"``: ``multi`` clamped at ``max_spikes``.

Unlike sinabs, a threshold tensor that requires grad receives the consistent gradient
``-grad_output * surrogate`` (summed over broadcast dimensions), so thresholds can be
learned.

Backends: ``backend="eager"`` runs plain PyTorch ops; ``backend="fused"`` compiles the
forward and the backward into one pass over memory each (:mod:`sgexplore.fused`);
``backend="auto"`` (the default) takes the fused path for large tensors only.
"""

from __future__ import annotations

from typing import Optional, Union

import torch

from .fused import check_backend, choose_backend, run_fused
from .params import Param, ParamTypeError, shown, validate_value
from .surrogates import WIDTH_RANGE, Surrogate, check_membrane, check_threshold

__all__ = ["spike", "SpikeFunction", "spike_forward", "surrogate_backward", "reset_subtract",
           "reset_to_value", "MODES", "MODE", "MAX_SPIKES", "DETACH_RESET", "RESET_VALUE"]

MODES = ("single", "multi", "max")
MODE = Param("single", choices=MODES,
             doc="single: at most one spike per step; multi: one per threshold crossed; "
                 "max: multi, capped at max_spikes")
MAX_SPIKES = Param(2, low=1, integer=True, slider=(1, 10, 1),
                   doc="the most spikes a neuron emits in one step (mode 'max' only)")
DETACH_RESET = Param(False, doc="stop the gradient through the reset")
RESET_VALUE = Param(0.0, low=-WIDTH_RANGE[1], high=WIDTH_RANGE[1], slider=(-1.0, 1.0, 0.05),
                    convention="absolute", doc="membrane potential a neuron that spiked is set to")
Threshold = Union[float, torch.Tensor]
_HALF_DTYPES = (torch.float16, torch.bfloat16)


def spike_forward(v_mem: torch.Tensor, spike_threshold: Threshold, mode: str = "single",
                  max_spikes: Optional[int] = None) -> torch.Tensor:
    """The forward staircase alone (no autograd), in the dtype of ``v_mem``."""
    if mode == "single":
        return (v_mem >= spike_threshold).to(v_mem.dtype)
    spikes = (v_mem > 0) * torch.div(v_mem, spike_threshold, rounding_mode="trunc")
    if mode == "max":
        spikes = torch.clamp(spikes, max=max_spikes)
    return spikes.to(v_mem.dtype)


def surrogate_backward(grad_output: torch.Tensor, v_mem: torch.Tensor, spike_threshold: Threshold,
                       surrogate: Surrogate) -> torch.Tensor:
    """The spike's gradient with respect to ``v_mem``: ``grad_output * surrogate.grad(v_mem, thr)``.

    float16 and bfloat16 are computed in float32 and rounded once, as the fused kernels
    compute them. In half precision a factor such as SingleExponential's
    ``grad_scale / (thr * grad_width)`` can overflow to inf, and inf times an exponential
    that underflowed to 0 is NaN; in float32 both stay finite. (sinabs computes in the
    input's dtype, so in float16 it can give NaN where this gives a number; float32 and
    float64 are unchanged, bitwise as sinabs.)
    """
    if v_mem.dtype in _HALF_DTYPES:
        if isinstance(spike_threshold, torch.Tensor):
            spike_threshold = spike_threshold.float()
        return (grad_output.float() * surrogate.grad(v_mem.float(), spike_threshold)).to(v_mem.dtype)
    return grad_output * surrogate.grad(v_mem, spike_threshold)


def _reduce_to(grad: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Sum ``grad`` over the dimensions that ``like`` was broadcast along."""
    reduced = grad.sum() if like.dim() == 0 else grad.sum_to_size(like.shape)
    return reduced.reshape(like.shape).to(like.dtype)


class SpikeFunction(torch.autograd.Function):
    """Autograd function behind :func:`spike`; call :func:`spike` instead."""

    @staticmethod
    def forward(ctx, v_mem, spike_threshold, surrogate, mode, max_spikes, backend="eager", strict=False):
        threshold_is_tensor = isinstance(spike_threshold, torch.Tensor)
        # Backward needs v_mem, plus the threshold when it is a tensor; nothing else.
        if threshold_is_tensor:
            ctx.save_for_backward(v_mem, spike_threshold)
        else:
            ctx.save_for_backward(v_mem)
            ctx.spike_threshold = spike_threshold
        ctx.surrogate = surrogate
        ctx.backend, ctx.strict = backend, strict
        if backend == "fused":
            return run_fused(spike_forward, v_mem, spike_threshold, mode, max_spikes, strict=strict)
        return spike_forward(v_mem, spike_threshold, mode, max_spikes)

    @staticmethod
    def backward(ctx, grad_output):
        saved = ctx.saved_tensors
        v_mem = saved[0]
        spike_threshold = saved[1] if len(saved) > 1 else ctx.spike_threshold
        # A double backward (create_graph=True) differentiates the eager ops.
        if ctx.backend == "fused" and not torch.is_grad_enabled():
            grad_v = run_fused(surrogate_backward, grad_output, v_mem, spike_threshold,
                               ctx.surrogate, strict=ctx.strict)
        else:
            grad_v = surrogate_backward(grad_output, v_mem, spike_threshold, ctx.surrogate)
        grad_threshold = None
        if len(saved) > 1 and ctx.needs_input_grad[1]:
            grad_threshold = _reduce_to(-grad_v, spike_threshold)
        return (grad_v if ctx.needs_input_grad[0] else None), grad_threshold, None, None, None, None, None


def _check_threshold_for(spike_threshold: Threshold, v_mem: torch.Tensor, name: str = "v_mem") -> None:
    """The threshold's range, and that a threshold tensor fits ``v_mem``: it broadcasts to
    ``v_mem``'s shape without enlarging it, on the same device (or a 0-dim CPU tensor)."""
    check_threshold(spike_threshold)
    if not isinstance(spike_threshold, torch.Tensor):
        return
    try:
        shape = torch.broadcast_shapes(spike_threshold.shape, v_mem.shape)
    except RuntimeError:
        shape = None
    if shape != v_mem.shape:
        raise ValueError(f"spike_threshold must be a number or a tensor that broadcasts to {name}'s "
                         f"shape {tuple(v_mem.shape)}; got a tensor of shape {tuple(spike_threshold.shape)}")
    if spike_threshold.device != v_mem.device and spike_threshold.dim() > 0:
        raise ValueError(f"spike_threshold must be on {name}'s device {v_mem.device}; "
                         f"got a tensor on {spike_threshold.device}")


def _check_spike_args(v_mem, spike_threshold, surrogate, mode, max_spikes, backend) -> None:
    check_membrane(v_mem)
    _check_threshold_for(spike_threshold, v_mem)
    if not isinstance(surrogate, Surrogate):
        raise ParamTypeError("surrogate must be a sgexplore Surrogate instance "
                             f"(e.g. Gaussian()); got {shown(surrogate)}")
    validate_value("", "mode", MODE, mode)
    if mode == "max":
        validate_value("", "max_spikes", MAX_SPIKES, max_spikes)
    elif max_spikes is not None:
        raise ValueError(f"max_spikes is only used with mode='max'; got max_spikes={max_spikes!r} "
                         f"with mode={mode!r}")
    check_backend(backend)


def spike(v_mem: torch.Tensor, spike_threshold: Threshold = 1.0, surrogate: Surrogate = None,
          mode: str = "single", max_spikes: Optional[int] = None, *, backend: str = "auto") -> torch.Tensor:
    """Spikes of ``v_mem`` with a surrogate gradient.

    Args:
        v_mem: membrane potential, any shape, float16/bfloat16/float32/float64, CPU or CUDA,
            finite (NaN or inf raise ValueError: this reads every value, a device sync on
            CUDA; :func:`sgexplore.snn.lif_step` skips that check, and training reports a
            NaN that arises as a "diverged" record instead).
        spike_threshold: a number in :data:`~sgexplore.surrogates.SPIKE_THRESHOLD`'s range,
            or a tensor of such numbers that broadcasts to ``v_mem``'s shape (it may not
            enlarge it); a tensor that requires grad gets ``-grad_output * surrogate``.
        surrogate: a :class:`~sgexplore.surrogates.Surrogate`, e.g. ``MultiGaussian()``.
        mode: ``"single"``, ``"multi"`` or ``"max"`` (see the module docstring).
        max_spikes: the cap for ``mode="max"``.
        backend: ``"auto"`` (fused for large tensors, see
            :func:`sgexplore.fused.choose_backend`), ``"eager"`` or ``"fused"``.
            Both paths give the same spikes and the same gradient up to float rounding.
            The fused path compiles on first use (seconds; on CPU once per tensor shape,
            surrogate class, mode and dtype: parameter values and a float threshold are
            runtime inputs; on CUDA also per value), then reuses the kernel.

    Returns:
        The spike tensor, same shape and dtype as ``v_mem``. Its backward is exactly
        ``grad_output * surrogate(v_mem, spike_threshold)``.

    Raises:
        ValueError naming the argument and its valid values;
        :class:`~sgexplore.params.ParamTypeError` (a TypeError) for an argument of the
        wrong type.
    """
    _check_spike_args(v_mem, spike_threshold, surrogate, mode, max_spikes, backend)
    return spike_unchecked(v_mem, spike_threshold, surrogate, mode, max_spikes, backend)


def spike_unchecked(v_mem: torch.Tensor, spike_threshold: Threshold, surrogate: Surrogate,
                    mode: str = "single", max_spikes: Optional[int] = None,
                    backend: str = "auto") -> torch.Tensor:
    """:func:`spike` without its argument checks, for a caller that checked them once
    (:func:`sgexplore.snn.lif_step`, whose :class:`~sgexplore.snn.LIFParameters` are
    validated on construction) and calls it at every time step."""
    path = choose_backend(v_mem, backend)
    return SpikeFunction.apply(v_mem, spike_threshold, surrogate, mode, max_spikes, path,
                               backend == "fused")


def _check_reset_args(v_mem, spikes, detach) -> None:
    check_membrane(v_mem)
    check_membrane(spikes, "spikes")
    if spikes.shape != v_mem.shape:
        raise ValueError(f"spikes must have v_mem's shape {tuple(v_mem.shape)}; "
                         f"got {tuple(spikes.shape)}")
    if spikes.device != v_mem.device:
        raise ValueError(f"spikes must be on v_mem's device {v_mem.device}; got {spikes.device}")
    validate_value("", "detach", DETACH_RESET, detach)


def reset_subtract(v_mem: torch.Tensor, spikes: torch.Tensor, spike_threshold: Threshold,
                   detach: bool = False) -> torch.Tensor:
    """Subtract ``spikes * spike_threshold`` (one threshold per spike).

    With ``detach=True`` no gradient flows through the reset; with ``False`` it flows
    through ``spikes`` and so through the surrogate. Zenke & Vogels (2021) show that
    this choice decides how much the surrogate's scale matters. ``v_mem`` and ``spikes``
    are finite floating-point tensors of one shape; the threshold is checked as in
    :func:`spike`.
    """
    _check_reset_args(v_mem, spikes, detach)
    _check_threshold_for(spike_threshold, v_mem)
    return reset_subtract_unchecked(v_mem, spikes, spike_threshold, detach)


def reset_subtract_unchecked(v_mem, spikes, spike_threshold, detach=False):
    """:func:`reset_subtract` without its argument checks (for :func:`sgexplore.snn.lif_step`)."""
    fired = spikes.detach() if detach else spikes
    return v_mem - fired * spike_threshold


def reset_to_value(v_mem: torch.Tensor, spikes: torch.Tensor, reset_value: float = 0.0,
                   detach: bool = False) -> torch.Tensor:
    """Set neurons that spiked to ``reset_value``; leave the others untouched.

    (sinabs' ``MembraneReset`` adds ``reset_value`` to every neuron; here only neurons
    that spiked move.) With ``detach=False`` the gradient flows through the spike.
    ``v_mem`` and ``spikes`` are finite floating-point tensors of one shape;
    ``reset_value`` is declared by :data:`RESET_VALUE`.
    """
    _check_reset_args(v_mem, spikes, detach)
    validate_value("", "reset_value", RESET_VALUE, reset_value)
    return reset_to_value_unchecked(v_mem, spikes, reset_value, detach)


def reset_to_value_unchecked(v_mem, spikes, reset_value=0.0, detach=False):
    """:func:`reset_to_value` without its argument checks (for :func:`sgexplore.snn.lif_step`)."""
    fired = torch.clamp(spikes, max=1.0)
    if detach:
        fired = fired.detach()
    return v_mem * (1 - fired) + fired * reset_value
