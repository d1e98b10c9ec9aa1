"""LIF dynamics, the network's shapes, its gradients and its validation.

Expected values come from hand computation (dyadic numbers, exact in float32) or from a
plain loop over time written here independently of sgexplore.snn.
"""

import pytest
import torch

from sgexplore import surrogates
from sgexplore.snn import SNN, LIFParameters, decay_kernel, leaky_integrate, lif_step

FAST = surrogates.FastSigmoid()


def _run_steps(current: float, steps: int, reset: str):
    p = LIFParameters(FAST, beta=0.5, spike_threshold=1.0, reset=reset)
    v = torch.zeros(1)
    spikes, potentials = [], []
    for _ in range(steps):
        s, v = lif_step(torch.full((1,), current), v, p)
        spikes.append(float(s))
        potentials.append(float(v))
    return spikes, potentials


# Constant current 0.75, beta 0.5, threshold 1; hand computed.
# subtract: 0.75 -> 1.125 fires -> 0.125 -> 0.8125 -> 1.15625 fires -> 0.15625
# zero:     0.75 -> 1.125 fires -> 0      -> 0.75   -> 1.125 fires   -> 0
# none:     0.75 -> 1.125 fires -> 1.3125 fires     -> 1.40625 fires
@pytest.mark.parametrize("reset, spikes, potentials", [
    ("subtract", [0, 1, 0, 1], [0.75, 0.125, 0.8125, 0.15625]),
    ("zero", [0, 1, 0, 1], [0.75, 0.0, 0.75, 0.0]),
    ("none", [0, 1, 1, 1], [0.75, 1.125, 1.3125, 1.40625]),
])
def test_lif_step_follows_each_reset_rule(reset, spikes, potentials):
    assert _run_steps(0.75, 4, reset) == (spikes, potentials)


def test_leaky_integrate_matches_closed_form_and_a_loop():
    beta, T = 0.8, 30
    constant = leaky_integrate(torch.ones(T, 1, 1, dtype=torch.float64), beta).flatten()
    closed_form = torch.tensor([(1 - beta ** (t + 1)) / (1 - beta) for t in range(T)], dtype=torch.float64)
    torch.testing.assert_close(constant, closed_form)

    currents = torch.randn(T, 3, 2, generator=torch.Generator().manual_seed(1))
    u, loop = torch.zeros(3, 2), []
    for t in range(T):
        u = beta * u + currents[t]
        loop.append(u)
    torch.testing.assert_close(leaky_integrate(currents, beta), torch.stack(loop))


def test_decay_kernel_is_lower_triangular_powers():
    k = decay_kernel(4, 0.5, torch.float64)
    expected = torch.tensor([[1, 0, 0, 0], [0.5, 1, 0, 0], [0.25, 0.5, 1, 0], [0.125, 0.25, 0.5, 1]],
                            dtype=torch.float64)
    assert torch.equal(k, expected)
    assert torch.equal(decay_kernel(3, 0.0, torch.float64), torch.eye(3, dtype=torch.float64))


def _poisson(T, B, n, p=0.2, seed=0):
    return (torch.rand(T, B, n, generator=torch.Generator().manual_seed(seed)) < p).float()


def _net(**kw):
    kw.setdefault("weight_scale", 3.0)
    return SNN([6, 5, 4, 3], FAST, generator=torch.Generator().manual_seed(0), **kw)


def test_shapes_and_dtypes():
    net = _net()
    x = _poisson(7, 2, 6)
    out = net(x)
    assert out.shape == (7, 2, 3) and out.dtype == torch.float32
    out, spikes = net(x, record=True)
    assert [s.shape for s in spikes] == [(7, 2, 5), (7, 2, 4)]
    assert all(s.dtype == torch.float32 for s in spikes)
    assert set(torch.cat([s.flatten() for s in spikes]).tolist()) <= {0.0, 1.0}
    net64 = _net().double()
    assert net64(x.double()).dtype == torch.float64


def test_input_shape_is_checked():
    with pytest.raises(ValueError, match=r"\(T, B, 6\)"):
        _net()(torch.zeros(7, 2, 5))


def test_same_generator_seed_gives_same_weights():
    a, b = _net(), _net()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def _reference(x, weights, recurrent_weights, beta, thr, reset, detach):
    """A plain loop over time, written from the model equations (not from sgexplore.snn)."""
    layer_in = x
    for i, w in enumerate(weights[:-1]):
        v = torch.zeros(x.shape[1], w.shape[0])
        s = torch.zeros_like(v)
        out = []
        for t in range(x.shape[0]):
            current = layer_in[t] @ w.t()
            if recurrent_weights is not None:
                current = current + s @ recurrent_weights[i].t()
            v = beta * v + current
            s = surrogate_spike(v, thr)
            fired = s.detach() if detach else s
            if reset == "subtract":
                v = v - fired * thr
            elif reset == "zero":
                v = v * (1 - fired)
            out.append(s)
        layer_in = torch.stack(out)
    u, readout = torch.zeros(x.shape[1], weights[-1].shape[0]), []
    for t in range(x.shape[0]):
        u = beta * u + layer_in[t] @ weights[-1].t()
        readout.append(u)
    return torch.stack(readout)


