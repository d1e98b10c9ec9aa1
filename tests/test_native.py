"""sgexplore.native: the C kernels of the ensemble's one-layer network.

Two references, neither of which shares code with the kernels:
* each surrogate's own ``grad`` (PyTorch), for the C translation of it;
* the ensemble's PyTorch layers (``SGEXPLORE_NATIVE=0``), which tests/test_ensemble.py holds
  to ``train()`` for the networks the kernels do not serve, for whole training runs; for the
  ones they serve, test_ensemble holds the kernels to ``train()`` directly.
Runs are well-behaved (no exploding gradients), so the two paths' rounding differences
stay at the last bits and the stated relative tolerances hold on any machine.
"""

from __future__ import annotations

import dataclasses
import math
import random
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from sgexplore import ensemble, lens, native, surrogates
from sgexplore.params import params_of
from sgexplore.surrogates import (ArcTan, Box, FastSigmoid, Gaussian, SigmoidDerivative, SingleExponential,
                                  Surrogate, Triangle)
from sgexplore.train import TrainConfig

SMALL = dict(task="randman", classes=3, units=10, time_steps=20, samples_per_class=30,
             hidden=(16,), batch_size=16, steps=12, test_every=4, weight_scale=2.0)


@pytest.fixture(scope="module")
def _module_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("native_cache"))


@pytest.fixture(autouse=True)
def own_kernel_cache(_module_cache, monkeypatch):
    """Kernels and translations of this module's tests in a folder of their own (a stale
    file in the user's cache would hide a change), and no kernel cached in memory before."""
    monkeypatch.setattr(native, "cache_dir", lambda: _module_cache)
    native._kernel_unlocked.cache_clear()
    native._cached_expression.cache_clear()
    yield
    native._kernel_unlocked.cache_clear()
    native._cached_expression.cache_clear()


@pytest.fixture
def kernels_here(unavailable):
    """Skip (fail under CI) where the native kernels cannot be built."""
    reason = native.unavailable_reason()
    if reason is not None:
        unavailable(f"native kernels unavailable: {reason}")


def _slider_settings(cls, rng: random.Random):
    """A random setting of ``cls``'s parameters on their sliders (log sliders in log)."""
    values = {}
    for name, declaration in params_of(cls).items():
        if declaration.choices is not None or name == "grad_scale":
            continue
        low, high, _ = declaration.slider
        if declaration.log:
            values[name] = 10 ** rng.uniform(math.log10(low), math.log10(high))
        else:
            values[name] = rng.uniform(low, high)
    return values


@pytest.mark.parametrize("name", sorted(surrogates.registry()))
def test_every_builtin_surrogate_is_translated_and_its_c_values_match_its_grad(name, kernels_here):
    cls = surrogates.registry()[name]
    rng = random.Random(name)
    settings = [{}] + [_slider_settings(cls, rng) for _ in range(3)]
    for values in settings:
        try:
            unit = cls(**values)
        except ValueError:  # a combination the class refuses (e.g. a lobe wider than allowed)
            continue
        kernel = native.NativeKernel(unit, 16, 3)
        for thr in (0.5, 1.0, 2.0):
            scale = unit.length_scale(thr)
            v = (thr + torch.linspace(-8.0, 8.0, 3001) * scale).to(torch.float32)
            expected = unit.grad(v, thr).to(torch.float32)
            got = kernel.surrogate(v, thr)
            peak = float(expected.abs().max())
            # float32 rounding of a chain of ops (and a 2-ulp exp): 2e-5 relative, 1e-6 of the peak
            torch.testing.assert_close(got, expected, rtol=2e-5, atol=1e-6 * peak + 1e-30,
                                       msg=lambda m: f"{unit!r} at thr={thr}: {m}")


