"""The fused spike path: each elementwise chain compiled into one pass over memory.

Eager PyTorch runs a surrogate formula as a chain of elementwise ops, and each op reads
and writes the whole tensor again; MultiGaussian's backward is a dozen such passes.
Inductor, PyTorch's compiler, fuses the chain into one kernel (C++/OpenMP on CPU, Triton
on CUDA) that reads its inputs once and writes its result once.
:func:`sgexplore.spike.spike` compiles two functions this way: the forward staircase and
the backward ``grad_output * surrogate.grad(v_mem, spike_threshold)``. The formulas are
not rewritten by hand; the compiler traces the same ``grad`` method the eager path calls.

Which path runs (:func:`choose_backend`):

* ``"eager"``: plain PyTorch ops, always available, no compilation.
* ``"fused"``: the compiled kernels; raises ``RuntimeError`` only where compilation is
  impossible (unsupported platform, or a compilation that already failed here).
* ``"auto"`` (the default): fused for tensors of at least :data:`AUTO_MIN_NUMEL` elements
  on that device, eager otherwise. Each compilation is costly (BENCHMARKS.md has the
  costs), so the toy SNN's small per-step tensors and the widgets' slider moves never
  compile. Inside an outer ``torch.compile`` the eager ops run, and that compiler fuses
  them itself.

If compilation fails under ``"auto"``, the call runs eagerly, one ``RuntimeWarning`` says
why, and every later ``"auto"`` call stays eager.

How each device compiles:

* CPU: the function is traced to an FX graph with fake tensors, two graph
  simplifications run (:func:`drop_identity_ops`, exact; :func:`multiply_by_reciprocals`,
  within an ulp and only where that cannot change a branch), and Inductor compiles the
  graph for those exact shapes and strides. A call then runs the compiled graph directly,
  with no guards to check, which keeps its fixed cost low; BENCHMARKS.md ("Spike
  function", CPU) compares the per-call cost and the kernels with relu. Each new shape,
  stride pattern or thread count compiles once. **Floats are runtime inputs**: a float
  threshold and every float attribute of the surrogate (its parameters, and values it
  derived from them, such as a Gaussian's normaliser) enter the graph as 0-dim tensors
  of the compute dtype (float32 for float16, bfloat16 and float32 tensors, float64 for
  float64 ones: the precision eager PyTorch applies such a scalar in), so one compilation
  serves every value of a shape, surrogate class, mode and dtype. A surrogate whose
  ``grad`` cannot be traced with tensors for its floats (Python control flow on a
  parameter, say) is compiled with its values as constants instead, one kernel per value.
* CUDA: ``torch.compile`` with dynamic shapes, one kernel per size class (a factor of 16
  in elements), which the H200 figures in BENCHMARKS.md were measured with.

Compiled kernels are cached in memory per surrogate class (on CUDA: its parameter
values and the float threshold, compiled in as constants), mode, dtype and device, plus
the shape as above, at most :data:`CACHE_SIZE` of them (least recently used go first).
On disk, the CPU path's Inductor files go to a folder of sgexplore's own
(:func:`disk_cache_dir`), pruned to at most :data:`DISK_CACHE_BYTES` after each
compilation (oldest files first), so a later process reuses them and they never grow
without bound. ``torch._dynamo`` and Inductor (slow to import) are imported only when a
fused call first needs them.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import tempfile
import types
import warnings
from collections import OrderedDict
from typing import Any, Callable, Dict, Hashable, Iterator, Optional, Tuple

import torch

from .params import ParamTypeError

__all__ = ["BACKENDS", "AUTO_MIN_NUMEL", "CACHE_SIZE", "DISK_CACHE_BYTES", "choose_backend",
           "check_backend", "unavailable_reason", "run_fused", "disk_cache_dir", "compilations"]

BACKENDS = ("auto", "eager", "fused")

#: Smallest tensor (in elements) for which ``backend="auto"`` takes the fused path, per
#: device type; devices not listed stay eager under "auto". Chosen from the measured
#: crossovers (benchmarks/bench_spike.py --crossover; the figures are in BENCHMARKS.md,
#: "Spike function", the "Auto threshold" paragraphs of its CPU and GPU sections).
#: CPU: fused beats eager at much smaller sizes, but each new shape costs a compilation,
#: so "auto" waits until a call saves enough to repay that compilation soon.
#: CUDA: the compiled call's host overhead hides the kernel's gain on all but large
#: tensors; the threshold lies between the size where the costliest surrogate first wins
#: fused and the size where all but the two trivial surrogates do. Both sit far above
#: the toy SNN's per-step tensors (batch x hidden, a few thousand elements): small
#: tensors never pay for a compilation.
AUTO_MIN_NUMEL: Dict[str, int] = {"cpu": 2**18, "cuda": 2**25}

#: Most compiled functions kept; the least recently used is dropped beyond this.
CACHE_SIZE = 128

#: Most bytes the CPU path's on-disk Inductor cache (:func:`disk_cache_dir`) may hold.
DISK_CACHE_BYTES = 512 * 2**20

_compiled: "OrderedDict[Hashable, Callable]" = OrderedDict()
_failure: Optional[str] = None  # why compilation is unavailable here, once known
_constants_only: set = set()    # runtime keys whose function could not be traced with tensors
_compilations = [0]             # kernels compiled by this process (both routes)


def compilations() -> int:
    """How many functions the fused path has compiled in this process (for tests and
    benchmarks: 20 values of a parameter at one shape should cost one)."""
    return _compilations[0]


def disk_cache_dir() -> str:
    """The folder the CPU path's Inductor compilations write to (one per user)."""
    return user_temp_dir("sgexplore_inductor")


