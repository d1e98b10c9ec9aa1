"""sgexplore surrogates in sinabs, snntorch, SpikingJelly and norse, checked against the real packages.

``make test`` installs sinabs 3.1.3, snntorch 1.0.0, norse 1.1.0 and spikingjelly 2.0.0
with ``--no-deps`` (so torch stays as it is). Without them the peer tests skip, except in
CI (``CI`` set), where a missing peer is a failure.
"""

import importlib
import math

import pytest
import torch

from sgexplore import interop, surrogates as sg
from sgexplore.interop import (BUILTINS, FRAMEWORKS, INEXPRESSIBLE, VERSIONS, from_framework, to_norse,
                               to_snntorch, to_spikingjelly, translate)
from sgexplore.spike import spike

PEER_MODULES = {"sinabs": "sinabs.activation", "snntorch": "snntorch", "spikingjelly":
                "spikingjelly.activation_based.surrogate", "norse": "norse.torch"}
REGISTERED = sorted(sg.registry())
THRESHOLDS = (0.5, 1.0, 2.25)  # exact in float32, so v = thr + x is exact on the grid below


@pytest.fixture(scope="module")
def peers():
    """framework -> its imported module, or the reason it is missing."""
    loaded = {}
    for framework, module in PEER_MODULES.items():
        try:
            loaded[framework] = importlib.import_module(module)
        except Exception as exc:  # a peer that fails to import is as missing as an absent one
            loaded[framework] = f"{framework} {VERSIONS[framework]} does not import: {exc!r}"
    return loaded


@pytest.fixture
def peer(peers, unavailable):
    def get(framework):
        module = peers[framework]
        if isinstance(module, str):
            unavailable(f"{module} (make test installs it with --no-deps)")
        return module
    return get


def test_installed_peers_are_the_checked_versions(peer):
    from importlib.metadata import version
    for framework in FRAMEWORKS:
        peer(framework)
        assert version(framework) == VERSIONS[framework]


def offsets(dtype=torch.float32):
    """x on a grid of 2^-10 in [-4, 4]: thr + x and (thr + x) - thr are exact in float32."""
    return torch.arange(-4096, 4097, dtype=dtype) / 1024


