"""The fused spike path: each elementwise chain compiled into one pass over memory.

Eager PyTorch runs a surrogate formula as a chain of elementwise ops, and each op reads
and writes the whole tensor again; MultiGaussian's backward is a dozen such passes.
``torch.compile`` fuses the chain into one kernel (C++/OpenMP on CPU, Triton on CUDA) that
reads its inputs once and writes its result once. :func:`sgexplore.spike.spike` compiles
two functions this way: the forward staircase and the backward
``grad_output * surrogate.grad(v_mem, spike_threshold)``. The formulas are not rewritten;
the compiler traces the same ``grad`` method the eager path calls.

Which path runs (:func:`choose_backend`):

* ``"eager"``: plain PyTorch ops, always available, no compilation.
* ``"fused"``: the compiled kernels; raises ``RuntimeError`` only where compilation is
  impossible (unsupported platform, or a compilation that already failed here).
* ``"auto"`` (the default): fused for tensors of at least :data:`AUTO_MIN_NUMEL` elements
  on that device, eager otherwise. Compiling takes seconds per surrogate and per dtype,
  and a compiled call carries a fixed overhead (guards, dispatch), so the toy SNN's small
  per-step tensors and the widgets' slider moves never compile. Inside an outer
  ``torch.compile`` the eager ops run, and that compiler fuses them itself.

If compilation fails under ``"auto"``, the call runs eagerly, one ``RuntimeWarning`` says
why, and every later ``"auto"`` call stays eager.

Compiled kernels are cached per surrogate (its parameter values), float threshold,
mode, dtype, device and size class (a factor of 16 in elements), at most
:data:`CACHE_SIZE` of them (least recently used go first). Parameters and a float
threshold are compiled in as constants, which keeps the CUDA kernels at the
memory-bandwidth limit; the price is a compilation (seconds) for each new value, which
only large tensors pay, and only once per value.
``torch._dynamo`` (2-3 s to import) is imported only when a fused call first needs it.
"""

from __future__ import annotations

import types
import warnings
from collections import OrderedDict
from typing import Any, Callable, Dict, Hashable, Optional, Tuple

import torch

__all__ = ["BACKENDS", "AUTO_MIN_NUMEL", "CACHE_SIZE", "choose_backend", "check_backend",
           "unavailable_reason", "run_fused"]

BACKENDS = ("auto", "eager", "fused")

#: Smallest tensor (in elements) for which ``backend="auto"`` takes the fused path, per
#: device type; devices not listed stay eager under "auto". Chosen from the measured
#: crossovers (benchmarks/bench_spike.py, BENCHMARKS.md "Spike function"). CPU (2 cores):
#: a fused call carries ~0.1 ms more fixed overhead than an eager one, so at 1e5 elements
#: fused only ties eager for the cheap surrogates (2x faster for MultiGaussian), and from
#: 1e6 it is 1.4-5.5x faster (more at 4e6); 2^18 sits above the tie.
#: CUDA (H200, wall clock with the host's overhead): the compiled call's host overhead
#: (~0.8 ms per forward+backward on that host) hides the kernel's gain up to 4e6 elements;
#: fused wins from 2^24 for MultiGaussian and from 2^26 for all but the two trivial
#: surrogates, so 2^25. Both sit far above the toy SNN's per-step tensors (batch x
#: hidden, a few thousand elements): small tensors never pay for a compilation.
AUTO_MIN_NUMEL: Dict[str, int] = {"cpu": 2**18, "cuda": 2**25}

#: Most compiled functions kept; the least recently used is dropped beyond this.
CACHE_SIZE = 128

_compiled: "OrderedDict[Hashable, Callable]" = OrderedDict()
_failure: Optional[str] = None  # why compilation is unavailable here, once known


