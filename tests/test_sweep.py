"""The shape × scale sweep: scaling to a peak, the grid, executors and the summaries.

Peaks, areas and spreads are checked against closed forms and hand computations, not
against the code under test.
"""

from __future__ import annotations

import concurrent.futures
import math

import numpy as np
import pytest
import torch

from sgexplore import sweep as sw
from sgexplore.surrogates import FastSigmoid, Gaussian, SigmoidDerivative, Triangle
from sgexplore.train import StepRecord, TrainConfig, train

# A run of a few milliseconds: two fixed spike patterns, a handful of steps.
TINY = dict(task="two_patterns", classes=2, units=6, time_steps=10, samples_per_class=10,
            hidden=(8,), batch_size=8, steps=3, test_every=3, seed=3)


def numeric_peak_and_area(surrogate, half_width=40.0, points=400_001):
    v = torch.linspace(1.0 - half_width, 1.0 + half_width, points, dtype=torch.float64)
    g = surrogate(v, 1.0)
    return float(g.max()), float(torch.trapezoid(g, v))


@pytest.mark.parametrize("shape, expected_grad_scale", [
    ("FastSigmoid", lambda s: s),                                    # peak = grad_scale
    (SigmoidDerivative(slope=20.0), lambda s: 4 * s / 20.0),         # peak = grad_scale*slope/4
    (Triangle(grad_width=0.2), lambda s: s),                         # peak = grad_scale
    (Gaussian(sigma=0.3), lambda s: s * 0.3 * math.sqrt(2 * math.pi)),  # peak = gs/(sigma sqrt(2pi))
])
@pytest.mark.parametrize("scale", [0.01, 1.0, 37.0])
def test_surrogate_at_scale_puts_the_peak_at_scale(shape, expected_grad_scale, scale):
    scaled = sw.surrogate_at_scale(shape, scale)
    assert scaled.grad_scale == pytest.approx(expected_grad_scale(scale), rel=1e-6)
    peak, _ = numeric_peak_and_area(scaled)
    assert peak == pytest.approx(scale, rel=1e-4)


def test_surrogate_at_scale_keeps_the_width_of_an_instance():
    scaled = sw.surrogate_at_scale(FastSigmoid(slope=3.0, grad_scale=7.0), 2.0)
    assert scaled.slope == 3.0 and scaled.grad_scale == pytest.approx(2.0)


@pytest.mark.parametrize("scale", [0, -1.0, math.nan, math.inf, True, "1"])
def test_surrogate_at_scale_rejects_bad_scales(scale):
    with pytest.raises(ValueError, match="scale must be a finite number in \\(0, inf\\)"):
        sw.surrogate_at_scale("FastSigmoid", scale)


@pytest.mark.parametrize("shape", ["Heaviside", "DampenedTriangle", "TrueGradient"])
def test_surrogate_at_scale_needs_a_grad_scale(shape):
    with pytest.raises(ValueError, match="has no grad_scale"):
        sw.surrogate_at_scale(shape, 1.0)


def test_zenke_vogels_shapes_have_equal_peak_and_area():
    # Closed forms at peak 1: fast sigmoid 2/slope = 0.2, sigmoid derivative 4/slope = 0.2,
    # triangle half-width 0.2.
    for shape in sw.ZENKE_VOGELS_SHAPES:
        peak, area = numeric_peak_and_area(sw.surrogate_at_scale(shape, 1.0), half_width=2000.0,
                                           points=4_000_001)
        assert peak == pytest.approx(1.0, rel=1e-4)
        assert area == pytest.approx(0.2, rel=2e-3), type(shape).__name__


def test_sweep_configs_cover_the_grid_once():
    base = TrainConfig(**TINY)
    jobs = sw.sweep_configs(["FastSigmoid", Triangle(grad_width=0.2)], [0.1, 10.0], base)
    assert [index for index, _ in jobs] == [(r, i, j) for r in range(2) for i in range(2) for j in range(2)]
    for (r, i, j), config in jobs:
        assert config.detach_reset is (r == 0)  # "detached" first
        assert type(config.surrogate).__name__ == ["FastSigmoid", "Triangle"][i]
        assert config.surrogate.peak() == pytest.approx([0.1, 10.0][j])
        assert config.steps == base.steps and config.seed == base.seed


def test_sweep_fills_each_cell_with_its_own_run():
    shapes, scales = ["FastSigmoid", "Triangle"], [0.5, 5.0]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        result = sw.sweep(shapes, scales, TrainConfig(**TINY), executor=pool, progress=False)
    assert result.loss.shape == result.accuracy.shape == (2, 2, 2)
    assert result.shapes == ("FastSigmoid", "Triangle") and result.scales == (0.5, 5.0)
    # One cell recomputed by hand: mean loss of the last 10 steps (all 3 here), final test accuracy.
    config = TrainConfig(**{**TINY, "surrogate": sw.surrogate_at_scale("Triangle", 5.0),
                            "detach_reset": False})
    records = list(train(config))
    assert result.loss[1, 1, 1] == pytest.approx(np.mean([r.loss for r in records]), rel=1e-6)
    assert result.accuracy[1, 1, 1] == pytest.approx(records[-1].test_accuracy)
    assert (result.diverged_at == -1).all()