def ulps(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a - b| in float32 ulps of the larger of |a| and |b| (0 where a == b)."""
    a, b = a.double(), b.double()
    scale = torch.maximum(a.abs(), b.abs()).float()
    ulp = (torch.nextafter(scale, torch.tensor(math.inf)) - scale).double()
    return torch.where(a == b, torch.zeros_like(a), (a - b).abs() / ulp)


def sgexplore_reference(surrogate, thr, x):
    """Spikes and dS/dx of sgexplore's own spike() at v = thr + x (float32)."""
    return sgexplore_reference_at(surrogate, thr, x + thr)


def sgexplore_reference_at(surrogate, thr, v):
    """Spikes and dS/dv of sgexplore's own spike() at v."""
    v = v.detach().clone().requires_grad_()
    out = spike(v, thr, surrogate, backend="eager")
    out.sum().backward()
    return out.detach(), v.grad


ADAPTERS = {"snntorch": (to_snntorch, "x > 0"), "spikingjelly": (to_spikingjelly, "x >= 0"),
            "norse": (to_norse, "x > 0")}


def _default(name):
    return sg.create(name)


# -- loud misuse --------------------------------------------------------------------------

@pytest.mark.parametrize("name", REGISTERED)
def test_one_argument_call_raises_naming_the_adapter(name):
    surrogate = _default(name)
    with pytest.raises(TypeError, match=r"to_snntorch\(surrogate, spike_threshold=\.\.\.\)") as info:
        surrogate(torch.linspace(-1, 1, 5))
    assert "to_spikingjelly" in str(info.value) and "not spikes" in str(info.value)
    # the two-argument call is unchanged
    assert torch.equal(surrogate(torch.zeros(3), 1.0), surrogate.grad(torch.zeros(3), 1.0))


def test_one_argument_call_raises_inside_snntorch(peer):
    snn = peer("snntorch")
    lif = snn.Leaky(beta=0.9, spike_grad=sg.Gaussian())
    with pytest.raises(TypeError, match="to_snntorch"):
        lif(torch.ones(4))


def test_one_argument_call_raises_inside_spikingjelly(peer):
    peer("spikingjelly")
    from spikingjelly.activation_based import neuron
    lif = neuron.LIFNode(surrogate_function=sg.Gaussian())
    with pytest.raises(TypeError, match="to_spikingjelly"):
        lif(torch.ones(4) * 3)


# -- adapters against sgexplore's spike() ----------------------------------------------------

@pytest.mark.parametrize("framework", sorted(ADAPTERS))
@pytest.mark.parametrize("name", REGISTERED)
@pytest.mark.parametrize("thr", THRESHOLDS)
def test_adapter_matches_spike_within_4_ulp(framework, name, thr, peer):
    if framework == "norse":
        peer("norse")
    make, fires = ADAPTERS[framework]
    surrogate = _default(name)
    x = offsets().requires_grad_()
    out = make(surrogate, spike_threshold=thr)(x)
    out.sum().backward()
    ref_out, ref_grad = sgexplore_reference(surrogate, thr, x.detach())
    off_threshold = x.detach() != 0
    # spikes: the framework's own convention, equal to sgexplore's apart from x == 0
    assert torch.equal(out.detach()[off_threshold], ref_out[off_threshold])
    assert float(out.detach()[~off_threshold]) == (1.0 if fires == "x >= 0" else 0.0)
    assert out.dtype == x.dtype
    worst = float(ulps(x.grad, ref_grad).max())
    assert worst <= 4, f"{name} at thr={thr}: {worst} ulp"


@pytest.mark.parametrize("name", REGISTERED)
def test_adapter_is_bitwise_spike_where_the_framework_offset_is_exact(name):
    """A framework computes x = v - thr itself; for v within a factor 2 of thr that is exact
    (Sterbenz), and the adapter's gradient is then spike()'s to the last bit."""
    thr = 0.7
    v = thr / 2 + torch.rand(50_000, generator=torch.Generator().manual_seed(1)) * (1.5 * thr)
    x = (v - thr).requires_grad_()
    to_snntorch(_default(name), thr)(x).sum().backward()
    _, ref_grad = sgexplore_reference_at(_default(name), thr, v)
    assert torch.equal(x.grad, ref_grad)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_adapter_keeps_dtype_and_matches_in_other_precisions(dtype):
    surrogate = sg.SingleExponential(grad_width=0.05, grad_scale=100.0)
    x = (torch.randn(4096, generator=torch.Generator().manual_seed(0)) * 0.5).to(dtype).requires_grad_()
    to_snntorch(surrogate, 0.02)(x).backward(torch.full_like(x, 1e-2))
    assert x.grad.dtype == dtype and bool(torch.isfinite(x.grad).all())
    exact = 1e-2 * surrogate.grad(x.detach().double() + 0.02, 0.02)
    # one rounding to the dtype (its epsilon), as far as the dtype can carry
    eps = torch.finfo(dtype).eps
    assert torch.allclose(x.grad.double(), exact, rtol=eps, atol=float(torch.finfo(dtype).tiny))


def test_adapters_validate_what_enters():
    with pytest.raises(TypeError, match="Surrogate instance"):
        to_snntorch(lambda v, thr: v)
    with pytest.raises(ValueError, match="spike_threshold must be in"):
        to_spikingjelly(sg.Gaussian(), spike_threshold=-1.0)
    with pytest.raises(TypeError, match="as a number"):
        to_snntorch(sg.Gaussian(), spike_threshold=torch.tensor(1.0))
    with pytest.raises(TypeError, match="floating-point tensor"):
        to_snntorch(sg.Gaussian())([0.1, 0.2])


def test_spikingjelly_adapter_is_a_module_with_a_primitive_mode():
    adapter = to_spikingjelly(sg.FastSigmoid(slope=4.0), spike_threshold=1.5)
    assert isinstance(adapter, torch.nn.Module) and adapter.spiking
    x = offsets()
    adapter.set_spiking_mode(False)
    smooth = adapter(x)
    assert torch.allclose(smooth, sg.FastSigmoid(slope=4.0).primitive(x + 1.5, 1.5))
    assert "FastSigmoid(slope=4" in repr(adapter)


# -- mappings against the peers' own built-ins ------------------------------------------------

def _peer_builtin(entry, peer):
    """The peer's built-in at the entry's default parameters, as a function of x = v - thr."""
    module = peer(entry.framework)
    values = dict(entry.defaults)
    if entry.name == "PiecewiseLeakyReLU":
        values["c"] = 0.0
    if entry.framework == "snntorch":
        return getattr(module.surrogate, entry.name)(**values), values
    if entry.framework == "spikingjelly":
        return getattr(module, entry.name)(**values), values
    if entry.framework == "norse":
        from norse.torch.functional.threshold import threshold
        alpha = torch.tensor(values["alpha"])
        return (lambda x: threshold(x, entry.name, alpha)), values
    return getattr(module, entry.name)(**values), values


def _backward_of(fn, x):
    x = x.detach().clone().requires_grad_()
    out = fn(x)
    if not out.requires_grad:  # norse's "heaviside" is a plain step: no gradient at all
        return torch.zeros_like(x)
    out.sum().backward()
    return x.grad


@pytest.mark.parametrize("entry", BUILTINS, ids=lambda e: f"{e.framework}-{e.name}")
@pytest.mark.parametrize("thr", THRESHOLDS)
def test_mapping_backward_equals_the_peer_builtin(entry, thr, peer):
    if entry.name == "heaviside" and entry.framework == "snntorch" and thr != 1.0:
        with pytest.raises(ValueError, match="only at spike_threshold=1"):
            from_framework(entry.framework, entry.name, spike_threshold=thr)
        return
    builtin, values = _peer_builtin(entry, peer)
    ours = from_framework(entry.framework, entry.name, spike_threshold=thr, **values)
    x = offsets()
    if entry.framework == "sinabs":
        theirs = builtin(x + thr, thr)
    else:
        theirs = _backward_of(builtin, x)
    mine = ours(x + thr, thr)
    if entry.framework == "snntorch" and entry.name == "sigmoid":
        # the peer bug the translation warns about: NaN far below the threshold
        assert bool(torch.isnan(theirs).any()) and bool(torch.isfinite(mine).all())
        finite = torch.isfinite(theirs)
        theirs, mine = theirs[finite], mine[finite]
    if entry.framework == "snntorch" and entry.name == "heaviside":
        # snntorch's 1[x > 0] and sgexplore's 1[x >= 0] differ at x == 0 only
        keep = x != 0
        theirs, mine = theirs[keep], mine[keep]
    # Equal formulas written differently (e.g. SpikingJelly's alpha/sqrt(pi) against sgexplore's
    # sinabs-rounded sigma sqrt(2 pi)) differ by a few float32 roundings, hence 2e-6.
    scale = float(mine.abs().max())
    assert torch.allclose(theirs.double(), mine.double(), rtol=2e-6,
                          atol=1e-6 * scale), f"max diff {float((theirs - mine).abs().max())}"


@pytest.mark.parametrize("entry", BUILTINS, ids=lambda e: f"{e.framework}-{e.name}")
def test_translate_round_trips_every_builtin(entry):
    thr = 1.0
    values = dict(entry.defaults)
    if entry.name == "PiecewiseLeakyReLU":
        values["c"] = 0.0
    surrogate = from_framework(entry.framework, entry.name, **values)
    translation = translate(surrogate, entry.framework, spike_threshold=thr)
    if entry.usable:
        assert translation.exact
        assert translation.builtin is not None
        # the built-in it chose equals the surrogate (another built-in of the same function may win)
        chosen = next(b for b in BUILTINS if b.framework == entry.framework and b.name == translation.builtin)
        assert interop._match(chosen, surrogate, thr) is not None
    else:
        assert not translation.exact and any("peer bug" in n for n in translation.notes)


def test_peer_defaults_are_on_the_slider_grids():
    for entry in BUILTINS:
        values = dict(entry.defaults)
        if entry.name == "PiecewiseLeakyReLU":
            values["c"] = 0.0
        surrogate = from_framework(entry.framework, entry.name, **values)
        for name, declaration in surrogate.params().items():
            value = getattr(surrogate, name)
            assert declaration.on_grid(value), f"{entry.framework} {entry.name}: {name}={value} is off the grid"


def test_peer_defaults_are_slider_options():
    from sgexplore.params import slider_values
    for entry in BUILTINS:
        values = {**entry.defaults, **({"c": 0.0} if entry.name == "PiecewiseLeakyReLU" else {})}
        surrogate = from_framework(entry.framework, entry.name, **values)
        for name, declaration in surrogate.params().items():
            options = slider_values(declaration)
            assert any(math.isclose(getattr(surrogate, name), v, rel_tol=1e-12) for v in options), \
                f"{entry.framework} {entry.name}: {name}"


# -- from_framework's errors ----------------------------------------------------------------

def test_from_framework_names_what_cannot_be_expressed():
    for framework, names in INEXPRESSIBLE.items():
        for name, reason in names.items():
            with pytest.raises(ValueError, match="cannot be expressed") as info:
                from_framework(framework, name)
            assert reason in str(info.value)
    with pytest.raises(ValueError, match="only with c=0"):
        from_framework("spikingjelly", "PiecewiseLeakyReLU")
    with pytest.raises(ValueError, match="framework must be one of"):
        from_framework("lava", "x")
    with pytest.raises(ValueError, match="built-ins"):
        from_framework("snntorch", "nope")
    with pytest.raises(ValueError, match="no parameter"):
        from_framework("snntorch", "fast_sigmoid", alpha=3)
    with pytest.raises(ValueError, match="must be > 0"):
        from_framework("spikingjelly", "Sigmoid", alpha=-1)


def test_from_framework_multiplies_out_relative_widths():
    # SpikingJelly's PiecewiseExp(alpha) decays over 1/alpha volts: at thr = 2 that is
    # sgexplore's relative grad_width 1/(alpha thr).
    s = from_framework("spikingjelly", "PiecewiseExp", spike_threshold=2.0, alpha=4.0)
    assert isinstance(s, sg.SingleExponential) and math.isclose(s.grad_width, 1 / 8) and s.grad_scale == 0.5
    t = translate(sg.SingleExponential(grad_width=0.125, grad_scale=0.5), "spikingjelly", spike_threshold=2.0)
    assert t.exact and "PiecewiseExp(alpha=4.0)" in t.code
    assert any("relative to the threshold" in n for n in t.notes)
    # DampenedTriangle's half-width is the threshold itself
    t = translate(sg.DampenedTriangle(dampening=1.0), "spikingjelly", spike_threshold=2.0)
    assert t.exact and "PiecewiseQuadratic(alpha=0.5)" in t.code


def test_norse_writes_alpha_explicitly_and_names_its_bug():
    t = translate(sg.FastSigmoid(slope=1.0, grad_scale=1.0), "norse")
    assert t.exact and 'method="super", alpha=torch.tensor(100.0)' in t.code
    assert any("ignores alpha" in n for n in t.notes)
    t = translate(sg.FastSigmoid(slope=100.0, grad_scale=1.0), "norse")
    assert not t.exact and "to_norse(FastSigmoid(slope=100.0, grad_scale=1.0), spike_threshold=1.0)" in t.code


def test_translation_notes_say_what_does_not_carry_over():
    for framework in FRAMEWORKS:
        notes = " ".join(translate(sg.Gaussian(), framework).notes)
        assert "threshold:" in notes and "reset:" in notes and "threshold gradient:" in notes
        assert "spike modes:" in notes
    assert "v > thr" in " ".join(translate(sg.Gaussian(), "snntorch").notes)
    assert "as sgexplore does" in " ".join(translate(sg.Gaussian(), "spikingjelly").notes)


# -- every generated snippet runs and matches -------------------------------------------------

SNIPPET_CASES = [(name, framework, thr) for name in REGISTERED for framework in FRAMEWORKS
                 for thr in (1.0, 2.25)]
SNIPPET_CASES += [(f"{e.framework}:{e.name}", e.framework, 1.0) for e in BUILTINS]


def _snippet_surrogate(name):
    if ":" in name:
        framework, builtin = name.split(":")
        values = {"c": 0.0} if builtin == "PiecewiseLeakyReLU" else {}
        return from_framework(framework, builtin, **values)
    return _default(name)


@pytest.mark.parametrize("name,framework,thr", SNIPPET_CASES, ids=lambda v: str(v))
def test_generated_snippet_runs_and_matches(name, framework, thr, peer):
    peer(framework)
    surrogate = _snippet_surrogate(name)
    translation = translate(surrogate, framework, spike_threshold=thr)
    namespace = {}
    exec(compile(translation.code, f"<{framework} snippet>", "exec"), namespace)
    made = namespace[translation.name]
    assert "lif" in namespace
    x = offsets()
    expected = surrogate(x + thr, thr)
    if framework == "sinabs":
        got = made(x + thr, torch.tensor(thr))
    elif framework == "norse":
        from norse.torch.functional.threshold import threshold
        got = _backward_of(lambda z: threshold(z, made.method, made.alpha), x)
        assert float(made.v_th) == thr
    else:
        got = _backward_of(made, x)
    keep = torch.ones_like(x, dtype=torch.bool)
    if translation.exact and framework in ("snntorch", "norse"):
        keep = x != 0  # their built-ins' 1[x > 0] steps differ from sgexplore's at x == 0 only
    scale = float(expected.abs().max())
    assert torch.allclose(got[keep].double(), expected[keep].double(), rtol=2e-6, atol=1e-6 * scale), \
        f"{translation.code}\nmax diff {float((got - expected).abs().max())}"


# -- real neurons of each framework, driven by the adapter -------------------------------------

STEPS, BATCH, WIDTH = 30, 8, 16


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(STEPS, BATCH, WIDTH, generator=g) * 1.2).requires_grad_()


