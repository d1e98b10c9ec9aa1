"""``check_surrogate(cls)``: the contract a surrogate must honour, checked the way a user can.

In the spirit of scikit-learn's ``check_estimator``: a user who writes their own surrogate
runs ``check_surrogate(MySurrogate)`` and learns, before training anything, whether it
behaves like the built-ins (whose tests run the same checks). Each check states its margin.

1. **Validation from declarations**: every declared default is accepted; for each
   parameter, values outside its declared range (and NaN, inf, bools, strings) raise
   ValueError naming ``Class.parameter`` and the valid range; a bad threshold raises
   ValueError in ``__call__``, ``primitive``, ``peak`` and ``area``.
2. **primitive′ = surrogate**, in integral form (so the surrogate may jump): on each side
   of the threshold, ``P(b) − P(a)`` equals the trapezoid integral of the surrogate within
   ``1e-4`` of the largest such integral (at least 1e-7). P may jump at the threshold
   itself (the true gradient's primitive is the step), nowhere else.
3. **peak** equals the largest value on a dense grid within relative 1e-3 (and is not
   below it by more than 1e-9 relative); **area** equals the integral over
   ``thr ± 1e5·length_scale`` within 1 % when finite, and the integral keeps growing
   with the span when it is declared infinite.
4. **Spike backward exact**: ``spike(v, thr, s).sum().backward()`` gives exactly
   ``s(v, thr)`` (bitwise, eager path), for a float and a tensor threshold.
5. **dtype and device**: for float16, bfloat16, float32 and float64 input (and on CUDA
   when there is one) the surrogate returns a tensor of the input's shape, dtype and
   device, finite at the defaults in float32 and float64.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, List, Optional, Type

import torch

from .params import params_of
from .spike import spike
from .surrogates import Surrogate

__all__ = ["check_surrogate", "SurrogateContractError", "invalid_values"]

THRESHOLDS = (0.5, 1.0, 2.0)
_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


class SurrogateContractError(AssertionError):
    """Raised by :func:`check_surrogate`; ``failures`` lists every broken promise."""

    def __init__(self, cls: type, failures: List[str]):
        self.failures = failures
        lines = "\n".join(f"  - {f}" for f in failures)
        super().__init__(f"{cls.__name__} breaks the surrogate contract in {len(failures)} "
                         f"place(s):\n{lines}")


def check_surrogate(cls: Type[Surrogate], instance: Optional[Surrogate] = None) -> None:
    """Run every contract check on ``cls`` (at its defaults, or on ``instance``).

    Returns None when all pass; raises :class:`SurrogateContractError` listing every
    failure otherwise (and TypeError when ``cls`` is not a dataclass Surrogate subclass).
    """
    if not (isinstance(cls, type) and issubclass(cls, Surrogate) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"check_surrogate() takes a dataclass subclass of Surrogate; got {cls!r}")
    failures: List[str] = []
    try:
        surrogate = instance if instance is not None else cls()
    except Exception as error:  # noqa: BLE001 - reported as a contract failure
        raise SurrogateContractError(cls, [f"{cls.__name__}() with the declared defaults raised "
                                           f"{type(error).__name__}: {error}"]) from None
    for check in (_check_validation, _check_threshold_validation, _check_primitive,
                  _check_peak_and_area, _check_spike_backward, _check_dtypes_and_devices):
        try:
            check(cls, surrogate, failures.append)
        except Exception as error:  # noqa: BLE001 - a crash inside a check is a failure too
            failures.append(f"{check.__name__[7:]}: raised {type(error).__name__}: {error}")
    if failures:
        raise SurrogateContractError(cls, failures)


Report = Callable[[str], None]


def invalid_values(declaration) -> list:
    """Values a numeric declaration must reject: non-finite, non-numbers, and just outside its range."""
    bad = [math.nan, math.inf, -math.inf, True, "0.5", None, torch.tensor(0.5)]
    if math.isfinite(declaration.low):
        bad.append(declaration.low - 1.0)
        if declaration.low_open:
            bad.append(declaration.low)
    if math.isfinite(declaration.high):
        bad.append(declaration.high + 1.0)
        if declaration.high_open:
            bad.append(declaration.high)
    return bad


def _check_validation(cls, surrogate, report: Report) -> None:
    for name, declaration in params_of(cls).items():
        if declaration.kind not in ("real", "integer"):
            continue
        for bad in invalid_values(declaration):
            try:
                cls(**{name: bad})
            except ValueError as error:
                message = str(error)
                if f"{cls.__name__}.{name}" not in message or declaration.range_text() not in message:
                    report(f"validation: {name}={bad!r} raised a message that does not name "
                           f"'{cls.__name__}.{name}' and {declaration.range_text()}: {message}")
            except Exception as error:  # noqa: BLE001
                report(f"validation: {name}={bad!r} raised {type(error).__name__}, not ValueError")
            else:
                report(f"validation: {name}={bad!r} was accepted; valid is {declaration.range_text()}")


def _check_threshold_validation(cls, surrogate, report: Report) -> None:
    v = torch.linspace(-1.0, 3.0, 11, dtype=torch.float64)
    calls = {"__call__": lambda thr: surrogate(v, thr), "primitive": lambda thr: surrogate.primitive(v, thr),
             "peak": surrogate.peak, "area": surrogate.area}
    for method, call in calls.items():
        for bad in (0.0, -1.0, math.nan, math.inf):
            try:
                call(bad)
            except ValueError as error:
                if "spike_threshold" not in str(error):
                    report(f"threshold: {method} with spike_threshold={bad!r} raised a message "
                           f"that does not name spike_threshold: {error}")
            except Exception as error:  # noqa: BLE001
                report(f"threshold: {method} with spike_threshold={bad!r} raised "
                       f"{type(error).__name__}, not ValueError")
            else:
                report(f"threshold: {method} accepted spike_threshold={bad!r}")


def _grid(surrogate: Surrogate, thr: float, half_widths: float, points: int) -> torch.Tensor:
    reach = half_widths * max(surrogate.length_scale(thr), 1e-6)
    return torch.linspace(thr - reach, thr + reach, points, dtype=torch.float64)


def _wide_grid(surrogate: Surrogate, thr: float, reach: float, points: int = 200_001) -> torch.Tensor:
    """``thr ± reach``, fine near the threshold and geometrically coarser far out (x = c·sinh u)."""
    fine = 1e-4 * max(surrogate.length_scale(thr), 1e-6)
    u = torch.linspace(-math.asinh(reach / fine), math.asinh(reach / fine), points, dtype=torch.float64)
    return thr + fine * torch.sinh(u)


def _trapezoid_cumulative(g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    steps = (g[1:] + g[:-1]) * 0.5 * torch.diff(v)
    return torch.cat([steps.new_zeros(1), torch.cumsum(steps, 0)])


def _check_primitive(cls, surrogate, report: Report) -> None:
    # Compared on each side of the threshold separately: a primitive may jump at the threshold
    # itself (the true gradient's primitive is the step), nowhere else.
    for thr in THRESHOLDS:
        reach = 6.0 * max(surrogate.length_scale(thr), 1e-6)
        for v in (torch.linspace(thr - reach, thr, 50_001, dtype=torch.float64)[:-1],
                  torch.linspace(thr, thr + reach, 50_001, dtype=torch.float64)[1:]):
            g = surrogate(v, thr).to(torch.float64)
            integral = _trapezoid_cumulative(g, v)
            knots = torch.arange(0, v.numel(), 2_500)
            p = surrogate.primitive(v[knots], thr).to(torch.float64)
            difference = (p - p[0]) - integral[knots]
            allowed = 1e-4 * max(float(integral.abs().max()), 1e-3) + 1e-7
            worst = float(difference.abs().max())
            if not worst <= allowed:
                report(f"primitive: at thr={thr}, on [{float(v[0]):.4g}, {float(v[-1]):.4g}] P(b) - P(a) "
                       f"differs from the integral of the surrogate by {worst:.3g} (allowed {allowed:.3g})")


def _check_peak_and_area(cls, surrogate, report: Report) -> None:
    for thr in THRESHOLDS:
        v = _grid(surrogate, thr, 20.0, 100_001)
        g = surrogate(v, thr).to(torch.float64)
        dense_max = float(g.max())
        peak = surrogate.peak(thr)
        if not (peak >= dense_max - 1e-9 * abs(dense_max)
                and math.isclose(peak, dense_max, rel_tol=1e-3, abs_tol=1e-12)):
            report(f"peak: at thr={thr}, peak() is {peak!r} but the largest value on a dense grid is "
                   f"{dense_max!r}")
        area = surrogate.area(thr)
        span = 1e4 * max(surrogate.length_scale(thr), 1e-6)
        near, far = (float(torch.trapezoid(surrogate(x, thr).to(torch.float64), x))
                     for x in (_wide_grid(surrogate, thr, span), _wide_grid(surrogate, thr, 10 * span)))
        if math.isinf(area):
            if not far > near + 1e-9:
                report(f"area: at thr={thr}, area() is infinite but the integral stops growing "
                       f"({near:.6g} over thr ± {span:.3g}, {far:.6g} over ten times that)")
        elif not math.isclose(area, far, rel_tol=1e-2, abs_tol=1e-9):
            report(f"area: at thr={thr}, area() is {area!r} but the integral over thr ± {10 * span:.3g} "
                   f"is {far!r}")


def _check_spike_backward(cls, surrogate, report: Report) -> None:
    generator = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        for thr in (1.0, torch.tensor(1.5, dtype=dtype)):
            v = (torch.randn(4096, generator=generator, dtype=torch.float64) * 2 + 1).to(dtype)
            v.requires_grad_(True)
            spike(v, thr, surrogate, backend="eager").sum().backward()
            expected = surrogate(v.detach(), thr)
            if not torch.equal(v.grad, expected):
                report(f"spike backward: for {dtype} and thr={thr!r}, d(spike)/dv is not exactly "
                       f"the surrogate (max difference {float((v.grad - expected).abs().max()):.3g})")


def _check_dtypes_and_devices(cls, surrogate, report: Report) -> None:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for dtype in _DTYPES:
            v = torch.linspace(-2.0, 4.0, 601, dtype=dtype, device=device).reshape(601, 1)
            out = surrogate(v, 1.0)
            if not isinstance(out, torch.Tensor):
                report(f"dtype: returned {type(out).__name__}, not a tensor")
                return
            if out.dtype != dtype or out.shape != v.shape or out.device != v.device:
                report(f"dtype: for {dtype} on {device} input of shape {tuple(v.shape)} it returned "
                       f"{out.dtype} on {out.device} of shape {tuple(out.shape)}")
            elif dtype in (torch.float32, torch.float64) and not bool(torch.isfinite(out).all()):
                report(f"dtype: non-finite values at the defaults for {dtype} on {device}")
