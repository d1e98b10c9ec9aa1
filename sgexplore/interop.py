"""Take a surrogate to your framework: sinabs, snntorch, SpikingJelly and norse, exactly.

sinabs calls ``surrogate_grad_fn(v_mem, spike_threshold)`` and expects dS/dv, which is what
every sgexplore surrogate is: hand it to a sinabs layer as it is. The other three call a
*spike function* with one argument, ``x = v_mem - thr``, and expect spikes forward and the
surrogate backward. An sgexplore surrogate called that way raises TypeError (it would
otherwise return surrogate values as spikes); the adapters here are what those frameworks
accept:

* :func:`to_snntorch` for ``snntorch.Leaky(spike_grad=...)`` and snntorch's other neurons;
* :func:`to_spikingjelly` for ``neuron.LIFNode(surrogate_function=...)`` (an ``nn.Module``);
* :func:`to_norse` for ``LIFParameters(method=...)``: norse selects its surrogate by a
  string, so :func:`to_norse` extends norse's dispatch (see there).

Each adapter fires as its framework does (``x > 0`` in snntorch and norse, ``x >= 0`` in
SpikingJelly), so swapping a built-in for an adapter changes the surrogate and nothing
else. Backward is ``grad_output * surrogate(x + thr, thr)``, computed as
:func:`sgexplore.spike` computes it (float16 and bfloat16 in float32). Wherever the
framework's ``x = v - thr`` is exact (``v`` within a factor 2 of ``thr``, where a surrogate
lives) ``x + thr`` is ``v`` again and spikes and gradients equal :func:`sgexplore.spike`'s
bitwise, apart from the framework's convention at ``x == 0``; farther out the two differ by
the rounding of ``x`` itself (the surrogate's slope times one ulp of ``v``).

:func:`translate` writes a runnable snippet for a framework, using its built-in where the
mapping is exact and the adapter otherwise; :func:`from_framework` gives the sgexplore
surrogate equal to a peer's built-in. :data:`BUILTINS` and :data:`INEXPRESSIBLE` are the
mapping tables (checked against :data:`VERSIONS` of the peers, in tests/test_interop.py).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import torch

from .params import Param, ParamTypeError, as_number, format_number, shown, validate_value
from .surrogates import (ArcTan, Box, DampenedTriangle, FastSigmoid, Gaussian, Heaviside, MultiGaussian,
                         PeriodicExponential, SigmoidDerivative, SingleExponential, StraightThrough,
                         Surrogate, Triangle, TrueGradient, check_threshold, describe)

__all__ = ["FRAMEWORKS", "FRAMEWORK", "VERSIONS", "FIRES", "BUILTINS", "INEXPRESSIBLE", "Builtin", "Translation",
           "to_snntorch", "to_spikingjelly", "to_norse", "translate", "from_framework",
           "markdown_mappings", "SpikeAdapter", "SnnTorchSpike", "NorseMethod"]

FRAMEWORKS = ("sinabs", "snntorch", "spikingjelly", "norse")
#: The releases the mappings were checked against (``make test`` installs them).
VERSIONS = {"sinabs": "3.1.3", "snntorch": "1.0.0", "spikingjelly": "2.0.0", "norse": "1.1.0"}
#: When each framework fires, with x = v − thr. sgexplore fires at ``v >= thr``.
FIRES = {"sinabs": "x >= 0", "snntorch": "x > 0", "spikingjelly": "x >= 0", "norse": "x > 0"}
#: The ``framework`` argument of :func:`translate` and :func:`from_framework`.
FRAMEWORK = Param("snntorch", choices=FRAMEWORKS, doc="the peer framework to translate to or from")

_SQRT2 = math.sqrt(2.0)


# ---------------------------------------------------------------------------
# Adapters: spike functions whose backward is an sgexplore surrogate
# ---------------------------------------------------------------------------

def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for float16/bfloat16 (as :func:`sgexplore.spike.surrogate_backward` computes them), else the dtype."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


class _OffsetSpike(torch.autograd.Function):
    """Forward: the step of ``x = v - thr``; backward: ``grad_output * surrogate(x + thr, thr)``."""

    @staticmethod
    def forward(ctx, x, surrogate, spike_threshold, inclusive):
        ctx.save_for_backward(x)
        ctx.surrogate, ctx.spike_threshold = surrogate, spike_threshold
        return ((x >= 0) if inclusive else (x > 0)).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        # Where the framework's x = v - thr was exact (v within a factor 2 of thr, which is
        # where a surrogate lives), x + thr is v again and the gradient is spike()'s, bitwise.
        v = x.to(_compute_dtype(x.dtype)) + ctx.spike_threshold
        grad = ctx.surrogate.grad(v, ctx.spike_threshold)
        return (grad_output.to(v.dtype) * grad).to(x.dtype), None, None, None


def _checked(surrogate: Surrogate, spike_threshold: float, adapter: str) -> float:
    if not isinstance(surrogate, Surrogate):
        raise ParamTypeError(f"{adapter}(): surrogate must be an sgexplore Surrogate instance, e.g. Gaussian(); "
                             f"got {shown(surrogate)}")
    return _threshold_number(spike_threshold, adapter)


def _threshold_number(spike_threshold: float, owner: str) -> float:
    """A number threshold in :data:`SPIKE_THRESHOLD`'s range (a tensor is a TypeError)."""
    if isinstance(spike_threshold, torch.Tensor):
        raise ParamTypeError(f"{owner}() takes spike_threshold as a number (the threshold the surrogate's "
                             "shape is evaluated at); the neuron's own threshold, learned or not, sets x")
    check_threshold(spike_threshold)
    return float(spike_threshold)