def _run(step, inputs):
    """Spikes (T, B, N) and d(sum of spikes · weights)/d(inputs) of a per-step neuron function."""
    spikes = step(inputs)
    weights = torch.linspace(-1, 1, spikes.numel()).reshape(spikes.shape)
    (spikes * weights).sum().backward()
    grad = inputs.grad.clone()
    inputs.grad = None
    return spikes.detach(), grad


def _snntorch_leaky(spike_grad, thr, beta=0.9):
    import snntorch as snn

    def step(inputs):
        lif = snn.Leaky(beta=beta, threshold=thr, spike_grad=spike_grad, reset_mechanism="subtract")
        mem = lif.reset_mem()
        out = []
        for x in inputs:
            spk, mem = lif(x, mem)
            out.append(spk)
        return torch.stack(out)
    return step


def _unrolled(update):
    """The neuron over time: ``update(v, x) -> (v, spikes)`` from ``v = 0``, spikes stacked over time."""
    def step(inputs):
        v, out = torch.zeros_like(inputs[0]), []
        for x in inputs:
            v, s = update(v, x)
            out.append(s)
        return torch.stack(out)
    return step


def _reference_leaky(surrogate, thr, beta=0.9):
    """snntorch's Leaky (reset by subtraction, reset detached and delayed) written with sgexplore's spike()."""
    def update(mem, x):
        reset = (mem - thr > 0).to(mem.dtype)
        mem = beta * mem + x - reset * thr
        return mem, spike(mem, thr, surrogate, backend="eager")
    return _unrolled(update)