def user_temp_dir(prefix: str) -> str:
    """``<temporary folder>/<prefix>_<user id>``: one folder per user (not created here)."""
    try:
        user = str(os.getuid())
    except AttributeError:  # no getuid on Windows
        user = os.environ.get("USERNAME", "user")
    return os.path.join(tempfile.gettempdir(), f"{prefix}_{user}")


def check_backend(backend: str) -> None:
    """Raise ValueError unless ``backend`` is one of :data:`BACKENDS` (a TypeError, that is
    also a ValueError, for a value that is not a string)."""
    if not isinstance(backend, str):
        raise ParamTypeError(f"backend must be one of {BACKENDS}; got {backend!r:.40} of type "
                             f"{type(backend).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r:.40}")


def unavailable_reason() -> Optional[str]:
    """Why the fused path cannot run here, or None if it can (imports torch._dynamo)."""
    if _failure is not None:
        return _failure
    return _platform_reason()


@functools.lru_cache(maxsize=None)
def _platform_reason() -> Optional[str]:
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

    The key is the layout of each tensor argument (see :func:`_signature`) and the value
    of each other one (a surrogate, a float threshold, a mode). If
    compiling fails, ``strict=True`` raises RuntimeError; otherwise the call runs
    eagerly, warns once, and later "auto" choices stay eager.
    """
    global _failure
    if _failure is not None:  # an earlier compilation failed: stay eager, warned already
        if strict:
            raise RuntimeError(f"backend='fused' is impossible here: {_failure}. "
                               "Use backend='auto' or backend='eager'.")
        return function(*args)
    try:
        return _compiled_for(_key(function, args), function, args)(*args)
    except Exception as error:  # compilation fails in many ways; the eager call judges
        result = function(*args)  # an error of the call itself is raised here, unmasked
        _failure = f"compilation failed ({type(error).__name__}: {_first_line(error)})"
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


def _on_cpu(args: Tuple[Any, ...]) -> bool:
    tensors = [arg for arg in args if isinstance(arg, torch.Tensor)]
    return bool(tensors) and all(tensor.device.type == "cpu" for tensor in tensors)


def _key(function: Callable, args: Tuple[Any, ...]) -> Hashable:
    """The cache key of a call: on CPU without its float values (they are runtime inputs),
    unless this function and layout could only be compiled with them as constants."""
    name = (function.__module__, function.__qualname__)
    if _on_cpu(args):
        runtime = (*name, "runtime", _runtime_signature(args))
        if runtime not in _constants_only:
            return runtime
        return (*name, "constants", _signature(args))
    return (*name, _signature(args))


def _compiled_for(key: Hashable, function: Callable, args: Tuple[Any, ...]) -> Callable:
    compiled = _compiled.get(key)
    if compiled is not None:
        _compiled.move_to_end(key)
        return compiled
    try:
        compiled = _compile(function, args)
    except _NeedsConstants:
        _constants_only.add(key)
        return _compiled_for(_key(function, args), function, args)
    _compilations[0] += 1
    _compiled[key] = compiled
    while len(_compiled) > CACHE_SIZE:
        _compiled.popitem(last=False)
    return compiled


def _compile(function: Callable, args: Tuple[Any, ...]) -> Callable:
    """A compiled stand-in for ``function``, valid for calls whose arguments have the
    key of ``args`` (see :func:`_key`: tensors of the same layout, the same non-float
    values, and on CUDA or for a constants-only function the same floats too)."""
    if _on_cpu(args):
        return _compile_cpu(function, args, runtime="runtime" in _key(function, args))
    return _compile_dynamo(function)


@contextlib.contextmanager
def _torch_deprecations_ignored():
    """torch's own modules raise DeprecationWarnings while compiling: not the user's to
    act on, and under ``-W error`` they would turn into a failed compilation."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


