"""Surrogate values, peaks, areas, primitives and validation.

Expected values come from the formulas written out here with the ``math`` module,
independently of the torch code under test.
"""

import dataclasses
import math
import re

import pytest
import torch

from sgexplore import surrogates as sg
from sgexplore.contract import invalid_values
from sgexplore.params import Param, param


def npdf(x, mu, sigma):
    return math.exp(-((x - mu) ** 2) / (2 * sigma * sigma)) / (sigma * math.sqrt(2 * math.pi))


def ncdf(x, mu, sigma):
    return 0.5 * (1 + math.erf((x - mu) / (sigma * math.sqrt(2))))


def logistic(z):
    return 1 / (1 + math.exp(-z)) if z > -700 else 0.0


def dist_to_nearest_multiple(v, thr):
    n = max(1, round(v / thr))
    return abs(v - n * thr)


# name -> (non-default parameters, oracle g(v, thr, **params))
ORACLES = {
    "Heaviside": ({"window": 0.4},
                  lambda v, t, window: (1.0 if v >= t - window else 0.0) / t),
    "Gaussian": ({"mu": 0.2, "sigma": 0.3, "grad_scale": 2.0},
                 lambda v, t, mu, sigma, grad_scale: grad_scale * npdf(v - t, mu, sigma)),
    "MultiGaussian": ({"mu": 0.1, "sigma": 0.4, "h": 0.2, "s": 4.0, "grad_scale": 0.5},
                      lambda v, t, mu, sigma, h, s, grad_scale: grad_scale * (
                          (1 + h) * npdf(v - t, mu, sigma) - h * npdf(v - t, sigma, s * sigma)
                          - h * npdf(v - t, -sigma, s * sigma))),
    "SingleExponential": ({"grad_width": 0.3, "grad_scale": 1.5},
                          lambda v, t, grad_width, grad_scale:
                          grad_scale / (t * grad_width) * math.exp(-abs(v - t) / (t * grad_width))),
    "PeriodicExponential": ({"grad_width": 0.35, "grad_scale": 2.0},
                            lambda v, t, grad_width, grad_scale: grad_scale * (
                                math.exp(-abs(v - t) / grad_width) if v < t
                                else math.exp(-2 * dist_to_nearest_multiple(v, t) / grad_width))),
    "PeriodicExponentialSymmetric": ({"grad_width": 0.35, "grad_scale": 2.0},
                                     lambda v, t, grad_width, grad_scale: grad_scale * (
                                         math.exp(-abs(v - t) / grad_width) if v < t
                                         else math.exp(-dist_to_nearest_multiple(v, t) / grad_width))),
    "FastSigmoid": ({"slope": 5.0, "grad_scale": 3.0},
                    lambda v, t, slope, grad_scale: grad_scale / (slope * abs(v - t) + 1) ** 2),
    "ArcTan": ({"alpha": 3.0, "grad_scale": 0.5},
               lambda v, t, alpha, grad_scale:
               grad_scale * (alpha / 2) / (1 + (math.pi * alpha * (v - t) / 2) ** 2)),
    "SigmoidDerivative": ({"slope": 3.0, "grad_scale": 2.0},
                          lambda v, t, slope, grad_scale:
                          grad_scale * slope * logistic(slope * (v - t)) * (1 - logistic(slope * (v - t)))),
    "Triangle": ({"grad_width": 0.7, "grad_scale": 2.0},
                 lambda v, t, grad_width, grad_scale: grad_scale * max(0.0, 1 - abs(v - t) / grad_width)),
    "DampenedTriangle": ({"dampening": 0.5},
                         lambda v, t, dampening: dampening / t * max(0.0, 1 - abs(v - t) / t)),
    "Box": ({"grad_width": 0.3, "grad_scale": 2.0},
            lambda v, t, grad_width, grad_scale:
            grad_scale / (2 * grad_width) if abs(v - t) < grad_width else 0.0),
    "StraightThrough": ({"grad_scale": 0.7}, lambda v, t, grad_scale: grad_scale),
    "TrueGradient": ({}, lambda v, t: 0.0),
}

THRESHOLDS = [0.5, 1.0, 2.5]
BUILTINS = list(ORACLES)


def probe_points(thr):
    # avoid exact discontinuities (step and box edges) by using an irrational offset
    return [thr + d * thr + 0.0123 for d in (-2.3, -1.1, -0.45, -0.2, -0.05, 0.0, 0.07, 0.3, 0.6, 0.95, 1.4, 2.2)]


