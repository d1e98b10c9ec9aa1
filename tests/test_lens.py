"""The membrane-potential lens (sgexplore.lens), its recording in training, test loss and SGD."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from sgexplore import lens, surrogates as sg
from sgexplore.snn import SNN
from sgexplore.train import SGD, TrainConfig, train

TINY = TrainConfig(classes=2, units=10, time_steps=20, samples_per_class=20, hidden=(16, 8),
                   batch_size=16, steps=7, test_every=3)


def _from_offsets(offsets, thr=1.0):
    return lens.histogram(torch.as_tensor(offsets, dtype=torch.float32), thr)


# -- the histogram ---------------------------------------------------------------------------

def test_histogram_counts_every_sample_and_folds_the_tails_into_the_outer_bins():
    g = torch.Generator().manual_seed(0)
    # bin centres plus up to 0.45 of a bin either way (no value near an edge, where float32
    # binning may pick either neighbour), some beyond ±4
    centres = torch.randint(-300, 301, (5, 7, 11), generator=g) * lens.BIN_WIDTH
    offsets = centres + (torch.rand(5, 7, 11, generator=g) - 0.5) * 0.9 * lens.BIN_WIDTH
    h = lens.histogram(offsets, 1.0)
    assert 0 < h.counts[0] < h.total and 0 < h.counts[-1] < h.total
    assert h.total == offsets.numel() and len(h.edges) == len(h.counts) + 1
    flat = offsets.reshape(-1).double().numpy()
    # an independent count: numpy's histogram of the values clipped into the outer bins
    inside = np.clip(flat, h.edges[0], np.nextafter(h.edges[-1], -np.inf))
    expected, _ = np.histogram(inside, bins=h.edges)
    assert np.array_equal(h.counts, expected)
    assert h.counts[0] == int((flat < h.edges[1]).sum())
    assert h.counts[-1] == int((flat >= h.edges[-2]).sum())


def test_membrane_histogram_is_the_histogram_of_v_minus_thr():
    g = torch.Generator().manual_seed(4)
    centres = torch.randint(-150, 151, (4000,), generator=g) * lens.BIN_WIDTH * 1.5
    offsets = centres + (torch.rand(4000, generator=g) - 0.5) * 0.9 * lens.BIN_WIDTH * 1.5
    v = offsets.double() + 1.5  # exact, so v - thr is offsets again
    assert np.array_equal(lens.membrane_histogram(v, 1.5).counts, lens.histogram(offsets.double(), 1.5).counts)


def test_membrane_histograms_bins_each_layer_and_is_none_when_any_holds_nan():
    g = torch.Generator().manual_seed(5)
    layers = [torch.randn(6, 5, n, generator=g) * 0.7 + 0.8 for n in (16, 8)]
    both = lens.membrane_histograms(layers, 1.0)
    assert len(both) == 2
    for hist, v in zip(both, layers):
        assert np.array_equal(hist.counts, lens.membrane_histogram(v, 1.0).counts) and hist.total == v.numel()
    spoiled = [layers[0], layers[1].clone()]
    spoiled[1][3, 2, 1] = math.nan
    assert lens.membrane_histograms(spoiled, 1.0) is None
    with pytest.raises(ValueError, match="NaN"):
        lens.membrane_histogram(spoiled[1], 1.0)


def test_histogram_mean_and_fraction_at_or_above():
    h = _from_offsets([-1.0, -1.0, 0.0, 0.5])
    assert h.mean() == pytest.approx(-0.375)
    assert h.fraction_at_or_above(0.0) == 0.5 and h.fraction_at_or_above(0.4) == 0.25


def test_histogram_edges_scale_with_the_threshold():
    h = _from_offsets([0.0], thr=2.5)
    half = lens.BIN_WIDTH / 2
    assert math.isclose(h.edges[0], -(lens.RANGE + half) * 2.5) and math.isclose(h.edges[-1], (lens.RANGE + half) * 2.5)
    assert np.allclose(np.diff(h.edges), lens.BIN_WIDTH * 2.5)
    assert np.isclose(h.centres, 0).sum() == 1  # one bin is centred on the threshold


def test_snn_records_each_layers_membrane_before_the_spike():
    g = torch.Generator().manual_seed(1)
    net = SNN([6, 5, 3], sg.FastSigmoid(), beta=0.8, spike_threshold=1.0, generator=g)
    x = (torch.rand(12, 4, 6, generator=g) < 0.4).float()
    membranes = []
    net(x, record=True, membranes=membranes)
    # the same layer by hand: integrate, record, spike at v >= thr, subtract the threshold
    current = torch.nn.functional.linear(x, net.hidden[0].weight.detach())
    v, expected = torch.zeros(4, 5), []
    for t in range(12):
        v = current[t].add(v, alpha=0.8)
        expected.append(v.clone())
        v = v - (v >= 1.0).float()
    assert len(membranes) == 1 and torch.equal(membranes[0], torch.stack(expected))


# -- recording in training -------------------------------------------------------------------

def test_records_carry_histograms_on_the_chosen_steps_and_the_last():
    records = list(train(dataclasses.replace(TINY, record_every=3)))
    recorded = [r.step for r in records if r.membrane is not None]
    assert recorded == [3, 6, 7]
    for r in records:
        if r.membrane is not None:
            assert len(r.membrane) == 2  # one per hidden layer
            sizes = [h.total for h in r.membrane]
            assert sizes == [20 * 16 * 16, 20 * 16 * 8]  # time steps x batch x neurons


def test_recording_changes_nothing_else():
    plain = list(train(TINY))
    recorded = list(train(dataclasses.replace(TINY, record_every=1)))
    strip = lambda r: dataclasses.replace(r, elapsed_s=0.0, membrane=None)
    assert [strip(r) for r in plain] == [strip(r) for r in recorded]
    assert all(r.membrane is None for r in plain)


def test_record_every_is_declared_and_checked():
    with pytest.raises(ValueError, match="record_every"):
        TrainConfig(record_every=-1)
    cfg = TrainConfig()
    with pytest.raises(ValueError, match="record_every"):
        cfg.record_every = 1.5


def test_test_loss_comes_with_test_accuracy_and_is_the_test_sets_cross_entropy():
    records = list(train(TINY))
    for r in records:
        assert (r.test_loss is None) == (r.test_accuracy is None)
    tested = [r for r in records if r.test_loss is not None]
    assert [r.step for r in tested] == [3, 6, 7]
    # an untrained network's loss on balanced classes is near log(classes), and training lowers it
    assert all(0 < r.test_loss < 10 for r in tested)


# -- coverage, mean gain, fit_width -----------------------------------------------------------

def _centres_histogram(thr=1.0):
    """One sample at each inner bin's centre: coverage can be counted by hand."""
    edges = lens.edges_for(thr)
    centres = (edges[1:-2] + edges[2:-1]) / 2
    return _from_offsets(centres, thr), centres