class _NeedsConstants(Exception):
    """Tracing with the floats as tensors failed: compile with them as constants."""


def _compile_cpu(function: Callable, args: Tuple[Any, ...], runtime: bool) -> Callable:
    # Fake tensors: Python that depends on tensor values (a user's surrogate calling
    # float() on one) fails here, and the call falls back to eager (or, for the floats
    # made runtime inputs, to constants), instead of being traced as a constant. No guards
    # run per call: the cache key (shapes, strides, dtypes, thread count, and the values
    # compiled in) already says this graph applies. Calling the compiled graph directly
    # costs far less per call than a torch.compile'd function, and its kernels ran faster
    # this way too (why, we did not find); BENCHMARKS.md, "Spike function", CPU, "What
    # changed", has the figures.
    with _torch_deprecations_ignored():
        from torch.fx.experimental.proxy_tensor import make_fx
        import torch._inductor

    tensors = [arg for arg in args if isinstance(arg, torch.Tensor)]
    dtype = _compute_dtype(args)
    floats = _runtime_floats(args) if runtime else []
    count = len(tensors)

    def on_inputs(*inputs):
        return function(*_rebuild(args, inputs[:count], inputs[count:]))

    # fresh tensors, not the cached ones: two equal floats must stay two graph inputs
    example = tensors + [torch.tensor(value, dtype=dtype) for value in floats]
    with torch.no_grad(), _torch_deprecations_ignored():
        # A tensor held by the surrogate (not an argument) is traced as a constant.
        try:
            graph = make_fx(on_inputs, tracing_mode="fake", _allow_non_fake_inputs=True)(*example)
        except Exception as error:
            if floats:
                raise _NeedsConstants() from error
            raise
        if floats and any(node.target is torch.ops.aten._local_scalar_dense.default
                          for node in graph.graph.nodes):
            raise _NeedsConstants()  # a float was read back as a Python number (float(), item())
        multiply_by_reciprocals(graph)
        drop_identity_ops(graph)  # after it: x / 1 has become x * 1
        with _disk_cache():
            compiled = torch._inductor.compile(graph, example)
    _prune_disk_cache()

    if not runtime:
        return lambda *call_args: compiled(*[arg for arg in call_args if isinstance(arg, torch.Tensor)])

    def run(*call_args):
        inputs = [arg for arg in call_args if isinstance(arg, torch.Tensor)]
        return compiled(*inputs, *[_scalar(value, dtype) for value in _runtime_floats(call_args)])

    return run