def test_registry_lists_every_builtin():
    assert set(BUILTINS) <= set(sg.registry())
    for name in BUILTINS:
        assert sg.registry()[name].__name__ == name


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("thr", THRESHOLDS)
@pytest.mark.parametrize("use_defaults", [True, False])
def test_values_at_analytic_points(name, thr, use_defaults):
    params, oracle = ORACLES[name]
    cls = sg.registry()[name]
    if use_defaults:
        params = {p: d.default for p, d in cls.params().items()}
    surrogate = cls(**params)
    v = torch.tensor(probe_points(thr), dtype=torch.float64)
    got = surrogate(v, thr)
    want = torch.tensor([oracle(float(x), thr, **params) for x in v], dtype=torch.float64)
    # sinabs' Gaussian normaliser is float32 (see surrogates._SQRT_2PI_F32): 1e-7 relative
    torch.testing.assert_close(got, want, rtol=2e-7, atol=1e-12)


@pytest.mark.parametrize("name", BUILTINS)
def test_tensor_threshold_matches_scalar(name):
    surrogate = sg.registry()[name](**ORACLES[name][0])
    v = torch.linspace(-1, 4, 101, dtype=torch.float64)
    thr = torch.tensor(1.7, dtype=torch.float64)
    torch.testing.assert_close(surrogate(v, thr), surrogate(v, 1.7), rtol=1e-12, atol=0)


CLOSED_PEAK = {
    "Heaviside": lambda t, window: 1 / t,
    "Gaussian": lambda t, mu, sigma, grad_scale: grad_scale / (sigma * math.sqrt(2 * math.pi)),
    "SingleExponential": lambda t, grad_width, grad_scale: grad_scale / (t * grad_width),
    "PeriodicExponential": lambda t, grad_width, grad_scale: grad_scale,
    "PeriodicExponentialSymmetric": lambda t, grad_width, grad_scale: grad_scale,
    "FastSigmoid": lambda t, slope, grad_scale: grad_scale,
    "ArcTan": lambda t, alpha, grad_scale: grad_scale * alpha / 2,
    "SigmoidDerivative": lambda t, slope, grad_scale: grad_scale * slope / 4,
    "Triangle": lambda t, grad_width, grad_scale: grad_scale,
    "DampenedTriangle": lambda t, dampening: dampening / t,
    "Box": lambda t, grad_width, grad_scale: grad_scale / (2 * grad_width),
    "StraightThrough": lambda t, grad_scale: grad_scale,
    "TrueGradient": lambda t: 0.0,
}

CLOSED_AREA = {
    "Heaviside": lambda t, window: math.inf,
    "Gaussian": lambda t, mu, sigma, grad_scale: grad_scale,
    "MultiGaussian": lambda t, mu, sigma, h, s, grad_scale: grad_scale * (1 - h),
    "SingleExponential": lambda t, grad_width, grad_scale: 2 * grad_scale,
    "PeriodicExponential": lambda t, grad_width, grad_scale: math.inf,
    "PeriodicExponentialSymmetric": lambda t, grad_width, grad_scale: math.inf,
    "FastSigmoid": lambda t, slope, grad_scale: 2 * grad_scale / slope,
    "ArcTan": lambda t, alpha, grad_scale: grad_scale,
    "SigmoidDerivative": lambda t, slope, grad_scale: grad_scale,
    "Triangle": lambda t, grad_width, grad_scale: grad_scale * grad_width,
    "DampenedTriangle": lambda t, dampening: dampening,
    "Box": lambda t, grad_width, grad_scale: grad_scale,
    "StraightThrough": lambda t, grad_scale: math.inf,
    "TrueGradient": lambda t: 0.0,
}


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("thr", [0.5, 2.0])
def test_peak_and_area_closed_forms(name, thr):
    params, oracle = ORACLES[name]
    surrogate = sg.registry()[name](**params)
    if name in CLOSED_PEAK:
        assert surrogate.peak(thr) == pytest.approx(CLOSED_PEAK[name](thr, **params), rel=1e-12)
    else:  # MultiGaussian: compare with a dense search of the oracle
        grid = [thr - 3 + i * 1e-4 for i in range(60001)]
        best = max(oracle(v, thr, **params) for v in grid)
        assert surrogate.peak(thr) == pytest.approx(best, rel=1e-6)
    assert surrogate.area(thr) == pytest.approx(CLOSED_AREA[name](thr, **params), rel=1e-12)


@pytest.mark.parametrize("name", [n for n in BUILTINS if math.isfinite(CLOSED_AREA[n](1.0, **ORACLES[n][0]))])
def test_area_equals_numeric_integral_of_the_surrogate(name):
    params, oracle = ORACLES[name]
    surrogate = sg.registry()[name](**params)
    thr = 1.3
    span = 400.0 if name in ("ArcTan", "FastSigmoid") else 40.0  # tails decay like 1/x^2
    v = torch.linspace(thr - span, thr + span, 2_000_001, dtype=torch.float64)
    numeric = float(torch.trapezoid(surrogate(v, thr), v))
    # heavy tails cut off at the span; the box's jumps cost the trapezoid rule one step
    tol = {"ArcTan": 2e-3, "FastSigmoid": 2e-3, "Box": 2e-4}.get(name, 1e-5)
    assert numeric == pytest.approx(surrogate.area(thr), rel=tol, abs=1e-9)