def check_backend(backend: str) -> None:
    """Raise ValueError unless ``backend`` is one of :data:`BACKENDS`."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}")


def unavailable_reason() -> Optional[str]:
    """Why the fused path cannot run here, or None if it can (imports torch._dynamo)."""
    if _failure is not None:
        return _failure
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        return "torch.compile is not supported on this Python version or platform"
    return None


def choose_backend(v_mem: torch.Tensor, backend: str = "auto") -> str:
    """The path a spike of ``v_mem`` takes: ``"eager"`` or ``"fused"``.

    ``"auto"`` decides by size and device without importing the compiler for tensors
    below :data:`AUTO_MIN_NUMEL`. ``"fused"`` raises RuntimeError if compilation is
    impossible here.
    """
    check_backend(backend)
    if backend == "eager" or torch.compiler.is_compiling():
        return "eager"
    if backend == "fused":
        reason = unavailable_reason()
        if reason is not None:
            raise RuntimeError(f"backend='fused' is impossible here: {reason}. "
                               "Use backend='auto' or backend='eager'.")
        return "fused"
    min_numel = AUTO_MIN_NUMEL.get(v_mem.device.type)
    if min_numel is None or v_mem.numel() < min_numel:
        return "eager"
    return "eager" if unavailable_reason() is not None else "fused"


def run_fused(function: Callable, *args: Any, strict: bool = False) -> Any:
    """``function(*args)`` through its compiled version, compiled once per key.

    The key is the dtype, device and rank of each tensor argument and the value of
    each other one (a surrogate, a float threshold, a mode). If
    compiling fails, ``strict=True`` raises RuntimeError; otherwise the call runs
    eagerly, warns once, and later "auto" choices stay eager.
    """
    global _failure
    if _failure is not None:  # an earlier compilation failed: stay eager, warned already
        if strict:
            raise RuntimeError(f"backend='fused' is impossible here: {_failure}. "
                               "Use backend='auto' or backend='eager'.")
        return function(*args)
    key = (function.__module__, function.__qualname__, _signature(args))
    try:
        compiled = _compiled_for(key, function)
        import torch._dynamo

        with torch._dynamo.config.patch(**_compile_config(torch._dynamo.config)):
            return compiled(*args)
    except Exception as error:  # compilation fails in many ways; the eager call judges
        result = function(*args)  # an error of the call itself is raised here, unmasked
        _failure = f"torch.compile failed ({type(error).__name__}: {_first_line(error)})"
        if strict:
            raise RuntimeError(f"backend='fused' is impossible here: {_failure}. "
                               "Use backend='auto' or backend='eager'.") from error
        warnings.warn(f"sgexplore: {_failure}; spike() runs eagerly from now on.",
                      RuntimeWarning, stacklevel=3)
        return result


def _compile_config(config) -> Dict[str, bool]:
    # specialize_float: the surrogate's parameters and a float threshold become
    # constants folded into the kernel, not runtime scalars recomputed per element
    # in float64 (which made the CUDA kernels compute-bound).
    # capture_scalar_outputs: a user's surrogate that takes float() of a tensor inside
    # grad() stays in one graph instead of breaking it.
    wanted = {"specialize_float": True, "capture_scalar_outputs": True}
    return {name: value for name, value in wanted.items() if hasattr(config, name)}


def _compiled_for(key: Hashable, function: Callable) -> Callable:
    compiled = _compiled.get(key)
    if compiled is not None:
        _compiled.move_to_end(key)
        return compiled
    compiled = _compile(_own_copy(function))
    _compiled[key] = compiled
    while len(_compiled) > CACHE_SIZE:
        _compiled.popitem(last=False)
    return compiled


def _compile(function: Callable) -> Callable:
    # dynamic=True: one kernel serves every size in its size class. No FX graph cache:
    # it would hand every size class the kernel tuned for the first size compiled.
    return torch.compile(function, dynamic=True, options={"fx_graph_cache": False})


def _own_copy(function: Callable) -> Callable:
    """A copy of ``function`` with its own code object.

    torch.compile keeps compiled variants, and its recompile limit (8), per code
    object; a copy per cache key lets many surrogates compile without evicting
    each other or hitting that limit, and frees the variants with the key.
    """
    code = function.__code__.replace()
    copy = types.FunctionType(code, function.__globals__, function.__name__,
                              function.__defaults__, function.__closure__)
    copy.__qualname__ = function.__qualname__
    copy.__kwdefaults__ = function.__kwdefaults__
    return copy


def _signature(args: Tuple[Any, ...]) -> Tuple[Hashable, ...]:
    """Tensors by dtype, device, rank and size class; other arguments by value.

    The size class (numel within a factor of 16) matters because the compiler tunes a
    kernel to the first size it sees (threads on CPU, block sizes on CUDA): a kernel
    first compiled for a tiny tensor runs a huge one single-threaded.
    """
    return tuple((arg.dtype, arg.device.type, arg.dim(), arg.numel().bit_length() // 4)
                 if isinstance(arg, torch.Tensor) else _hashable(arg) for arg in args)


def _hashable(value: Any) -> Hashable:
    """``value`` itself, or its type and identity if unhashable (a mutable user
    surrogate); the compiler's guards check its attributes either way."""
    try:
        hash(value)
        return value
    except TypeError:
        return (type(value), id(value))


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else ""