class InlineExecutor(concurrent.futures.Executor):
    """The smallest possible Executor: runs each job at submission, in this thread."""

    def __init__(self):
        self.submitted = 0
        self.shut_down = False

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        future = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        self.shut_down = True


def test_sweep_accepts_any_executor_and_leaves_it_open():
    executor = InlineExecutor()
    result = sw.sweep(["FastSigmoid"], [1.0, 2.0, 3.0], TrainConfig(**TINY), executor=executor,
                      progress=False)
    assert executor.submitted == 2 * 1 * 3
    assert not executor.shut_down
    assert np.isfinite(result.loss).all()


@pytest.mark.slow  # starts worker processes that import torch: seconds on 2 cores
def test_default_process_pool_gives_the_same_numbers_as_threads():
    # Workers get pickled TrainConfigs; seeded runs must not depend on where they run.
    shapes, scales = ["SigmoidDerivative"], [2.0]
    in_processes = sw.sweep(shapes, scales, TrainConfig(**TINY), max_workers=2, progress=False)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        in_threads = sw.sweep(shapes, scales, TrainConfig(**TINY), executor=pool, progress=False)
    np.testing.assert_allclose(in_processes.loss, in_threads.loss, rtol=1e-5)
    np.testing.assert_allclose(in_processes.accuracy, in_threads.accuracy)


def _record(step, loss, status="ok", test_accuracy=None):
    return StepRecord(step=step, loss=loss, accuracy=0.5, test_accuracy=test_accuracy,
                      grad_norms=(1.0,), spike_rates=(0.1,), elapsed_s=0.0, status=status)


def test_run_to_end_averages_the_last_losses(monkeypatch):
    losses = [float(k) for k in range(1, 13)]  # 12 steps: the last 10 are 3..12, mean 7.5
    records = [_record(k, loss) for k, loss in enumerate(losses, 1)]
    records[-1] = _record(12, 12.0, test_accuracy=0.75)
    monkeypatch.setattr(sw, "train", lambda config: iter(records))
    summary = sw.run_to_end(TrainConfig(**TINY))
    assert summary == sw.RunSummary(loss=7.5, accuracy=0.75, diverged_at=None)


def test_run_to_end_reports_where_a_run_diverged(monkeypatch):
    records = [_record(1, 1.0), _record(2, 0.9), _record(3, math.inf, status="diverged")]
    monkeypatch.setattr(sw, "train", lambda config: iter(records))
    summary = sw.run_to_end(TrainConfig(**TINY))
    assert summary.diverged_at == 3 and math.isnan(summary.loss) and math.isnan(summary.accuracy)


def hand_made_result():
    # [reset, shape, scale]: 2 resets, 2 shapes, 3 scales
    accuracy = np.array([[[0.90, 0.92, 0.91], [0.88, 0.90, 0.89]],
                         [[0.95, 0.80, 0.40], [0.93, np.nan, 0.30]]])
    diverged = np.full((2, 2, 3), -1)
    diverged[1, 1, 1] = 17
    return sw.SweepResult(shapes=("A", "B"), scales=(0.1, 1.0, 10.0), resets=("detached", "differentiable"),
                          loss=1 - accuracy, accuracy=accuracy, diverged_at=diverged)


def test_spreads_by_hand():
    result = hand_made_result()
    # detached: shape ranges per scale 0.02, 0.02, 0.02 -> 0.02; scale ranges per shape 0.02, 0.02 -> 0.02
    # differentiable: shape ranges 0.02, 0 (one finite value), 0.10 -> 0.04; scale ranges 0.55, 0.63 -> 0.59
    np.testing.assert_allclose(result.shape_spread(), [0.02, 0.04], atol=1e-12)
    np.testing.assert_allclose(result.scale_spread(), [0.02, 0.59], atol=1e-12)


def test_table_marks_diverged_runs_and_rounds():
    text = hand_made_result().table("accuracy")
    assert "accuracy, differentiable reset" in text
    rows = [line.split() for line in text.splitlines() if line.startswith("B")]
    assert rows[1] == ["B", "0.93", "div", "0.30"]


def test_heatmap_has_one_panel_per_metric_and_reset():
    result = hand_made_result()
    figure = result.heatmap()
    assert len(figure.data) == 4
    np.testing.assert_array_equal(figure.data[1].z, result.loss[1])
    np.testing.assert_array_equal(figure.data[2].z, result.accuracy[0])
    with pytest.raises(ValueError, match="metric must be"):
        result.heatmap("speed")


@pytest.mark.parametrize("kwargs, message", [
    (dict(shapes=[], scales=[1.0]), "shapes must be a non-empty list"),
    (dict(shapes="FastSigmoid", scales=[1.0]), "shapes must be a non-empty list"),
    (dict(shapes=["FastSigmoid"], scales=[]), "scales must be a non-empty list"),
    (dict(shapes=["FastSigmoid"], scales=[1.0], resets=["soft"]), "resets must be a non-empty subset"),
    (dict(shapes=["FastSigmoid"], scales=[-1.0]), "scale must be a finite number"),
])
def test_sweep_rejects_bad_grids_before_running(kwargs, message):
    executor = InlineExecutor()
    with pytest.raises(ValueError, match=message):
        sw.sweep(base_config=TrainConfig(**TINY), executor=executor, progress=False, **kwargs)
    assert executor.submitted == 0
