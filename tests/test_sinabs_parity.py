"""Numerical identity with sinabs 3.1.3, quirks included.

sinabs' package ``__init__`` pulls in hardware tool-chains (samna, nir), so the two
pure-torch modules are loaded straight from the installed files. ``make test`` installs
sinabs 3.1.3 with ``--no-deps`` for this comparison; without it the tests skip, except in
CI (``CI`` set), where a missing reference is a failure.
"""

import importlib.util
from pathlib import Path

import pytest
import torch

from sgexplore import surrogates as sg
from sgexplore.spike import spike


def _load_sinabs_module(relative_path, unavailable):
    spec = importlib.util.find_spec("sinabs")
    if spec is None or not spec.submodule_search_locations:
        unavailable("sinabs 3.1.3 is not installed (make test installs it with --no-deps)")
    path = Path(list(spec.submodule_search_locations)[0]) / relative_path
    module_spec = importlib.util.spec_from_file_location(f"_sinabs_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sinabs_sg(unavailable):
    return _load_sinabs_module("activation/surrogate_gradient_fn.py", unavailable)


@pytest.fixture(scope="module")
def sinabs_spikes(unavailable):
    return _load_sinabs_module("activation/spike_generation.py", unavailable)


def test_reference_is_sinabs_3_1_3(unavailable):
    from importlib.metadata import PackageNotFoundError, version
    try:
        installed = version("sinabs")
    except PackageNotFoundError as exc:
        unavailable(f"sinabs not installed: {exc}")
    assert installed == "3.1.3"


CASES = [
    ("Heaviside", {}), ("Heaviside", {"window": 0.3}),
    ("Gaussian", {}), ("Gaussian", {"mu": 0.25, "sigma": 0.2, "grad_scale": 3.0}),
    ("MultiGaussian", {}), ("MultiGaussian", {"mu": -0.3, "sigma": 0.7, "h": 0.4, "s": 2.5, "grad_scale": 0.5}),
    ("MultiGaussian", {"h": 0.0}),
    ("SingleExponential", {}), ("SingleExponential", {"grad_width": 0.15, "grad_scale": 2.0}),
    ("PeriodicExponential", {}), ("PeriodicExponential", {"grad_width": 0.8, "grad_scale": 0.3}),
]


@pytest.mark.parametrize("name,params", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
@pytest.mark.parametrize("thr", [0.5, 1.0, 2.3])
def test_surrogates_identical_to_sinabs_float32(sinabs_sg, name, params, thr):
    v = torch.linspace(-3, 9, 4001)
    ours = sg.registry()[name](**params)(v, thr)
    theirs = getattr(sinabs_sg, name)(**params)(v, thr)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("name,params", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_surrogates_match_sinabs_float64_and_tensor_threshold(sinabs_sg, name, params):
    v = torch.linspace(-3, 9, 4001, dtype=torch.float64)
    thr = torch.tensor(1.7, dtype=torch.float64)
    ours = sg.registry()[name](**params)(v, thr)
    theirs = getattr(sinabs_sg, name)(**params)(v, thr)
    if name == "Heaviside":
        # sinabs' Heaviside computes in float32 whatever the input; ours keeps float64
        assert theirs.dtype == torch.float32 and ours.dtype == torch.float64
        torch.testing.assert_close(ours.to(torch.float32), theirs, rtol=1.2e-7, atol=0)  # 1 ulp
    else:
        assert ours.dtype == theirs.dtype and torch.equal(ours, theirs)


@pytest.mark.parametrize("mode", ["single", "multi", "max"])
def test_spike_forward_and_backward_match_sinabs(sinabs_spikes, mode):
    surrogate = sg.MultiGaussian()
    gen = torch.Generator().manual_seed(3)
    v = torch.rand(500, generator=gen) * 8 - 2
    grad_output = torch.randn(500, generator=gen)
    mine = v.clone().requires_grad_()
    theirs = v.clone().requires_grad_()
    out = spike(mine, 1.3, surrogate, mode=mode, max_spikes=3 if mode == "max" else None)
    if mode == "single":
        ref = sinabs_spikes.SingleSpike.apply(theirs, 1.3, surrogate)
    elif mode == "multi":
        ref = sinabs_spikes.MultiSpike.apply(theirs, 1.3, surrogate)
    else:
        ref = sinabs_spikes.MaxSpike(max_num_spikes_per_bin=3).apply(theirs, 1.3, surrogate)
    assert torch.equal(out, ref)
    out.backward(grad_output)
    ref.backward(grad_output)
    assert torch.equal(mine.grad, theirs.grad)