class _SurrogateSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v, thr):
        ctx.save_for_backward(v)
        ctx.thr = thr
        return (v >= thr).float()

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        return grad / (10.0 * torch.abs(v - ctx.thr) + 1) ** 2, None  # FastSigmoid(slope=10)


surrogate_spike = _SurrogateSpike.apply


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("recurrent", [False, True])
def test_network_matches_a_plain_loop_forward_and_backward(reset, detach, recurrent):
    net = _net(beta=0.8, spike_threshold=1.0, reset=reset, detach_reset=detach, recurrent=recurrent)
    x = _poisson(12, 3, 6)
    weights = [layer.weight.detach().clone().requires_grad_() for layer in net.hidden] \
        + [net.readout.weight.detach().clone().requires_grad_()]
    recurrent_weights = ([layer.recurrent_weight.detach().clone().requires_grad_() for layer in net.hidden]
                         if recurrent else None)
    out = net(x)
    expected = _reference(x, weights, recurrent_weights, 0.8, 1.0, reset, detach)
    torch.testing.assert_close(out, expected)
    (out ** 2).sum().backward()
    (expected ** 2).sum().backward()
    mine = [layer.weight.grad for layer in net.hidden] + [net.readout.weight.grad]
    for got, want in zip(mine, weights):
        torch.testing.assert_close(got, want.grad, rtol=1e-4, atol=1e-6)
    if recurrent:
        for layer, want in zip(net.hidden, recurrent_weights):
            torch.testing.assert_close(layer.recurrent_weight.grad, want.grad, rtol=1e-4, atol=1e-6)
    _, spikes = net(x, record=True)
    assert all(float(s.detach().sum()) > 0 for s in spikes), "the test needs a network that spikes"


def _first_layer_grad(**kw):
    net = _net(**kw)
    (net(_poisson(12, 3, 6)) ** 2).sum().backward()
    return net.hidden[0].weight.grad


def test_detach_reset_changes_the_gradient_only_when_there_is_a_reset():
    for reset in ("subtract", "zero"):
        attached = _first_layer_grad(reset=reset, detach_reset=False)
        detached = _first_layer_grad(reset=reset, detach_reset=True)
        assert not torch.allclose(attached, detached), reset
    # With no reset there is no path through it to detach.
    assert torch.equal(_first_layer_grad(reset="none", detach_reset=False),
                       _first_layer_grad(reset="none", detach_reset=True))


def test_true_gradient_stops_all_gradient_below_the_readout():
    net = SNN([6, 5, 3], surrogates.TrueGradient(), weight_scale=3.0,
              generator=torch.Generator().manual_seed(0))
    (net(_poisson(12, 3, 6)) ** 2).sum().backward()
    assert torch.count_nonzero(net.hidden[0].weight.grad) == 0
    assert torch.count_nonzero(net.readout.weight.grad) > 0


def test_multi_mode_counts_threshold_crossings():
    p = LIFParameters(FAST, beta=0.0, spike_threshold=1.0, reset="subtract", mode="multi")
    s, v = lif_step(torch.tensor([2.5, 0.5, 3.0]), torch.zeros(3), p)
    assert s.tolist() == [2.0, 0.0, 3.0] and v.tolist() == [0.5, 0.5, 0.0]


@pytest.mark.parametrize("kwargs, name", [
    (dict(sizes=[3]), "sizes"),
    (dict(sizes=[3, 0, 2]), "sizes"),
    (dict(sizes=[3, 2.5, 2]), "sizes"),
    (dict(beta=1.5), "beta"),
    (dict(spike_threshold=0.0), "spike_threshold"),
    (dict(reset="hard"), "reset"),
    (dict(detach_reset="yes"), "detach_reset"),
    (dict(recurrent=1), "recurrent"),
    (dict(mode="double"), "mode"),
    (dict(mode="max"), "max_spikes"),
    (dict(surrogate="Gaussian"), "surrogate"),
    (dict(weight_scale=-1.0), "weight_scale"),
])
def test_bad_arguments_raise_naming_the_argument(kwargs, name):
    args = dict(sizes=[3, 4, 2], surrogate=FAST)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        SNN(args.pop("sizes"), args.pop("surrogate"), **args)