def test_coverage_counts_the_samples_where_the_surrogate_reaches_the_level():
    h, centres = _centres_histogram()
    box = sg.Box(grad_width=0.5)
    assert math.isclose(lens.coverage(box, h, 1.0), float((np.abs(centres) < 0.5).mean()))
    gauss = sg.Gaussian(sigma=0.3)
    g = gauss.grad(torch.as_tensor(centres + 1.0, dtype=torch.float64), 1.0).numpy()
    by_hand = float((g >= 0.1 * gauss.peak(1.0)).mean())
    assert math.isclose(lens.coverage(gauss, h, 1.0, level=0.1), by_hand)
    assert lens.coverage(sg.StraightThrough(), h, 1.0) == 1.0
    assert lens.coverage(sg.TrueGradient(), h, 1.0) == 0.0


def test_mean_gain_is_the_mean_surrogate_over_its_peak():
    at_threshold = _from_offsets(torch.zeros(100))
    assert math.isclose(lens.mean_gain(sg.Gaussian(sigma=0.2), at_threshold, 1.0), 1.0, rel_tol=1e-6)
    h, centres = _centres_histogram()
    tri = sg.Triangle(grad_width=1.0)
    assert math.isclose(lens.mean_gain(tri, h, 1.0), float(np.clip(1 - np.abs(centres), 0, None).mean()),
                        rel_tol=1e-9)
    assert lens.mean_gain(sg.StraightThrough(grad_scale=3.0), h, 1.0) == pytest.approx(1.0)