def _spikingjelly_lif(surrogate_function, thr, tau=2.0):
    from spikingjelly.activation_based import functional, neuron

    def step(inputs):
        lif = neuron.LIFNode(tau=tau, v_threshold=thr, v_reset=None, detach_reset=False,
                             surrogate_function=surrogate_function)
        functional.reset_net(lif)
        return torch.stack([lif(x) for x in inputs])
    return step


def _reference_lif_subtract(surrogate, thr, tau=2.0):
    """SpikingJelly's LIFNode (decay_input, soft reset, reset not detached) written with sgexplore's spike()."""
    from sgexplore.spike import reset_subtract

    def update(v, x):
        v = v + (x - v) / tau
        s = spike(v, thr, surrogate, backend="eager")
        return reset_subtract(v, s, thr, detach=False), s
    return _unrolled(update)


def _norse_lif(method, thr, alpha=100.0):
    from norse.torch import LIFCell, LIFParameters

    def step(inputs):
        cell = LIFCell(LIFParameters(v_th=torch.tensor(thr), method=method, alpha=torch.tensor(alpha)))
        state, out = None, []
        for x in inputs:
            z, state = cell(x * 150, state)
            out.append(z)
        return torch.stack(out)
    return step


def _reference_norse(surrogate, thr, dt=1e-3, tau_mem_inv=100.0, tau_syn_inv=200.0):
    """norse's lif_feed_forward_step (reset to 0 through the spike) written with sgexplore's spike()."""
    def step(inputs):
        v = torch.zeros_like(inputs[0])
        i = torch.zeros_like(inputs[0])
        tau_mem_inv_t, tau_syn_inv_t = torch.tensor(tau_mem_inv), torch.tensor(tau_syn_inv)
        v_leak, v_reset, out = torch.tensor(0.0), torch.tensor(0.0), []
        for x in inputs:
            i_new = i + x * 150
            v_decayed = v + dt * tau_mem_inv_t * ((v_leak - v) + i_new)
            i = i_new + (-dt * tau_syn_inv_t * i_new)
            z = spike(v_decayed, thr, surrogate, backend="eager")
            v = (1 - z) * v_decayed + z * v_reset
            out.append(z)
        return torch.stack(out)
    return step


