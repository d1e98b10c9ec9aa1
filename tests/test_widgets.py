"""The widget explorers, driven from code in a plain process (no kernel, no browser).

Expected curves are the surrogate formulas written out here with numpy, independently of
the torch code under test; expected training records come from ``train()`` itself, which
the TrainingExplorer must relay unchanged.
"""

import asyncio
import dataclasses
import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from traitlets import TraitError

from sgexplore import surrogates
from sgexplore.params import format_number, param, slider_values
from sgexplore.surrogates import Surrogate, register
from sgexplore.train import TrainConfig, train
from sgexplore.widgets import SurrogateExplorer, TrainingExplorer
from sgexplore.widgets.controls import came_from_browser
from sgexplore.widgets.figures import UpdatePacer
from sgexplore.widgets.surrogate_explorer import MAX_PINS
from sgexplore.widgets.training_explorer import _GRAD_NORMS, _SURROGATE, _TEST_ACCURACY

# train.py converts a loss that requires grad to float; not this file's concern.
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")

RTOL, ATOL = 1e-5, 1e-6  # the curve is computed in float32, as in training


def normal_pdf(x, mu, sigma):
    return np.exp(-((x - mu) ** 2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))


def normal_cdf(x, mu, sigma):
    return 0.5 * (1 + np.vectorize(math.erf)((x - mu) / (sigma * math.sqrt(2))))


def multi_gaussian(v, thr, mu, sigma, grad_scale, h, s):
    x = v - thr
    return grad_scale * ((1 + h) * normal_pdf(x, mu, sigma) - h * normal_pdf(x, sigma, s * sigma)
                         - h * normal_pdf(x, -sigma, s * sigma))


def curve(explorer, index=0):
    return np.asarray(explorer.figure.data[index].y, dtype=np.float64)


# ---------------------------------------------------------------------------
# SurrogateExplorer
# ---------------------------------------------------------------------------

