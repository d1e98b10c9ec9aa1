"""Closed forms written once as text: parsed safely, evaluated, shown, and used by surrogates."""

import math
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch

from sgexplore.closed_form import closed_form, pretty
from sgexplore.surrogates import Formulas, Surrogate, width_param


@pytest.mark.parametrize("text, values, expected", [
    ("grad_scale * slope / 4", {"grad_scale": 2.0, "slope": 10.0}, 5.0),
    ("grad_scale / (sigma * sqrt(2 * pi))", {"grad_scale": 1.0, "sigma": 0.5}, 1 / (0.5 * math.sqrt(2 * math.pi))),
    ("1 / thr", {"thr": 4.0}, 0.25),
    ("-a + +b ** 2", {"a": 1.0, "b": 3.0}, 8.0),
    ("exp(log(abs(-x)))", {"x": 2.0}, 2.0),
    ("inf  # one-sided", {}, math.inf),
    ("0", {}, 0.0),
])
def test_a_closed_form_evaluates_to_the_arithmetic_it_says(text, values, expected):
    assert closed_form(text)(values) == pytest.approx(expected, rel=1e-15)


def test_names_are_the_parameters_it_reads_and_a_missing_one_is_named():
    form = closed_form("grad_scale * grad_width  # note")
    assert form.names == {"grad_scale", "grad_width"} and form.note == "note"
    with pytest.raises(ValueError, match="grad_width"):
        form({"grad_scale": 1.0})


def test_numeric_means_no_closed_form():
    assert closed_form("numeric") is None
    assert closed_form("numeric  # about 0.9") is None


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')", "x.real", "x[0]", "(lambda: 1)()", "'text'", "True",
    "sin(x)", "sqrt(x, 2)", "x if y else z", "a < b", "x @ y", "1 +",
])
def test_anything_outside_the_small_language_is_refused_by_name(text):
    with pytest.raises(ValueError, match="closed form"):
        closed_form(text)


def test_pretty_is_what_the_readme_shows():
    assert pretty("grad_scale / (sigma * sqrt(2 * pi))") == "grad_scale / (sigma · √(2 · π))"
    assert pretty("grad_scale * (1 - h)") == "grad_scale · (1 − h)"
    assert pretty("inf  # periodic") == "∞ (periodic)"


def test_a_typo_in_a_surrogates_formula_fails_when_the_class_is_defined():
    with pytest.raises(ValueError, match="not allowed"):
        class Broken(Surrogate):  # noqa: F841 - defining it is the test
            formulas: ClassVar[Formulas] = Formulas("x", peak="scale.real")


@dataclass(frozen=True)
class Bump(Surrogate):
    """A test surrogate: ``h * max(0, 1 - (x / w)^2)``, closed forms in its formulas."""

    formulas: ClassVar[Formulas] = Formulas("h · max(0, 1 − (x/w)²)", peak="h", area="4 * h * w / 3")

    w: float = width_param(0.5, (0.05, 2.0, 0.05), "half-width (absolute)", width=True)
    h: float = width_param(1.0, (0.05, 2.0, 0.05), "height")

    def grad(self, v_mem, spike_threshold):
        return self.h * torch.clamp(1 - ((v_mem - spike_threshold) / self.w) ** 2, min=0)


def test_a_users_closed_forms_are_evaluated_and_agree_with_the_numerics():
    bump = Bump(w=0.7, h=2.0)
    assert bump.peak(1.0) == 2.0 and bump.area(1.0) == pytest.approx(4 * 2.0 * 0.7 / 3, rel=1e-15)
    numeric_area = float(torch.trapezoid(bump(torch.linspace(0, 2, 200_001, dtype=torch.float64), 1.0),
                                         dx=2 / 200_000))
    assert numeric_area == pytest.approx(bump.area(1.0), rel=1e-6)


def test_width_param_width_true_makes_it_the_surrogates_width():
    assert Bump.width == "w"
    with pytest.raises(TypeError, match="one parameter at most"):
        @dataclass(frozen=True)
        class TwoWidths(Surrogate):  # noqa: F841
            a: float = width_param(0.5, (0.05, 2.0, 0.05), "a", width=True)
            b: float = width_param(0.5, (0.05, 2.0, 0.05), "b", width=True)
