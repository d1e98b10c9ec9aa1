"""The autograd spike: forward semantics, backward == grad_output * surrogate, threshold gradient, resets."""

import math

import pytest
import torch

from sgexplore import surrogates as sg
from sgexplore.spike import reset_subtract, reset_to_value, spike, spike_forward

SURROGATES = [cls() for name, cls in sg.registry().items()]
IDS = [type(s).__name__ for s in SURROGATES]
DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_forward_semantics_by_hand():
    v = torch.tensor([-1.5, 0.0, 0.99, 1.0, 1.5, 2.0, 3.7, 5.2])
    assert spike(v, 1.0, sg.Gaussian()).tolist() == [0, 0, 0, 1, 1, 1, 1, 1]
    assert spike(v, 1.0, sg.Gaussian(), mode="multi").tolist() == [0, 0, 0, 1, 1, 2, 3, 5]
    assert spike(v, 1.0, sg.Gaussian(), mode="max", max_spikes=2).tolist() == [0, 0, 0, 1, 1, 2, 2, 2]
    assert spike(v, 2.0, sg.Gaussian(), mode="multi").tolist() == [0, 0, 0, 0, 0, 1, 1, 2]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("mode", ["single", "multi", "max"])
def test_output_dtype_device_and_values(dtype, mode, device):
    v = torch.linspace(-2, 5, 57, dtype=torch.float64)
    ref = spike_forward(v, 1.0, mode, 3 if mode == "max" else None)
    out = spike(v.to(dtype).to(device), 1.0, sg.FastSigmoid(), mode=mode,
                max_spikes=3 if mode == "max" else None)
    assert out.dtype == dtype and out.device.type == device
    # the grid values are exactly representable in every dtype except near multiples; compare as counts
    exact = (v.to(dtype).to(torch.float64) == v)
    assert torch.equal(out.cpu().to(torch.float64)[exact], ref[exact])


@pytest.mark.parametrize("surrogate", SURROGATES, ids=IDS)
@pytest.mark.parametrize("mode", ["single", "multi", "max"])
def test_backward_is_exactly_grad_output_times_surrogate(surrogate, mode):
    gen = torch.Generator().manual_seed(0)
    v = (torch.rand(200, generator=gen) * 6 - 2).requires_grad_()
    grad_output = torch.randn(200, generator=gen)
    out = spike(v, 1.3, surrogate, mode=mode, max_spikes=2 if mode == "max" else None)
    out.backward(grad_output)
    assert torch.equal(v.grad, grad_output * surrogate(v.detach(), 1.3))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("surrogate", SURROGATES, ids=IDS)
def test_backward_in_every_dtype_matches_float64(dtype, surrogate):
    v64 = torch.linspace(-1, 3, 81, dtype=torch.float64)
    v = v64.to(dtype).requires_grad_()
    spike(v, 1.0, surrogate).sum().backward()
    assert v.grad.dtype == dtype
    want = surrogate(v.detach().to(torch.float64), 1.0)
    tol = {torch.float16: 2e-2, torch.bfloat16: 5e-2}.get(dtype, 1e-6)
    torch.testing.assert_close(v.grad.to(torch.float64), want, rtol=tol, atol=tol)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_backward_matches_cpu():
    v = torch.linspace(-1, 3, 1001).requires_grad_()
    vc = v.detach().cuda().requires_grad_()
    spike(v, 1.0, sg.MultiGaussian()).sum().backward()
    spike(vc, 1.0, sg.MultiGaussian()).sum().backward()
    torch.testing.assert_close(vc.grad.cpu(), v.grad)


TRANSLATION_INVARIANT = [sg.Gaussian(sigma=0.4), sg.MultiGaussian(), sg.FastSigmoid(slope=3.0),
                         sg.ArcTan(), sg.SigmoidDerivative(slope=3.0), sg.Triangle(grad_width=0.8)]


@pytest.mark.parametrize("surrogate", TRANSLATION_INVARIANT, ids=lambda s: type(s).__name__)
def test_threshold_gradient_matches_finite_differences_of_the_smoothed_forward(surrogate):
    """Replace the step by its primitive P(v - thr): d/dthr sum(w * P) must equal the threshold grad."""
    gen = torch.Generator().manual_seed(1)
    v = torch.rand(4, 5, generator=gen, dtype=torch.float64) * 3 - 0.5
    w = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    thr = torch.tensor([0.8, 1.0, 1.2, 1.5, 0.9], dtype=torch.float64, requires_grad=True)  # per neuron
    (w * spike(v, thr, surrogate)).sum().backward()
    h = 1e-6
    fd = torch.zeros(5, dtype=torch.float64)
    for j in range(5):
        bump = torch.zeros(5, dtype=torch.float64)
        bump[j] = h
        plus = (w * surrogate.primitive(v, thr.detach() + bump)).sum()
        minus = (w * surrogate.primitive(v, thr.detach() - bump)).sum()
        fd[j] = (plus - minus) / (2 * h)
    torch.testing.assert_close(thr.grad, fd, rtol=1e-5, atol=1e-8)