NEURON_SURROGATES = ["Gaussian", "FastSigmoid", "SingleExponential", "Triangle", "MultiGaussian"]


def _assert_neurons_agree(got, ref, what):
    spikes, grad = got
    ref_spikes, ref_grad = ref
    assert spikes.sum() > 0, f"{what}: the neuron never fired, the comparison is empty"
    assert torch.equal(spikes, ref_spikes), f"{what}: spikes differ"
    scale = float(ref_grad.abs().max())
    assert scale > 0
    assert torch.allclose(grad, ref_grad, rtol=1e-4, atol=1e-5 * scale), \
        f"{what}: input gradients differ by {float((grad - ref_grad).abs().max())} (scale {scale})"


#: framework -> (its neuron driven by a spike function, the same neuron written with spike(), adapter)
NEURONS = {
    "snntorch": (_snntorch_leaky, _reference_leaky, to_snntorch),
    "spikingjelly": (_spikingjelly_lif, _reference_lif_subtract, to_spikingjelly),
    "norse": (_norse_lif, _reference_norse, to_norse),
}


@pytest.mark.parametrize("framework", sorted(NEURONS))
@pytest.mark.parametrize("name", NEURON_SURROGATES)
@pytest.mark.parametrize("thr", [1.0, 0.75])
def test_real_neuron_with_adapter_equals_sgexplore(framework, name, thr, peer):
    """snntorch's Leaky, SpikingJelly's LIFNode and norse's LIFCell, driven by the adapter, give
    the spikes and input gradients of the same neuron written with sgexplore's spike()."""
    peer(framework)
    neuron, reference, adapter = NEURONS[framework]
    surrogate = _default(name)
    inputs = _inputs(sorted(NEURONS).index(framework))
    got = _run(neuron(adapter(surrogate, thr), thr), inputs)
    _assert_neurons_agree(got, _run(reference(surrogate, thr), inputs), f"{framework} {name}")


