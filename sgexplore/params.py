"""Declare a numeric parameter once; derive validation, sliders and docs from it.

A :class:`Param` holds everything the rest of sgexplore needs to know about a
surrogate (or training) parameter: its default, the range of valid values, the
slider range and step, whether the slider is logarithmic, whether the value is
relative to the spike threshold, and a one-line meaning.  ``param(...)`` turns
it into a ``dataclasses.field`` so a surrogate is an ordinary dataclass::

    @dataclass(frozen=True)
    class Gaussian(Surrogate):
        sigma: float = param(0.5, low=0.0, low_open=True, slider=(0.05, 2.0, 0.05),
                             doc="standard deviation of the bell")
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

__all__ = ["Param", "param", "params_of", "validate_value", "slider_values"]

_GRID_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Param:
    """One declared numeric parameter.

    Attributes:
        default: value used when the caller gives none; lies on the slider grid.
        low, high: the valid range. ``low_open``/``high_open`` make an end exclusive.
        slider: ``(min, max, step)``. For a log slider, min and max are values and
            step is the step of ``log10(value)``.
        log: True for a logarithmic slider.
        relative: True when the value is measured in units of the spike threshold.
        absolute: True for a distance (or inverse distance) in membrane-potential
            units that does *not* scale with the threshold.
        doc: one-line meaning, shown in tooltips, docstrings and the README.
        integer: True for a whole-number parameter.
    """

    default: float
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    slider: Tuple[float, float, float] = (0.0, 1.0, 0.01)
    log: bool = False
    relative: bool = False
    absolute: bool = False
    doc: str = ""
    integer: bool = False

    def __post_init__(self) -> None:
        lo, hi, step = self.slider
        if not (lo < hi and step > 0):
            raise ValueError(f"slider must be (min < max, step > 0); got {self.slider}")
        if self.log and lo <= 0:
            raise ValueError(f"a log slider needs min > 0; got {self.slider}")
        if not self.contains(self.default):
            raise ValueError(f"default {self.default} is outside {self.range_text()}")
        if not self.on_grid(self.default):
            # Off-grid defaults are echoed back snapped by the browser slider,
            # which then overwrites values set from code (see notebook-stack.md).
            raise ValueError(f"default {self.default} is not on the slider grid {self.slider}")

    def convention(self) -> str:
        """'relative to thr', 'absolute' or 'factor' (dimensionless)."""
        return "relative to thr" if self.relative else "absolute" if self.absolute else "factor"

    def range_text(self) -> str:
        """The valid range in interval notation, e.g. ``(0, inf)``."""
        left = "(" if self.low_open or math.isinf(self.low) else "["
        right = ")" if self.high_open or math.isinf(self.high) else "]"
        return f"{left}{_fmt(self.low)}, {_fmt(self.high)}{right}"

    def contains(self, value: float) -> bool:
        if math.isnan(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below and math.isfinite(value)

    def on_grid(self, value: float) -> bool:
        lo, _, step = self.slider
        position = (math.log10(value) - math.log10(lo)) / step if self.log else (value - lo) / step
        return abs(position - round(position)) < _GRID_TOLERANCE * max(1.0, abs(position))


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"


def param(default: float, **spec: Any) -> Any:
    """A dataclass field carrying its :class:`Param` declaration in its metadata."""
    declaration = Param(default=default, **spec)
    return dataclasses.field(default=default, metadata={"param": declaration})


def params_of(obj_or_cls: Any) -> Dict[str, Param]:
    """The declared parameters of a dataclass (instance or class), in field order."""
    return {
        f.name: f.metadata["param"]
        for f in dataclasses.fields(obj_or_cls)
        if "param" in f.metadata
    }


def validate_value(owner: str, name: str, declaration: Param, value: Any) -> float:
    """Return ``value`` as a float (or int) if valid, else raise ValueError naming it."""
    expected = f"{owner}.{name} must be a {'whole' if declaration.integer else 'finite'} number in {declaration.range_text()}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{expected}; got {value!r} of type {type(value).__name__}")
    number = float(value)
    if declaration.integer and math.isfinite(number) and number != int(number):
        raise ValueError(f"{expected}; got {value!r}")
    if not declaration.contains(number):
        raise ValueError(f"{expected}; got {value!r}")
    return int(number) if declaration.integer else number


def slider_values(declaration: Param, count: Optional[int] = None) -> list:
    """Every value on the slider grid (used for precomputed, kernel-free sliders)."""
    lo, hi, step = declaration.slider
    if declaration.log:
        lo_e, hi_e = math.log10(lo), math.log10(hi)
        n = int(round((hi_e - lo_e) / step))
        values = [10 ** round(lo_e + k * step, 10) for k in range(n + 1)]
    else:
        n = int(round((hi - lo) / step))
        values = [round(lo + k * step, 10) for k in range(n + 1)]
    if count is not None and count < len(values):
        stride = max(1, len(values) // count)
        values = values[::stride]
    return [v for v in values if declaration.contains(v)]
