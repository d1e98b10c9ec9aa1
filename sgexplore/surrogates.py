"""Surrogate derivatives for the spike's step function.

A surrogate is a small frozen dataclass called as ``surrogate(v_mem, spike_threshold)``.
It returns the value that replaces dS/dv (the derivative of the spike S with respect to
the membrane potential) in the backward pass. That is sinabs' ``surrogate_grad_fn``
signature, so every object here can be handed to a sinabs layer unchanged.

Every parameter is declared once (see :mod:`sgexplore.params`): default, valid range,
slider range and step, log or linear, absolute or relative to the threshold, and its
meaning. Validation, the widgets and the README table read that declaration.

The sinabs family (``Heaviside``, ``Gaussian``, ``MultiGaussian``, ``SingleExponential``,
``PeriodicExponential``) reproduces sinabs 3.1.3 numerically, quirks included; each
docstring says what the code computes, which is not always what sinabs' docstring says.

Notation: ``x = v_mem - spike_threshold``, ``thr = spike_threshold``,
``N(x; m, s)`` is the normal density with mean m and standard deviation s.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Dict, NamedTuple, Optional, Tuple, Type, TypeVar, Union

import torch

from .closed_form import NUMERIC, closed_form, pretty
from .params import (ParamTypeError, Param, as_number, field_for, format_number, param, params_of,
                     shown, validate_value)

__all__ = [
    "Surrogate", "register", "registry", "create", "check_threshold", "describe",
    "check_membrane", "GRAD_SCALE", "SLOPE", "SPIKE_THRESHOLD", "MAX_FACTOR", "WIDTH_RANGE",
    "Heaviside", "Gaussian", "MultiGaussian", "SingleExponential",
    "PeriodicExponential", "PeriodicExponentialSymmetric",
    "SigmoidLike", "FastSigmoid", "ArcTan", "SigmoidDerivative", "Triangle", "DampenedTriangle",
    "Box", "StraightThrough", "TrueGradient",
]

Threshold = Union[float, torch.Tensor]
#: The default of ``Surrogate.__call__``'s threshold: it has none, and a call without one raises.
_NO_THRESHOLD = object()
S = TypeVar("S", bound=type)

# sinabs builds sqrt(2*pi) from a float32 tensor; the Gaussians keep that constant
# (and its float32 product with sigma) so values match sinabs to the last bit.
_SQRT_2PI_F32 = torch.sqrt(2 * torch.tensor(math.pi))


def sinabs_normaliser(sigma: float) -> float:
    """``sigma * sqrt(2 pi)`` rounded as sinabs rounds it (a float32 product)."""
    return float(sigma * _SQRT_2PI_F32)

# Declared ranges are finite on purpose: every combination of in-range values keeps a
# surrogate's curve, peak and area inside float32 (peaks at most about 1e15, far below
# float32's 3.4e38), so no value the ranges allow turns a figure or a run into NaN/inf
# for want of precision. tests/test_bad_inputs.py checks each range's extremes.
#: Largest multiplying factor (a grad_scale, a dampening, a lobe depth).
MAX_FACTOR = 1e6
#: Valid range of a width or a distance in membrane-potential units (a sigma, a half-width).
WIDTH_RANGE = (1e-3, 1e3)
_IS_WIDTH = "sgexplore.width"  # field metadata of the parameter that is Surrogate.width


def width_param(default: float, slider: Tuple[float, float, float], doc: str, convention: str = "absolute",
                low: float = WIDTH_RANGE[0], width: bool = False, **spec: Any) -> Any:
    """A width, a distance or a steepness: valid in ``[low, WIDTH_RANGE[1]]`` (``low`` defaults
    to :data:`WIDTH_RANGE`'s), with its slider, convention and meaning.

    ``width=True`` makes it the surrogate's :attr:`Surrogate.width`, the parameter
    :func:`sgexplore.lens.fit_width` sets (at most one per class).
    """
    declaration = Param(default, low=low, high=WIDTH_RANGE[1], slider=slider, convention=convention, doc=doc, **spec)
    return field_for(declaration, **{_IS_WIDTH: width})

# Shared declarations: the same meaning wherever they appear.
# The marks are peer frameworks' defaults in sgexplore's terms (sgexplore.interop), e.g.
# SpikingJelly's PiecewiseExp(1) has grad_scale 1/2 and norse's "tanh" at alpha 100 has 2/100.
GRAD_SCALE = Param(1.0, low=0.0, high=MAX_FACTOR, slider=(0.01, 100.0, 0.1), log=True,
                   marks=(0.02, 0.5),
                   doc="multiplies the whole surrogate (its height and its area)")
#: Steepness of a sigmoid-like surrogate, in 1/voltage (the inverse of its width).
#: Marks: SoftSign(2) and Sigmoid(4) of SpikingJelly, snntorch's 25, norse's "tanh" at alpha 100.
SLOPE = Param(10.0, low=1e-3, high=1e4, slider=(0.1, 1000.0, 0.1), log=True,
              marks=(2.0, 4.0, 25.0, 200.0), convention="absolute", doc="steepness (inverse width, 1/voltage; absolute)")
#: The firing threshold, wherever it is set: spikes, layers, training, sliders, CLI.
#: The slider starts at 0 so that a value typed into its readout (an invalid 0 too)
#: reaches the explorer, which then shows a message.
SPIKE_THRESHOLD = Param(1.0, low=1e-3, high=1e3, slider=(0.0, 5.0, 0.01),
                        doc="membrane potential at which a neuron fires (thr)")


def check_threshold(spike_threshold: Threshold) -> None:
    """Raise unless every threshold lies in :data:`SPIKE_THRESHOLD`'s range.

    ValueError for a value outside it, :class:`~sgexplore.params.ParamTypeError` (a
    TypeError) for something that is neither a real number nor a floating-point tensor.
    Its own check, not :func:`validate_value`, because a threshold may also be a tensor.
    """
    valid = SPIKE_THRESHOLD.range_text()
    if isinstance(spike_threshold, torch.Tensor):
        if not spike_threshold.is_floating_point():
            raise ParamTypeError(f"spike_threshold must be a number or floating-point tensor in {valid}; "
                                 f"got a tensor of dtype {spike_threshold.dtype}")
        low, high = SPIKE_THRESHOLD.low, SPIKE_THRESHOLD.high
        with torch.no_grad():
            inside = torch.isfinite(spike_threshold) & (spike_threshold >= low) & (spike_threshold <= high)
        if not bool(torch.all(inside)):
            raise ValueError(f"spike_threshold must be in {valid}; "
                             "got a tensor with an entry outside it (or NaN)")
        return
    if as_number(spike_threshold) is None:
        raise ParamTypeError(f"spike_threshold must be a number or tensor in {valid}; "
                             f"got {shown(spike_threshold)} of type {type(spike_threshold).__name__}")
    if not SPIKE_THRESHOLD.contains(spike_threshold):
        raise ValueError(f"spike_threshold must be in {valid}; got {shown(spike_threshold)}")


def check_membrane(v_mem: torch.Tensor, name: str = "v_mem") -> None:
    """Raise unless ``v_mem`` is a floating-point tensor of finite values.

    :class:`~sgexplore.params.ParamTypeError` (a TypeError) for anything else than a
    floating-point tensor, ValueError for NaN or inf in it. Reads every value once, with
    ``torch.aminmax`` (NaN and inf reach the minimum or the maximum; about a tenth of a
    relu forward and backward on CPU, against two to three times that for counting
    ``~isfinite``), and syncs a CUDA device: for public entry points, not for the training
    loop's inner steps.
    """
    if not isinstance(v_mem, torch.Tensor) or not v_mem.is_floating_point():
        raise ParamTypeError(f"{name} must be a floating-point tensor; got {type(v_mem).__name__}"
                             + (f" of dtype {v_mem.dtype}" if isinstance(v_mem, torch.Tensor) else ""))
    if not v_mem.numel():
        return
    with torch.no_grad():
        low, high = torch.aminmax(v_mem)
        if math.isfinite(float(low)) and math.isfinite(float(high)):
            return
        bad = int((~torch.isfinite(v_mem)).sum())  # only on the way to the error
    raise ValueError(f"{name} must be finite; got {bad} NaN or infinite "
                     f"entr{'y' if bad == 1 else 'ies'} of {v_mem.numel()}")


def _single_threshold(spike_threshold: Threshold) -> float:
    """A validated threshold as one float (peak, area and the numeric primitive need one)."""
    check_threshold(spike_threshold)
    if isinstance(spike_threshold, torch.Tensor):
        if spike_threshold.numel() != 1:
            raise ValueError("peak/area/plots need a single spike_threshold; got a tensor "
                             f"of shape {tuple(spike_threshold.shape)}")
        spike_threshold = float(spike_threshold)
    return float(spike_threshold)


def normal_pdf(x: torch.Tensor, mu: float, sigma_norm: float, sigma: float) -> torch.Tensor:
    """N(x; mu, sigma), written as sinabs writes it; ``sigma_norm = sigma*sqrt(2 pi)``."""
    return torch.exp(-((x - mu) ** 2) / (2 * sigma**2)) / sigma_norm


def normal_cdf(x: torch.Tensor, mu: float, sigma: float) -> torch.Tensor:
    return 0.5 * (1 + torch.erf((x - mu) / (sigma * math.sqrt(2.0))))


def _validating_threshold(method: Callable, single: bool) -> Callable:
    """Wrap a subclass's own ``peak``/``area``/``primitive`` in the base class's threshold check.

    The threshold is the argument named ``spike_threshold``, or else the last positional one
    (``peak(self, thr)``, ``primitive(self, v, thr)``).
    """
    signature = inspect.signature(method)
    positional = [p.name for p in signature.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    name = "spike_threshold" if "spike_threshold" in signature.parameters else \
        (positional[-1] if len(positional) > (2 if not single else 1) else None)
    check = _single_threshold if single else check_threshold

    @functools.wraps(method)
    def checked(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        if name is not None and name in bound.arguments:
            check(bound.arguments[name])
        return method(*bound.args, **bound.kwargs)

    checked.__sgexplore_validated__ = True
    return checked


class Formulas(NamedTuple):
    """A surrogate's formulas, written once (x = v − thr).

    ``grad`` is text for the README. ``peak`` and ``area`` are closed forms in the declared
    parameters and ``thr`` (:mod:`sgexplore.closed_form`, e.g. ``"grad_scale * slope / 4"``):
    the README shows them and :meth:`Surrogate.peak` / :meth:`Surrogate.area` evaluate them,
    so the two cannot disagree. ``"numeric"`` means there is none: the base class computes
    the value numerically from :meth:`Surrogate.grad`.
    """

    grad: str
    peak: str = NUMERIC
    area: str = NUMERIC
    source: str = ""


class Surrogate:
    """Base class: validation from declarations, peak, area and a numeric primitive.

    Subclasses are frozen dataclasses that declare their parameters with
    :func:`sgexplore.params.param` and implement :meth:`grad`, the formula alone. They
    may add closed forms: the peak and area as text in :attr:`formulas`, the primitive as
    :meth:`_primitive` (or :meth:`_peak` and :meth:`_area` as methods); the base class
    supplies numeric ones, so a user's own surrogate needs only ``grad``. The public
    methods validate the threshold once, here, and then call the formula; a subclass
    that overrides ``peak``, ``area`` or ``primitive`` itself is validated the same way.
    ``sgexplore.check_surrogate(cls)`` checks the whole contract.
    """

    #: What the README table says; subclasses fill it in.
    formulas: ClassVar[Formulas] = Formulas("")
    #: The parameter that sets how wide the surrogate is: a width, or a steepness (whose
    #: inverse is one); "" where none does. :func:`sgexplore.lens.fit_width` sets it.
    #: Declared with ``width_param(..., width=True)`` (or set here for a shared declaration).
    width: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        closed_form(cls.formulas.peak), closed_form(cls.formulas.area)  # a typo fails here, not later
        # the dataclass decorator has not run yet: the declarations are still Field objects
        widths = [name for name, value in vars(cls).items()
                  if isinstance(value, dataclasses.Field) and value.metadata.get(_IS_WIDTH)]
        if len(widths) > 1:
            raise TypeError(f"{cls.__name__} declares {widths} as its width; one parameter at most")
        if widths:
            cls.width = widths[0]
        for name, single in (("peak", True), ("area", True), ("primitive", False)):
            method = cls.__dict__.get(name)
            # plain functions only: a staticmethod or classmethod override is left as it is
            if inspect.isfunction(method) and not getattr(method, "__sgexplore_validated__", False):
                setattr(cls, name, _validating_threshold(method, single))

    def __post_init__(self) -> None:
        for name, declaration in params_of(self).items():
            value = validate_value(type(self).__name__, name, declaration, getattr(self, name))
            object.__setattr__(self, name, value)

    # -- the surrogate ---------------------------------------------------------
    def __call__(self, v_mem: torch.Tensor, spike_threshold: Threshold = _NO_THRESHOLD) -> torch.Tensor:
        """The surrogate dS/dv at ``v_mem`` (sinabs' ``surrogate_grad_fn`` signature).

        Both arguments are required. snntorch's ``spike_grad`` and SpikingJelly's
        ``surrogate_function`` are called with one argument, ``v_mem - thr``, and must
        return spikes: a surrogate called that way raises TypeError naming the adapter
        (:mod:`sgexplore.interop`) instead of returning surrogate values as spikes.
        """
        if spike_threshold is _NO_THRESHOLD:
            raise TypeError(
                f"{describe(self)} was called with one argument, as snntorch's spike_grad and "
                "SpikingJelly's surrogate_function are called. A surrogate takes (v_mem, "
                "spike_threshold) and returns dS/dv, not spikes; hand those frameworks "
                "sgexplore.interop.to_snntorch(surrogate, spike_threshold=...) or "
                "to_spikingjelly(...) instead (to_norse(...) for norse).")
        # the type only: reading the values (NaN checks) would cost a pass on every backward
        if not isinstance(v_mem, torch.Tensor) or not v_mem.is_floating_point():
            raise ParamTypeError(f"v_mem must be a floating-point tensor; got {type(v_mem).__name__}"
                                 + (f" of dtype {v_mem.dtype}" if isinstance(v_mem, torch.Tensor) else ""))
        check_threshold(spike_threshold)
        return self.grad(v_mem, spike_threshold)

    def grad(self, v_mem: torch.Tensor, spike_threshold: Threshold) -> torch.Tensor:
        """The formula itself, without checks; the spike's backward calls this."""
        raise NotImplementedError

    # -- derived quantities ----------------------------------------------------
    def length_scale(self, spike_threshold: float) -> float:
        """Distance from the threshold within which the surrogate lives (for numerics)."""
        return spike_threshold

    def primitive(self, v_mem: torch.Tensor, spike_threshold: Threshold = 1.0) -> torch.Tensor:
        """The smooth 'pretend forward' P whose derivative dP/dv is the surrogate.

        P tends to 0 far below the threshold where the surrogate is integrable there.
        ``v_mem`` is a floating-point tensor of finite values (checked).
        """
        check_membrane(v_mem)
        check_threshold(spike_threshold)
        return self._primitive(v_mem, spike_threshold)

    def peak(self, spike_threshold: Threshold = 1.0) -> float:
        """Largest value of the surrogate."""
        return self._peak(_single_threshold(spike_threshold))

    def area(self, spike_threshold: Threshold = 1.0) -> float:
        """Integral of the surrogate over all v (``inf`` when it does not decay)."""
        return self._area(_single_threshold(spike_threshold))

    # -- the formulas: numeric fallbacks, closed forms in subclasses -------------
    def _primitive(self, v_mem: torch.Tensor, spike_threshold: Threshold) -> torch.Tensor:
        """Integrates :meth:`grad` numerically on a fine grid (trapezoid rule)."""
        thr = _single_threshold(spike_threshold)
        v = torch.as_tensor(v_mem)
        L = self.length_scale(thr)
        lo = min(float(v.min()), thr - 40 * L)
        hi = max(float(v.max()), lo + L)
        grid = torch.linspace(lo, hi, 200_001, dtype=torch.float64)
        g = self.grad(grid, thr).to(torch.float64)
        cumulative = torch.cat([g.new_zeros(1), torch.cumsum((g[1:] + g[:-1]) * 0.5 * (grid[1] - grid[0]), 0)])
        values = _interp(v.to(torch.float64), grid, cumulative)
        return values.to(v.dtype if v.is_floating_point() else torch.get_default_dtype())

    def _peak(self, spike_threshold: float) -> float:
        """The closed form of :attr:`formulas`, else a coarse grid and three zooms on the best cell.

        The numeric search is cheap enough (about a thousand evaluations) for a live readout
        on every slider move.
        """
        closed = closed_form(self.formulas.peak)
        if closed is not None:
            return closed(self._closed_form_values(spike_threshold))
        L = self.length_scale(spike_threshold)
        lo, hi, best = spike_threshold - 20 * L, spike_threshold + 20 * L, -math.inf
        for points in (4001, 201, 201, 201):
            grid = torch.linspace(lo, hi, points, dtype=torch.float64)
            values = self.grad(grid, spike_threshold)
            i = int(torch.argmax(values))
            best = max(best, float(values[i]))
            step = float(grid[1] - grid[0])
            lo, hi = float(grid[i]) - step, float(grid[i]) + step
        return best

    def _area(self, spike_threshold: float) -> float:
        """The closed form of :attr:`formulas`, else the primitive's rise over ±60 length scales."""
        closed = closed_form(self.formulas.area)
        if closed is not None:
            return closed(self._closed_form_values(spike_threshold))
        L = self.length_scale(spike_threshold)
        ends = torch.tensor([spike_threshold - 60 * L, spike_threshold + 60 * L], dtype=torch.float64)
        # primitive, not _primitive: a user's own closed-form primitive override is used
        return float(torch.diff(self.primitive(ends, spike_threshold))[0])

    def _closed_form_values(self, spike_threshold: float) -> Dict[str, float]:
        return {**self.values(), "thr": spike_threshold}

    # -- introspection ---------------------------------------------------------
    @classmethod
    def params(cls) -> Dict[str, Param]:
        """Name -> declaration of every tunable parameter."""
        return params_of(cls)

    def values(self) -> Dict[str, float]:
        """Name -> current value of every declared parameter."""
        return {name: getattr(self, name) for name in self.params()}

    def replace(self, **changes: float) -> "Surrogate":
        """A copy with some parameters changed (validated like the constructor)."""
        return dataclasses.replace(self, **changes)


def describe(surrogate: Surrogate) -> str:
    """The one text description of a surrogate: ``Name(p=value, ...)``, compact numbers."""
    values = ", ".join(f"{k}={format_number(v)}" for k, v in surrogate.values().items())
    return f"{type(surrogate).__name__}({values})"


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    idx = torch.searchsorted(xp, x.clamp(xp[0], xp[-1])).clamp(1, len(xp) - 1)
    x0, x1, y0, y1 = xp[idx - 1], xp[idx], fp[idx - 1], fp[idx]
    return y0 + (y1 - y0) * (x.clamp(xp[0], xp[-1]) - x0) / (x1 - x0)


_REGISTRY: Dict[str, Type[Surrogate]] = {}


def register(cls: Optional[S] = None, *, name: Optional[str] = None, replace: bool = False):
    """Class decorator: make a surrogate appear in the registry, the explorers and the CLI.

    A user's own surrogate registers the same way as the built-ins::

        @register
        @dataclass(frozen=True)
        class Cosine(Surrogate):
            width: float = param(1.0, low=0.0, low_open=True, slider=(0.1, 3.0, 0.1), doc="...")
            def grad(self, v_mem, spike_threshold): ...

    ``name`` (default: the class name) must be a Python identifier. Registering a user's
    surrogate again under its name replaces the old class (a notebook cell run twice); a
    built-in is replaced only with ``replace=True``, otherwise ValueError.
    """
    if name is not None and not isinstance(name, str):
        raise ParamTypeError(f"register() name must be a string (a Python identifier); got {shown(name)}")
    if name is not None and not (name.isascii() and name.isidentifier()):
        raise ValueError(f"register() name must be a Python identifier (ASCII letters, digits, "
                         f"underscores, not starting with a digit); got {shown(name)}")
    if not isinstance(replace, bool):
        raise ParamTypeError(f"register() replace must be True or False; got {shown(replace)}")

    def decorate(klass: S) -> S:
        if not (isinstance(klass, type) and issubclass(klass, Surrogate)):
            raise ParamTypeError(f"register() takes a Surrogate subclass; got {shown(klass)}")
        if not dataclasses.is_dataclass(klass):
            raise ParamTypeError(f"register() takes a dataclass: {klass.__name__} must be a "
                                 "dataclass (use @dataclass(frozen=True))")
        key = name or klass.__name__
        existing = _REGISTRY.get(key)
        if (existing is not None and existing is not klass and existing.__module__ == __name__
                and not replace):
            raise ValueError(f"register() would replace the built-in surrogate {key!r}; pass "
                             f"name='...' to register {klass.__name__} under another name, or "
                             "replace=True to replace the built-in")
        _REGISTRY[key] = klass
        return klass

    return decorate(cls) if cls is not None else decorate


def registry() -> Dict[str, Type[Surrogate]]:
    """Name -> class of every registered surrogate (a copy; use :func:`register` to add)."""
    return dict(_REGISTRY)


def create(name: str, **values: float) -> Surrogate:
    """Instantiate a registered surrogate by name, e.g. ``create("Gaussian", sigma=0.3)``."""
    if not isinstance(name, str):
        raise ParamTypeError(f"surrogate must be one of {sorted(_REGISTRY)}; got {shown(name)} "
                             f"of type {type(name).__name__}")
    try:
        cls = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"surrogate must be one of {sorted(_REGISTRY)}; got {shown(name)}") from None
    unknown = set(values) - set(cls.params())
    if unknown:
        raise ValueError(f"{name} has no parameter(s) {sorted(unknown)}; "
                         f"its parameters are {list(cls.params())}")
    return cls(**values)


# ---------------------------------------------------------------------------
# The sinabs family (numerically identical to sinabs 3.1.3)
# ---------------------------------------------------------------------------

@register
@dataclass(frozen=True)
class Heaviside(Surrogate):
    """A one-sided step: ``1[v >= thr - window] / thr``.

    The gradient is ``1/thr`` for every ``v`` at or above ``thr - window`` and 0 below;
    it never returns to 0 above the threshold. ``window`` is an **absolute** distance
    in membrane-potential units (sinabs' docstring calls it relative to the threshold,
    but its code subtracts it directly; the two agree only at ``thr = 1``). With the
    defaults and ``thr = 1`` the gradient is 1 for all ``v >= 0``: the straight-through
    slope of the multi-spike staircase ``trunc(v/thr)``.
    """

    formulas: ClassVar[Formulas] = Formulas(
        "1[v ≥ thr − window] / thr",
        peak="1 / thr", area="inf  # one-sided",
        source="sinabs 3.1.3 `Heaviside`")

    window: float = width_param(1.0, (0.0, 3.0, 0.05), "distance below the threshold where the step starts (absolute)",
                                low=0.0, width=True)

    def grad(self, v_mem, spike_threshold):
        return (v_mem >= (spike_threshold - self.window)).to(_float_dtype(v_mem)) / spike_threshold

    def _primitive(self, v_mem, spike_threshold):
        return torch.relu(v_mem - (spike_threshold - self.window)) / spike_threshold


@register
@dataclass(frozen=True)
class Gaussian(Surrogate):
    """``grad_scale * N(v - thr; mu, sigma)``: a normal density centred at ``thr + mu``.

    ``mu`` and ``sigma`` are absolute (they do not scale with the threshold).
    Peak ``grad_scale / (sigma sqrt(2 pi))``, area ``grad_scale``.
    """

    formulas: ClassVar[Formulas] = Formulas(
        "grad_scale · N(x; mu, sigma)",
        peak="grad_scale / (sigma * sqrt(2 * pi))", area="grad_scale",
        source="sinabs 3.1.3 `Gaussian`")

    mu: float = width_param(0.0, (-1.0, 1.0, 0.05), "shift of the bell's centre from the threshold (absolute)",
                            low=-WIDTH_RANGE[1])
    # marks: SpikingJelly's Erf(2) and norse's "heavi_erfc" at alpha 100 (sigma = 1/(alpha sqrt 2))
    sigma: float = width_param(0.5, (0.05, 2.0, 0.05), "standard deviation of the bell (absolute)",
                               marks=(1 / (2 * math.sqrt(2)), 1 / (100 * math.sqrt(2))), width=True)
    grad_scale: float = field_for(GRAD_SCALE)

    def __post_init__(self) -> None:
        super().__post_init__()
        # computed once here, not on every backward call
        object.__setattr__(self, "_norm", sinabs_normaliser(self.sigma))

    def length_scale(self, spike_threshold):
        return self.sigma + abs(self.mu)

    def grad(self, v_mem, spike_threshold):
        return normal_pdf(v_mem - spike_threshold, self.mu, self._norm, self.sigma) * self.grad_scale

    def _primitive(self, v_mem, spike_threshold):
        return self.grad_scale * normal_cdf(v_mem - spike_threshold, self.mu, self.sigma)


@register
@dataclass(frozen=True)
class MultiGaussian(Surrogate):
    """Yin, Corradi & Bohté 2021: a Gaussian with two wide negative side lobes.

    ``grad_scale * ((1+h) N(x; mu, sigma) - h N(x; sigma, s sigma) - h N(x; -sigma, s sigma))``.
    The side lobes sit at ``±sigma`` and do **not** move with ``mu`` (as in sinabs).
    The area is ``grad_scale (1 - h)``; ``h = 0`` gives the single Gaussian of sinabs
    releases before 1.0.4. Yin et al.'s own code also multiplies by 0.5; use
    ``grad_scale=0.5`` to match it. All parameters are absolute.
    """

    formulas: ClassVar[Formulas] = Formulas(
        "grad_scale · ((1+h) N(x; mu, σ) − h N(x; σ, sσ) − h N(x; −σ, sσ))",
        peak="numeric  # ≈ 0.878 at the defaults", area="grad_scale * (1 - h)",
        source="Yin, Corradi & Bohté, Nat. Mach. Intell. 3:905 (2021); sinabs 3.1.3 `MultiGaussian`")

    mu: float = width_param(0.0, (-1.0, 1.0, 0.05),
                            "shift of the central bell from the threshold (absolute; side lobes stay)",
                            low=-WIDTH_RANGE[1])
    sigma: float = width_param(0.5, (0.05, 2.0, 0.05),
                               "width of the central bell; the side lobes sit at ±sigma (absolute)", width=True)
    grad_scale: float = field_for(GRAD_SCALE)
    h: float = param(0.15, low=0.0, high=MAX_FACTOR, slider=(0.0, 0.5, 0.01),
                     doc="depth of the negative side lobes")
    s: float = param(6.0, low=1e-2, high=1e2, slider=(1.0, 10.0, 0.5),
                     doc="width of the side lobes, in units of sigma")

    def length_scale(self, spike_threshold):
        return self.s * self.sigma + abs(self.mu)

    def __post_init__(self) -> None:
        super().__post_init__()
        # computed once here, not on every backward call
        object.__setattr__(self, "_norms", (sinabs_normaliser(self.sigma),
                                            sinabs_normaliser(self.s * self.sigma)))

    def grad(self, v_mem, spike_threshold):
        x = v_mem - spike_threshold
        wide = self.s * self.sigma
        narrow_norm, wide_norm = self._norms
        return (
            (1 + self.h) * normal_pdf(x, self.mu, narrow_norm, self.sigma)
            - self.h * normal_pdf(x, self.sigma, wide_norm, wide)
            - self.h * normal_pdf(x, -self.sigma, wide_norm, wide)
        ) * self.grad_scale

    def _primitive(self, v_mem, spike_threshold):
        x = v_mem - spike_threshold
        wide = self.s * self.sigma
        return self.grad_scale * (
            (1 + self.h) * normal_cdf(x, self.mu, self.sigma)
            - self.h * normal_cdf(x, self.sigma, wide)
            - self.h * normal_cdf(x, -self.sigma, wide))


@register
@dataclass(frozen=True)
class SingleExponential(Surrogate):
    """Shrestha & Orchard 2018 (SLAYER): ``grad_scale/a * exp(-|v - thr| / a)``, ``a = thr * grad_width``.

    ``grad_width`` is **relative** to the threshold. Peak ``grad_scale / (thr grad_width)``,
    area ``2 grad_scale`` (sinabs follows slayerPytorch, without lava-dl's factor 1/2).
    """

    formulas: ClassVar[Formulas] = Formulas(
        "grad_scale/(thr·w) · exp(−|x| / (thr·w))",
        peak="grad_scale / (thr * grad_width)", area="2 * grad_scale",
        source="Shrestha & Orchard, NeurIPS 2018 (SLAYER); sinabs 3.1.3 `SingleExponential`")

    grad_width: float = width_param(0.5, (0.05, 2.0, 0.05), "decay length, in units of the threshold",
                                    convention="relative", width=True)
    grad_scale: float = field_for(GRAD_SCALE)

    def length_scale(self, spike_threshold):
        return spike_threshold * self.grad_width

    def grad(self, v_mem, spike_threshold):
        abs_width = spike_threshold * self.grad_width
        return self.grad_scale / abs_width * torch.exp(-torch.abs(v_mem - spike_threshold) / abs_width)

    def _primitive(self, v_mem, spike_threshold):
        a = spike_threshold * self.grad_width
        x = v_mem - spike_threshold
        below = torch.exp(torch.clamp(x, max=0) / a)
        above = 2 - torch.exp(-torch.clamp(x, min=0) / a)
        return self.grad_scale * torch.where(x < 0, below, above)


@register
@dataclass(frozen=True)
class PeriodicExponential(Surrogate):
    """Weidel & Sheik 2021 (WaveSense), for multi-spike neurons, exactly as sinabs 3.1.3.

    Below the threshold: ``grad_scale * exp(-|v - thr| / grad_width)``. At and above it,
    a peak of height ``grad_scale`` at every multiple ``n*thr`` (n >= 1), with troughs
    ``grad_scale * exp(-thr/grad_width)`` half-way between. Above the threshold each lobe
    decays **twice as fast** (``exp(-2|v - n thr| / grad_width)``): sinabs maps the
    distance to the nearest multiple with slope 2. Use
    :class:`PeriodicExponentialSymmetric` for lobes of equal width. ``grad_width`` is
    **absolute** (unlike :class:`SingleExponential`). The area is infinite.
    """

    formulas: ClassVar[Formulas] = Formulas(
        "grad_scale · exp(−|z| / w), z = x below thr, z = thr·(2·frac(v/thr − ½) − 1) at and above",
        peak="grad_scale  # at every n·thr", area="inf  # periodic",
        source="Weidel & Sheik, arXiv:2111.01456 (2021); sinabs 3.1.3 `PeriodicExponential`")

    grad_width: float = width_param(0.5, (0.05, 2.0, 0.05),
                                    "decay length of each lobe (absolute; halved above threshold)",
                                    width=True)
    grad_scale: float = field_for(GRAD_SCALE)

    #: How fast the distance to the nearest multiple of thr grows above threshold.
    supra_slope: ClassVar[float] = 2.0

    def _periodic_distance(self, v_mem, spike_threshold):
        vmem_normalized = v_mem / spike_threshold - 0.5
        fraction = vmem_normalized - torch.floor(vmem_normalized)
        return spike_threshold * (2 * fraction - 1)

    def grad(self, v_mem, spike_threshold):
        below = (v_mem - spike_threshold) * (v_mem < spike_threshold)
        above = self._periodic_distance(v_mem, spike_threshold) * (v_mem >= spike_threshold)
        return self.grad_scale * torch.exp(-torch.abs(above + below) / self.grad_width)

    def _primitive(self, v_mem, spike_threshold):
        w, k, thr = self.grad_width, self.supra_slope, spike_threshold
        half = k * thr / 2  # the distance z runs over [-half, half) within a period
        per_period = (2 * w / k) * (1 - math.exp(-half / w)) if not torch.is_tensor(thr) \
            else (2 * w / k) * (1 - torch.exp(-half / w))

        def running(v):  # integral of the supra-threshold part from v = thr/2 to v
            u = v / thr - 0.5
            z = self._periodic_distance(v, thr)
            tail = torch.as_tensor(half / w, dtype=z.dtype)
            partial = torch.where(
                z < 0,
                w * (torch.exp(torch.clamp(z, max=0) / w) - torch.exp(-tail)),
                w * (1 - torch.exp(-tail)) + w * (1 - torch.exp(-torch.clamp(z, min=0) / w)))
            return torch.floor(u) * per_period + partial / k

        v = torch.as_tensor(v_mem)
        at_thr = running(torch.full_like(v, 1.0) * thr)
        above = w + running(torch.maximum(v, v.new_tensor(0.0) + thr)) - at_thr
        below = w * torch.exp(torch.clamp(v - thr, max=0) / w)
        return self.grad_scale * torch.where(v < thr, below, above)


@register
@dataclass(frozen=True)
class PeriodicExponentialSymmetric(PeriodicExponential):
    """:class:`PeriodicExponential` with lobes of equal width on both sides.

    Above the threshold the lobe around each ``n*thr`` is ``grad_scale * exp(-|v - n thr| / grad_width)``,
    the same decay as below the threshold (the pre-2023 sinabs shape, with peaks of
    height ``grad_scale``). Troughs ``grad_scale * exp(-thr / (2 grad_width))``.
    """

    formulas: ClassVar[Formulas] = PeriodicExponential.formulas._replace(
        grad="grad_scale · exp(−|v − n·thr| / w), n the nearest multiple (n ≥ 1) above thr",
        source="Weidel & Sheik 2021, symmetric variant")
    supra_slope: ClassVar[float] = 1.0

    def _periodic_distance(self, v_mem, spike_threshold):
        vmem_normalized = v_mem / spike_threshold - 0.5
        fraction = vmem_normalized - torch.floor(vmem_normalized)
        return spike_threshold * (fraction - 0.5)


# ---------------------------------------------------------------------------
# The field's other standard surrogates
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SigmoidLike(Surrogate):
    """What the sigmoid-like surrogates share: a steepness ``slope`` (1/voltage, absolute) and
    a ``grad_scale``; they live within about ``1/slope`` of the threshold. Not registered."""

    width: ClassVar[str] = "slope"

    slope: float = field_for(SLOPE)
    grad_scale: float = field_for(GRAD_SCALE)

    def length_scale(self, spike_threshold):
        return 1.0 / self.slope


@register
@dataclass(frozen=True)
class FastSigmoid(SigmoidLike):
    """SuperSpike / fast sigmoid (Zenke & Ganguli 2018): ``grad_scale / (slope |x| + 1)^2``.

    Peak ``grad_scale``, area ``2 grad_scale / slope``: a steeper slope with a fixed
    peak means less total gradient. Zenke & Vogels' (2021) "asymptotic" form, whose
    peak grows with the slope, is ``grad_scale = slope``. ``slope`` is absolute (1/voltage).
    """

    formulas: ClassVar[Formulas] = Formulas(
        "grad_scale / (slope·|x| + 1)²",
        peak="grad_scale", area="2 * grad_scale / slope",
        source="Zenke & Ganguli, Neural Comput. 30:1514 (2018)")

    def grad(self, v_mem, spike_threshold):
        return self.grad_scale / (self.slope * torch.abs(v_mem - spike_threshold) + 1) ** 2

    def _primitive(self, v_mem, spike_threshold):
        x = v_mem - spike_threshold
        k = self.slope
        tail = 1 / (k * (k * torch.abs(x) + 1))
        return self.grad_scale * torch.where(x < 0, tail, 2 / k - tail)


@register
@dataclass(frozen=True)
class ArcTan(Surrogate):
    """Arctan (Fang et al. 2021): ``grad_scale * (alpha/2) / (1 + (pi alpha x / 2)^2)``.

    The derivative of ``arctan(pi alpha x / 2)/pi + 1/2``. Peak ``grad_scale alpha / 2``
    (1 at the default alpha = 2), area ``grad_scale``. ``alpha`` is absolute.
    """

    formulas: ClassVar[Formulas] = Formulas(
        "grad_scale · (alpha/2) / (1 + (π·alpha·x/2)²)",
        peak="grad_scale * alpha / 2", area="grad_scale",
        source="Fang et al., ICCV 2021")

    alpha: float = width_param(2.0, (0.1, 10.0, 0.1), "steepness (1/voltage; absolute)", width=True)
    grad_scale: float = field_for(GRAD_SCALE)

    def length_scale(self, spike_threshold):
        return 100.0 / self.alpha  # heavy tails: integrate far out

    def grad(self, v_mem, spike_threshold):
        x = v_mem - spike_threshold
        return self.grad_scale * (self.alpha / 2) / (1 + (math.pi * self.alpha * x / 2) ** 2)

    def _primitive(self, v_mem, spike_threshold):
        x = v_mem - spike_threshold
        return self.grad_scale * (torch.atan(math.pi * self.alpha * x / 2) / math.pi + 0.5)


@register
@dataclass(frozen=True)
class SigmoidDerivative(SigmoidLike):
    """Derivative of the logistic sigmoid: ``grad_scale * slope * s(slope x) * s(-slope x)``.

    Computed as ``e / (1 + e)^2`` with ``e = exp(-|slope x|)``, which never overflows
    (snntorch's ``exp(-kx)/(exp(-kx)+1)^2`` turns into NaN far below threshold) and needs
    one exponential where two sigmoids need two. Peak ``grad_scale slope / 4`` (2.5 at the default
    slope 10, the slope Zenke & Vogels call beta, not the membrane decay of ``sgexplore.snn``;
    slope 4 gives peak 1), area ``grad_scale``. ``slope`` is absolute.
    """

    formulas: ClassVar[Formulas] = Formulas(
        "grad_scale · slope · logistic(slope·x) · logistic(−slope·x)",
        peak="grad_scale * slope / 4", area="grad_scale",
        source="Zenke & Vogels, Neural Comput. 33:899 (2021), sigmoid′")

    def grad(self, v_mem, spike_threshold):
        decay = torch.exp(-torch.abs(self.slope * (v_mem - spike_threshold)))
        return self.grad_scale * self.slope * decay / (1 + decay) ** 2

    def _primitive(self, v_mem, spike_threshold):
        return self.grad_scale * torch.sigmoid(self.slope * (v_mem - spike_threshold))


def triangle(x: torch.Tensor, half_width, height) -> torch.Tensor:
    """``height * max(0, 1 - |x| / half_width)``."""
    return height * torch.clamp(1 - torch.abs(x) / half_width, min=0)


def triangle_primitive(x: torch.Tensor, half_width, height) -> torch.Tensor:
    c = torch.maximum(torch.minimum(x, x.new_tensor(0.0) + half_width), x.new_tensor(0.0) - half_width)
    return height * (half_width / 2 + c - c * torch.abs(c) / (2 * half_width))


@dataclass(frozen=True)
class HalfWidthLike(Surrogate):
    """What the surrogates that vanish beyond a half-width ``grad_width`` (absolute) share: that
    width and a ``grad_scale``. Each declares its own ``grad_width`` default. Not registered."""

    grad_width: float = width_param(1.0, (0.05, 3.0, 0.05), "half-width (absolute)", width=True)
    grad_scale: float = field_for(GRAD_SCALE)

    def length_scale(self, spike_threshold):
        return self.grad_width


@register
@dataclass(frozen=True)
class Triangle(HalfWidthLike):
    """Piecewise-linear (Esser et al. 2016): ``grad_scale * max(0, 1 - |x| / grad_width)``.

    Peak ``grad_scale``, area ``grad_scale * grad_width``. ``grad_width`` (the half-width)
    is absolute.
    """

    formulas: ClassVar[Formulas] = Formulas(
        "grad_scale · max(0, 1 − |x| / w)",
        peak="grad_scale", area="grad_scale * grad_width",
        source="Esser et al., PNAS 113:11441 (2016)")

    grad_width: float = width_param(1.0, (0.05, 3.0, 0.05), "half-width of the triangle (absolute)")

    def grad(self, v_mem, spike_threshold):
        return triangle(v_mem - spike_threshold, self.grad_width, self.grad_scale)

    def _primitive(self, v_mem, spike_threshold):
        return triangle_primitive(v_mem - spike_threshold, self.grad_width, self.grad_scale)


@register
@dataclass(frozen=True)
class DampenedTriangle(Surrogate):
    """Bellec et al. 2018 (LSNN): ``dampening / thr * max(0, 1 - |v - thr| / thr)``.

    The LSNN pseudo-derivative ``dampening * max(0, 1 - |v_scaled|)`` with
    ``v_scaled = (v - thr)/thr``, taken with respect to ``v`` (hence the ``1/thr``).
    The half-width is the threshold itself (**relative**). Peak ``dampening/thr``,
    area ``dampening``; Bellec et al. use 0.3 to keep BPTT through many steps stable.
    """

    formulas: ClassVar[Formulas] = Formulas(
        "dampening/thr · max(0, 1 − |x| / thr)",
        peak="dampening / thr", area="dampening",
        source="Bellec et al., NeurIPS 2018 (LSNN)")

    dampening: float = param(0.3, low=0.0, high=MAX_FACTOR, slider=(0.0, 2.0, 0.05),
                             doc="height of the triangle in units of 1/thr (Bellec et al.: 0.3)")

    def grad(self, v_mem, spike_threshold):
        return triangle(v_mem - spike_threshold, spike_threshold, self.dampening / spike_threshold)

    def _primitive(self, v_mem, spike_threshold):
        return triangle_primitive(v_mem - spike_threshold, spike_threshold, self.dampening / spike_threshold)


@register
@dataclass(frozen=True)
class Box(HalfWidthLike):
    """A two-sided box: ``grad_scale / (2 grad_width)`` for ``|x| < grad_width``, else 0.

    Normalised to area ``grad_scale``; peak ``grad_scale / (2 grad_width)``.
    ``grad_width`` (the half-width) is absolute.
    """

    formulas: ClassVar[Formulas] = Formulas(
        "grad_scale/(2w) · 1[|x| < w]", peak="grad_scale / (2 * grad_width)", area="grad_scale",
        source="rectangular pseudo-derivative (e.g. Wu et al., Front. Neurosci. 2018)")

    grad_width: float = width_param(0.5, (0.05, 3.0, 0.05), "half-width of the box (absolute)")

    def grad(self, v_mem, spike_threshold):
        inside = torch.abs(v_mem - spike_threshold) < self.grad_width
        return inside.to(_float_dtype(v_mem)) * (self.grad_scale / (2 * self.grad_width))

    def _primitive(self, v_mem, spike_threshold):
        x = v_mem - spike_threshold
        return self.grad_scale * torch.clamp((x + self.grad_width) / (2 * self.grad_width), 0, 1)


@register
@dataclass(frozen=True)
class StraightThrough(Surrogate):
    """Straight-through estimator: the constant ``grad_scale`` everywhere.

    The pretend forward is a line of slope ``grad_scale`` through 1/2 at the threshold.
    Area infinite.
    """

    formulas: ClassVar[Formulas] = Formulas(
        "grad_scale",
        peak="grad_scale", area="inf",
        source="Bengio, Léonard & Courville, arXiv:1308.3432 (2013)")

    grad_scale: float = field_for(GRAD_SCALE)

    def grad(self, v_mem, spike_threshold):
        # ones * grad_scale, not full_like(grad_scale): the fused path can then take
        # grad_scale as a tensor input (full_like needs a Python number)
        return torch.ones_like(v_mem, dtype=_float_dtype(v_mem)) * self.grad_scale

    def _primitive(self, v_mem, spike_threshold):
        return self.grad_scale * (v_mem - spike_threshold) + 0.5


@register
@dataclass(frozen=True)
class TrueGradient(Surrogate):
    """The true derivative of the step: zero everywhere a sample can land.

    The derivative of the Heaviside step is a Dirac delta at the threshold, which no
    finite-precision ``v`` hits, so backpropagation gets exactly 0. With it a network
    that starts silent never learns (the point of a surrogate). Its primitive is the
    step itself; peak and area of what is computed are 0.
    """

    formulas: ClassVar[Formulas] = Formulas(
        "0",
        peak="0", area="0  # the delta at thr is never sampled",
        source="Neftci, Mostafa & Zenke, IEEE SPM 36:51 (2019)")

    def grad(self, v_mem, spike_threshold):
        return torch.zeros_like(v_mem, dtype=_float_dtype(v_mem))

    def _primitive(self, v_mem, spike_threshold):
        return (v_mem >= spike_threshold).to(_float_dtype(v_mem))


def _float_dtype(t: torch.Tensor) -> torch.dtype:
    return t.dtype if t.is_floating_point() else torch.get_default_dtype()


def markdown_table(names: Optional[list] = None) -> str:
    """The README's surrogate table, built from the classes and their declarations."""
    rows = ["| surrogate | dS/dv (x = v − thr) | peak | area | parameters (default; convention) | source |",
            "|---|---|---|---|---|---|"]
    for name, cls in _REGISTRY.items():
        if names is not None and name not in names:
            continue
        params = ", ".join(
            f"`{p}`={format_number(d.default, 6)} ({d.convention_text()})"
            for p, d in cls.params().items()) or "none"
        f = cls.formulas
        cells = [f"`{name}`", f.grad, pretty(f.peak), pretty(f.area), params, f.source]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)