class SpikeAdapter:
    """A spike function of ``x = v - thr`` with an sgexplore surrogate as its backward.

    ``spike_threshold`` is the threshold the surrogate is evaluated at (it matters for
    widths relative to the threshold, and for Heaviside's ``1/thr``); give the neuron's.
    """

    framework: str = ""
    inclusive: bool = False

    def __init__(self, surrogate: Surrogate, spike_threshold: float = 1.0):
        self.spike_threshold = _checked(surrogate, spike_threshold, f"to_{self.framework}")
        self.surrogate = surrogate

    def spikes(self, x: torch.Tensor) -> torch.Tensor:
        self._check_x(x)
        return _OffsetSpike.apply(x, self.surrogate, self.spike_threshold, self.inclusive)

    def _check_x(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise ParamTypeError(f"the {self.framework} adapter takes a floating-point tensor x = v - thr; "
                                 f"got {type(x).__name__}"
                                 + (f" of dtype {x.dtype}" if isinstance(x, torch.Tensor) else ""))

    def __repr__(self) -> str:
        return f"to_{self.framework}({describe(self.surrogate)}, spike_threshold={self.spike_threshold!r})"


class SnnTorchSpike(SpikeAdapter):
    """snntorch's ``spike_grad``: fires at ``x > 0`` as snntorch's built-ins do."""

    framework = "snntorch"
    inclusive = False

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.spikes(x)


class NorseMethod(SpikeAdapter):
    """A norse ``method``: fires at ``x > 0`` as norse's ``heaviside`` does (norse's alpha is unused)."""

    framework = "norse"
    inclusive = False

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.spikes(x)


class SpikingJellySurrogate(SpikeAdapter, torch.nn.Module):
    """SpikingJelly's ``surrogate_function``: an ``nn.Module`` firing at ``x >= 0``.

    Like SpikingJelly's own surrogates it has ``spiking``; with ``spiking=False`` (or
    ``set_spiking_mode(False)``) the forward returns the smooth primitive instead of spikes.
    It runs on SpikingJelly's ``torch`` backend (its cupy and triton kernels need their own
    CUDA code per surrogate).
    """

    framework = "spikingjelly"
    inclusive = True

    def __init__(self, surrogate: Surrogate, spike_threshold: float = 1.0, spiking: bool = True):
        torch.nn.Module.__init__(self)
        SpikeAdapter.__init__(self, surrogate, spike_threshold)
        self.spiking = bool(spiking)

    def set_spiking_mode(self, spiking: bool) -> None:
        self.spiking = bool(spiking)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spiking:
            return self.spikes(x)
        self._check_x(x)
        return self.surrogate.primitive(x + self.spike_threshold, self.spike_threshold)

    def extra_repr(self) -> str:
        return f"{describe(self.surrogate)}, spike_threshold={self.spike_threshold!r}, spiking={self.spiking}"

    __repr__ = torch.nn.Module.__repr__


def to_snntorch(surrogate: Surrogate, spike_threshold: float = 1.0) -> SnnTorchSpike:
    """``snn.Leaky(threshold=thr, spike_grad=to_snntorch(surrogate, thr))``: spikes at x > 0."""
    return SnnTorchSpike(surrogate, spike_threshold)


def to_spikingjelly(surrogate: Surrogate, spike_threshold: float = 1.0) -> SpikingJellySurrogate:
    """``neuron.LIFNode(v_threshold=thr, surrogate_function=to_spikingjelly(surrogate, thr))``."""
    return SpikingJellySurrogate(surrogate, spike_threshold)


_NORSE_DISPATCH = "__sgexplore_dispatch__"


def _extend_norse_dispatch() -> None:
    """Let norse's ``threshold(x, method, alpha)`` take a :class:`NorseMethod` as ``method``.

    norse 1.1.0 selects surrogates by string in ``norse.torch.functional.threshold.threshold``,
    which its neuron modules import by name. This wraps that function once, in norse's
    modules that imported it: a :class:`NorseMethod` is called, any other ``method`` goes
    to norse's own function unchanged (so built-in strings behave exactly as before).
    """
    import norse.torch  # noqa: F401  (imports every module that binds ``threshold``)
    import norse.torch.functional.threshold as norse_threshold

    original = norse_threshold.threshold
    if getattr(original, _NORSE_DISPATCH, False):
        return

    def threshold(x, method, alpha):
        if isinstance(method, NorseMethod):
            return method(x)
        return original(x, method, alpha)

    setattr(threshold, _NORSE_DISPATCH, True)
    threshold.__doc__ = original.__doc__
    for name, module in list(sys.modules.items()):
        if name.startswith("norse") and getattr(module, "threshold", None) is original:
            module.threshold = threshold


def to_norse(surrogate: Surrogate, spike_threshold: float = 1.0) -> NorseMethod:
    """A norse ``method``: ``LIFParameters(v_th=torch.tensor(thr), method=to_norse(surrogate, thr))``.

    norse has no argument for a surrogate function, only method strings, so the first call
    extends norse's dispatch (:func:`_extend_norse_dispatch`): norse's own strings keep
    their behaviour, and ``alpha`` is ignored by this method. Needs norse installed.
    """
    method = NorseMethod(surrogate, spike_threshold)
    _extend_norse_dispatch()
    return method


# ---------------------------------------------------------------------------
# The mapping tables
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Builtin:
    """One peer built-in that sgexplore expresses exactly.

    ``make(thr, **params)`` is the equal sgexplore surrogate; ``solve(surrogate, thr)`` is
    its inverse (the built-in's parameters), checked by :func:`_match` with ``make``.
    ``call`` is the built-in as code, ``{name}`` fields filled in with ``repr`` of each
    parameter. ``bug``, where not empty, is a peer bug that applies to this version; with
    ``usable=False`` :func:`translate` uses the adapter instead. ``caveat`` is a difference
    of meaning worth knowing (the same word meaning something else).
    """

    framework: str
    name: str
    defaults: Dict[str, float]
    make: Callable[..., Surrogate]
    solve: Callable[[Surrogate, float], Dict[str, float]]
    call: str
    bug: str = ""
    caveat: str = ""
    usable: bool = True
    aliases: Tuple[str, ...] = ()
    #: Which sgexplore class ``solve`` reads (after :func:`_canonical`).
    target: type = Surrogate


def _only_at_unit_threshold(what: str) -> Callable[[float], None]:
    def check(thr: float) -> None:
        if thr != 1.0:
            raise ValueError(f"{what} equals sgexplore's Heaviside(window=0) only at spike_threshold=1 "
                             f"(sgexplore's is 1/thr); got spike_threshold={thr!r}")
    return check


def _snntorch_heaviside(thr: float) -> Surrogate:
    _only_at_unit_threshold("snntorch's heaviside() (gradient 1[x > 0])")(thr)
    return Heaviside(window=0.0)


def _spikingjelly_leaky_relu(thr: float, w: float, c: float) -> Surrogate:
    if c != 0:
        raise ValueError("SpikingJelly's PiecewiseLeakyReLU(w, c) can be expressed only with c=0 "
                         f"(sgexplore's Box(grad_width=w)); its c={c!r} leaks a constant gradient outside "
                         "the box, which no sgexplore surrogate has")
    return Box(grad_width=w, grad_scale=1.0)


_SNNTORCH_SIGMOID_BUG = ("snntorch 1.0.0's sigmoid backward, exp(-kx)/(exp(-kx)+1)^2, is NaN once exp(-kx) "
                         "overflows (x < about -3.5 at slope 25 in float32; snntorch #427, fixed after 1.0.0 "
                         "by PR #433), so this snippet uses the adapter")
_NORSE_SUPER_BUG = ("norse 1.1.0's \"super\" ignores alpha: its backward is 1/(|x|+1)^2 whatever alpha is, "
                    "i.e. FastSigmoid(slope=1), not the 1/(alpha|x|+1)^2 its docstring says")
_SPIKINGJELLY_SUPERSPIKE = ("SpikingJelly's SuperSpike(alpha) has alpha as its *height*, "
                            "alpha/(|x|+1)^2 (slope fixed at 1); in snntorch and norse alpha/slope is the steepness")

BUILTINS: Tuple[Builtin, ...] = (
    # snntorch 1.0.0: snntorch.surrogate factories; x = mem - threshold, all absolute.
    Builtin("snntorch", "atan", {"alpha": 2.0}, lambda thr, alpha: ArcTan(alpha=alpha, grad_scale=1.0),
            lambda s, thr: {"alpha": s.alpha}, "surrogate.atan(alpha={alpha})", aliases=("ATan",), target=ArcTan),
    Builtin("snntorch", "fast_sigmoid", {"slope": 25.0},
            lambda thr, slope: FastSigmoid(slope=slope, grad_scale=1.0),
            lambda s, thr: {"slope": s.slope}, "surrogate.fast_sigmoid(slope={slope})",
            aliases=("FastSigmoid",), target=FastSigmoid),
    Builtin("snntorch", "sigmoid", {"slope": 25.0},
            lambda thr, slope: SigmoidDerivative(slope=slope, grad_scale=1.0),
            lambda s, thr: {"slope": s.slope}, "surrogate.sigmoid(slope={slope})",
            bug=_SNNTORCH_SIGMOID_BUG, usable=False, aliases=("Sigmoid",), target=SigmoidDerivative),
    Builtin("snntorch", "straight_through_estimator", {}, lambda thr: StraightThrough(grad_scale=1.0),
            lambda s, thr: {}, "surrogate.straight_through_estimator()",
            aliases=("StraightThroughEstimator",), target=StraightThrough),
    Builtin("snntorch", "heaviside", {}, _snntorch_heaviside, lambda s, thr: {}, "surrogate.heaviside()",
            aliases=("Heaviside",), target=Heaviside),
    # SpikingJelly 2.0.0: spikingjelly.activation_based.surrogate modules; x = v - v_threshold.
    Builtin("spikingjelly", "Sigmoid", {"alpha": 4.0},
            lambda thr, alpha: SigmoidDerivative(slope=alpha, grad_scale=1.0),
            lambda s, thr: {"alpha": s.slope}, "surrogate.Sigmoid(alpha={alpha})", target=SigmoidDerivative),
    Builtin("spikingjelly", "ATan", {"alpha": 2.0}, lambda thr, alpha: ArcTan(alpha=alpha, grad_scale=1.0),
            lambda s, thr: {"alpha": s.alpha}, "surrogate.ATan(alpha={alpha})", target=ArcTan),
    Builtin("spikingjelly", "SuperSpike", {"alpha": 1.0},
            lambda thr, alpha: FastSigmoid(slope=1.0, grad_scale=alpha),
            lambda s, thr: {"alpha": s.grad_scale}, "surrogate.SuperSpike(alpha={alpha})",
            caveat=_SPIKINGJELLY_SUPERSPIKE, target=FastSigmoid),
    Builtin("spikingjelly", "SoftSign", {"alpha": 2.0},
            lambda thr, alpha: FastSigmoid(slope=alpha, grad_scale=alpha / 2),
            lambda s, thr: {"alpha": s.slope}, "surrogate.SoftSign(alpha={alpha})", target=FastSigmoid),
    Builtin("spikingjelly", "PiecewiseExp", {"alpha": 1.0},
            lambda thr, alpha: SingleExponential(grad_width=1 / (alpha * thr), grad_scale=0.5),
            lambda s, thr: {"alpha": 1 / (s.grad_width * thr)}, "surrogate.PiecewiseExp(alpha={alpha})",
            target=SingleExponential),
    Builtin("spikingjelly", "PiecewiseQuadratic", {"alpha": 1.0},
            lambda thr, alpha: Triangle(grad_width=1 / alpha, grad_scale=alpha),
            lambda s, thr: {"alpha": 1 / s.grad_width}, "surrogate.PiecewiseQuadratic(alpha={alpha})",
            target=Triangle),
    Builtin("spikingjelly", "Erf", {"alpha": 2.0},
            lambda thr, alpha: Gaussian(mu=0.0, sigma=1 / (alpha * _SQRT2), grad_scale=1.0),
            lambda s, thr: {"alpha": 1 / (s.sigma * _SQRT2)}, "surrogate.Erf(alpha={alpha})", target=Gaussian),
    Builtin("spikingjelly", "Rect", {"alpha": 1.0},
            lambda thr, alpha: Box(grad_width=0.5 / alpha, grad_scale=1.0),
            lambda s, thr: {"alpha": 0.5 / s.grad_width}, "surrogate.Rect(alpha={alpha})", target=Box),
    Builtin("spikingjelly", "PiecewiseLeakyReLU", {"w": 1.0, "c": 0.01}, _spikingjelly_leaky_relu,
            lambda s, thr: {"w": s.grad_width, "c": 0.0}, "surrogate.PiecewiseLeakyReLU(w={w}, c={c})",
            target=Box),
    Builtin("spikingjelly", "DeterministicPass", {}, lambda thr: StraightThrough(grad_scale=1.0),
            lambda s, thr: {}, "surrogate.DeterministicPass()", target=StraightThrough),
    # norse 1.1.0: LIFParameters(method=..., alpha=...); x = v - v_th; alpha is shared by all methods.
    Builtin("norse", "super", {"alpha": 100.0}, lambda thr, alpha: FastSigmoid(slope=1.0, grad_scale=1.0),
            lambda s, thr: {"alpha": 100.0}, "\"super\"", bug=_NORSE_SUPER_BUG, target=FastSigmoid),
    Builtin("norse", "triangle", {"alpha": 100.0},
            lambda thr, alpha: Triangle(grad_width=1.0, grad_scale=alpha),
            lambda s, thr: {"alpha": s.grad_scale}, "\"triangle\"", target=Triangle),
    Builtin("norse", "tanh", {"alpha": 100.0},
            lambda thr, alpha: SigmoidDerivative(slope=2 * alpha, grad_scale=2 / alpha),
            lambda s, thr: {"alpha": s.slope / 2}, "\"tanh\"", target=SigmoidDerivative),
    Builtin("norse", "heavi_erfc", {"alpha": 100.0},
            lambda thr, alpha: Gaussian(mu=0.0, sigma=1 / (alpha * _SQRT2), grad_scale=2 / alpha),
            lambda s, thr: {"alpha": 1 / (s.sigma * _SQRT2)}, "\"heavi_erfc\"", target=Gaussian),
    Builtin("norse", "heaviside", {"alpha": 100.0}, lambda thr, alpha: TrueGradient(),
            lambda s, thr: {"alpha": 100.0}, "\"heaviside\"", target=TrueGradient),
) + tuple(
    # sinabs 3.1.3: sgexplore's seed family is sinabs' own, parameter for parameter.
    Builtin("sinabs", cls.__name__, dict(cls().values()),
            (lambda cls: lambda thr, **values: cls(**values))(cls),
            lambda s, thr: dict(s.values()),
            f"sa.{cls.__name__}(" + ", ".join(f"{p}={{{p}}}" for p in cls.params()) + ")", target=cls)
    for cls in (Heaviside, Gaussian, MultiGaussian, SingleExponential, PeriodicExponential))

#: Peer built-ins that no sgexplore surrogate equals, and why.
INEXPRESSIBLE: Dict[str, Dict[str, str]] = {
    "snntorch": {
        "triangular": "the derivative *of* a triangle (+thr below, -thr above): a sign step, negative above",
        "spike_rate_escape": "slope·exp(-beta|x - 1|) peaks at v = thr + 1, off the threshold",
        "SSO": "stochastic: random gradient below the threshold",
        "LSO": "one-sided: 1 above, slope below (and broken in 1.0.0: it wraps the wrong Function, #430)",
        "SFS": "fast sigmoid cut to zero below x = B: one-sided",
        "custom_surrogate": "a user's function; use to_snntorch with an sgexplore surrogate instead",
    },
    "spikingjelly": {
        "NonzeroSignLogAbs": "1/(1/alpha + |x|): heavy tails no sgexplore shape has (and its primitive is not a step)",
        "SquarewaveFourierSeries": "a truncated Fourier series, periodic in x",
        "S2NN": "a sigmoid below the threshold and beta/(x+1) above: asymmetric",
        "QPseudoSpike": "(1 + 2|x|/(alpha-1))^(-alpha): a power law no sgexplore shape has",
        "LeakyKReLU": "k above, leak below the threshold: one-sided",
        "FakeNumericalGradient": "min(sign(x)/x, alpha): grows towards the threshold",
        "LogTailedReLU": "alpha below, 1 up to x = 1, then 1/x: one-sided",
        "PoissonPass": "stochastic forward (Bernoulli)",
        "MultiLevelSpikeCount": "multi-level spike counts with a straight-through window",
    },
    "norse": {
        "circ": "alpha^3/(alpha^2 + x^2)^(3/2): a power-law tail no sgexplore shape has",
        "logistic": "stochastic forward (Bernoulli), not dispatched by LIFParameters",
        "circ_dist": "stochastic forward (Bernoulli), not dispatched by LIFParameters",
    },
    "sinabs": {},
}


def _builtin(framework: str, name: str) -> Builtin:
    _check_framework(framework)
    if not isinstance(name, str):
        raise ParamTypeError(f"name must be the name of one of {framework}'s built-ins (a string); "
                             f"got {shown(name)} of type {type(name).__name__}")
    for entry in BUILTINS:
        if entry.framework == framework and name in (entry.name, *entry.aliases):
            return entry
    if name in INEXPRESSIBLE[framework]:
        raise ValueError(f"{framework}'s {name} cannot be expressed in sgexplore: "
                         f"{INEXPRESSIBLE[framework][name]}")
    known = [b.name for b in BUILTINS if b.framework == framework]
    raise ValueError(f"name must be one of {framework}'s built-ins {known} "
                     f"(not expressible: {sorted(INEXPRESSIBLE[framework])}); got {name!r}")


def _check_framework(framework: str) -> None:
    validate_value("", "framework", FRAMEWORK, framework)


def from_framework(framework: str, name: str, spike_threshold: float = 1.0, **params: float) -> Surrogate:
    """The sgexplore surrogate equal to a peer's built-in, e.g. ``from_framework("snntorch",
    "fast_sigmoid", slope=25)`` is ``FastSigmoid(slope=25, grad_scale=1)``.

    Parameters not given take the built-in's defaults (norse's ``alpha`` is the
    ``LIFParameters`` default, 100). ``spike_threshold`` matters where sgexplore's shape
    is relative to the threshold (SpikingJelly's PiecewiseExp becomes a SingleExponential
    whose relative width is ``1/(alpha thr)``). A built-in that no sgexplore surrogate
    equals raises ValueError saying why (:data:`INEXPRESSIBLE`).
    """
    entry = _builtin(framework, name)
    thr = _threshold_number(spike_threshold, "from_framework")
    unknown = set(params) - set(entry.defaults)
    if unknown:
        raise ValueError(f"{framework}'s {entry.name} has no parameter(s) {sorted(unknown)}; "
                         f"its parameters are {list(entry.defaults)}")
    values = {**entry.defaults, **{k: _number(framework, entry.name, k, v) for k, v in params.items()}}
    try:
        return entry.make(thr, **values)
    except ValueError as error:
        # the sgexplore surrogate's range check names its own parameter: name the peer's too
        given = ", ".join(f"{k}={format_number(v, 6, infinity='inf')}" for k, v in values.items())
        raise ValueError(f"{framework}'s {entry.name}({given}) at spike_threshold={format_number(thr, 6)} "
                         f"has no sgexplore equal: {error}") from None


#: Peer parameters that are steepnesses or widths: > 0 (the others are checked by the
#: sgexplore surrogate they become, e.g. sinabs' mu may be any number).
_POSITIVE = ("alpha", "slope", "w")


def _number(framework: str, name: str, key: str, value) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype != torch.bool:
        value = value.item()
    valid = "> 0 and finite" if key in _POSITIVE else "a finite number"
    number = as_number(value)
    if number is None:
        raise ParamTypeError(f"{framework}'s {name} parameter {key} must be {valid}; got {shown(value)} "
                             f"of type {type(value).__name__}")
    if not math.isfinite(number) or (number <= 0 and key in _POSITIVE):
        raise ValueError(f"{framework}'s {name} parameter {key} must be {valid}; got {shown(value)}")
    return number


def _canonical(surrogate: Surrogate, thr: float) -> Surrogate:
    """The same function under the class the tables use (DampenedTriangle is a Triangle)."""
    if isinstance(surrogate, DampenedTriangle):
        return Triangle(grad_width=thr, grad_scale=surrogate.dampening / thr)
    return surrogate


def _same(a: Surrogate, b: Surrogate) -> bool:
    if type(a) is not type(b):
        return False
    return all(math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-15)
               for x, y in zip(a.values().values(), b.values().values()))


