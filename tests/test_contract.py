"""check_surrogate: the built-ins pass it, and each kind of broken surrogate is caught."""

import dataclasses
import math

import pytest
import torch

import sgexplore
from sgexplore import check_surrogate, surrogates as sg
from sgexplore.contract import SurrogateContractError
from sgexplore.params import param

BUILTINS = sorted(sg.registry())


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_honours_the_contract(name):
    check_surrogate(sg.registry()[name])


@pytest.mark.parametrize("name, values", [("Gaussian", dict(mu=0.3, sigma=0.2, grad_scale=3.0)),
                                          ("SingleExponential", dict(grad_width=0.2)),
                                          ("ArcTan", dict(alpha=8.0, grad_scale=0.5))])
def test_builtins_honour_it_away_from_their_defaults_too(name, values):
    cls = sg.registry()[name]
    check_surrogate(cls, cls(**values))


@dataclasses.dataclass(frozen=True)
class Bump(sg.Surrogate):
    """A correct user surrogate: a Gaussian bump with closed-form primitive, peak and area."""

    width: float = param(0.5, low=0.0, low_open=True, slider=(0.1, 2.0, 0.1), doc="std of the bump")

    def grad(self, v_mem, spike_threshold):
        return torch.exp(-0.5 * ((v_mem - spike_threshold) / self.width) ** 2)

    def _primitive(self, v_mem, spike_threshold):
        z = (v_mem - spike_threshold) / (self.width * math.sqrt(2.0))
        return self.width * math.sqrt(math.pi / 2) * (1 + torch.erf(z))

    def _peak(self, spike_threshold):
        return 1.0

    def _area(self, spike_threshold):
        return self.width * math.sqrt(2 * math.pi)


def failures_of(cls):
    with pytest.raises(SurrogateContractError) as err:
        check_surrogate(cls)
    return err.value.failures


def test_a_correct_user_surrogate_passes():
    check_surrogate(Bump)


def test_a_wrong_peak_is_caught():
    @dataclasses.dataclass(frozen=True)
    class TallPeak(Bump):
        def _peak(self, spike_threshold):
            return 2.0

    assert any(f.startswith("peak:") for f in failures_of(TallPeak))


def test_a_wrong_area_is_caught():
    @dataclasses.dataclass(frozen=True)
    class HalfArea(Bump):
        def _area(self, spike_threshold):
            return 0.5 * self.width * math.sqrt(2 * math.pi)

    assert any(f.startswith("area:") for f in failures_of(HalfArea))


def test_a_primitive_that_is_not_the_integral_is_caught():
    @dataclasses.dataclass(frozen=True)
    class Steep(Bump):
        def _primitive(self, v_mem, spike_threshold):
            return 2 * super()._primitive(v_mem, spike_threshold)

    failures = failures_of(Steep)
    assert any(f.startswith("primitive:") for f in failures) and len(failures) == 3 * 2


def test_a_parameter_that_skips_validation_is_caught():
    @dataclasses.dataclass(frozen=True)
    class Unchecked(Bump):
        def __post_init__(self):  # forgets super().__post_init__()
            pass

    failures = failures_of(Unchecked)
    assert any("validation: width=-1.0 was accepted" in f for f in failures)


def test_a_call_that_differs_from_the_backward_is_caught():
    @dataclasses.dataclass(frozen=True)
    class TwoFaced(Bump):
        def __call__(self, v_mem, spike_threshold=1.0):
            return 2 * super().__call__(v_mem, spike_threshold)

    assert any(f.startswith("spike backward:") for f in failures_of(TwoFaced))


def test_a_surrogate_that_changes_the_dtype_is_caught():
    @dataclasses.dataclass(frozen=True)
    class Promoting(Bump):
        def grad(self, v_mem, spike_threshold):
            return super().grad(v_mem.to(torch.float64), spike_threshold)

    assert any(f.startswith("dtype:") for f in failures_of(Promoting))


def test_check_surrogate_rejects_what_is_not_a_surrogate_class():
    with pytest.raises(TypeError, match="dataclass subclass of Surrogate"):
        check_surrogate(sg.Gaussian())
    with pytest.raises(TypeError):
        check_surrogate(int)


def test_the_package_exports_it():
    assert sgexplore.check_surrogate is check_surrogate


# -- one validation point ----------------------------------------------------------

@pytest.mark.parametrize("method", ["peak", "area", "primitive"])
@pytest.mark.parametrize("name", BUILTINS)
def test_every_derived_quantity_validates_the_threshold(name, method):
    surrogate = sg.registry()[name]()
    call = {"peak": surrogate.peak, "area": surrogate.area,
            "primitive": lambda thr: surrogate.primitive(torch.zeros(3), thr)}[method]
    with pytest.raises(ValueError, match=r"spike_threshold .*\[0\.001, 1000\]"):
        call(-1.0)


def test_gaussian_primitive_rejects_a_negative_threshold():
    with pytest.raises(ValueError, match="spike_threshold"):
        sg.Gaussian().primitive(torch.zeros(3), -1.0)


def test_a_users_own_peak_area_and_primitive_overrides_are_validated_the_same_way():
    calls = []

    @dataclasses.dataclass(frozen=True)
    class OldStyle(Bump):
        def peak(self, spike_threshold=1.0):
            calls.append("peak")
            return 1.0

        def area(self, spike_threshold=1.0):
            calls.append("area")
            return 1.0

        def primitive(self, v_mem, spike_threshold=1.0):
            calls.append("primitive")
            return v_mem

    s = OldStyle()
    for bad in (0.0, -2.0, math.nan, "1"):
        with pytest.raises(ValueError, match="spike_threshold"):
            s.peak(bad)
        with pytest.raises(ValueError, match="spike_threshold"):
            s.area(spike_threshold=bad)
        with pytest.raises(ValueError, match="spike_threshold"):
            s.primitive(torch.zeros(2), bad)
    assert calls == []  # the override never ran with a bad threshold
    assert s.peak() == 1.0 and s.area(2.0) == 1.0 and calls == ["peak", "area"]


def test_overrides_with_another_argument_name_are_validated_too():
    @dataclasses.dataclass(frozen=True)
    class Renamed(Bump):
        def peak(self, thr=1.0):
            return 1.0

        def primitive(self, v, thr=1.0):
            return v

    with pytest.raises(ValueError, match="spike_threshold"):
        Renamed().peak(-1.0)
    with pytest.raises(ValueError, match="spike_threshold"):
        Renamed().primitive(torch.zeros(2), thr=0.0)


def test_a_staticmethod_override_still_works():
    @dataclasses.dataclass(frozen=True)
    class Static(Bump):
        @staticmethod
        def area(spike_threshold=1.0):
            return 7.0

    assert Static().area() == 7.0


def test_the_numeric_area_uses_a_users_own_primitive():
    @dataclasses.dataclass(frozen=True)
    class OwnPrimitive(sg.Surrogate):
        def grad(self, v_mem, spike_threshold):
            return torch.zeros_like(v_mem)

        def primitive(self, v_mem, spike_threshold=1.0):
            return 3.0 * torch.sigmoid(v_mem - spike_threshold)

    assert OwnPrimitive().area() == pytest.approx(3.0)