def test_threshold_gradient_scalar_tensor_and_no_grad_for_float():
    v = torch.tensor([0.5, 1.0, 1.5], requires_grad=True)
    thr = torch.tensor(1.0, requires_grad=True)
    spike(v, thr, sg.Gaussian()).sum().backward()
    assert thr.grad.shape == () and float(thr.grad) == pytest.approx(-float(v.grad.sum()))
    thr_frozen = torch.tensor(1.0)  # does not require grad: backward must not fail
    v2 = v.detach().clone().requires_grad_()
    spike(v2, thr_frozen, sg.Gaussian()).sum().backward()
    assert thr_frozen.grad is None and torch.equal(v2.grad, v.grad)


def test_only_the_membrane_potential_is_saved():
    v = torch.rand(10, requires_grad=True)
    out = spike(v, 1.0, sg.Gaussian())
    saved = out.grad_fn.saved_tensors
    assert len(saved) == 1 and saved[0].data_ptr() == v.data_ptr()


@pytest.mark.parametrize("kwargs,match", [
    (dict(mode="double"), "mode must be one of"),
    (dict(mode="max"), r"max_spikes must be an integer in \[1, inf\)"),
    (dict(mode="max", max_spikes=0), r"max_spikes must be an integer in \[1, inf\)"),
    (dict(mode="max", max_spikes=1.5), r"max_spikes must be an integer"),
    (dict(mode="single", max_spikes=3), "only used with mode='max'"),
    (dict(spike_threshold=0.0), r"spike_threshold must be in \[0\.001, 1000\]"),
    (dict(spike_threshold=math.nan), r"spike_threshold must be in \[0\.001, 1000\]"),
    (dict(surrogate=lambda v, t: v), "surrogate must be a sgexplore Surrogate"),
])
def test_bad_spike_arguments_raise(kwargs, match):
    args = dict(spike_threshold=1.0, surrogate=sg.Gaussian())
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        spike(torch.zeros(3), **args)


def test_integer_membrane_potential_is_rejected():
    with pytest.raises(ValueError, match="v_mem must be a floating-point tensor"):
        spike(torch.zeros(3, dtype=torch.int64), 1.0, sg.Gaussian())


# -- resets ------------------------------------------------------------------------

def test_reset_subtract_values_and_gradient_flow():
    v = torch.tensor([0.5, 1.2, 2.4], requires_grad=True)
    s = spike(v, 1.0, sg.Gaussian(), mode="multi")
    assert reset_subtract(v, s, 1.0).tolist() == pytest.approx([0.5, 0.2, 0.4])
    g_through = torch.autograd.grad(reset_subtract(v, s, 1.0).sum(), v, retain_graph=True)[0]
    g_detached = torch.autograd.grad(reset_subtract(v, s, 1.0, detach=True).sum(), v)[0]
    surrogate = sg.Gaussian()(v.detach(), 1.0)
    torch.testing.assert_close(g_detached, torch.ones(3))
    torch.testing.assert_close(g_through, 1 - surrogate)


def test_reset_to_value_moves_only_neurons_that_spiked():
    v = torch.tensor([0.3, 0.9, 1.4, 3.0], requires_grad=True)
    s = spike(v, 1.0, sg.Gaussian(), mode="multi")
    out = reset_to_value(v, s, reset_value=-0.5)
    assert out.tolist() == pytest.approx([0.3, 0.9, -0.5, -0.5])  # sinabs would add -0.5 to all
    g_through = torch.autograd.grad(reset_to_value(v, s, -0.5).sum(), v, retain_graph=True)[0]
    g_detached = torch.autograd.grad(reset_to_value(v, s, -0.5, detach=True).sum(), v)[0]
    # detached: d/dv [v (1 - s)] = 1 - s; through: adds (reset_value - v) * ds/dv where s <= 1
    torch.testing.assert_close(g_detached, torch.tensor([1.0, 1.0, 0.0, 0.0]))
    surrogate = sg.Gaussian()(v.detach(), 1.0)
    clamp_passes = torch.tensor([1.0, 1.0, 1.0, 0.0])  # clamp(max=1) blocks where 3 spikes
    want = g_detached + (-0.5 - v.detach()) * surrogate * clamp_passes
    torch.testing.assert_close(g_through, want)
