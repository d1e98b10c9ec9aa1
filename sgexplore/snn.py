"""Leaky integrate-and-fire (LIF) layers and a small spiking network on :mod:`sgexplore.spike`.

The dynamics are pure functions over explicit state (norse style); the modules only hold
weights and loop over time. One time step of a LIF neuron, in discrete time:

    v[t] = beta * v[t-1] + I[t]        leaky integration of the input current I
    s[t] = spike(v[t])                 step forward, surrogate backward
    v[t] = reset(v[t], s[t])           "subtract": v - s*thr,  "zero": 0 where s > 0,  "none"

The readout is a non-spiking leaky integrator, ``u[t] = beta * u[t-1] + I[t]``; the network
returns ``u`` for every time step. Tensors are time-major: ``(T, B, features)``.

Efficient by construction: a layer's input currents for all time steps come from one
matmul, the time loop walks ``unbind(0)`` (indexing a tensor that requires grad at every
step would add an indexing node per step to the graph), and the readout, being linear,
is one matmul with a decay kernel instead of a loop.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .params import Param, ParamTypeError, field_for, params_of, validate_value
from .spike import (DETACH_RESET, MODE, reset_subtract_unchecked, reset_to_value_unchecked, spike,
                    spike_unchecked)
from .surrogates import SPIKE_THRESHOLD, Surrogate, check_threshold

__all__ = ["RESETS", "BETA", "RESET", "DETACH_RESET", "RECURRENT", "WEIGHT_SCALE", "LAYER_SIZE",
           "LIFParameters", "lif_step", "leaky_integrate", "decay_kernel",
           "LIFLayer", "LeakyReadout", "SNN"]

#: What happens to the membrane after a spike.
RESETS = ("subtract", "zero", "none")

BETA = Param(0.9, low=0.0, high=1.0, slider=(0.0, 1.0, 0.01),
             doc="membrane decay per step (1 = no leak)")
RESET = Param("subtract", choices=RESETS,
              doc="after a spike: subtract the threshold (v − s·thr), set v to zero, or no reset")
RECURRENT = Param(False, doc="all-to-all recurrent weights in each hidden layer")
WEIGHT_SCALE = Param(1.0, low=0.0, high=100.0, slider=(0.0, 5.0, 0.1),
                     doc="initial weights: std = weight_scale / sqrt(fan_in)")
#: The width of one layer (a hidden layer's in :class:`sgexplore.train.TrainConfig`).
LAYER_SIZE = Param(64, low=1, high=4096, slider=(8, 256, 8), integer=True,
                   doc="number of LIF neurons in a hidden layer")


@dataclass(frozen=True)
class LIFParameters:
    """Everything a LIF step needs besides its input and state.

    Attributes:
        surrogate: the surrogate used in the spike's backward pass.
        beta: membrane decay per step, in [0, 1] (1 = no leak).
        spike_threshold: firing threshold, > 0.
        reset: ``"subtract"`` (v - s*thr), ``"zero"`` (v = 0 where a spike occurred) or
            ``"none"`` (v keeps growing; the neuron fires at every step above threshold).
        detach_reset: when True no gradient flows through the reset (through ``s`` into v).
        mode: spike mode of :func:`sgexplore.spike.spike` (``"single"``, ``"multi"``, ``"max"``).
        max_spikes: the cap for ``mode="max"``.
    """

    surrogate: Surrogate
    beta: float = field_for(BETA)
    spike_threshold: float = field_for(SPIKE_THRESHOLD)
    reset: str = field_for(RESET)
    detach_reset: bool = field_for(DETACH_RESET)
    mode: str = field_for(MODE)
    max_spikes: Optional[int] = None

    def __post_init__(self) -> None:
        check_threshold(self.spike_threshold)  # a number or a tensor of thresholds
        for name, declaration in params_of(self).items():
            if name != "spike_threshold":
                validate_value("LIFParameters", name, declaration, getattr(self, name))
        # One checked call validates surrogate, mode and max_spikes with spike()'s own rules.
        spike(torch.zeros(1), self.spike_threshold, self.surrogate, self.mode, self.max_spikes)


def lif_step(current: torch.Tensor, v_mem: torch.Tensor, p: LIFParameters,
             pre_spike: Optional[List[torch.Tensor]] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """One LIF time step: integrate ``current``, spike, reset. Returns ``(spikes, v_mem)``.

    With a list as ``pre_spike`` the membrane the spike acts on (after integration, before
    the spike and the reset) is appended to it, detached: what the membrane lens records.

    ``v_mem`` is the state after the previous step's reset; the returned ``v_mem`` is the
    state after this step's reset. The settings in ``p`` were validated when it was built,
    so the spike and the reset run without their per-call checks, and no value of the
    state is read (no device sync): a NaN or inf in it propagates to the loss, where
    :func:`sgexplore.train.train` reports the run as diverged.
    """
    if not isinstance(p, LIFParameters):
        raise ParamTypeError(f"p must be LIFParameters; got {type(p).__name__}")
    for name, tensor in (("current", current), ("v_mem", v_mem)):
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            raise ParamTypeError(f"{name} must be a floating-point tensor; got {type(tensor).__name__}")
    if current.shape != v_mem.shape:
        raise ValueError(f"current and v_mem must have one shape; got {tuple(current.shape)} "
                         f"and {tuple(v_mem.shape)}")
    v_mem = current.add(v_mem, alpha=p.beta)  # current + beta * v_mem, one autograd node
    if pre_spike is not None:
        pre_spike.append(v_mem.detach())
    spikes = spike_unchecked(v_mem, p.spike_threshold, p.surrogate, p.mode, p.max_spikes)
    if p.reset == "subtract":
        v_mem = reset_subtract_unchecked(v_mem, spikes, p.spike_threshold, detach=p.detach_reset)
    elif p.reset == "zero":
        v_mem = reset_to_value_unchecked(v_mem, spikes, 0.0, detach=p.detach_reset)
    return spikes, v_mem


@functools.lru_cache(maxsize=32)
def decay_kernel(time_steps: int, beta: float, dtype=torch.float32, device=None) -> torch.Tensor:
    """The ``(T, T)`` matrix ``K[t, s] = beta**(t - s)`` for ``s <= t``, else 0.

    Cached (building it costs more than using it); treat the result as read-only.
    """
    lag = torch.arange(time_steps, dtype=torch.float64)
    lag = lag[:, None] - lag[None, :]
    kernel = torch.tensor(float(beta), dtype=torch.float64) ** lag.clamp(min=0) * (lag >= 0)
    return kernel.to(dtype=dtype, device=device)


def leaky_integrate(currents: torch.Tensor, beta: float) -> torch.Tensor:
    """Membrane of a non-spiking leaky integrator, ``u[t] = beta*u[t-1] + I[t]``, ``u[-1] = 0``.

    ``currents`` is ``(T, ...)``; the result has the same shape. Computed as one matmul
    with :func:`decay_kernel` instead of a loop over time.
    """
    kernel = decay_kernel(currents.shape[0], beta, currents.dtype, currents.device)
    flat = currents.reshape(currents.shape[0], -1)
    return (kernel @ flat).reshape(currents.shape)


def _init_weight(n_out: int, n_in: int, weight_scale: float,
                 generator: Optional[torch.Generator]) -> nn.Parameter:
    # Normal with std weight_scale / sqrt(fan_in): the summed input current then has a
    # spread of about weight_scale per active input, whatever the layer width.
    w = torch.randn(n_out, n_in, generator=generator) * (weight_scale / math.sqrt(n_in))
    return nn.Parameter(w)


class LIFLayer(nn.Module):
    """A layer of LIF neurons with weights ``(n_out, n_in)`` and, optionally, recurrent ones.

    ``forward(x)`` maps input spikes ``(T, B, n_in)`` to output spikes ``(T, B, n_out)``.
    """

    def __init__(self, n_in: int, n_out: int, p: LIFParameters, recurrent: bool = False,
                 weight_scale: float = 1.0, generator: Optional[torch.Generator] = None):
        super().__init__()
        self.p = p
        self.weight = _init_weight(n_out, n_in, weight_scale, generator)
        self.recurrent_weight = (_init_weight(n_out, n_out, weight_scale, generator)
                                 if recurrent else None)

    def forward(self, x: torch.Tensor, pre_spike: Optional[List[torch.Tensor]] = None) -> torch.Tensor:
        """``pre_spike``: a list that receives each time step's membrane before the spike."""
        currents = torch.nn.functional.linear(x, self.weight)  # all time steps in one matmul
        v_mem = currents.new_zeros(currents.shape[1:])
        spikes = v_mem
        out: List[torch.Tensor] = []
        for current in currents.unbind(0):
            if self.recurrent_weight is not None:
                current = torch.addmm(current, spikes, self.recurrent_weight.t())
            spikes, v_mem = lif_step(current, v_mem, self.p, pre_spike)
            out.append(spikes)
        return torch.stack(out)


