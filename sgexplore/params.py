"""Declare a setting once; derive validation, widgets, CLI flags and docs from it.

A :class:`Param` holds everything the rest of sgexplore needs to know about a setting of
a surrogate, a spike, a network or a training run: its default, what values are valid,
the slider range and step, whether the slider is logarithmic, how a width relates to the
spike threshold, and a one-line meaning. ``param(...)`` turns it into a
``dataclasses.field`` so a surrogate or a config is an ordinary dataclass::

    @dataclass(frozen=True)
    class Gaussian(Surrogate):
        sigma: float = param(0.5, low=0.0, low_open=True, slider=(0.05, 2.0, 0.05),
                             convention="absolute", doc="standard deviation of the bell")

A setting is one of four kinds, told by its declaration:

* ``"real"``: a finite number in a range (the default);
* ``"integer"``: a whole number in a range (``integer=True``);
* ``"choice"``: one of a tuple of strings (``choices=(...)``);
* ``"boolean"``: True or False (a bool default).

:func:`validate_value` is the one validator of all four; its messages name the setting
and what is valid.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

__all__ = ["Param", "param", "field_for", "params_of", "validate_value", "slider_values",
           "format_number", "markdown_settings", "CONVENTIONS", "ParamTypeError", "as_number", "shown"]

_GRID_TOLERANCE = 1e-9

#: How a width or distance relates to the spike threshold: name -> text for docs and tooltips.
CONVENTIONS = {
    "factor": "factor",                    # dimensionless (a height, a depth, a scale)
    "relative": "relative to thr",         # measured in units of the spike threshold
    "absolute": "absolute",                # membrane-potential units, independent of thr
}


class ParamTypeError(TypeError, ValueError):
    """A setting of the wrong type (a string for a number, a bool for a count, None).

    A TypeError, and a ValueError as well, so that code which turns every bad setting into
    a message by catching ValueError (the CLI, the explorers) catches this one too.
    """


def as_number(value: Any) -> Optional[float]:
    """``value`` as a float, or None unless it is a real number (bools are not numbers here).

    An int too large for a float (``10**400``) becomes ``inf`` with its sign, so a range
    check reports it as out of range instead of raising OverflowError.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def format_number(value: float, digits: int = 4, infinity: str = "∞") -> str:
    """The one number formatter: ``digits`` significant digits, ``infinity`` for inf.

    Readouts, labels and descriptions use the defaults (``∞``); error messages and
    interval notation pass ``infinity="inf"`` so they stay ASCII.
    """
    if isinstance(value, float) and math.isinf(value):
        return infinity if value > 0 else "-" + infinity
    return f"{value:.{digits}g}"


