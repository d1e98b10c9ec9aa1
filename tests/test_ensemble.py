"""train_many: N configurations in one vectorised pass agree with N separate train() runs.

The reference is train() itself, run on each configuration alone: the two paths share no
code past the network's construction (the ensemble has its own forward, hand-written
backpropagation through time, stacked Adam and batching). Runs here are well-behaved
(peaks at most 2.5, no exploding gradients), so the float rounding the two paths differ
by stays at the last bits and a relative tolerance of 1e-4 holds on any machine.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import pytest

from sgexplore import ensemble, surrogates
from sgexplore.ensemble import SHARED_FIELDS, surrogate_groups, train_many
from sgexplore.surrogates import FastSigmoid, Gaussian, SigmoidDerivative, Triangle
from sgexplore.train import TrainConfig, train

# A small Randman task: a run of 15 steps takes a few tens of milliseconds.
SMALL = dict(task="randman", classes=3, units=10, time_steps=20, samples_per_class=30,
             hidden=(16,), batch_size=16, steps=15, test_every=5, weight_scale=2.0)


def _variants(base: TrainConfig):
    """Several shapes and peaks, both reset gradients, three lrs, two seeds, other lengths."""
    shapes = [FastSigmoid(slope=10.0, grad_scale=0.5), SigmoidDerivative(slope=4.0, grad_scale=2.5),
              Triangle(grad_width=0.5, grad_scale=1.0), Gaussian(sigma=0.3, grad_scale=0.4),
              FastSigmoid(slope=10.0, grad_scale=1.5)]
    configs = []
    for n, surrogate in enumerate(shapes):
        for detach in (True, False):
            configs.append(dataclasses.replace(base, surrogate=surrogate, detach_reset=detach,
                                               lr=(0.003, 0.01, 0.03)[n % 3], seed=n % 2))
    configs[3] = dataclasses.replace(configs[3], steps=9, test_every=4)
    configs[6] = dataclasses.replace(configs[6], weight_scale=1.0)
    return configs


def _assert_same_run(many_records, alone, where):
    assert len(many_records) == len(alone), where
    for a, b in zip(many_records, alone):
        assert (a.step, a.status) == (b.step, b.status), where
        assert a.loss == pytest.approx(b.loss, rel=1e-4), where
        assert a.accuracy == pytest.approx(b.accuracy, abs=1.01 / 16), where  # one sample at most
        assert (a.test_accuracy is None) == (b.test_accuracy is None), where
        if b.test_accuracy is not None:
            assert a.test_accuracy == pytest.approx(b.test_accuracy, abs=1.01 / 30), where
        assert (a.test_loss is None) == (b.test_loss is None), where
        if b.test_loss is not None:
            assert a.test_loss == pytest.approx(b.test_loss, rel=1e-4), where
        assert a.grad_norms == pytest.approx(b.grad_norms, rel=1e-3), where
        assert a.spike_rates == pytest.approx(b.spike_rates, rel=1e-3, abs=1e-6), where


ARCHITECTURES = {
    "subtract": {},
    "zero reset": {"reset": "zero"},
    "no reset": {"reset": "none"},
    "recurrent": {"recurrent": True, "weight_scale": 1.0},
    "two layers": {"hidden": (12, 8)},
    "multi spikes": {"mode": "multi"},
}


@pytest.mark.parametrize("architecture", ARCHITECTURES.values(), ids=ARCHITECTURES.keys())
def test_each_configuration_matches_its_own_train(architecture):
    configs = _variants(TrainConfig(**{**SMALL, **architecture}))
    steps = list(train_many(configs))
    assert len(steps) == max(c.steps for c in configs)
    assert all(len(step) == len(configs) for step in steps)
    for k, config in enumerate(configs):
        mine = [step[k] for step in steps]
        assert all(r is not None for r in mine[:config.steps])
        assert all(r is None for r in mine[config.steps:])  # finished: None from then on
        alone = list(train(config))
        _assert_same_run(mine[:config.steps], alone, f"config {k}")
    # not trivially equal: the configurations really learn differently
    finals = {round(step.loss, 6) for step in steps[SMALL["steps"] - 1] if step is not None}
    assert len(finals) > 5
    # and some learn: a flat curve would agree trivially
    assert min(steps[-1][k].loss / steps[0][k].loss for k in (0, 1, 2, 4)) < 0.9


def test_a_diverged_configuration_ends_alone_and_the_others_go_on():
    base = TrainConfig(**SMALL)
    exploding = dataclasses.replace(base, surrogate=Gaussian(grad_scale=1e6), detach_reset=False)
    calm = dataclasses.replace(base, surrogate=Gaussian(sigma=0.3, grad_scale=0.4))
    steps = list(train_many([calm, exploding, calm]))
    alone = list(train(exploding))
    assert alone[-1].status == "diverged"  # the reference diverges too, at the same step
    diverged_at = alone[-1].step
    mine = [step[1] for step in steps]
    assert mine[diverged_at - 1].status == "diverged"
    assert all(r.status == "ok" for r in mine[:diverged_at - 1])
    assert all(r is None for r in mine[diverged_at:])
    _assert_same_run([step[0] for step in steps], list(train(calm)), "calm")
    assert [step[0].loss for step in steps] == [step[2].loss for step in steps]


def test_surrogates_that_differ_only_in_grad_scale_share_a_group():
    a1, a2 = FastSigmoid(slope=10.0, grad_scale=0.1), FastSigmoid(slope=10.0, grad_scale=7.0)
    b = FastSigmoid(slope=3.0, grad_scale=0.1)
    c = Triangle(grad_width=0.2, grad_scale=2.0)
    order, groups = surrogate_groups([a1, b, c, a2, b])
    assert order == [0, 3, 1, 4, 2]
    assert groups == [(FastSigmoid(slope=10.0, grad_scale=1.0), 2), (FastSigmoid(slope=3.0, grad_scale=1.0), 2),
                      (Triangle(grad_width=0.2, grad_scale=1.0), 1)]


@dataclass(frozen=True)
class SquaredScale(surrogates.Surrogate):
    """grad_scale enters squared: not a factor of the formula, so it may not be pulled out."""

    grad_scale: float = surrogates.field_for(surrogates.GRAD_SCALE)

    def grad(self, v_mem, spike_threshold):
        return self.grad_scale ** 2 / (1 + (v_mem - spike_threshold).abs()) ** 2


def test_a_surrogate_whose_grad_scale_is_not_a_factor_is_its_own_group():
    order, groups = surrogate_groups([SquaredScale(grad_scale=2.0), SquaredScale(grad_scale=3.0)])
    assert [size for _, size in groups] == [1, 1]
    configs = [TrainConfig(**{**SMALL, "steps": 4, "surrogate": SquaredScale(grad_scale=s)}) for s in (0.5, 1.5)]
    steps = list(train_many(configs))
    for k, config in enumerate(configs):
        _assert_same_run([step[k] for step in steps], list(train(config)), f"config {k}")


@pytest.mark.parametrize("name", [n for n in SHARED_FIELDS if n not in ("task", "device", "threads")])
def test_configurations_that_differ_in_architecture_are_refused_naming_the_field(name):
    base = TrainConfig(**SMALL)
    value = {"classes": 4, "units": 12, "time_steps": 25, "manifold_dim": 2, "alpha": 3.0, "samples_per_class": 40,
             "hidden": (8,), "spike_threshold": 0.5, "beta": 0.8, "reset": "zero", "recurrent": True,
             "mode": "multi", "batch_size": 8}[name]
    other = dataclasses.replace(base, **{name: value})
    with pytest.raises(ValueError, match=rf"configs\[1\]\.{name} is .* configurations trained together share {name}"):
        train_many([base, other])


@pytest.mark.parametrize("configs, message", [
    ([], "non-empty list of TrainConfig"),
    (TrainConfig(**SMALL), "non-empty list of TrainConfig"),
    ([TrainConfig(**SMALL), "Gaussian"], r"configs\[1\] must be a TrainConfig"),
])
def test_bad_input_is_refused(configs, message):
    with pytest.raises(ValueError, match=message):
        train_many(configs)


def test_train_many_is_reachable_from_train():
    from sgexplore import train as train_module
    assert train_module.train_many is ensemble.train_many


def test_one_configuration_alone_equals_train():
    config = TrainConfig(**{**SMALL, "surrogate": SigmoidDerivative(slope=4.0, grad_scale=1.0)})
    _assert_same_run([step[0] for step in train_many([config])], list(train(config)), "alone")
    assert math.isfinite(list(train(config))[-1].loss)


@pytest.mark.parametrize("change,message", [({"optimizer": "sgd"}, "Adam only"),
                                            ({"record_every": 5}, "no membrane histograms")])
def test_what_the_ensemble_does_not_do_is_refused_not_ignored(change, message):
    configs = [TrainConfig(**SMALL), dataclasses.replace(TrainConfig(**SMALL), **change)]
    with pytest.raises(ValueError, match=message):
        train_many(configs)


def test_exp_flushed_to_zero_is_exp_except_below_the_floor():
    import torch
    x = torch.cat([torch.linspace(-800.0, 5.0, 20001), torch.tensor([float("nan"), float("inf"), -float("inf")])])
    for dtype in (torch.float32, torch.float64):
        xs = x.to(dtype)
        exact = torch.exp(xs)
        with ensemble._ExpFlushedToZero():
            flushed, method = torch.exp(xs), xs.exp()
        torch.testing.assert_close(flushed, method, rtol=0, atol=0, equal_nan=True)
        smallest = ensemble._ExpFlushedToZero.SMALLEST[dtype]
        above = exact > smallest
        assert above.sum() > 1000 and (~above).sum() > 1000  # both sides are exercised
        assert torch.equal(flushed[above], exact[above])       # bit for bit where it matters
        assert bool((flushed[~above & ~xs.isnan()] == 0).all())
        assert bool((exact[~above & ~xs.isnan()] <= smallest).all())  # what was flushed was that small
        assert flushed[-3].isnan() and flushed[-2] == float("inf")


def test_surrogates_under_the_flush_differ_from_plain_ones_by_at_most_1e_37_of_their_peak():
    import torch
    v_mem = torch.linspace(-6.0, 8.0, 50001)
    for surrogate in (Gaussian(sigma=0.08, grad_scale=100.0), SigmoidDerivative(slope=20.0, grad_scale=5.0),
                      surrogates.SingleExponential(grad_width=0.05, grad_scale=3.0)):
        assert ensemble._calls_exp(surrogate)
        plain = surrogate.grad(v_mem, 1.0)
        with ensemble._ExpFlushedToZero():
            flushed = surrogate.grad(v_mem, 1.0)
        # the flushed exponential (at most 1.6e-38) times the factor in front of it (the
        # sigmoid derivative's is 4 times its peak)
        bound = 1e-37 * plain.max()
        assert (plain - flushed).abs().max() <= bound, type(surrogate).__name__
        assert bool((plain[flushed != plain] <= bound).all())
        assert (flushed != plain).sum() > 100  # the flush did act
    assert not ensemble._calls_exp(FastSigmoid()) and not ensemble._calls_exp(Triangle())


def _input_spikes(n, batch, steps, n_in, seed=0):
    import torch
    generator = torch.Generator().manual_seed(seed)
    dense = (torch.rand(n * batch, steps, n_in, generator=generator) < 0.1).float()
    dense[0] = 0.0  # a sample without spikes: padding only
    times, units, values = ensemble.spike_lists(dense)
    lists = ensemble.InputSpikes(*(a.view(n, batch, -1) for a in (times, units, values)), steps, n_in)
    return lists, dense.view(n, batch, steps, n_in).transpose(1, 2)  # (N, T, B, I)


@pytest.mark.parametrize("hidden", [12, 64])
def test_input_currents_are_the_dense_product_and_so_are_their_gradients(hidden):
    import torch
    n, batch, steps, n_in = 3, 5, 7, 6
    lists, dense = _input_spikes(n, batch, steps, n_in)
    weight = torch.randn(n, hidden, n_in, dtype=torch.float64, requires_grad=True)
    reference_weight = weight.detach().clone().requires_grad_()
    currents = ensemble._SpikeCurrents.apply(weight, ensemble.InputSpikes(
        lists.times, lists.units, lists.values.double(), steps, n_in))
    reference = torch.einsum("ntbi,nhi->ntbh", dense.double(), reference_weight)
    assert torch.allclose(currents, reference, rtol=1e-12, atol=1e-12)
    # a gradient in the layout autograd hands over, and one in another layout (copied first)
    for grad in (torch.randn(n, steps, batch, hidden, dtype=torch.float64),
                 torch.randn(n, batch, steps, hidden, dtype=torch.float64).transpose(1, 2)):
        mine, = torch.autograd.grad(currents, weight, grad, retain_graph=True)
        expected, = torch.autograd.grad(reference, reference_weight, grad, retain_graph=True)
        assert torch.allclose(mine, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reset", ["subtract", "none"])
def test_the_linear_backward_equals_the_step_by_step_one(reset):
    import torch
    config = TrainConfig(**{**SMALL, "reset": reset})
    units = [Gaussian(sigma=0.3), FastSigmoid(slope=5.0)]
    scales = torch.tensor([0.5, 2.0, 1.0, 3.0], dtype=torch.float64)
    spec = ensemble._LayerSpec(config, units, [2, 2], scales, torch.tensor([True, False, False, True]))
    generator = torch.Generator().manual_seed(1)
    membranes = torch.randn(4, 13, 3, 5, generator=generator, dtype=torch.float64) + 0.8
    spikes = (membranes >= spec.spike_threshold).double()
    grad_spikes = torch.randn(membranes.shape, generator=generator, dtype=torch.float64)
    linear = ensemble.LIFEnsemble._backward_linear(spec, grad_spikes, membranes)
    general = ensemble.LIFEnsemble._backward_general(spec, grad_spikes, membranes, spikes, None)[0]
    assert linear.abs().max() > 0.1
    assert torch.allclose(linear, general, rtol=1e-10, atol=1e-12)