def _compute_dtype(args: Tuple[Any, ...]) -> torch.dtype:
    """float64 if a floating tensor argument is float64, else float32 (the precision eager
    PyTorch uses for a Python scalar in an op on float16, bfloat16 or float32 tensors)."""
    dtypes = {arg.dtype for arg in args if isinstance(arg, torch.Tensor) and arg.is_floating_point()}
    return torch.float64 if torch.float64 in dtypes else torch.float32


@functools.lru_cache(maxsize=1024)
def _scalar_cached(bits: str, dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(float.fromhex(bits), dtype=dtype)


def _scalar(value: float, dtype: torch.dtype) -> torch.Tensor:
    """``value`` as a 0-dim CPU tensor (cached: a slider or a schedule revisits values;
    keyed by the exact bits, so -0.0 and 0.0 stay apart). Read-only: kernels never write
    their inputs."""
    return _scalar_cached(value.hex(), dtype)


def _is_float_tuple(value: Any) -> bool:
    return type(value) is tuple and bool(value) and all(type(item) is float for item in value)


def _is_object(value: Any) -> bool:
    return hasattr(value, "__dict__") and not isinstance(value, type)


def _runtime_floats(args: Tuple[Any, ...]) -> list:
    """The floats a CPU kernel takes as runtime inputs, in a fixed order: each float
    argument, and each float (or tuple of floats) attribute of an object argument."""
    floats = []
    for arg in args:
        if type(arg) is float:
            floats.append(arg)
        elif _is_object(arg) and not isinstance(arg, torch.Tensor):
            for attribute in vars(arg).values():
                if type(attribute) is float:
                    floats.append(attribute)
                elif _is_float_tuple(attribute):
                    floats.extend(attribute)
    return floats


def _rebuild(args: Tuple[Any, ...], tensors, scalars) -> list:
    """``args`` with its tensors replaced by ``tensors`` and its runtime floats (in the
    order of :func:`_runtime_floats`) by ``scalars``; an object argument becomes a copy
    that holds the new values (its class unchanged, frozen or not)."""
    tensors, scalars = iter(tensors), iter(scalars)
    rebuilt = []
    for arg in args:
        if isinstance(arg, torch.Tensor):
            rebuilt.append(next(tensors))
        elif type(arg) is float:
            rebuilt.append(next(scalars, arg))
        elif _is_object(arg):
            changes = {}
            for name, attribute in vars(arg).items():
                if type(attribute) is float:
                    changes[name] = next(scalars, attribute)
                elif _is_float_tuple(attribute):
                    changes[name] = tuple(next(scalars, item) for item in attribute)
            copy = object.__new__(type(arg))
            copy.__dict__.update(vars(arg))
            copy.__dict__.update(changes)
            rebuilt.append(copy)
        else:
            rebuilt.append(arg)
    return rebuilt


@contextlib.contextmanager
def _disk_cache() -> Iterator[None]:
    """Inductor's files of this compilation go to :func:`disk_cache_dir`."""
    from torch._inductor.runtime.cache_dir_utils import temporary_cache_dir

    directory = disk_cache_dir()
    os.makedirs(directory, exist_ok=True)
    with temporary_cache_dir(directory):
        yield


def _prune_disk_cache(limit: Optional[int] = None) -> int:
    """Delete the oldest files of :func:`disk_cache_dir` until it holds at most ``limit``
    bytes (default :data:`DISK_CACHE_BYTES`); return the bytes it holds then. Kernels
    already loaded keep running (their code is mapped in memory)."""
    limit = DISK_CACHE_BYTES if limit is None else limit
    files = []
    for root, _dirs, names in os.walk(disk_cache_dir()):
        for name in names:
            path = os.path.join(root, name)
            try:
                status = os.stat(path)
            except OSError:  # removed meanwhile (another process pruning)
                continue
            files.append((status.st_mtime, status.st_size, path))
    total = sum(size for _mtime, size, _path in files)
    for _mtime, size, path in sorted(files):
        if total <= limit:
            break
        with contextlib.suppress(OSError):
            os.remove(path)
            total -= size
    return total


def multiply_by_reciprocals(graph: "torch.fx.GraphModule") -> int:
    """Turn ``x / c`` (``c`` a constant, or a 0-dim tensor such as a runtime parameter)
    into ``x * (1 / c)`` where that is safe; return how many divisions were turned.

    A vector division costs several multiplications, and MultiGaussian's backward has
    six. ``x * (1 / c)`` can differ from ``x / c`` by one unit in the last place, so a
    division is turned only if its result flows into nothing but continuous operations
    (a ``floor``, a comparison or a ``where`` condition could amplify that unit into a
    different branch); where ``1 / c`` is a power of two the result is identical anyway.
    """
    aten = torch.ops.aten
    turned = 0
    for node in list(graph.graph.nodes):
        if node.op != "call_function" or node.target is not aten.div.Tensor:
            continue
        numerator, divisor = node.args[0], node.args[1]
        value = getattr(numerator, "meta", {}).get("val")
        if isinstance(divisor, torch.fx.Node):
            scalar = divisor.meta.get("val")
            if (scalar is None or scalar.dim() != 0 or not scalar.is_floating_point() or value is None
                    or value.dim() == 0 or not value.is_floating_point()
                    or not _flows_only_into_continuous_ops(node)):
                continue
            with graph.graph.inserting_before(node):  # 1/c once, for a whole tensor x
                inverse = graph.graph.call_function(aten.reciprocal.default, (divisor,))
            inverse.meta["val"] = scalar
            node.target = aten.mul.Tensor
            node.args = (numerator, inverse)
            turned += 1
            continue
        if (isinstance(divisor, bool) or not isinstance(divisor, (int, float)) or divisor == 0
                or not math.isfinite(divisor) or value is None or not value.is_floating_point()
                or not _flows_only_into_continuous_ops(node)):
            continue
        node.target = aten.mul.Tensor
        node.args = (numerator, 1.0 / divisor)
        turned += 1
    if turned:
        graph.recompile()
    return turned


def drop_identity_ops(graph: "torch.fx.GraphModule") -> int:
    """Remove ``x * 1``, ``x / 1`` and ``x - 0`` (exact no-ops on a floating tensor of
    the result's dtype, signed zeros and NaNs included); return how many were removed.

    They come from default parameters (``grad_scale=1``) and the usual threshold 1, and
    Inductor would emit each as a vector operation. A graph reduced to an input (as
    StraightThrough's ``grad_output * 1``) returns that input, as autograd allows.
    """
    aten = torch.ops.aten
    identities = {aten.mul.Tensor: 1, aten.div.Tensor: 1, aten.sub.Tensor: 0}
    removed = 0
    for node in list(graph.graph.nodes):
        if node.op != "call_function" or node.target not in identities or len(node.args) != 2 or node.kwargs:
            continue
        operand, constant = node.args
        before, after = getattr(operand, "meta", {}).get("val"), node.meta.get("val")
        if (isinstance(constant, bool) or not isinstance(constant, (int, float))
                or constant != identities[node.target] or before is None or after is None
                or not before.is_floating_point() or before.dtype != after.dtype):
            continue
        node.replace_all_uses_with(operand)
        graph.graph.erase_node(node)
        removed += 1
    if removed:
        graph.recompile()
    return removed


@functools.lru_cache(maxsize=None)
def _continuous_ops() -> frozenset:
    aten = torch.ops.aten
    return frozenset([
        aten.add.Tensor, aten.sub.Tensor, aten.mul.Tensor, aten.div.Tensor, aten.neg.default,
        aten.exp.default, aten.pow.Tensor_Scalar, aten.abs.default, aten.sigmoid.default,
        aten.tanh.default, aten.atan.default, aten.reciprocal.default, aten._to_copy.default,
        aten.clamp.default, aten.maximum.default, aten.minimum.default])


def _flows_only_into_continuous_ops(node: "torch.fx.Node") -> bool:
    continuous = _continuous_ops()
    pending, seen = [node], set()
    while pending:
        current = pending.pop()
        for user in current.users:
            if user.op == "output" or user in seen:
                continue
            is_where_value = user.target is torch.ops.aten.where.self and user.args[0] is not current
            if user.op != "call_function" or not (user.target in continuous or is_where_value):
                return False
            seen.add(user)
            pending.append(user)
    return True


def _runtime_signature(args: Tuple[Any, ...]) -> Tuple[Hashable, ...]:
    """:func:`_signature` with every runtime float (see :func:`_runtime_floats`) replaced by
    its place: the key of a kernel that takes those floats as inputs."""
    key = []
    for arg in args:
        if isinstance(arg, torch.Tensor):
            key.append(_tensor_signature(arg))
        elif type(arg) is float:
            key.append(_RUNTIME)
        elif _is_object(arg):
            attributes = tuple(
                (name, _RUNTIME if type(attribute) is float else
                 (_RUNTIME,) * len(attribute) if _is_float_tuple(attribute) else _frozen(attribute))
                for name, attribute in vars(arg).items())
            key.append((type(arg), attributes))
        else:
            key.append(_frozen(arg))
    return tuple(key)


_RUNTIME = "<runtime float>"


def _compile_dynamo(function: Callable) -> Callable:
    # dynamic=True: one kernel serves every size in its size class. No FX graph cache:
    # it would hand every size class the kernel tuned for the first size compiled.
    with _torch_deprecations_ignored():
        import torch._dynamo

    compiled = torch.compile(_own_copy(function), dynamic=True, options={"fx_graph_cache": False})
    first_call = [True]

    def run(*args):
        with torch._dynamo.config.patch(**_compile_config(torch._dynamo.config)):
            if not first_call[0]:
                return compiled(*args)
            with _torch_deprecations_ignored():  # the first call compiles
                result = compiled(*args)
            first_call[0] = False
            return result

    return run


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
    """Tensors by dtype, device and layout; other arguments by value.

    CPU kernels are compiled for exact shapes and strides, and for the thread count
    (the OpenMP loop is specialised to it). CUDA kernels are compiled for dynamic shapes,
    per rank and size class (numel within a factor of 16), because the compiler tunes a
    kernel to the first size it sees (block sizes): a kernel first compiled for a tiny
    tensor would run a huge one badly.
    """
    return tuple(_tensor_signature(arg) if isinstance(arg, torch.Tensor) else _hashable(arg)
                 for arg in args)


def _tensor_signature(tensor: torch.Tensor) -> Hashable:
    if tensor.device.type == "cpu":
        return (tensor.dtype, "cpu", tensor.shape, tensor.stride(), torch.get_num_threads())
    return (tensor.dtype, tensor.device.type, tensor.dim(), tensor.numel().bit_length() // 4)


def _hashable(value: Any) -> Hashable:
    """A key for a non-tensor argument: its value, and for an object (a surrogate) its
    type and current attributes.

    CPU kernels bake every attribute in as a constant and check nothing per call, so a
    user's mutable surrogate whose attribute changed must get a new key: attributes are
    keyed by value, tensors among them by identity and in-place version.
    """
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return (type(value), tuple((name, _frozen(attribute)) for name, attribute in vars(value).items()))
    return _frozen(value)


_PLAIN = (float, int, str, bool, type(None))


def _frozen(value: Any) -> Hashable:
    if type(value) in _PLAIN:
        return value
    if isinstance(value, torch.Tensor):
        return ("tensor", id(value), value._version)
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return _hashable(value)  # an object inside a surrogate: by its attributes too
    try:
        hash(value)
        return value
    except TypeError:
        return (type(value), id(value))


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else ""