@dataclass(frozen=True)
class Param:
    """One declared setting.

    Attributes:
        default: value used when the caller gives none; a number lies on the slider grid.
        low, high: the valid range of a number. ``low_open``/``high_open`` make an end
            exclusive.
        slider: ``(min, max, step)`` of a number's slider. For a log slider, min and max
            are values and step is the step of ``log10(value)``.
        log: True for a logarithmic slider.
        convention: how a number relates to the spike threshold, one of
            :data:`CONVENTIONS`: ``"factor"`` (dimensionless, the default), ``"relative"``
            (in units of the threshold) or ``"absolute"`` (membrane-potential units that do
            not scale with the threshold).
        doc: one-line meaning, shown in tooltips, CLI help, docstrings and the README.
        integer: True for a whole-number setting.
        choices: the allowed strings of a choice setting (``None`` for the other kinds).
    """

    default: Any
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    slider: Tuple[float, float, float] = (0.0, 1.0, 0.01)
    log: bool = False
    convention: str = "factor"
    doc: str = ""
    integer: bool = False
    choices: Optional[Tuple[str, ...]] = None
    #: Exact values on the slider besides its grid: the peer frameworks' defaults
    #: (:mod:`sgexplore.interop`), so a setting carried over from them is not snapped.
    marks: Tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {tuple(CONVENTIONS)}; got {self.convention!r}")
        if self.choices is not None:
            if not (isinstance(self.choices, tuple) and self.choices
                    and all(isinstance(c, str) for c in self.choices)):
                raise ValueError(f"choices must be a non-empty tuple of strings; got {self.choices!r}")
            if self.default not in self.choices:
                raise ValueError(f"default {self.default!r} is not one of {self.choices}")
            return
        if isinstance(self.default, bool):
            return
        lo, hi, step = self.slider
        if not (lo < hi and step > 0):
            raise ValueError(f"slider must be (min < max, step > 0); got {self.slider}")
        if self.log and lo <= 0:
            raise ValueError(f"a log slider needs min > 0; got {self.slider}")
        if not self.contains(self.default):
            raise ValueError(f"default {self.default} is outside {self.range_text()}")
        if not self.on_grid(self.default):
            # Off-grid defaults are echoed back snapped by the browser slider, which then
            # overwrites values set from code (docs/front-end-pitfalls.md#slider-snapping-echo).
            raise ValueError(f"default {self.default} is not on the slider grid {self.slider}")
        outside = [mark for mark in self.marks if not self.contains(mark)]
        if not isinstance(self.marks, tuple) or outside:
            raise ValueError(f"marks must be a tuple of values in {self.range_text()}; got {self.marks!r}")

    @property
    def kind(self) -> str:
        """``"choice"``, ``"boolean"``, ``"integer"`` or ``"real"``."""
        if self.choices is not None:
            return "choice"
        if isinstance(self.default, bool):
            return "boolean"
        return "integer" if self.integer else "real"

    def convention_text(self) -> str:
        """'relative to thr', 'absolute' or 'factor' (dimensionless)."""
        return CONVENTIONS[self.convention]

    def range_text(self) -> str:
        """The valid values: interval notation for numbers, e.g. ``(0, inf)``."""
        if self.kind == "choice":
            return f"{self.choices}"
        if self.kind == "boolean":
            return "{True, False}"
        left = "(" if self.low_open or math.isinf(self.low) else "["
        right = ")" if self.high_open or math.isinf(self.high) else "]"
        low, high = (format_number(float(end), 6, infinity="inf") for end in (self.low, self.high))
        return f"{left}{low}, {high}{right}"

    def expected_text(self) -> str:
        """What a valid value is, as an error message says it."""
        return {"choice": f"one of {self.choices}",
                "boolean": "True or False",
                "integer": f"an integer in {self.range_text()}",
                "real": f"a finite number in {self.range_text()}"}[self.kind]

    def contains(self, value: float) -> bool:
        """True when ``value`` is a finite number in the valid range (never raises)."""
        value = as_number(value)
        if value is None or math.isnan(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below and math.isfinite(value)

    def on_grid(self, value: float) -> bool:
        """True for a value on the slider's grid or one of its :attr:`marks`."""
        if any(math.isclose(value, mark, rel_tol=_GRID_TOLERANCE) for mark in self.marks):
            return True
        lo, _, step = self.slider
        position = (math.log10(value) - math.log10(lo)) / step if self.log else (value - lo) / step
        return abs(position - round(position)) < _GRID_TOLERANCE * max(1.0, abs(position))

    def help_text(self) -> str:
        """``doc; valid values (default ...)``: the CLI's help and the widgets' tooltips."""
        default = (format_number(self.default, 6, infinity="inf")
                   if self.kind in ("real", "integer") else repr(self.default))
        return f"{self.doc}; {self.range_text()} (default {default})"


def field_for(declaration: Param, **metadata: Any) -> Any:
    """A dataclass field carrying ``declaration`` (for a declaration shared by several classes),
    plus any other ``metadata`` a module keys on its fields."""
    return dataclasses.field(default=declaration.default, metadata={"param": declaration, **metadata})


def param(default: Any, **spec: Any) -> Any:
    """A dataclass field carrying its :class:`Param` declaration in its metadata."""
    return field_for(Param(default=default, **spec))


def params_of(obj_or_cls: Any) -> Dict[str, Param]:
    """The declared parameters of a dataclass (instance or class), in field order."""
    return {
        f.name: f.metadata["param"]
        for f in dataclasses.fields(obj_or_cls)
        if "param" in f.metadata
    }


def shown(value: Any) -> str:
    """``repr(value)`` cut to 40 characters, for error messages (never raises)."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - e.g. an int past Python's digit limit, a broken __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


def validate_value(owner: str, name: str, declaration: Param, value: Any) -> Any:
    """``value`` if valid for ``declaration`` (numbers as float or int), else an error.

    ValueError for a value of the right type outside the valid values, :class:`ParamTypeError`
    (a TypeError that is also a ValueError) for a value of the wrong type. The message names
    ``owner.name`` (or ``name`` when ``owner`` is empty) and the valid values, e.g.
    ``TrainConfig.lr must be a finite number in (0, 10]; got -1``. An int too large for a
    float (``10**400``) gets the same range message.
    """
    label = f"{owner}.{name}" if owner else name
    expected = f"{label} must be {declaration.expected_text()}"
    kind = declaration.kind
    if kind == "choice":
        if isinstance(value, str) and value in declaration.choices:
            return value
        error = ValueError if isinstance(value, str) else ParamTypeError
        raise error(f"{expected}; got {shown(value)}")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise ParamTypeError(f"{expected}; got {shown(value)}")
    number = as_number(value)
    if number is None:
        raise ParamTypeError(f"{expected}; got {shown(value)} of type {type(value).__name__}")
    if kind == "integer" and math.isfinite(number) and number != int(number):
        raise ValueError(f"{expected}; got {shown(value)}")
    if not declaration.contains(number):
        raise ValueError(f"{expected}; got {shown(value)}")
    return int(number) if kind == "integer" else number


def slider_values(declaration: Param, count: Optional[int] = None) -> list:
    """Every value on the slider grid, and its marks (used for precomputed, kernel-free sliders)."""
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
    values = sorted(set(values) | set(declaration.marks))
    return [v for v in values if declaration.contains(v)]


def markdown_settings(declarations: Dict[str, Param]) -> str:
    """A markdown table of settings (name, meaning, valid values, default) for the README."""
    rows = ["| setting | meaning | valid values | default |", "|---|---|---|---|"]
    for name, d in declarations.items():
        default = (format_number(d.default, 6, infinity="inf") if d.kind in ("real", "integer")
                   else repr(d.default))
        cells = [f"`{name}`", d.doc, d.range_text(), default]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)