def _match(entry: Builtin, surrogate: Surrogate, thr: float) -> Optional[Dict[str, float]]:
    """The built-in's parameters that give exactly ``surrogate`` at ``thr``, or None."""
    canonical = _canonical(surrogate, thr)
    if type(canonical) is not entry.target:
        return None
    try:
        params = entry.solve(canonical, thr)
        return params if _same(entry.make(thr, **params), canonical) else None
    except (ValueError, ZeroDivisionError):
        return None


# ---------------------------------------------------------------------------
# Translation
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Translation:
    """A surrogate in one framework's syntax.

    ``code`` runs on its own (imports included) and binds ``name`` to what the framework
    takes (and ``lif`` to an example neuron); ``exact`` is True where it uses the
    framework's built-in, False where it uses the sgexplore adapter (or, in sinabs, the
    sgexplore object itself); ``notes`` say what does not carry over.
    """

    framework: str
    code: str
    exact: bool
    name: str
    builtin: Optional[str] = None
    notes: Tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        return self.code + "".join(f"\n# note: {note}" for note in self.notes)


def _literal(value: float) -> str:
    return repr(float(value))


def _constructor(surrogate: Surrogate) -> str:
    """``Gaussian(mu=0.0, sigma=0.5, grad_scale=1.0)``: every parameter, exactly (repr)."""
    values = ", ".join(f"{k}={_literal(v)}" for k, v in surrogate.values().items())
    return f"{type(surrogate).__name__}({values})"