def _discontinuities(name, params, thr):
    if name == "Heaviside":
        return [thr - params["window"]]
    if name == "Box":
        return [thr - params["grad_width"], thr + params["grad_width"]]
    if name == "TrueGradient":
        return [thr]
    return []


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("thr", [0.6, 1.0, 1.8])
def test_derivative_of_primitive_is_the_surrogate(name, thr):
    params, _ = ORACLES[name]
    surrogate = sg.registry()[name](**params)
    v = torch.linspace(thr - 3, thr + 3.5, 1301, dtype=torch.float64)
    jumps = torch.tensor(_discontinuities(name, params, thr) or [1e9], dtype=torch.float64)
    v = v[(v[:, None] - jumps[None, :]).abs().min(dim=1).values > 1e-3]
    h = 1e-6
    fd = (surrogate.primitive(v + h, thr) - surrogate.primitive(v - h, thr)) / (2 * h)
    torch.testing.assert_close(fd, surrogate(v, thr), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", [n for n in BUILTINS if n not in ("Heaviside", "StraightThrough", "TrueGradient")])
def test_primitive_starts_at_zero_far_below_threshold(name):
    surrogate = sg.registry()[name](**ORACLES[name][0])
    far_below = torch.tensor([-300.0], dtype=torch.float64)
    assert float(surrogate.primitive(far_below, 1.0)) == pytest.approx(0.0, abs=2e-3)


def test_numeric_fallbacks_for_a_user_surrogate():
    @dataclasses.dataclass(frozen=True)
    class Cosine(sg.Surrogate):
        width: float = param(1.0, low=0.0, low_open=True, slider=(0.1, 3.0, 0.1), doc="half-width")

        def grad(self, v_mem, spike_threshold):
            x = (v_mem - spike_threshold) / self.width
            return torch.where(x.abs() < 1, 0.5 * (1 + torch.cos(math.pi * x)), torch.zeros_like(x))

    c = Cosine(width=0.8)
    assert c.peak(1.0) == pytest.approx(1.0, rel=1e-9)
    assert c.area(1.0) == pytest.approx(0.8, rel=1e-6)  # integral of a raised cosine = width
    v = torch.tensor([0.2, 0.6, 1.0, 1.4, 5.0], dtype=torch.float64)
    got = c.primitive(v, 1.0)
    assert float(got[0]) == pytest.approx(0.0, abs=1e-6)
    assert float(got[2]) == pytest.approx(0.4, rel=1e-6)
    assert float(got[4]) == pytest.approx(0.8, rel=1e-6)
    # x = -0.5: integral of 0.5(1+cos(pi u)) * 0.8 du from -1 to -0.5 = 0.8*(0.25 - 1/(2 pi))
    assert float(got[1]) == pytest.approx(0.8 * (0.25 - 1 / (2 * math.pi)), rel=1e-5)


def test_user_surrogate_registers_like_a_builtin(own_registry):
    @sg.register
    @dataclasses.dataclass(frozen=True)
    class MyBump(sg.Surrogate):
        height: float = param(1.0, low=0.0, slider=(0.0, 5.0, 0.5), doc="peak height")

        def grad(self, v_mem, spike_threshold):
            return self.height * torch.exp(-(v_mem - spike_threshold) ** 2)

    assert sg.registry()["MyBump"] is MyBump
    assert sg.create("MyBump", height=2.0).height == 2.0
    with pytest.raises(ValueError, match=r"MyBump\.height must be .*\[0, inf\)"):
        MyBump(height=-1.0)


def test_register_rejects_non_dataclasses_and_non_surrogates():
    with pytest.raises(TypeError):
        sg.register(int)

    class NotADataclass(sg.Surrogate):
        def grad(self, v_mem, spike_threshold):
            return v_mem

    with pytest.raises(TypeError, match="dataclass"):
        sg.register(NotADataclass)


def test_create_rejects_unknown_names_and_parameters():
    with pytest.raises(ValueError, match="surrogate must be one of"):
        sg.create("NoSuchThing")
    with pytest.raises(ValueError, match="no parameter"):
        sg.create("Gaussian", width=1.0)


# -- validation ------------------------------------------------------------------

def _invalid_values(declaration: Param):
    # the same values check_surrogate tries; every one must be rejected with a clear message
    return invalid_values(declaration)


CASES = [(name, p, bad) for name, cls in sg.registry().items() if name in BUILTINS
         for p, d in cls.params().items() for bad in _invalid_values(d)]


@pytest.mark.parametrize("name,param_name,bad", CASES, ids=[f"{n}.{p}={b!r}" for n, p, b in CASES])
def test_bad_parameter_raises_naming_it_and_its_range(name, param_name, bad):
    cls = sg.registry()[name]
    declaration = cls.params()[param_name]
    with pytest.raises(ValueError) as err:
        cls(**{param_name: bad})
    message = str(err.value)
    assert f"{name}.{param_name}" in message
    assert declaration.range_text() in message


@pytest.mark.parametrize("name,param_name,value", [
    ("Gaussian", "sigma", 0.0), ("Gaussian", "sigma", -0.5), ("SingleExponential", "grad_width", 0.0),
    ("PeriodicExponential", "grad_width", -1.0), ("Triangle", "grad_width", 0.0),
    ("Box", "grad_width", 0.0), ("MultiGaussian", "s", 0.0), ("FastSigmoid", "slope", 0.0)])
def test_named_invalid_widths(name, param_name, value):
    cls = sg.registry()[name]
    valid = re.escape(cls.params()[param_name].range_text())
    assert valid.startswith(r"\[") and "inf" not in valid  # a closed, finite range
    with pytest.raises(ValueError, match=rf"{name}\.{param_name} must be a finite number in {valid}; got"):
        cls(**{param_name: value})


def test_replace_validates_too():
    g = sg.Gaussian()
    assert g.replace(sigma=0.25).sigma == 0.25
    with pytest.raises(ValueError, match="sigma"):
        g.replace(sigma=0.0)


def test_integers_are_accepted_and_stored_as_float():
    g = sg.Gaussian(mu=0, sigma=1, grad_scale=2)
    assert isinstance(g.sigma, float) and g.sigma == 1.0


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, torch.tensor([1.0, 0.0]),
                                 torch.tensor(-2.0), "1.0", None])