@pytest.mark.parametrize("surrogate", [sg.Gaussian(sigma=0.05), sg.FastSigmoid(slope=100.0),
                                       sg.Triangle(grad_width=0.1), sg.ArcTan(alpha=10.0),
                                       sg.SingleExponential(grad_width=0.05)],
                         ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("target", [0.3, 0.7])
def test_fit_width_reaches_the_requested_coverage(surrogate, target):
    g = torch.Generator().manual_seed(2)
    h = lens.histogram(torch.randn(200_000, generator=g) * 0.8 - 0.5, 1.0)
    fitted = lens.fit_width(surrogate, h, 1.0, coverage=target)
    assert type(fitted) is type(surrogate)
    changed = {k for k, v in fitted.values().items() if v != getattr(surrogate, k)}
    assert changed == {type(surrogate).width}
    got = lens.coverage(fitted, h, 1.0)
    largest_bin = h.fractions().max()
    assert abs(got - target) <= 2 * largest_bin, (got, target)


def test_fit_width_says_when_it_cannot():
    h = _from_offsets(torch.zeros(10))
    with pytest.raises(ValueError, match="no width parameter"):
        lens.fit_width(sg.DampenedTriangle(), h, 1.0)
    # every sample at the threshold: any width reaches all of them, never half
    with pytest.raises(ValueError, match="coverage there is 1 and 1"):
        lens.fit_width(sg.Box(grad_width=0.5), h, 1.0, coverage=0.5)


def test_lens_inputs_are_checked():
    h = _from_offsets([0.0])
    with pytest.raises(ValueError, match="level"):
        lens.coverage(sg.Gaussian(), h, 1.0, level=0.0)
    with pytest.raises(ValueError, match="coverage"):
        lens.fit_width(sg.Gaussian(), h, 1.0, coverage=1.0)
    with pytest.raises(TypeError, match="MembraneHistogram"):
        lens.mean_gain(sg.Gaussian(), [1, 2], 1.0)
    with pytest.raises(TypeError, match="Surrogate"):
        lens.coverage("Gaussian", h, 1.0)
    with pytest.raises(ValueError, match="spike_threshold"):
        lens.coverage(sg.Gaussian(), h, -1.0)


def test_a_too_narrow_surrogate_reaches_few_neurons_in_a_real_run():
    record = list(train(dataclasses.replace(TINY, record_every=7)))[-1]
    h = record.membrane[0]
    narrow, wide = sg.Gaussian(sigma=0.05), sg.Gaussian(sigma=0.5)
    assert lens.coverage(narrow, h, 1.0) < lens.coverage(wide, h, 1.0)
    assert lens.mean_gain(narrow, h, 1.0) < lens.mean_gain(wide, h, 1.0)


# -- the optimizer choice ------------------------------------------------------------------

def test_sgd_is_torchs_sgd():
    g = torch.Generator().manual_seed(3)
    ours = [torch.randn(4, 3, generator=g).requires_grad_() for _ in range(2)]
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    opt_ours, opt_theirs = SGD(ours, lr=0.1), torch.optim.SGD(theirs, lr=0.1)
    for _ in range(3):
        for params, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            opt.zero_grad()
            sum((p ** 2).sum() * (i + 1) for i, p in enumerate(params)).backward()
            opt.step()
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)


def test_plain_gradient_descent_feels_the_surrogate_scale_and_adam_does_not():
    # one hidden layer, detached reset: the hidden weights' gradient is proportional to
    # grad_scale, the readout's does not depend on it
    base = dataclasses.replace(TINY, hidden=(16,), detach_reset=True, steps=10)

    def losses(optimizer, lr, surrogate):
        cfg = dataclasses.replace(base, optimizer=optimizer, lr=lr, surrogate=surrogate)
        return np.array([r.loss for r in train(cfg)])

    adam = losses("adam", 0.05, sg.FastSigmoid())
    # the hidden layer's learning matters here: without its gradient the run differs
    assert np.abs(adam - losses("adam", 0.05, sg.TrueGradient())).max() > 1e-2
    # Adam divides the scale out (up to its eps): the same run at ten times the scale
    assert np.abs(adam - losses("adam", 0.05, sg.FastSigmoid(grad_scale=10.0))).max() < 1e-4
    # plain gradient descent steps ten times further
    sgd = losses("sgd", 0.5, sg.FastSigmoid())
    assert np.abs(sgd - losses("sgd", 0.5, sg.FastSigmoid(grad_scale=10.0))).max() > 1e-2


