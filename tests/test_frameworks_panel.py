"""The explorers' "copy as code" and "start from my framework" panel (widgets/frameworks.py)."""

import math

import numpy as np
import pytest

from sgexplore import surrogates as sg
from sgexplore.interop import BUILTINS, from_framework
from sgexplore.views import surrogate_curve
from sgexplore.widgets import SurrogateExplorer
from sgexplore.widgets.frameworks import builtin_choices


def _index(label_start):
    (index,) = [i for label, i in builtin_choices() if label.startswith(label_start)]
    return index


@pytest.fixture
def explorer():
    e = SurrogateExplorer("FastSigmoid")
    yield e
    e.close()


def test_code_follows_the_sliders_and_says_exact_or_adapter(explorer):
    panel = explorer.panel.frameworks
    assert panel.translation.exact and "surrogate.fast_sigmoid(slope=10.0)" in panel.code.value
    assert "exact" in panel.code.value
    explorer.controls["grad_scale"].value = 0.5  # no snntorch built-in has a scale
    assert not panel.translation.exact
    assert "to_snntorch(FastSigmoid(slope=10.0, grad_scale=0.5), spike_threshold=1.0)" in panel.code.value
    assert "adapter" in panel.code.value
    panel.framework.value = "spikingjelly"  # SoftSign(alpha) = FastSigmoid(alpha, alpha/2)
    explorer.controls["grad_scale"].value = 1.0
    explorer.controls["slope"].value = 2.0
    assert panel.translation.exact and "SoftSign(alpha=2.0)" in panel.code.value


def test_code_uses_the_threshold_for_relative_widths(explorer):
    panel = explorer.panel.frameworks
    panel.framework.value = "spikingjelly"
    explorer.controls["surrogate"].value = "SingleExponential"
    explorer.controls["grad_scale"].value = 0.5
    explorer.controls["spike_threshold"].value = 2.0
    # decay length 0.5 * 2 = 1 volt: PiecewiseExp(alpha=1)
    assert panel.translation.exact and "surrogate.PiecewiseExp(alpha=1.0)" in panel.code.value


def test_a_bad_setting_leaves_the_last_good_code(explorer):
    panel = explorer.panel.frameworks
    before = panel.code.value
    explorer.controls["spike_threshold"].value = 0.0  # invalid: a message, nothing redrawn
    assert explorer.message and panel.code.value == before


@pytest.mark.parametrize("entry", BUILTINS, ids=lambda e: f"{e.framework}-{e.name}")
def test_start_from_a_builtin_loads_it_exactly(entry, explorer):
    label = f"{entry.framework} "
    index = [i for text, i in builtin_choices() if i is not None and BUILTINS[i] is entry][0]
    panel = explorer.panel.frameworks
    panel.start.value = index
    assert panel.start.value is None  # back to the placeholder
    values = {"c": 0.0} if entry.name == "PiecewiseLeakyReLU" else {}
    expected = from_framework(entry.framework, entry.name, **values)
    assert explorer.surrogate == expected, label
    for name, value in expected.values().items():
        assert explorer.controls[name].value == value  # the slider holds the exact value
    # what is drawn is that surrogate's curve
    v = explorer.v_mem
    want = surrogate_curve(expected, v, 1.0, "single")
    assert np.array_equal(np.asarray(explorer.figure.data[0].y), want)
    if entry.usable:  # and its code is the built-in again
        panel.framework.value = entry.framework
        assert panel.translation.exact


def test_start_from_keeps_the_threshold_for_relative_widths(explorer):
    explorer.controls["spike_threshold"].value = 2.0
    explorer.panel.frameworks.start.value = _index("spikingjelly 2.0.0: PiecewiseExp")
    assert isinstance(explorer.surrogate, sg.SingleExponential)
    assert math.isclose(explorer.surrogate.grad_width, 0.5) and explorer.surrogate.grad_scale == 0.5


def test_peer_defaults_sit_on_the_sliders_as_options(explorer):
    # snntorch's slope 25 and SpikingJelly's alpha 4 were off the grid before the marks
    explorer.panel.frameworks.start.value = _index("snntorch 1.0.0: fast_sigmoid")
    options = [value for _, value in explorer.controls["slope"].options]
    assert 25.0 in options and 4.0 in options
    assert explorer.controls["slope"].value == 25.0


def test_training_explorer_has_the_panel_too():
    from sgexplore.train import TrainConfig
    from sgexplore.widgets import TrainingExplorer
    tiny = TrainConfig(classes=2, units=10, time_steps=20, samples_per_class=20, hidden=(16,),
                       batch_size=16, steps=2, test_every=2)
    explorer = TrainingExplorer(config=tiny)
    try:
        panel = explorer.panel.frameworks
        panel.framework.value = "spikingjelly"
        panel.start.value = _index("spikingjelly 2.0.0: Sigmoid")  # trains the tiny config once
        assert explorer.panel.build_surrogate() == from_framework("spikingjelly", "Sigmoid")
        assert panel.translation.exact and "surrogate.Sigmoid(alpha=4.0)" in panel.code.value
    finally:
        explorer.close()
