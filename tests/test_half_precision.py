"""float16 and bfloat16 with tensor thresholds: the eager and fused backward agree and stay finite.

The hazard (issue 12): in half precision SingleExponential's ``grad_scale / (thr * grad_width)``
overflows to inf, and inf times an exponential that underflowed to 0 is NaN. spike() computes
half precision in float32 and rounds once, as the fused kernels do.
"""

import pytest
import torch

from sgexplore import surrogates as sg
from sgexplore.spike import spike

HALF = [torch.float16, torch.bfloat16]
HAZARDS = [  # large factors at a small threshold
    sg.SingleExponential(grad_width=0.05, grad_scale=100.0),
    sg.DampenedTriangle(dampening=2000.0),
    sg.Gaussian(sigma=0.05, grad_scale=100.0),
    sg.MultiGaussian(sigma=0.05, grad_scale=100.0),
]


def _backward(surrogate, dtype, backend, grad_scale=1e-2, shape=(512, 512)):
    g = torch.Generator().manual_seed(0)
    v = (torch.randn(shape, generator=g) * 0.5).to(dtype).requires_grad_()
    thr = torch.tensor(0.02, dtype=dtype)  # a tensor threshold, as sinabs layers pass it
    spike(v, thr, surrogate, backend=backend).backward(torch.full_like(v, grad_scale))
    return v, thr, v.grad


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("surrogate", HAZARDS, ids=lambda s: type(s).__name__)
def test_eager_half_backward_is_finite_and_one_rounding_of_float64(surrogate, dtype):
    v, thr, grad = _backward(surrogate, dtype, "eager")
    assert grad.dtype == dtype
    assert not bool(torch.isnan(grad).any())
    exact = 1e-2 * surrogate.grad(v.detach().double(), thr.double())
    assert float(exact.abs().max()) < torch.finfo(dtype).max  # representable, so must be finite
    assert bool(torch.isfinite(grad).all())
    # float32 arithmetic, one rounding to the half dtype: within a few of its epsilons
    eps = torch.finfo(dtype).eps
    assert torch.allclose(grad.double(), exact, rtol=2 * eps, atol=float(torch.finfo(dtype).tiny))


@pytest.mark.parametrize("dtype", HALF)
def test_half_gradient_beyond_the_dtype_saturates_to_inf_not_nan(dtype):
    # grad_output 1: the true peak 100 / (0.02 * 0.05) = 1e5 is beyond float16's 65504
    v, thr, grad = _backward(HAZARDS[0], dtype, "eager", grad_scale=1.0)
    assert not bool(torch.isnan(grad).any())
    exact = HAZARDS[0].grad(v.detach().double(), thr.double())
    too_big = exact.abs() > torch.finfo(dtype).max
    assert bool(torch.isinf(grad[too_big]).all()) and bool(torch.isfinite(grad[~too_big]).all())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_float32_and_float64_backward_stay_the_plain_formula(dtype):
    # bitwise grad_output * surrogate.grad(v, thr): what the sinabs parity tests rely on
    surrogate = HAZARDS[0]
    v, thr, grad = _backward(surrogate, dtype, "eager", shape=(4096,))
    assert torch.equal(grad, torch.full_like(v, 1e-2) * surrogate.grad(v.detach(), thr))


@pytest.mark.compile
@pytest.mark.slow
@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("surrogate", HAZARDS[:2], ids=lambda s: type(s).__name__)
def test_fused_half_backward_equals_eager(surrogate, dtype):
    _, _, eager = _backward(surrogate, dtype, "eager")
    _, _, fused = _backward(surrogate, dtype, "fused")
    assert not bool(torch.isnan(fused).any()) and bool(torch.isfinite(fused).all())
    # both compute in float32 and round once; the compiler may reassociate, so allow one ulp
    eps = torch.finfo(dtype).eps
    assert torch.allclose(fused.double(), eager.double(), rtol=eps, atol=float(torch.finfo(dtype).tiny))