@pytest.mark.parametrize("thr", [0.5, 1.0, 2.0])
def test_every_builtin_surrogate_passes_the_check_the_ensemble_runs(thr, kernels_here):
    units = [cls() for cls in surrogates.registry().values()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a kernel refused by its check would warn
        kernels = native.kernels_for(units, thr, 16, 3)
    assert kernels is not None and len(kernels) == len(units)


def test_the_check_refuses_wrong_values_and_wrong_infinities(kernels_here, own_registry):
    kernel = native.NativeKernel(FastSigmoid(), 16, 3)
    assert kernel.check(1.0) is None
    for change in (lambda g: g * (1 + 1e-3), lambda g: torch.where(g > 0.5, torch.inf, g),
                   lambda g: torch.where(g > 0.5, torch.nan, g)):
        class Off(FastSigmoid):  # the same floats, another grad: the C no longer matches it
            def grad(self, v_mem, spike_threshold, change=change):
                return change(FastSigmoid.grad(self, v_mem, spike_threshold))

        kernel.unit = Off()
        assert kernel.check(1.0) is not None


def test_the_c_exp_is_within_two_ulp_and_flushes_below_e_to_the_minus_87(kernels_here, own_registry):
    @surrogates.register
    @dataclass(frozen=True)
    class PlainExp(Surrogate):
        def grad(self, v_mem, spike_threshold):
            return torch.exp(v_mem - spike_threshold)

    kernel = native.NativeKernel(PlainExp(), 16, 3)
    x = torch.linspace(-86.9, 88.7, 200001, dtype=torch.float32)
    exact = torch.exp(x.double())
    got = kernel.surrogate(x, 0.0).double()
    ulp = torch.abs(torch.nextafter(exact.float(), torch.tensor(math.inf)).double() - exact.float().double())
    assert float(((got - exact).abs() / ulp).max()) <= 2.0
    edges = torch.tensor([-1000.0, -87.0, -87.5, 88.8, 1000.0, math.inf, -math.inf, math.nan])
    assert kernel.surrogate(edges, 0.0).tolist()[:7] == [0.0, 0.0, 0.0, math.inf, math.inf, math.inf, 0.0]
    assert math.isnan(kernel.surrogate(edges, 0.0)[7])


def _all_steps(configs):
    return list(ensemble.train_many(configs))


def _assert_close_runs(native_steps, torch_steps):
    assert len(native_steps) == len(torch_steps)
    for step, (mine, theirs) in enumerate(zip(native_steps, torch_steps), 1):
        for k, (a, b) in enumerate(zip(mine, theirs)):
            where = f"step {step}, config {k}"
            assert (a is None) == (b is None), where
            if a is None:
                continue
            assert (a.step, a.status) == (b.step, b.status), where
            assert a.loss == pytest.approx(b.loss, rel=1e-5), where
            assert a.accuracy == pytest.approx(b.accuracy, abs=1.01 / 16), where  # one sample at most
            assert a.grad_norms == pytest.approx(b.grad_norms, rel=1e-4), where
            assert a.spike_rates == pytest.approx(b.spike_rates, rel=1e-5, abs=1e-7), where
            assert (a.test_loss is None) == (b.test_loss is None), where
            if b.test_loss is not None:
                assert a.test_loss == pytest.approx(b.test_loss, rel=1e-5), where
                assert a.test_accuracy == pytest.approx(b.test_accuracy, abs=1.01 / 30), where


SHAPES = [FastSigmoid(slope=10.0, grad_scale=0.5), SigmoidDerivative(slope=4.0, grad_scale=2.5),
          Triangle(grad_width=0.5), Gaussian(sigma=0.3, grad_scale=0.4), ArcTan(alpha=2.0, grad_scale=0.3),
          SingleExponential(grad_width=0.3), Box(grad_width=0.4), FastSigmoid(slope=10.0, grad_scale=1.5)]


@pytest.mark.parametrize("reset", ["subtract", "none"])
def test_training_with_the_kernels_matches_the_pytorch_path(reset, kernels_here, monkeypatch):
    base = TrainConfig(**SMALL, reset=reset)
    configs = [dataclasses.replace(base, surrogate=shape, detach_reset=detach, lr=(0.003, 0.01, 0.03)[n % 3],
                                   seed=n % 2)
               for n, shape in enumerate(SHAPES) for detach in (True, False)]
    configs[3] = dataclasses.replace(configs[3], steps=7, test_every=3)
    _, groups = ensemble.surrogate_groups([c.surrogate for c in configs])
    assert native.kernels_for([unit for unit, _ in groups], 1.0, 16, 3) is not None  # the kernels do run
    native_steps = _all_steps(configs)
    monkeypatch.setenv(native.ENV_SWITCH, "0")
    torch_steps = _all_steps(configs)
    _assert_close_runs(native_steps, torch_steps)


def _stack(config: TrainConfig):
    data = ensemble._Data([config])
    return ensemble._Stack([config], [0], data.n_in)


def test_the_sweeps_network_takes_the_kernels_and_other_networks_do_not(kernels_here):
    base = TrainConfig(**SMALL)
    assert _stack(base).kernels is not None
    assert _stack(dataclasses.replace(base, reset="none")).kernels is not None
    for change in (dict(reset="zero"), dict(recurrent=True), dict(hidden=(12, 8)), dict(mode="multi")):
        assert _stack(dataclasses.replace(base, **change)).kernels is None, change


def test_the_switch_turns_the_kernels_off(monkeypatch):
    monkeypatch.setenv(native.ENV_SWITCH, "0")
    assert native.ENV_SWITCH in native.unavailable_reason()
    assert _stack(TrainConfig(**SMALL)).kernels is None


def test_without_a_compiler_the_ensemble_trains_with_pytorch(monkeypatch):
    monkeypatch.setenv("CC", "/nonexistent/sgexplore-test-cc")
    assert "no C compiler" in native.unavailable_reason()
    config = TrainConfig(**SMALL)
    assert _stack(config).kernels is None
    steps = list(ensemble.train_many([config]))
    assert len(steps) == config.steps and math.isfinite(steps[-1][0].loss)


def test_a_failed_build_warns_once_and_falls_back(monkeypatch, kernels_here):
    monkeypatch.setattr(native, "_failure", [])

    def broken(source):
        raise OSError("No space left on device (test)")  # the machine's trouble, not one kernel's

    monkeypatch.setattr(native, "_build", broken)
    with pytest.warns(RuntimeWarning, match="trains with PyTorch instead"):
        assert native.kernels_for([FastSigmoid()], 1.0, 16, 3) is None
    assert "No space left" in native.unavailable_reason()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert native.kernels_for([Triangle()], 1.0, 16, 3) is None  # no second warning


def test_c_the_compiler_rejects_is_one_surrogates_fallback_not_a_global_one(monkeypatch, kernels_here):
    monkeypatch.setattr(native, "_failure", [])
    real_source = native.c_source

    def broken_source(unit, hidden, classes):
        source, count = real_source(unit, hidden, classes)
        return (source + "\nthis is not C;\n", count) if isinstance(unit, Triangle) else (source, count)

    monkeypatch.setattr(native, "c_source", broken_source)
    with pytest.warns(RuntimeWarning, match="compiling the native kernel failed"):
        assert native.kernels_for([Triangle(grad_width=0.37)], 1.0, 16, 3) is None
    assert native.unavailable_reason() is None  # other surrogates still get their kernels
    assert native.kernels_for([FastSigmoid(slope=9.0)], 1.0, 16, 3) is not None


def test_a_surrogate_the_translator_cannot_write_trains_with_pytorch(own_registry, monkeypatch, kernels_here):
    @surrogates.register
    @dataclass(frozen=True)
    class TanhBump(Surrogate):
        width: float = 0.5

        def grad(self, v_mem, spike_threshold):
            return 1 - torch.tanh((v_mem - spike_threshold) / self.width) ** 2

    with pytest.raises(native.Untranslatable, match="tanh"):
        native.sg_expression(TanhBump())
    config = TrainConfig(**SMALL, surrogate=TanhBump())
    assert _stack(config).kernels is None
    mine = [step[0] for step in ensemble.train_many([config])]
    monkeypatch.setenv(native.ENV_SWITCH, "0")
    theirs = [step[0] for step in ensemble.train_many([config])]
    assert [(r.loss, r.grad_norms) for r in mine] == [(r.loss, r.grad_norms) for r in theirs]


def test_a_surrogate_holding_a_tensor_is_not_compiled(own_registry, kernels_here):
    # a tensor (or any object) could change in place and leave a compiled kernel stale
    @dataclass(frozen=True, eq=False)
    class Scaled(Surrogate):
        scale: torch.Tensor = None

        def grad(self, v_mem, spike_threshold):
            return self.scale * torch.exp(-(v_mem - spike_threshold) ** 2)

    with pytest.raises(native.Untranslatable, match="scale"):
        native.sg_expression(Scaled(scale=torch.tensor(2.0)))


def test_a_kernel_that_fails_its_check_is_not_used(monkeypatch, kernels_here):
    monkeypatch.setattr(native.NativeKernel, "check", lambda self, thr: "differs (test)")
    with pytest.warns(RuntimeWarning, match="differs from its grad"):
        assert native.kernels_for([Gaussian(sigma=0.3)], 1.0, 16, 3) is None


def test_a_kernel_cache_others_can_write_to_is_refused(monkeypatch, tmp_path, kernels_here):
    shared = tmp_path / "cache"
    shared.mkdir()
    shared.chmod(0o777)  # anyone could plant a library here
    monkeypatch.setattr(native, "cache_dir", lambda: str(shared))
    monkeypatch.setattr(native, "_failure", [])
    with pytest.warns(RuntimeWarning, match="not a folder private to this user"):
        assert native.kernels_for([FastSigmoid(slope=7.0)], 1.0, 16, 3) is None
    assert list(shared.iterdir()) == []  # nothing was written, nothing loaded


def test_op_arguments_are_read_by_their_schema_names(own_registry, kernels_here):
    # alpha (keyword and default), rsub's reversed operands, clamp_min and clamp's max,
    # where with a full_like branch, and pow with a scalar exponent
    @dataclass(frozen=True)
    class Mixed(Surrogate):
        def grad(self, v_mem, spike_threshold):
            x = v_mem - spike_threshold
            a = torch.rsub(x, 2.0, alpha=3.0)              # 2 - 3x
            b = torch.add(x, a, alpha=0.5)
            c = torch.clamp_min(b, -1.0) + torch.clamp(x, max=0.5)
            return torch.where(x > 0, c, torch.full_like(x, 0.25)) * torch.pow(x, 2)

    v = torch.linspace(-3.0, 3.0, 1001)
    got = native.NativeKernel(Mixed(), 16, 3).surrogate(v, 1.0)
    x = v - 1.0
    expected = torch.where(x > 0, torch.clamp(x + 0.5 * (2 - 3 * x), min=-1.0) + torch.clamp(x, max=0.5),
                           torch.tensor(0.25)) * x * x
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [FastSigmoid(slope=10.0, grad_scale=0.5), Gaussian(sigma=0.3, grad_scale=0.4)],
                         ids=["FastSigmoid", "Gaussian"])