_BINDS = {"sinabs": "surrogate_grad_fn", "snntorch": "spike_grad", "spikingjelly": "surrogate_function",
          "norse": "p"}


def _neuron(framework: str, thr: float, surrogate_code: str, imports: List[str]) -> str:
    """The whole snippet; ``imports`` are the adapter's (none when a built-in is used)."""
    t = _literal(thr)
    builtin = not imports
    if framework == "sinabs":
        head = ["import torch", "import sinabs.activation as sa", "import sinabs.layers as sl"]
        body = [f"surrogate_grad_fn = {surrogate_code}",
                f"lif = sl.LIF(tau_mem=20.0, spike_threshold=torch.tensor({t}), spike_fn=sa.SingleSpike,",
                "             surrogate_grad_fn=surrogate_grad_fn)"]
    elif framework == "snntorch":
        head = ["import snntorch as snn"] + (["from snntorch import surrogate"] if builtin else [])
        body = [f"spike_grad = {surrogate_code}",
                f"lif = snn.Leaky(beta=0.9, threshold={t}, spike_grad=spike_grad, reset_mechanism=\"subtract\")"]
    elif framework == "spikingjelly":
        head = [f"from spikingjelly.activation_based import neuron{', surrogate' if builtin else ''}"]
        body = [f"surrogate_function = {surrogate_code}",
                f"lif = neuron.LIFNode(tau=2.0, v_threshold={t}, v_reset=None, detach_reset=False,",
                "                     surrogate_function=surrogate_function)"]
    else:
        head = ["import torch", "from norse.torch import LIFCell, LIFParameters"]
        body = [f"p = LIFParameters(v_th=torch.tensor({t}), {surrogate_code})", "lif = LIFCell(p)"]
    return "\n".join(head + imports + [""] + body) + "\n"