class LeakyReadout(nn.Module):
    """A non-spiking leaky integrator layer: returns its membrane ``(T, B, n_out)``."""

    def __init__(self, n_in: int, n_out: int, beta: float, weight_scale: float = 1.0,
                 generator: Optional[torch.Generator] = None):
        super().__init__()
        self.beta = beta
        self.weight = _init_weight(n_out, n_in, weight_scale, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return leaky_integrate(torch.nn.functional.linear(x, self.weight), self.beta)


def _check_sizes(sizes: Sequence[int]) -> Tuple[int, ...]:
    expected = ("sizes must be a list [n_in, *hidden, n_out] of at least two layer widths, "
                f"each {LAYER_SIZE.expected_text()}")
    if not isinstance(sizes, (list, tuple)):
        raise ParamTypeError(f"{expected}; got {type(sizes).__name__}")
    if len(sizes) < 2:
        raise ValueError(f"{expected}; got {len(sizes)} width(s)")
    return tuple(validate_value("SNN", "sizes[]", LAYER_SIZE, n) for n in sizes)


class SNN(nn.Module):
    """A feed-forward (optionally recurrent) LIF network with a leaky readout.

    Args:
        sizes: ``[n_in, *hidden, n_out]``; each hidden entry is a LIF layer, ``n_out`` is the
            non-spiking readout.
        surrogate: the surrogate for every spike's backward pass.
        beta, spike_threshold, reset, detach_reset, mode, max_spikes: see :class:`LIFParameters`;
            the readout uses the same ``beta``.
        recurrent: give each hidden layer all-to-all recurrent weights.
        weight_scale: initial weights are normal with std ``weight_scale / sqrt(fan_in)``.
        generator: a ``torch.Generator`` for the initial weights (reproducible without
            touching the global RNG).

    ``forward(x)`` takes ``(T, B, n_in)`` and returns the readout membrane ``(T, B, n_out)``;
    ``forward(x, record=True)`` returns ``(readout, [spikes of each hidden layer])``;
    a list as ``membranes`` receives each hidden layer's membrane before the spike,
    ``(T, B, n)``, detached.
    """

    def __init__(self, sizes: Sequence[int], surrogate: Surrogate, beta: float = 0.9,
                 spike_threshold: float = 1.0, reset: str = "subtract",
                 detach_reset: bool = False, recurrent: bool = False, mode: str = "single",
                 max_spikes: Optional[int] = None, weight_scale: float = 1.0,
                 generator: Optional[torch.Generator] = None):
        super().__init__()
        sizes = _check_sizes(sizes)
        validate_value("SNN", "recurrent", RECURRENT, recurrent)
        validate_value("SNN", "weight_scale", WEIGHT_SCALE, weight_scale)
        self.sizes = sizes
        self.lif = LIFParameters(surrogate, beta, spike_threshold, reset, detach_reset,
                                 mode, max_spikes)
        self.hidden = nn.ModuleList(
            LIFLayer(n_in, n_out, self.lif, recurrent, weight_scale, generator)
            for n_in, n_out in zip(sizes[:-2], sizes[1:-1]))
        self.readout = LeakyReadout(sizes[-2], sizes[-1], float(beta), weight_scale, generator)

    def forward(self, x: torch.Tensor, record: bool = False,
                membranes: Optional[List[torch.Tensor]] = None
                ) -> Union[torch.Tensor, Tuple[torch.Tensor, List[torch.Tensor]]]:
        if x.dim() != 3 or x.shape[-1] != self.sizes[0]:
            raise ValueError(f"input must have shape (T, B, {self.sizes[0]}); got {tuple(x.shape)}")
        spikes = []
        for layer in self.hidden:
            pre_spike: Optional[List[torch.Tensor]] = [] if membranes is not None else None
            x = layer(x, pre_spike)
            spikes.append(x)
            if membranes is not None:
                membranes.append(torch.stack(pre_spike))  # (T, B, n): each layer's v before its spikes
        readout = self.readout(x)
        return (readout, spikes) if record else readout