@pytest.mark.parametrize("detach", [True, False])
def test_train_runs_the_kernels_and_matches_its_module_path(shape, detach, kernels_here, monkeypatch):
    from sgexplore.train import Run, train

    config = TrainConfig(**SMALL, surrogate=shape, detach_reset=detach)
    run = Run(config)
    assert run._state.native_network and run._state._native_logits(torch.arange(4)) is not None
    mine = list(train(config))
    monkeypatch.setenv(native.ENV_SWITCH, "0")
    theirs = list(train(config))
    _assert_close_runs([(r,) for r in mine], [(r,) for r in theirs])


def test_the_kernels_give_the_lens_the_membranes_the_module_gives(kernels_here, monkeypatch):
    from sgexplore.train import Run

    config = TrainConfig(**SMALL, record_every=1)
    run = Run(config)
    assert run._state.native_network and run._state._native_logits(torch.arange(4)) is not None
    mine = run.step().membrane
    monkeypatch.setenv(native.ENV_SWITCH, "0")
    theirs = Run(config).step().membrane  # the first step: the same weights, the module's forward
    assert len(mine) == len(theirs) == 1
    (a,), (b,) = mine, theirs
    np.testing.assert_array_equal(a.edges, b.edges)
    assert a.counts.sum() == b.counts.sum() > 0
    # the same values up to float rounding: a sample may sit in the bin next door, no more
    assert np.abs(a.counts - b.counts).sum() <= 2e-4 * a.counts.sum(), np.abs(a.counts - b.counts).sum()