def test_norse_builtin_strings_unchanged_by_the_extended_dispatch(peer):
    peer("norse")
    from norse.torch.functional import threshold as module
    inputs = _inputs(3)
    before = _run(_norse_lif("tanh", 1.0), inputs)
    to_norse(sg.Gaussian())  # extends the dispatch
    assert getattr(module.threshold, "__sgexplore_dispatch__", False)
    after = _run(_norse_lif("tanh", 1.0), inputs)
    assert torch.equal(before[0], after[0]) and torch.equal(before[1], after[1])


SWAPS = [  # (framework, built-in call, the equal sgexplore surrogate)
    ("snntorch", lambda m: m.surrogate.fast_sigmoid(slope=25.0), sg.FastSigmoid(slope=25.0, grad_scale=1.0)),
    ("snntorch", lambda m: m.surrogate.atan(alpha=2.0), sg.ArcTan(alpha=2.0, grad_scale=1.0)),
    ("spikingjelly", lambda m: m.Sigmoid(alpha=4.0), sg.SigmoidDerivative(slope=4.0, grad_scale=1.0)),
    ("spikingjelly", lambda m: m.Erf(alpha=2.0), from_framework("spikingjelly", "Erf", alpha=2.0)),
    ("norse", lambda m: "tanh", from_framework("norse", "tanh", alpha=100.0)),
    ("norse", lambda m: "triangle", from_framework("norse", "triangle", alpha=100.0)),
]