def _notes(framework: str, surrogate: Surrogate, thr: float, entry: Optional[Builtin]) -> Tuple[str, ...]:
    notes = []
    fires = FIRES[framework]
    if fires == "x >= 0":
        notes.append(f"threshold: {framework} fires at v >= thr, as sgexplore does.")
    else:
        notes.append(f"threshold: {framework} fires at v > thr, sgexplore at v >= thr: "
                     "they differ only where v equals the threshold exactly.")
    if framework == "sinabs":
        notes.append("spike modes: spike_fn=sa.SingleSpike is sgexplore's mode 'single', sa.MultiSpike "
                     "'multi', sa.MaxSpike(max_num_spikes_per_bin=n) 'max' (sinabs' LIF defaults to MultiSpike).")
        notes.append("reset: sinabs' default MembraneSubtract is sgexplore's 'subtract', with the gradient "
                     "flowing through the reset (detach_reset=False); sinabs has no detached reset.")
        notes.append("threshold gradient: sinabs gives the threshold no gradient; sgexplore gives a "
                     "threshold tensor that requires grad -grad_output * surrogate.")
    else:
        notes.append("spike modes: sgexplore's 'multi' and 'max' have no counterpart here; this neuron "
                     "emits at most one spike per step (sinabs' MultiSpike and MaxSpike do).")
        notes.append({
            "snntorch": "reset: snntorch's Leaky subtracts the threshold with the reset *detached* "
                        "(like sgexplore's detach_reset=True); reset_mechanism='zero' is sgexplore's 'zero'.",
            "spikingjelly": "reset: v_reset=None subtracts the threshold (sgexplore's 'subtract'); v_reset=0.0, "
                            "SpikingJelly's default, is 'zero'; detach_reset=False lets the gradient through "
                            "the reset, as sgexplore's detach_reset=False does.",
            "norse": "reset: norse resets to v_reset; LIFCell (feed-forward) lets the gradient through the "
                     "reset, LIFRecurrentCell detaches it.",
        }[framework])
        notes.append({
            "snntorch": "threshold gradient: with learn_threshold=True snntorch's threshold gets "
                        "-grad_output * surrogate, as a sgexplore threshold tensor that requires grad does.",
            "spikingjelly": "threshold gradient: v_threshold is a number in SpikingJelly; it gets no gradient.",
            "norse": "threshold gradient: a v_th tensor that requires grad gets -grad_output * surrogate, "
                     "as in sgexplore.",
        }[framework])
        if entry is None:
            notes.append(f"the adapter evaluates the surrogate at spike_threshold={_literal(thr)}, fixed when "
                         "it is made: give it the neuron's threshold (a learned threshold moves the "
                         "shift x = v - thr, not the surrogate's shape).")
    relative = [p for p, d in surrogate.params().items() if d.convention == "relative"]
    if relative and entry is not None and framework != "sinabs":
        notes.append(f"{', '.join(relative)} is relative to the threshold; the built-in's parameters above are "
                     f"multiplied out at spike_threshold={_literal(thr)}.")
    if entry is not None and entry.bug:
        notes.append(f"peer bug ({framework} {VERSIONS[framework]}): {entry.bug}.")
    if entry is not None and entry.caveat:
        notes.append(f"meaning: {entry.caveat}.")
    return tuple(notes)