def test_non_positive_threshold_raises_at_call_time(bad):
    with pytest.raises(ValueError, match=r"spike_threshold .*\[0\.001, 1000\]"):
        sg.Gaussian()(torch.zeros(3), bad)


# -- conventions the docs promise ------------------------------------------------

def test_heaviside_window_is_absolute_not_relative():
    h = sg.Heaviside(window=1.0)
    v = torch.tensor([0.9, 1.1, 2.0])
    # thr = 2: the step sits at v = 2 - 1 = 1 (a relative window would put it at 0)
    assert h(v, 2.0).tolist() == [0.0, 0.5, 0.5]


def test_single_exponential_width_is_relative_periodic_is_absolute():
    v_offset = 0.25
    se, pe = sg.SingleExponential(grad_width=0.5), sg.PeriodicExponential(grad_width=0.5)
    for thr in (1.0, 2.0):
        v = torch.tensor([thr - v_offset * thr], dtype=torch.float64)
        assert float(se(v, thr)) * thr == pytest.approx(2 * math.exp(-0.5))  # depends on x/thr only
    assert float(pe(torch.tensor([0.75]), 1.0)) == pytest.approx(float(pe(torch.tensor([1.75]), 2.0)))


def test_periodic_lobes_are_twice_as_steep_above_threshold_and_symmetric_variant_is_not():
    v = torch.tensor([0.75, 1.25], dtype=torch.float64)
    below, above = sg.PeriodicExponential()(v, 1.0).tolist()
    assert below == pytest.approx(math.exp(-0.5)) and above == pytest.approx(math.exp(-1.0))
    below, above = sg.PeriodicExponentialSymmetric()(v, 1.0).tolist()
    assert below == pytest.approx(above)


def test_multigaussian_side_lobes_do_not_move_with_mu_and_h0_is_a_gaussian():
    v = torch.linspace(-2, 4, 301, dtype=torch.float64)
    shifted = sg.MultiGaussian(mu=0.5)(v, 1.0)
    # remove the central bell: what is left (the side lobes) must equal the mu=0 side lobes
    central = lambda mu: (1.15) * torch.tensor([npdf(float(x) - 1.0, mu, 0.5) for x in v], dtype=torch.float64)
    torch.testing.assert_close(shifted - central(0.5), sg.MultiGaussian()(v, 1.0) - central(0.0))
    torch.testing.assert_close(sg.MultiGaussian(h=0.0, sigma=0.3)(v, 1.0), sg.Gaussian(sigma=0.3)(v, 1.0))


def test_sigmoid_derivative_is_finite_far_from_threshold_in_float32():
    s = sg.SigmoidDerivative(slope=1000.0)
    v = torch.tensor([-1e4, -50.0, 50.0, 1e4], dtype=torch.float32)
    out = s(v, 1.0)
    assert torch.isfinite(out).all() and (out == 0).all()


def test_readme_table_is_generated_from_the_declarations(repo_root):
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    assert sg.markdown_table(BUILTINS) in readme, "README table is stale: regenerate with " \
        "python -c 'from sgexplore.surrogates import markdown_table; print(markdown_table())'"