@pytest.mark.parametrize("framework,builtin,surrogate", SWAPS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_swapping_a_builtin_for_the_adapter_changes_nothing(framework, builtin, surrogate, peer):
    module = peer(framework)
    thr = 1.0
    inputs = _inputs(4)
    runner = {"snntorch": _snntorch_leaky, "spikingjelly": _spikingjelly_lif, "norse": _norse_lif}[framework]
    adapter = {"snntorch": to_snntorch, "spikingjelly": to_spikingjelly, "norse": to_norse}[framework]
    theirs = _run(runner(builtin(module), thr), inputs)
    ours = _run(runner(adapter(surrogate, thr), thr), inputs)
    _assert_neurons_agree(ours, theirs, f"{framework} built-in swapped for the adapter")


# -- sinabs stays a plain drop-in ---------------------------------------------------------

@pytest.mark.parametrize("name", REGISTERED)
def test_every_surrogate_drives_a_sinabs_lif(name, peer):
    peer("sinabs")
    import sinabs.activation as sa
    import sinabs.layers as sl
    surrogate = _default(name)
    inputs = (torch.rand(BATCH, STEPS, WIDTH, generator=torch.Generator().manual_seed(5)) * 0.5).requires_grad_()
    lif = sl.LIF(tau_mem=20.0, spike_threshold=torch.tensor(1.0), spike_fn=sa.SingleSpike,
                 surrogate_grad_fn=surrogate, norm_input=False)
    out = lif(inputs)
    out.sum().backward()
    assert out.sum() > 0 and bool(torch.isfinite(inputs.grad).all())
    assert (float(inputs.grad.abs().sum()) > 0) == (name != "TrueGradient")


def test_readme_has_the_generated_mapping_table(repo_root):
    readme = (repo_root / "README.md").read_text()
    assert interop.markdown_mappings() in readme, "run: python -c 'from sgexplore.interop import " \
        "markdown_mappings; print(markdown_mappings())' and paste it into the README"


def test_a_surrogate_called_with_a_number_says_it_wants_a_tensor():
    with pytest.raises(TypeError, match="v_mem must be a floating-point tensor; got float"):
        sg.Gaussian()(0.5, 1.0)
    with pytest.raises(TypeError, match="dtype torch.int64"):
        sg.Gaussian()(torch.arange(3), 1.0)