def translate(surrogate: Surrogate, framework: str, spike_threshold: float = 1.0) -> Translation:
    """``surrogate`` as a runnable snippet for ``framework`` ("sinabs", "snntorch",
    "spikingjelly" or "norse"), at the neuron's threshold ``spike_threshold``.

    The framework's built-in is used where it equals the surrogate exactly (parameters
    solved and checked by round trip, relative widths multiplied out at the threshold),
    the adapter otherwise; every parameter is written out.
    """
    if not isinstance(surrogate, Surrogate):
        raise ParamTypeError(f"translate(): surrogate must be an sgexplore Surrogate instance; "
                             f"got {shown(surrogate)}")
    _check_framework(framework)
    thr = _checked(surrogate, spike_threshold, "translate")
    for entry in BUILTINS:
        if entry.framework != framework or not entry.usable:
            continue
        params = _match(entry, surrogate, thr)
        if params is None:
            continue
        call = entry.call.format(**{k: _literal(v) for k, v in params.items()})
        if framework == "norse":
            alpha = _literal(params.get("alpha", entry.defaults.get("alpha", 100.0)))
            call = f"method={call}, alpha=torch.tensor({alpha})"
        code = _neuron(framework, thr, call, [])
        return Translation(framework, code, True, _BINDS[framework], entry.name,
                           _notes(framework, surrogate, thr, entry))
    imports = [f"from sgexplore.surrogates import {type(surrogate).__name__}"]
    if framework == "sinabs":
        call = _constructor(surrogate)
    else:
        imports.append(f"from sgexplore.interop import to_{framework}")
        call = f"to_{framework}({_constructor(surrogate)}, spike_threshold={_literal(thr)})"
        if framework == "norse":
            call = f"method={call}"
    code = _neuron(framework, thr, call, imports)
    notes = _notes(framework, surrogate, thr, None)
    buggy = [b for b in BUILTINS if b.framework == framework and not b.usable and _match(b, surrogate, thr)]
    if buggy:
        notes += (f"peer bug ({framework} {VERSIONS[framework]}): {buggy[0].bug}.",)
    elif framework == "sinabs":
        notes += ("sgexplore's surrogate is a plain drop-in for sinabs' surrogate_grad_fn "
                  "(sinabs calls it with (v_mem, spike_threshold)).",)
    return Translation(framework, code, False, _BINDS[framework], None, notes)


def markdown_mappings() -> str:
    """The README's table of peer built-ins and their sgexplore equals (at thr = 1), from the tables."""
    rows = ["| framework | built-in (defaults) | sgexplore (thr = 1) | notes |", "|---|---|---|---|"]
    for entry in BUILTINS:
        args = ", ".join(f"{k}={format_number(v, 6)}" for k, v in entry.defaults.items())
        try:
            equal = describe(entry.make(1.0, **entry.defaults))
        except ValueError:  # PiecewiseLeakyReLU's default c leaks a gradient outside the box
            equal = f"only with c=0: {describe(entry.make(1.0, **{**entry.defaults, 'c': 0.0}))}"
        note = "; ".join(text.split(":")[0] for text in (entry.bug, entry.caveat) if text)
        rows.append(f"| {entry.framework} {VERSIONS[entry.framework]} | `{entry.name}({args})` | `{equal}` | {note} |")
    for framework, names in INEXPRESSIBLE.items():
        for name, why in names.items():
            rows.append(f"| {framework} {VERSIONS[framework]} | `{name}` | cannot be expressed | "
                        f"{why.replace('|', chr(92) + '|')} |")
    return "\n".join(rows)