@pytest.mark.parametrize("thr", [1.0, 0.37])
def test_the_kernels_bin_their_membranes_exactly_as_the_lens_bins_them(thr, kernels_here, monkeypatch):
    from sgexplore import train as train_module

    seen = []

    class _AlsoMembranes(train_module._OneNetwork):  # the kernel writes the membranes out too
        def __init__(self, config):
            super().__init__(config)
            self.membranes = torch.empty(1, config.batch_size, SMALL["time_steps"], config.hidden[0])
            seen.append(self)

    monkeypatch.setattr(train_module, "_OneNetwork", _AlsoMembranes)
    config = TrainConfig(**SMALL, record_every=2, spike_threshold=thr)
    run = train_module.Run(config)
    assert run._state.native_network
    records = [run.step() for _ in range(3)]
    assert [r.membrane is not None for r in records] == [False, True, False]
    (binned_by_kernel,) = records[1].membrane
    (membranes,) = [spec.membranes for spec in seen if hasattr(spec, "histograms")]
    (binned_by_lens,) = lens.membrane_histograms([membranes], thr)
    np.testing.assert_array_equal(binned_by_kernel.edges, binned_by_lens.edges)
    assert binned_by_kernel.total == membranes.numel() and binned_by_kernel.counts[1:-1].sum() > 0
    np.testing.assert_array_equal(binned_by_kernel.counts, binned_by_lens.counts)


def test_the_lens_looking_on_changes_nothing_the_run_trains(kernels_here):
    from sgexplore.train import train

    config = TrainConfig(**SMALL)
    plain = list(train(config))
    watched = list(train(dataclasses.replace(config, record_every=2)))
    assert [(r.loss, r.grad_norms, r.test_loss) for r in watched] == [(r.loss, r.grad_norms, r.test_loss) for r in plain]
    assert all(r.membrane is not None for r in watched if r.step % 2 == 0)