# -- the lens in the TrainingExplorer ----------------------------------------------------------

def _explorer(**values):
    from sgexplore.widgets import TrainingExplorer
    return TrainingExplorer(config=dataclasses.replace(TINY, hidden=(16, 8), steps=10), **values)


def test_explorer_draws_each_layers_histogram_on_the_surrogates_axis():
    from sgexplore.widgets.training_explorer import LENS_EVERY, _MEMBRANE
    explorer = _explorer(surrogate="Gaussian", sigma=0.3)
    try:
        records = explorer.run()
        assert explorer.config.record_every == LENS_EVERY
        last = records[-1].membrane  # step 10 is recorded (every 5, and the last)
        assert last is not None and explorer.membrane is last
        for index, h in enumerate(last):
            trace = explorer.lens_figure.data[_MEMBRANE + index]
            np.testing.assert_array_equal(trace.x, h.centres + 1.0)
            np.testing.assert_array_equal(trace.y, h.fractions())
        assert len(explorer.lens_figure.data[_MEMBRANE + 2].x) == 0  # no third hidden layer
        # the same v axis as the surrogate curve
        assert explorer.lens_figure.layout.xaxis2.matches == "x"
        cover = lens.coverage(explorer.config.surrogate, last[1], 1.0)
        assert f"hidden 2: gradient reaches {cover:.0%}" in explorer.lens_readout.value
    finally:
        explorer.close()


def test_explorer_draws_train_and_test_loss():
    from sgexplore.widgets.training_explorer import _LOSS, _TEST_LOSS
    explorer = _explorer()
    try:
        records = explorer.run()
        tested = [r for r in records if r.test_loss is not None]
        np.testing.assert_array_equal(explorer.figure.data[_TEST_LOSS].x, [r.step for r in tested])
        np.testing.assert_array_equal(explorer.figure.data[_TEST_LOSS].y, [r.test_loss for r in tested])
        np.testing.assert_array_equal(explorer.figure.data[_LOSS].y, [r.loss for r in records])
    finally:
        explorer.close()


def test_fit_width_button_fits_to_layer_one_and_retrains():
    explorer = _explorer(surrogate="Gaussian", sigma=0.05)
    try:
        explorer.run()
        before = explorer.membrane[0]
        expected = lens.fit_width(sg.Gaussian(sigma=0.05), before, 1.0, coverage=0.5)
        assert explorer.fit_width()
        assert explorer.config.surrogate == expected
        assert explorer.controls["sigma"].value == expected.sigma
        # what is drawn is a fresh run at the fitted width
        fresh = list(train(explorer.config))
        assert [r.loss for r in explorer.records] == [r.loss for r in fresh]
        assert lens.coverage(expected, before, 1.0) == pytest.approx(0.5, abs=0.05)
    finally:
        explorer.close()


def test_fit_width_without_a_width_says_so():
    explorer = _explorer(surrogate="DampenedTriangle")
    try:
        assert not explorer.fit_width()  # nothing recorded yet
        assert "no membrane histogram" in explorer.message
        explorer.run()
        assert not explorer.fit_width()
        assert "no width parameter" in explorer.message
    finally:
        explorer.close()


def test_explorer_has_an_optimizer_control_that_retrains():
    explorer = _explorer()
    try:
        explorer.run()
        control = explorer.controls["optimizer"]
        assert list(control.options) == ["adam", "sgd"] and control.value == "adam"
        control.value = "sgd"
        assert explorer.config.optimizer == "sgd"
        assert [r.loss for r in explorer.records] == [r.loss for r in train(explorer.config)]
    finally:
        explorer.close()


def test_a_recorded_step_with_nan_membranes_ends_the_run_as_diverged():
    exploding = dataclasses.replace(TINY, hidden=(16,), surrogate=sg.Gaussian(grad_scale=1e6),
                                    beta=1.0, steps=30, record_every=1)
    records = list(train(exploding))
    assert records[-1].status == "diverged" and records[-1].membrane is None
    assert all(r.membrane is not None for r in records[:-1])