def test_default_curve_is_the_multigaussian_formula_and_follows_sliders():
    explorer = SurrogateExplorer()
    v = explorer.v_mem
    expected = multi_gaussian(v, 1.0, mu=0.0, sigma=0.5, grad_scale=1.0, h=0.15, s=6.0)
    np.testing.assert_allclose(curve(explorer), expected, rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(explorer.figure.data[0].x, v)

    explorer.controls["sigma"].value = 0.3
    explorer.controls["h"].value = 0.3
    expected = multi_gaussian(v, 1.0, mu=0.0, sigma=0.3, grad_scale=1.0, h=0.3, s=6.0)
    np.testing.assert_allclose(curve(explorer), expected, rtol=RTOL, atol=ATOL)
    assert explorer.surrogate.sigma == 0.3 and explorer.message == ""


def test_primitive_forward_and_threshold_line_follow_the_threshold():
    explorer = SurrogateExplorer("Gaussian", mu=0.2, sigma=0.3)
    explorer.controls["spike_threshold"].value = 1.5
    v = explorer.v_mem
    assert v.min() < 1.5 < v.max()
    np.testing.assert_allclose(curve(explorer), normal_pdf(v - 1.5, 0.2, 0.3), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(curve(explorer, 1), normal_cdf(v - 1.5, 0.2, 0.3), rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(curve(explorer, 2), (v >= np.float32(1.5)).astype(float))
    assert [shape.x0 for shape in explorer.figure.layout.shapes] == [1.5, 1.5]


def test_multi_and_max_modes_draw_the_staircase():
    explorer = SurrogateExplorer("Triangle", mode="multi")
    v = explorer.v_mem.astype(np.float32).astype(np.float64)
    staircase = np.where(v > 0, np.trunc(v / 1.0), 0.0)
    assert staircase.max() >= 3
    np.testing.assert_array_equal(curve(explorer, 2), staircase)

    explorer.controls["mode"].value = "max"
    explorer.controls["max_spikes"].value = 2
    assert explorer.mode == "max" and explorer.max_spikes == 2
    np.testing.assert_array_equal(curve(explorer, 2), np.minimum(staircase, 2))


def test_periodic_surrogate_repeats_at_every_multiple_of_the_threshold():
    explorer = SurrogateExplorer("PeriodicExponentialSymmetric", mode="multi", grad_width=0.25)
    v = explorer.v_mem.astype(np.float32).astype(np.float64)
    nearest = np.maximum(1, np.round(v))  # thr = 1: the nearest multiple n >= 1
    distance = np.where(v < 1, 1 - v, np.abs(v - nearest))
    np.testing.assert_allclose(curve(explorer), np.exp(-distance / 0.25), rtol=1e-4, atol=ATOL)
    assert v.max() > 3.5  # several lobes are on screen


def test_switching_surrogate_rebuilds_the_sliders_and_keeps_the_figure():
    explorer = SurrogateExplorer()
    figure = explorer.figure
    explorer.controls["surrogate"].value = "FastSigmoid"
    assert "slope" in explorer.controls and "sigma" not in explorer.controls
    assert explorer.figure is figure
    assert list(explorer.panel._param_box.children) == [explorer.controls["slope"],
                                                        explorer.controls["grad_scale"]]
    explorer.controls["slope"].value = 100.0
    v = explorer.v_mem
    np.testing.assert_allclose(curve(explorer), 1 / (100 * np.abs(v - 1) + 1) ** 2, rtol=RTOL, atol=ATOL)


def test_log_parameters_slide_over_the_exact_declared_grid():
    explorer = SurrogateExplorer("FastSigmoid")
    slope = explorer.controls["slope"]
    declared = surrogates.FastSigmoid.params()["slope"]
    assert [value for _label, value in slope.options] == slider_values(declared)
    values = [value for _label, value in slope.options]
    # the grid is log-even; the marks (peer frameworks' defaults, e.g. snntorch's 25) sit in it
    assert set(declared.marks) <= set(values)
    grid = [v for v in values if v not in declared.marks]
    np.testing.assert_allclose(np.diff(np.log10(grid)), 0.1, rtol=1e-9)
    slope.value = 10 ** 1.5 * (1 + 1e-12)  # float noise lands on the grid value itself
    assert slope.value == 10 ** round(1.5, 10)
    with pytest.raises(TraitError):
        slope.value = 33.3  # off the grid


def test_user_registered_surrogate_appears_and_drives_the_curve(own_registry):
    @register
    @dataclass_frozen
    class Cosine(Surrogate):
        width: float = param(1.0, low=0.0, low_open=True, slider=(0.1, 3.0, 0.1), doc="half-width")

        def grad(self, v_mem, spike_threshold):
            x = (v_mem - spike_threshold) / self.width
            return torch.where(x.abs() < 1, 0.5 * (1 + torch.cos(math.pi * x)), torch.zeros_like(x))

    explorer = SurrogateExplorer()
    assert "Cosine" in explorer.controls["surrogate"].options
    explorer.controls["surrogate"].value = "Cosine"
    explorer.controls["width"].value = 0.5
    x = (explorer.v_mem - 1.0) / 0.5
    expected = np.where(np.abs(x) < 1, 0.5 * (1 + np.cos(np.pi * x)), 0.0)
    np.testing.assert_allclose(curve(explorer), expected, rtol=RTOL, atol=ATOL)
    assert "peak</b> 1 " in explorer.panel.readout.value  # numeric peak of the base class


def dataclass_frozen(cls):
    return dataclasses.dataclass(frozen=True)(cls)


def test_normalise_to_peak_and_area():
    explorer = SurrogateExplorer("Gaussian", sigma=0.3, grad_scale=5.0)
    explorer.controls["normalise"].value = "peak"
    assert curve(explorer).max() == pytest.approx(1.0, rel=1e-5)
    explorer.controls["normalise"].value = "area"
    v, y = explorer.v_mem, curve(explorer)
    assert np.sum((y[1:] + y[:-1]) / 2 * np.diff(v)) == pytest.approx(1.0, rel=1e-4)
    assert curve(explorer, 1)[-1] == pytest.approx(1.0, rel=1e-4)  # primitive ends at 1, like the step

    explorer.controls["surrogate"].value = "Heaviside"  # area infinite: raw values and a note
    assert "area is ∞" in explorer.message
    assert curve(explorer).max() == pytest.approx(1.0)
    assert "∞" in explorer.panel.readout.value


def test_pin_keeps_a_curve_and_clear_removes_pins():
    explorer = SurrogateExplorer("Gaussian")
    before = curve(explorer).copy()
    explorer.pin()
    explorer.controls["sigma"].value = 0.2
    assert explorer.pins == 1 and len(explorer.figure.data) == 5
    np.testing.assert_array_equal(curve(explorer, 3), before)
    assert not np.allclose(curve(explorer), before)
    for _ in range(MAX_PINS + 2):
        explorer.pin()
    assert explorer.pins == MAX_PINS
    explorer.clear_pins()
    assert explorer.pins == 0 and len(explorer.figure.data) == 3


def test_bad_threshold_shows_a_message_and_keeps_the_figure():
    explorer = SurrogateExplorer()
    before = curve(explorer).copy()
    explorer.controls["spike_threshold"].value = 0.0
    assert "spike_threshold" in explorer.message and "[0.001, 1000]" in explorer.message
    assert "spike_threshold" in explorer.panel.message_box.value
    np.testing.assert_array_equal(curve(explorer), before)
    assert explorer.spike_threshold == 1.0
    explorer.controls["spike_threshold"].value = 0.5  # recovers
    assert explorer.message == "" and explorer.spike_threshold == 0.5


def test_a_surrogate_rejecting_a_combination_shows_a_message(own_registry):
    @register
    @dataclass_frozen
    class Lopsided(Surrogate):
        left: float = param(1.0, low=0.0, low_open=True, slider=(0.1, 2.0, 0.1), doc="left width")
        right: float = param(1.0, low=0.0, low_open=True, slider=(0.1, 2.0, 0.1), doc="right width")

        def __post_init__(self):
            super().__post_init__()
            if self.right > 2 * self.left:
                raise ValueError(f"Lopsided.right must be at most 2*left; got right={self.right}")

        def grad(self, v_mem, spike_threshold):
            x = v_mem - spike_threshold
            return torch.exp(-torch.where(x < 0, -x / self.left, x / self.right))

    explorer = SurrogateExplorer("Lopsided", right=2.0)
    before = curve(explorer).copy()
    explorer.controls["left"].value = 0.5  # right = 2 > 2 * left
    assert "Lopsided.right must be at most 2*left" in explorer.message
    np.testing.assert_array_equal(curve(explorer), before)


def test_sub_epsilon_changes_are_ignored():
    explorer = SurrogateExplorer()
    title = explorer.figure.layout.title.text
    explorer.controls["spike_threshold"].value = 1.0 + 1e-12
    assert explorer.spike_threshold == 1.0 and explorer.figure.layout.title.text == title


def test_reset_restores_declared_defaults():
    explorer = SurrogateExplorer()
    default = curve(explorer).copy()
    explorer.controls["sigma"].value = 1.0
    explorer.controls["spike_threshold"].value = 2.0
    explorer.controls["normalise"].value = "peak"
    explorer.reset()
    assert explorer.surrogate == surrogates.MultiGaussian() and explorer.spike_threshold == 1.0
    np.testing.assert_allclose(curve(explorer), default)


def test_reset_restores_the_values_the_explorer_was_built_with():
    explorer = SurrogateExplorer(surrogate="Gaussian", sigma=0.3, spike_threshold=2.0, normalise="peak")
    built = curve(explorer).copy()
    for name, value in [("sigma", 1.0), ("mu", 0.5), ("spike_threshold", 1.0), ("normalise", "none")]:
        explorer.controls[name].value = value
    explorer.reset()
    assert explorer.surrogate == surrogates.Gaussian(sigma=0.3) and explorer.spike_threshold == 2.0
    assert explorer.controls["normalise"].value == "peak" and explorer.view.normalise == "peak"
    np.testing.assert_array_equal(curve(explorer), built)

    # another surrogate than the built one: its declared defaults; the threshold as built
    explorer.controls["surrogate"].value = "Triangle"
    explorer.controls["grad_width"].value = 0.5
    explorer.controls["spike_threshold"].value = 1.0
    explorer.reset()
    assert explorer.surrogate == surrogates.Triangle() and explorer.spike_threshold == 2.0
    explorer.controls["surrogate"].value = "Gaussian"  # choosing it again shows its declared defaults
    assert explorer.surrogate == surrogates.Gaussian()
    explorer.reset()  # and reset brings back the values it was built with
    assert explorer.surrogate == surrogates.Gaussian(sigma=0.3)


def test_reset_restores_an_off_grid_value_given_in_code():
    explorer = SurrogateExplorer("Gaussian", sigma=0.123)
    explorer.controls["surrogate"].value = "Box"
    explorer.controls["surrogate"].value = "Gaussian"  # rebuilt sliders: 0.123 is not on the grid
    explorer.reset()
    assert explorer.surrogate == surrogates.Gaussian(sigma=0.123) and explorer.message == ""


def test_pinned_curves_are_normalised_like_the_current_curve():
    explorer = SurrogateExplorer("Gaussian", sigma=0.3, grad_scale=5.0)
    raw, raw_primitive = curve(explorer).copy(), curve(explorer, 1).copy()
    explorer.pin()
    explorer.controls["normalise"].value = "peak"
    explorer.controls["sigma"].value = 0.4
    explorer.pin()  # pinned while normalised: kept raw, drawn normalised
    for index in (3, 5):
        assert curve(explorer, index).max() == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(curve(explorer, 3), raw / raw.max(), rtol=1e-5)
    np.testing.assert_allclose(curve(explorer, 4), raw_primitive / raw.max(), rtol=1e-5)
    explorer.controls["normalise"].value = "area"
    for index in (4, 6):  # each pin's primitive ends at 1, like the current one
        assert curve(explorer, index)[-1] == pytest.approx(1.0, rel=1e-4)
    explorer.controls["normalise"].value = "none"
    np.testing.assert_array_equal(curve(explorer, 3), raw)
    np.testing.assert_array_equal(curve(explorer, 5), curve(explorer))  # the sigma=0.4 curve, raw
    assert explorer.message == ""


def test_a_pin_that_cannot_be_normalised_stays_raw_and_the_message_says_so():
    explorer = SurrogateExplorer("Heaviside")  # area infinite, peak 1/thr
    raw = curve(explorer).copy()
    explorer.pin()
    explorer.controls["surrogate"].value = "Gaussian"
    explorer.controls["normalise"].value = "area"
    assert curve(explorer, 1)[-1] == pytest.approx(1.0, rel=1e-4)  # the current curve is normalised
    np.testing.assert_array_equal(curve(explorer, 3), raw)
    assert "1 pinned curve cannot be normalised to area 1" in explorer.message
    assert "Heaviside" in explorer.message and "Heaviside" in explorer.panel.message_box.value
    explorer.controls["normalise"].value = "peak"  # a finite peak: normalised, no message
    assert explorer.message == ""
    explorer.controls["grad_scale"].value = 10.0
    explorer.controls["normalise"].value = "area"
    explorer.clear_pins()
    assert explorer.message == "" and explorer.pins == 0


def test_snapshot_for_late_views_holds_the_current_curve():
    explorer = SurrogateExplorer()
    explorer.controls["sigma"].value = 0.3
    np.testing.assert_array_equal(explorer.figure._widget_data[0]["y"], explorer.figure.data[0].y)


@pytest.mark.parametrize("kwargs, word", [
    (dict(sigma=-1.0), "sigma"), (dict(spike_threshold=0.0), "spike_threshold"),
    (dict(mode="double"), "mode"), (dict(normalise="unit"), "normalise"),
    (dict(surrogate="Nope"), "surrogate"), (dict(bogus=1.0), "bogus"),
])
def test_bad_constructor_input_raises_a_clear_value_error(kwargs, word):
    with pytest.raises(ValueError, match=word):
        SurrogateExplorer(**kwargs)


def test_explorer_displays_as_its_widget():
    explorer = SurrogateExplorer()
    bundle = explorer._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id


# ---------------------------------------------------------------------------
# TrainingExplorer
# ---------------------------------------------------------------------------

TINY = TrainConfig(classes=2, units=10, time_steps=20, samples_per_class=20, hidden=(16,),
                   batch_size=16, steps=6, test_every=3)


def losses(config):
    return [record.loss for record in train(config)]


def tiny_explorer(**kwargs):
    return TrainingExplorer(config=TINY, **kwargs)


def test_run_relays_the_training_records_into_the_figure():
    explorer = tiny_explorer()
    records = explorer.run()
    expected = list(train(explorer.config))
    assert [(r.step, r.loss, r.accuracy) for r in records] == [(r.step, r.loss, r.accuracy) for r in expected]
    np.testing.assert_array_equal(explorer.figure.data[0].x, np.arange(1, TINY.steps + 1))
    np.testing.assert_array_equal(explorer.figure.data[0].y, [r.loss for r in expected])
    np.testing.assert_array_equal(explorer.figure.data[_GRAD_NORMS].y, expected[-1].grad_norms)
    assert list(explorer.figure.data[_GRAD_NORMS].x) == ["hidden 1", "readout"]
    assert explorer.figure.data[_TEST_ACCURACY].x.tolist() == [3, 6]  # test accuracy where it was measured
    assert "done step 6/6" in explorer.status.value


def test_session_streams_each_point_as_it_trains():
    explorer = tiny_explorer()
    explorer.redraw_interval_s = 0.0
    session = explorer.session()
    for k in range(1, 4):
        next(session)
        assert len(explorer.figure.data[0].y) == k


def test_first_point_is_drawn_before_the_second_step():
    explorer = tiny_explorer()  # default redraw interval: the first point is never held back
    next(explorer.session())
    assert len(explorer.figure.data[0].y) == 1


def test_changing_a_control_retrains_from_the_same_seed_and_ghosts_the_old_run():
    explorer = tiny_explorer()
    first = [r.loss for r in explorer.run()]
    explorer.controls["lr"].value = 0.1
    assert explorer.config.lr == 0.1
    assert [r.loss for r in explorer.records] == losses(dataclasses.replace(TINY, lr=0.1))
    assert explorer.records[0].loss == first[0]  # same seed, same first batch and weights
    assert explorer.ghosts == 1
    np.testing.assert_array_equal(explorer.figure.data[explorer.base_traces].y, first)  # the first ghost

    for name, value in [("reset", "zero"), ("detach_reset", True), ("hidden", "8, 8")]:
        explorer.controls[name].value = value
    assert explorer.config.hidden == (8, 8) and explorer.config.detach_reset
    assert list(explorer.figure.data[_GRAD_NORMS].x) == ["hidden 1", "hidden 2", "readout"]
    assert [r.loss for r in explorer.records] == losses(explorer.config)


def test_training_reset_restores_the_values_the_explorer_was_built_with():
    explorer = tiny_explorer(surrogate="Gaussian", steps=8, lr=0.05, sigma=0.3)
    built = explorer.config
    with explorer.panel.hold():  # no retraining for each change: this test is about reset
        for name, value in [("steps", 10), ("lr", 0.1), ("batch_size", 8), ("hidden", "8, 8"),
                            ("sigma", 1.0), ("spike_threshold", 1.5), ("mode", "multi")]:
            explorer.controls[name].value = value
    changed = explorer._config_from_controls()
    assert (changed.steps, changed.hidden, changed.surrogate.sigma, changed.mode) == (10, (8, 8), 1.0, "multi")
    explorer.reset()
    assert explorer.config == built and explorer.message == ""
    assert explorer.controls["steps"].value == 8 and explorer.controls["hidden"].value == "16"
    assert explorer.controls["batch_size"].value == TINY.batch_size  # from config=, not the global 64
    assert [r.loss for r in explorer.records] == losses(built)


def test_ghosts_are_capped_and_cleared():
    explorer = tiny_explorer(max_ghosts=2)
    for lr in (0.001, 0.01, 0.1, 1.0):
        explorer.controls["lr"].value = lr
    assert explorer.ghosts == 2
    explorer.clear()
    assert explorer.ghosts == 0 and len(explorer.figure.data) == explorer.base_traces


def test_divergence_shows_a_message_not_a_traceback(own_registry):
    @register
    @dataclass_frozen
    class Broken(Surrogate):
        """Returns NaN: the first backward pass makes the gradients NaN."""

        def grad(self, v_mem, spike_threshold):
            return torch.full_like(v_mem, float("nan"))

    explorer = tiny_explorer()
    explorer.controls["surrogate"].value = "Broken"
    # the NaN surrogate sits behind the hidden layer only; the readout gradient stays finite
    assert explorer.message == "diverged at step 1: the gradient of hidden 1 is nan"
    assert explorer.message in explorer.status.value
    assert len(explorer.records) == 1 and explorer.records[0].status == "diverged"


def test_bad_training_input_shows_a_message_and_keeps_the_run():
    explorer = tiny_explorer()
    explorer.run()
    before = curve(explorer).copy()
    explorer.controls["hidden"].value = "sixty-four"
    assert "hidden" in explorer.message
    explorer.controls["hidden"].value = "16"
    explorer.controls["spike_threshold"].value = 0.0
    assert "spike_threshold" in explorer.message
    np.testing.assert_array_equal(curve(explorer), before)
    assert len(explorer.records) == TINY.steps


def test_bad_training_constructor_input_raises():
    with pytest.raises(ValueError, match="lr"):
        TrainingExplorer(config=TINY, lr=-1.0)
    with pytest.raises(ValueError, match="slope"):
        TrainingExplorer(config=TINY, slope=0.0)


def browser_sets(widget, **state):
    """Apply ``state`` as a message from the browser would (ipywidgets' own entry point)."""
    widget.set_state(state)


def test_browser_and_code_changes_are_told_apart():
    seen = []
    explorer = tiny_explorer()
    explorer.controls["steps"].observe(lambda change: seen.append(came_from_browser(change)), "value")
    explorer.controls["steps"].value = 20
    browser_sets(explorer.controls["steps"], value=30)
    assert seen == [False, True]


def test_a_newer_browser_change_supersedes_the_run_in_flight():
    explorer = tiny_explorer(steps=40)
    explorer.debounce_s = 0.0  # count steps, not milliseconds
    lr = explorer.controls["lr"]
    index_of = {value: i for i, (_label, value) in enumerate(lr.options)}

    async def scenario():
        browser_sets(lr, index=index_of[0.001])    # starts a live run, returns at once
        assert explorer.running and explorer.records == []
        for _ in range(3):
            await asyncio.sleep(0)                 # the run takes a few steps
        partial = len(explorer.records)
        browser_sets(lr, index=index_of[0.1])      # supersedes it
        await explorer.wait()
        return partial

    partial = asyncio.run(scenario())
    assert 1 <= partial < 40
    assert explorer.runs_started == 2 and explorer.runs_finished == 1
    assert explorer.config.lr == 0.1
    assert [r.loss for r in explorer.records] == losses(dataclasses.replace(TINY, steps=40, lr=0.1))
    assert explorer.ghosts == 0  # an unfinished run leaves no ghost


def test_a_storm_of_browser_changes_starts_only_the_last_run():
    explorer = tiny_explorer()
    steps = explorer.controls["steps"]

    async def storm():
        for value in range(10, 110):
            browser_sets(steps, value=value)
        await explorer.wait()

    asyncio.run(storm())
    assert explorer.runs_started == 1 and explorer.runs_finished == 1
    assert len(explorer.records) == 109 and len(explorer.figure.data[0].y) == 109


def test_code_changes_run_synchronously_even_inside_an_event_loop():
    explorer = tiny_explorer()

    async def cell():
        browser_sets(explorer.controls["steps"], value=20)  # a live run, superseded below
        explorer.controls["lr"].value = 0.1
        return len(explorer.records), explorer.running

    assert asyncio.run(cell()) == (20, False)


def test_live_false_makes_browser_changes_synchronous():
    explorer = tiny_explorer(live=False)

    async def cell():
        browser_sets(explorer.controls["steps"], value=8)
        return len(explorer.records)

    assert asyncio.run(cell()) == 8


def test_a_change_during_the_debounce_replaces_the_run_before_it_trains():
    explorer = tiny_explorer()
    steps = explorer.controls["steps"]
    explorer.debounce_s = 60.0  # the first run stays in its debounce for the whole test

    async def drag():
        browser_sets(steps, value=20)
        for _ in range(3):
            await asyncio.sleep(0)
        browser_sets(steps, value=30)
        explorer.debounce_s = 0.0  # read by the second run when it starts
        await explorer.wait()

    asyncio.run(drag())
    assert explorer.runs_started == 1 and len(explorer.records) == 30


def test_a_superseded_session_stops_and_leaves_the_newer_run_alone():
    explorer = tiny_explorer()
    older = explorer.session()
    next(older)
    newer = explorer.run()
    assert list(older) == []  # it yields nothing more
    assert explorer.records == newer and len(newer) == TINY.steps
    np.testing.assert_array_equal(explorer.figure.data[0].y, [r.loss for r in newer])


# -- at the browser's pace: one figure update in flight, training after the drag ---------
def acknowledge(figure, edit_id=None):
    """What a browser view sends once it has drawn a trace update: ``_js2py_traceDeltas``
    with that update's ``trace_edit_id`` (plotly's widgetbundle.js, ``_sendTraceDeltas``)."""
    edit_id = figure._last_trace_edit_id if edit_id is None else edit_id
    browser_sets(figure, _js2py_traceDeltas={"trace_deltas": [], "trace_edit_id": edit_id})


def test_an_update_waits_until_the_browser_has_drawn_the_one_in_flight():
    figure = go.FigureWidget()
    figure.add_scatter(y=[0.0])
    pacer = UpdatePacer(figure, timeout_s=1e9)  # never overdue in this test

    def set_y(value):
        return lambda: setattr(figure.data[0], "y", [value])

    pacer.draw(set_y(1.0), kind="curve")  # no view has answered yet (no front end): at once
    assert list(figure.data[0].y) == [1.0]
    acknowledge(figure)                   # a view is open and has drawn everything
    pacer.draw(set_y(2.0), kind="curve")  # sent: now in flight
    in_flight = figure._last_trace_edit_id
    pacer.draw(set_y(3.0), kind="curve")
    pacer.draw(set_y(4.0), kind="curve")  # replaces 3.0, which is never sent
    assert list(figure.data[0].y) == [2.0] and figure._last_trace_edit_id == in_flight
    assert pacer.waiting == ("curve",) and not pacer.ready()
    acknowledge(figure, in_flight - 1)    # an older update's answer changes nothing
    assert list(figure.data[0].y) == [2.0]
    acknowledge(figure, in_flight)
    assert list(figure.data[0].y) == [4.0] and figure._last_trace_edit_id == in_flight + 1
    assert pacer.waiting == ()
    pacer.timeout_s = 0.0                 # an answer that never comes: overdue, sent anyway
    pacer.draw(set_y(5.0), kind="curve")
    assert list(figure.data[0].y) == [5.0]


def test_a_live_run_draws_only_when_the_browser_has_drawn_the_last_update():
    explorer = tiny_explorer(steps=30)
    explorer.debounce_s = 0.0
    explorer._pacer.timeout_s = 1e9  # the browser below never answers late: no timeouts
    acknowledge(explorer.figure)     # a view has drawn the constructor's state
    lr = explorer.controls["lr"]
    index_of = {value: i for i, (_label, value) in enumerate(lr.options)}

    async def slow_browser():
        browser_sets(lr, index=index_of[0.1])
        acknowledge(explorer.figure)  # it draws the new surrogate curve, then never answers again
        await explorer.wait()

    asyncio.run(slow_browser())
    assert len(explorer.records) == 30 and explorer.runs_finished == 1
    # only the surrogate redraw and the run's start went out; no point was sent on top
    assert len(explorer.figure.data[0].y) == 0 and explorer._pacer.waiting == ("records",)
    acknowledge(explorer.figure)     # the browser catches up: the complete run is drawn
    np.testing.assert_array_equal(explorer.figure.data[0].y, [r.loss for r in explorer.records])
    assert "done step 30/30" in explorer.status.value


def fast_sigmoid(v, thr, slope, grad_scale):
    return grad_scale / (slope * np.abs(v - thr) + 1) ** 2


def page_says(figure, pointer):
    """The message a figure's view sends when a pointer goes down on (or comes up from) one
    of its explorer's sliders, applied as ipywidgets applies a page's custom message."""
    figure._handle_custom_msg({"sgexplore_slider_pointer": pointer}, [])


def test_a_figure_reads_the_pages_slider_pointer_reports_and_nothing_else():
    figure = TrainingExplorer(config=TINY, live=False).lens_figure
    assert figure.slider_held is False  # no page: never held
    page_says(figure, "down")
    assert figure.slider_held is True
    for stranger in ({"sgexplore_slider_pointer": "sideways"}, {"sgexplore_slider_pointer": 1},
                     {"other": "up"}, "up", ["up"], None):
        figure._handle_custom_msg(stranger, [])  # what any page could send: ignored
        assert figure.slider_held is True
    page_says(figure, "up")
    assert figure.slider_held is False


def test_a_held_slider_trains_only_after_its_release():
    explorer = tiny_explorer(steps=6)
    explorer.run()
    explorer.debounce_s = 0.0      # without the hold, each value would train at once
    explorer.held_settle_s = 60.0  # and the hold never settles here
    scale = explorer.controls["grad_scale"]

    code_before = explorer.panel.frameworks.translation.code

    async def drag():
        page_says(explorer.lens_figure, "down")
        for step in (1, 2, 3):
            browser_sets(scale, index=scale.index + 1)
            for _ in range(20):  # the event loop turns: every debounce has long passed
                await asyncio.sleep(0)
            assert explorer.runs_started == 1, "a run started while the slider was held"
        # the curve and readout follow the slider; the framework code waits for the release
        assert explorer.panel.readout.value.startswith(f"<b>peak</b> {format_number(scale.value)} ")
        assert explorer.panel.frameworks.translation.code == code_before
        page_says(explorer.lens_figure, "up")
        assert format_number(scale.value) in explorer.panel.frameworks.translation.code
        await explorer.wait()

    asyncio.run(drag())
    assert explorer.runs_started == 2 and explorer.runs_finished == 2  # the built run, the released value
    assert explorer.config.surrogate.grad_scale == scale.value
    assert [r.loss for r in explorer.records] == losses(explorer.config)
    assert explorer.ghosts == 1  # the run before the drag only


def test_a_slider_held_still_settles_and_trains_without_the_release():
    explorer = tiny_explorer(steps=6)
    explorer.run()
    explorer.debounce_s, explorer.held_settle_s = 0.0, 0.05
    scale = explorer.controls["grad_scale"]

    async def drag():
        page_says(explorer.lens_figure, "down")  # the page never reports the release
        browser_sets(scale, index=scale.index + 2)
        await explorer.wait()

    asyncio.run(drag())
    assert explorer.lens_figure.slider_held and explorer.runs_finished == 2
    assert explorer.config.surrogate.grad_scale == scale.value

    async def next_drag():  # another cell's event loop: the wait for a release works there too
        explorer.held_settle_s = 60.0
        browser_sets(scale, index=scale.index - 1)
        for _ in range(20):
            await asyncio.sleep(0)
        assert explorer.runs_started == 2  # still held: waiting
        page_says(explorer.lens_figure, "up")
        await explorer.wait()

    asyncio.run(next_drag())
    assert explorer.runs_finished == 3 and explorer.config.surrogate.grad_scale == scale.value


def test_a_drag_redraws_the_surrogate_at_once_and_trains_only_where_it_rests():
    explorer = tiny_explorer(steps=8)
    first = [r.loss for r in explorer.run()]
    scale = explorer.controls["grad_scale"]
    index_of = {value: i for i, (_label, value) in enumerate(scale.options)}
    passed, rest = (2.0, 4.0, 10.0), 0.4  # the grid values nearest to these

    def grid(value):
        return min(index_of, key=lambda option: abs(math.log(option) - math.log(value)))

    async def drag():
        explorer.debounce_s = 60.0   # the drag never pauses long enough to train (no clock here)
        for value in passed:
            browser_sets(scale, index=index_of[grid(value)])
            v = np.asarray(explorer.lens_figure.data[_SURROGATE].x)
            drawn = np.asarray(explorer.lens_figure.data[_SURROGATE].y, dtype=np.float64)
            np.testing.assert_allclose(drawn, fast_sigmoid(v, 1.0, 10.0, grid(value)),
                                       rtol=RTOL, atol=ATOL)  # the curve follows at once
            assert [r.loss for r in explorer.records] == first  # nothing trains during the drag
            await asyncio.sleep(0)
        explorer.debounce_s = 0.0    # read by the run of the value it rests on
        browser_sets(scale, index=index_of[grid(rest)])
        await explorer.wait()

    asyncio.run(drag())
    assert explorer.runs_started == 2 and explorer.runs_finished == 2  # the built run and the rest
    assert explorer.config.surrogate.grad_scale == grid(rest)
    assert [r.loss for r in explorer.records] == losses(explorer.config)
    assert explorer.ghosts == 1  # the run before the drag; none of the values passed through
    np.testing.assert_array_equal(explorer.figure.data[explorer.base_traces].y, first)


@pytest.mark.parametrize("rested", [False, True], ids=["moved on at once", "rested past the limit"])
def test_a_run_that_ended_inside_a_drag_leaves_no_ghost(rested, monkeypatch):
    from sgexplore.widgets import training_explorer

    if rested:  # every run has been drawn longer than the limit when the control moves on
        monkeypatch.setattr(training_explorer, "PASSED_THROUGH_S", 0.0)
    explorer = tiny_explorer(steps=6)
    explorer.run()  # the run before the drag: a ghost once the drag's first value trains
    explorer.debounce_s = 0.0
    scale = explorer.controls["grad_scale"]
    lr = explorer.controls["lr"]

    async def drag():  # a hesitating drag: each value trains to its end before the next arrives
        for step in (1, 2, 3):
            browser_sets(scale, index=scale.index + step)
            await explorer.wait()
            assert explorer.runs_finished == step + 1
        browser_sets(lr, index=lr.index + 1)  # another control: the drag is over
        await explorer.wait()

    asyncio.run(drag())
    assert explorer.runs_finished == 5
    names = [explorer.figure.data[i].name for i in range(explorer.base_traces, len(explorer.figure.data), 2)]
    assert len(names) == explorer.ghosts == (4 if rested else 2), names  # before the drag, where it rested
    assert f"grad_scale={format_number(scale.value)}" in names[-1]


# -- controls derived from the declarations ---------------------------------------------

def test_every_control_tooltip_comes_from_its_declaration():
    from sgexplore.params import params_of
    from sgexplore.spike import MAX_SPIKES
    from sgexplore.surrogates import SPIKE_THRESHOLD
    from sgexplore.widgets.controls import tooltip
    from sgexplore.widgets.training_explorer import TRAINING_FIELDS

    trainer = TrainingExplorer(live=False, steps=10)
    declared = params_of(TrainConfig)
    for name in TRAINING_FIELDS:
        if name in declared:
            assert trainer.controls[name].tooltip == tooltip(name, declared[name]), name
            assert declared[name].doc in trainer.controls[name].tooltip
    assert trainer.controls["mode"].options == declared["mode"].choices
    explorer = SurrogateExplorer("SingleExponential")
    width = explorer.controls["grad_width"]
    assert "relative to thr" in width.tooltip and "[0.001, 1000]" in width.tooltip
    assert explorer.controls["spike_threshold"].tooltip == tooltip("spike_threshold", SPIKE_THRESHOLD)
    assert explorer.controls["max_spikes"].tooltip == tooltip("max_spikes", MAX_SPIKES)


def test_both_explorers_share_the_one_threshold_range():
    from sgexplore.surrogates import SPIKE_THRESHOLD

    for explorer in (SurrogateExplorer(), TrainingExplorer(live=False, steps=10)):
        slider = explorer.controls["spike_threshold"]
        assert (slider.min, slider.max, slider.step) == SPIKE_THRESHOLD.slider


def test_an_explorer_lists_a_surrogate_registered_after_it_was_built(own_registry):
    explorer = SurrogateExplorer("Gaussian", sigma=0.3)
    before = curve(explorer).copy()

    @register
    @dataclass_frozen
    class LateBump(Surrogate):
        width: float = param(1.0, low=0.0, low_open=True, slider=(0.1, 3.0, 0.1), doc="width")

        def grad(self, v_mem, spike_threshold):
            return torch.exp(-((v_mem - spike_threshold) / self.width) ** 2)

    assert "LateBump" not in explorer.controls["surrogate"].options
    explorer._repr_mimebundle_()  # what displaying it does
    assert "LateBump" in explorer.controls["surrogate"].options
    # the chosen surrogate, its sliders and the curve are untouched by the refresh
    assert explorer.controls["surrogate"].value == "Gaussian" and explorer.controls["sigma"].value == 0.3
    np.testing.assert_array_equal(curve(explorer), before)
    explorer.controls["surrogate"].value = "LateBump"
    assert explorer.surrogate == LateBump()


def test_refreshing_the_list_notifies_nobody_and_keeps_the_choice(own_registry):
    explorer = SurrogateExplorer("Gaussian")
    seen = []
    explorer.controls["surrogate"].observe(lambda change: seen.append(change["new"]), names="value")

    @register
    @dataclass_frozen
    class Quiet(Surrogate):
        def grad(self, v_mem, spike_threshold):
            return torch.ones_like(v_mem)

    explorer._repr_mimebundle_()
    assert "Quiet" in explorer.controls["surrogate"].options
    assert seen == [] and explorer.controls["surrogate"].value == "Gaussian"


def test_a_surrogate_registered_again_under_its_name_replaces_the_old_one(own_registry):
    def make(height):
        @register
        @dataclass_frozen
        class Again(Surrogate):
            def grad(self, v_mem, spike_threshold):
                return torch.full_like(v_mem, height)
        return Again

    make(1.0)
    explorer = SurrogateExplorer("Again")
    assert np.allclose(curve(explorer), 1.0)
    second = make(2.0)  # a notebook cell run twice
    explorer._repr_mimebundle_()
    assert explorer.panel.surrogate_class is second and np.allclose(curve(explorer), 2.0)


def test_displaying_the_widget_itself_refreshes_the_list_too(own_registry):
    explorer = SurrogateExplorer("Gaussian")

    @register
    @dataclass_frozen
    class ViaWidget(Surrogate):
        def grad(self, v_mem, spike_threshold):
            return torch.ones_like(v_mem)

    explorer.widget._repr_mimebundle_()  # what a notebook's `explorer.widget` line does
    assert "ViaWidget" in explorer.controls["surrogate"].options


@pytest.mark.filterwarnings("ignore:Widget.widgets is deprecated:DeprecationWarning")
def test_close_frees_every_widget_of_an_explorer():
    import ipywidgets

    for build in (lambda: SurrogateExplorer("Gaussian"), lambda: TrainingExplorer(live=False, steps=5)):
        before = set(ipywidgets.Widget.widgets)
        explorer = build()
        assert set(ipywidgets.Widget.widgets) - before  # building it opened widgets
        explorer.close()
        assert not set(ipywidgets.Widget.widgets) - before, "widgets left open after close()"


# -- errors inside a run -------------------------------------------------------------

def _failing_run(fail_at, error):
    """A ``Run`` that trains the real steps before ``fail_at``, then raises ``error``."""
    from sgexplore.train import Run

    class FailingRun(Run):
        def step(self):
            if len(self.records) + 1 == fail_at:
                raise error
            return super().step()
    return FailingRun


SERVER_PATH = "/srv/course/.venv/lib/python3.11/site-packages/torch/alloc.py"


@pytest.mark.parametrize("fail_at", [1, 4])
def test_an_error_inside_a_run_keeps_the_last_good_figure_and_names_the_cause(monkeypatch, fail_at):
    explorer = tiny_explorer(live=False)
    explorer.run()
    good = (list(explorer.figure.data[0].y), explorer.figure.layout.title.text)
    from sgexplore.widgets import training_explorer
    monkeypatch.setattr(training_explorer, "Run",
                        _failing_run(fail_at, RuntimeError(f"not enough memory in {SERVER_PATH}\nline 2")))
    explorer.controls["lr"].value = 0.1  # an observer: it must not raise
    assert isinstance(explorer.error, RuntimeError)
    loss = list(explorer.figure.data[0].y)
    if fail_at == 1:  # nothing of the new run was drawn: the old run stays, title included
        assert (loss, explorer.figure.layout.title.text) == good
        where = "before its first step"
    else:  # the steps done before the error are drawn
        assert loss == losses(dataclasses.replace(TINY, lr=0.1))[:fail_at - 1]
        where = f"at step {fail_at}"
    assert explorer.message == f"run stopped {where}: RuntimeError: not enough memory in <path>"
    assert "training…" not in explorer.status.value and "run stopped" in explorer.status.value
    for shown in (explorer.message, explorer.status.value, explorer.panel.message_box.value):
        assert "/srv" not in shown and "Traceback" not in shown and "line 2" not in shown
    with pytest.raises(RuntimeError):  # a caller in code gets the error itself too
        explorer.run()
    monkeypatch.undo()
    explorer.controls["lr"].value = 0.01  # and the next run works again
    assert explorer.error is None and explorer.message == "" and "done" in explorer.status.value


def test_an_out_of_memory_error_in_a_live_run_is_a_message_not_training_forever(monkeypatch):
    explorer = tiny_explorer()
    explorer.debounce_s = 0.0
    from sgexplore.widgets import training_explorer
    monkeypatch.setattr(training_explorer, "Run", _failing_run(3, MemoryError()))
    lr = explorer.controls["lr"]

    async def scenario():
        browser_sets(lr, index=[v for _label, v in lr.options].index(0.1))
        await explorer.wait()

    asyncio.run(scenario())
    assert not explorer.running and isinstance(explorer.error, MemoryError)
    assert explorer.message == "run stopped at step 3: MemoryError: out of memory"
    assert len(explorer.figure.data[0].y) == 2  # the two steps done


def test_warnings_while_drawing_become_the_message_without_server_paths(own_registry):
    import warnings

    @register
    @dataclass_frozen
    class Noisy(Surrogate):
        def grad(self, v_mem, spike_threshold):
            warnings.warn(f"cannot cache in {SERVER_PATH}", RuntimeWarning)
            return torch.ones_like(v_mem)

    explorer = SurrogateExplorer("Gaussian")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning that escaped the explorer would fail here
        explorer.controls["surrogate"].value = "Noisy"
    assert explorer.message == "RuntimeWarning: cannot cache in <path>"
    assert np.allclose(curve(explorer), 1.0)


@pytest.mark.parametrize("text", ["1_000", "\u0666\u0664", "\uff16\uff14", "64 32", "-8", "6\u00b2"])
def test_the_hidden_text_takes_ascii_digits_commas_and_spaces_only(text):
    explorer = tiny_explorer(live=False)
    built = explorer.config
    explorer.controls["hidden"].value = text
    assert explorer.config == built
    assert explorer.message.startswith("hidden must be comma-separated layer widths")
    explorer.controls["hidden"].value = " 16 , 8 "
    assert explorer.config.hidden == (16, 8) and explorer.message == ""


# --- the figures' JavaScript ------------------------------------------------------------
def test_a_views_drawing_report_is_read_not_echoed_back_to_the_page():
    from sgexplore.widgets.figures import CompactFigureWidget

    echoed = {}
    for kind in (go.FigureWidget, CompactFigureWidget):
        figure = kind()
        figure.add_scatter(y=[1.0])
        report = {"_js2py_traceDeltas": {"trace_deltas": [{"type": "scatter", "uid": figure.data[0].uid}],
                                         "trace_edit_id": 1},
                  "_js2py_layoutDelta": {"layout_delta": {"xaxis": {"range": [0, 1]}}, "layout_edit_id": 1}}
        sent = []
        figure._send = lambda msg, buffers=None, sent=sent: sent.append(msg)
        figure.set_state(report)  # what ipywidgets' comm does with the view's message
        echoed[kind] = sorted(k for m in sent if m.get("method") == "echo_update" for k in m["state"])
        assert figure._js2py_traceDeltas is None  # plotly's handlers read it (and reset it)
    assert echoed[go.FigureWidget] == sorted(report), "plain plotly no longer echoes: the override is moot"
    assert echoed[CompactFigureWidget] == []


def test_a_views_drawing_report_gets_no_message_back():
    """plotly resets a read report to None and sends that reset to the page; the compact
    figure reads the report and sends nothing (the next report has a new edit id)."""
    from sgexplore.widgets.figures import CompactFigureWidget

    answered = {}
    for kind in (go.FigureWidget, CompactFigureWidget):
        figure = kind()
        figure.add_scatter(y=[1.0])
        sent = []
        figure._send = lambda msg, buffers=None, sent=sent: sent.append(msg)
        for edit_id in (1, 2):
            figure.set_state({"_js2py_traceDeltas": {"trace_deltas": [{"type": "scatter", "uid": figure.data[0].uid}],
                                                     "trace_edit_id": edit_id},
                              "_js2py_layoutDelta": {"layout_delta": {"xaxis": {"range": [0, edit_id]}},
                                                     "layout_edit_id": edit_id}})
            assert figure._js2py_traceDeltas is None and figure._js2py_layoutDelta is None  # read by plotly
        answered[kind] = [m for m in sent if m.get("method") == "update" and any(k.startswith("_js2py_") for k in m["state"])]
    assert len(answered[go.FigureWidget]) == 4, "plain plotly no longer sends its resets: the override is moot"
    assert answered[CompactFigureWidget] == []


@pytest.mark.parametrize("how", ["update", "animate"])
def test_a_figure_update_reaches_the_page_as_one_message_with_its_edit_ids(how):
    from sgexplore.widgets.figures import CompactFigureWidget, redraw_traces_only

    counts = {}
    for kind in (go.FigureWidget, CompactFigureWidget):
        figure = kind()
        figure.add_scatter(y=[1.0, 2.0])
        sent = []
        figure._send = lambda msg, buffers=None, sent=sent: sent.append(msg)
        with (figure.batch_update() if how == "update" else redraw_traces_only(figure)):
            figure.data[0].y = [3.0, 4.0]
        counts[kind] = len(sent)
        if kind is CompactFigureWidget:
            (message,) = sent
            state = message["state"]
            assert state["_last_trace_edit_id"] == figure._last_trace_edit_id
            update = state[f"_py2js_{how}"]
            assert update["trace_edit_id"] == figure._last_trace_edit_id
            assert list(update["style_data"]["y"][0] if how == "update" else update["style_data"][0]["y"]) == [3.0, 4.0]
    assert counts[go.FigureWidget] == 4, "plotly's own protocol changed: the override needs a look"


def test_padded_ranges_hold_the_values_and_zero_or_the_decades():
    from sgexplore.widgets.figures import padded_range

    assert padded_range(np.array([1.0, 3.0])) == pytest.approx([-0.15, 3.15])  # 0 included, 5 % each side
    assert padded_range(np.array([-2.0, np.nan, np.inf])) == pytest.approx([-2.1, 0.1])
    assert padded_range(np.array([0.01, 1.0, np.nan, 0.0]), log=True) == pytest.approx([-2.1, 0.1])
    assert padded_range(np.array([0.0, -1.0]), log=True) is None  # nothing a log axis can show


def test_a_drag_replots_only_the_surrogate_curve_and_its_axis():
    explorer = tiny_explorer(steps=4)
    explorer.run()
    acknowledge(explorer.figure)  # a view has drawn the run
    sent, training = [], []
    explorer.lens_figure._send = lambda msg, buffers=None: sent.append(msg["state"])
    explorer.figure._send = lambda msg, buffers=None: training.append(msg["state"])
    scale = explorer.controls["grad_scale"]

    async def drag():
        explorer.debounce_s = 60.0  # nothing trains in this test
        browser_sets(scale, index=scale.index + 3)

    asyncio.run(drag())
    (state,) = [s for s in sent if "_py2js_animate" in s]
    animate = state["_py2js_animate"]
    assert animate["animation_opts"]["frame"]["redraw"] is False
    assert animate["style_traces"] == [_SURROGATE]  # the surrogate curve only
    assert set(animate["layout_data"]) == {"yaxis.range"}
    grad_scale = explorer.panel.build_surrogate().grad_scale
    assert animate["layout_data"]["yaxis.range"][1] == pytest.approx(1.05 * grad_scale)  # FastSigmoid's peak
    assert not [s for s in sent if "_py2js_update" in s or "_py2js_relayout" in s]
    assert not training  # the training figure, with its many panels, is not touched


def test_a_live_run_redraws_new_test_points_at_most_every_interval(monkeypatch):
    import time

    from sgexplore.widgets import training_explorer

    explorer = tiny_explorer(steps=6)  # a test point every 3 steps
    explorer.run()
    tested = sum(r.test_accuracy is not None for r in explorer.records)
    sent = []
    explorer.figure._send = lambda msg, buffers=None: sent.append(msg["state"])

    def draw():
        explorer.figure.data[0].y = []  # so that the draw has something to send
        sent.clear()
        explorer._drawn["tested"] = 0  # as if the test points had come after the last full redraw
        explorer._draw_records(quick=True)
        (state,) = [s for s in sent if "_py2js_update" in s or "_py2js_animate" in s]
        return "full" if "_py2js_update" in state else "quick"

    explorer._full_drawn_at = time.perf_counter()  # a full redraw just now: the points wait
    assert draw() == "quick" and explorer._drawn["tested"] == 0
    monkeypatch.setattr(training_explorer, "FULL_REDRAW_INTERVAL_S", 0.0)
    assert draw() == "full" and explorer._drawn["tested"] == tested
    explorer._drawn["tested"] = 0
    explorer.figure.data[0].y = []
    sent.clear()
    explorer._draw_records(final=True)  # a run's last draw is always a full one
    assert any("_py2js_update" in s for s in sent) and explorer._drawn["tested"] == tested


def test_explorer_figures_send_plotly_bundle_compressed_and_unchanged():
    """Each explorer figure's ``_esm`` is the loader with plotly's exact bundle inside, well
    under half its size (a reload restores every open figure's state: front-end-pitfalls.md)."""
    import base64
    import gzip
    import re

    from sgexplore.widgets.figures import PLOTLY_BUNDLE, CompactFigureWidget

    bundle = PLOTLY_BUNDLE.read_bytes()
    plain = go.FigureWidget()
    assert plain._esm == bundle.decode("utf-8"), "plotly's FigureWidget no longer sends widgetbundle.js"
    for figure in (SurrogateExplorer().figure, TrainingExplorer().figure):
        assert isinstance(figure, CompactFigureWidget)
        packed = re.search(r'const packed = "([A-Za-z0-9+/=]+)";', figure._esm).group(1)
        assert gzip.decompress(base64.b64decode(packed)) == bundle
        assert len(figure._esm) < 0.45 * len(plain._esm)
        # the browser imports the unpacked bundle once per page and wraps its default widget
        # (whose views then follow their container's width: tests/browser/test_layout.py)
        assert "globalThis[key] ??= unpack()" in figure._esm and "const plotlyWidget = bundle.default" in figure._esm
        assert figure._config.get("responsive") is True and figure.layout.width is None
        # a view answers an update with its edit id alone (the pacer's acknowledgement)
        assert 'trace_deltas: [], trace_edit_id: editId' in figure._esm
