"""The fused (compiled) spike path against the eager one, the auto choice, and the fallback.

Compilation is slow on a small CPU, so the tensors are small, ``backend="fused"`` is
forced, and the compiled kernels are shared: one backward per surrogate and dtype
(the backward does not depend on the mode), one forward per mode and dtype. CUDA tests
run where a GPU exists (``pytest tests/test_fused.py -k cuda``) and skip elsewhere.
The tests that compile are marked ``compile`` (about 70 s together on 2 cores with a cold compiler
cache), which ``make unit`` leaves out.
"""

import subprocess
import sys
import warnings

import pytest
import torch

from torch.fx.experimental.proxy_tensor import make_fx

from sgexplore import fused
from sgexplore.spike import MODES, spike, surrogate_backward
from sgexplore.surrogates import Gaussian, MultiGaussian, PeriodicExponential, registry

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device here (CI has none; run on a GPU machine)"))]
DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


def grid(dtype, device):
    """v on (k + 1/2)/64 over [-2, 4): exact in every dtype, and never on a step of the
    forward (multiples of thr) nor on a jump of a surrogate (Heaviside's 0, Box's
    thr +- 1/2), where two correct roundings could fall on different sides."""
    return ((torch.arange(-128, 256, dtype=torch.float64) + 0.5) / 64).to(device, dtype)


def spike_and_grads(v, threshold, surrogate, mode, backend, grad_output):
    v = v.detach().clone().requires_grad_()
    inputs = [v] + ([threshold] if isinstance(threshold, torch.Tensor) and threshold.requires_grad else [])
    out = spike(v, threshold, surrogate, mode, 3 if mode == "max" else None, backend=backend)
    grads = torch.autograd.grad(out, inputs, grad_output)
    return out.detach(), grads


def assert_grad_close(fused_grad, eager_grad, exact):
    """float32/64: fused equals eager to a few ulps. float16/bfloat16: eager rounds every
    intermediate to the low precision while the fused kernel computes in float32 and
    rounds once, so fused must be at least as close to the float64 ``exact`` value as
    eager is, give or take one unit in the last place of the result."""
    dtype = fused_grad.dtype
    if dtype in (torch.float32, torch.float64):
        rtol = 1e-5 if dtype == torch.float32 else 1e-12
        torch.testing.assert_close(fused_grad, eager_grad, rtol=rtol, atol=rtol * exact.abs().max().item())
        return
    finfo = torch.finfo(dtype)
    ulp = finfo.eps * exact.abs() + finfo.tiny
    fused_error = (fused_grad.double() - exact).abs()
    eager_error = (eager_grad.double() - exact).abs()
    worst = (fused_error - eager_error - ulp).max().item()
    assert worst <= 0, f"fused is {worst:.3g} further from exact than eager, beyond one ulp"


@pytest.mark.compile  # compiles kernels: seconds each on 2 cores
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(registry()))
def test_fused_matches_eager_for_every_mode_and_dtype(name, device):
    surrogate = registry()[name]()
    for dtype in DTYPES:
        v = grid(dtype, device)
        grad_output = torch.linspace(-1.0, 2.0, v.numel(), dtype=torch.float64).to(device, dtype)
        exact = (grad_output.double() * surrogate.grad(v.double(), 1.0)).to("cpu")
        for mode in MODES:
            eager_out, (eager_grad,) = spike_and_grads(v, 1.0, surrogate, mode, "eager", grad_output)
            fused_out, (fused_grad,) = spike_and_grads(v, 1.0, surrogate, mode, "fused", grad_output)
            assert fused_out.dtype == dtype and fused_grad.dtype == dtype
            assert torch.equal(fused_out, eager_out), (dtype, mode)
            assert_grad_close(fused_grad.cpu(), eager_grad.cpu(), exact)


@pytest.mark.compile  # compiles kernels: seconds each on 2 cores
@pytest.mark.parametrize("device", DEVICES)
def test_fused_threshold_gradient_matches_eager(device):
    """A per-neuron threshold tensor that requires grad: both gradients agree."""
    surrogate = MultiGaussian()
    v = grid(torch.float32, device).reshape(96, 4)
    grad_output = torch.linspace(-1.0, 2.0, v.numel(), device=device).reshape(96, 4)
    threshold = torch.tensor([0.75, 1.0, 1.25, 1.5], device=device, requires_grad=True)
    for mode in MODES:
        eager_out, eager_grads = spike_and_grads(v, threshold, surrogate, mode, "eager", grad_output)
        fused_out, fused_grads = spike_and_grads(v, threshold, surrogate, mode, "fused", grad_output)
        assert torch.equal(fused_out, eager_out), mode
        for fused_grad, eager_grad in zip(fused_grads, eager_grads):
            torch.testing.assert_close(fused_grad, eager_grad, rtol=1e-5, atol=1e-5)
    assert eager_grads[1].shape == threshold.shape and eager_grads[1].abs().sum() > 0


@pytest.mark.compile  # compiles kernels: seconds each on 2 cores
def test_new_parameter_values_and_thresholds_stay_correct_in_a_bounded_cache(monkeypatch):
    """Parameters and float thresholds are runtime inputs on CPU: a new value reuses the
    kernel and gets its own result (never a stale one); the cache stays bounded."""
    monkeypatch.setattr(fused, "CACHE_SIZE", 3)
    monkeypatch.setattr(fused, "_compiled", type(fused._compiled)())
    v = grid(torch.float32, "cpu")
    grad_output = torch.linspace(-1.0, 2.0, v.numel())
    for sigma, threshold in [(0.2, 0.8), (1.3, 1.5), (0.2, 0.8)]:
        surrogate = Gaussian(sigma=sigma, mu=0.1, grad_scale=2.0)
        eager_out, (eager_grad,) = spike_and_grads(v, threshold, surrogate, "multi", "eager", grad_output)
        fused_out, (fused_grad,) = spike_and_grads(v, threshold, surrogate, "multi", "fused", grad_output)
        assert torch.equal(fused_out, eager_out)
        torch.testing.assert_close(fused_grad, eager_grad, rtol=1e-5, atol=1e-6)
        assert len(fused._compiled) <= 3


@pytest.mark.compile  # compiles kernels: seconds each on 2 cores
def test_fused_double_backward_matches_eager():
    """create_graph=True differentiates the eager ops, so second derivatives agree."""
    surrogate = Gaussian()
    second = {}
    for backend in ("eager", "fused"):
        v = grid(torch.float64, "cpu").requires_grad_()
        (grad_v,) = torch.autograd.grad(spike(v, 1.0, surrogate, backend=backend).sum(), v, create_graph=True)
        (second[backend],) = torch.autograd.grad(grad_v.sum(), v)
    torch.testing.assert_close(second["fused"], second["eager"])
    assert second["eager"].abs().max() > 0


def test_auto_is_eager_below_the_threshold_and_fused_from_it(monkeypatch):
    monkeypatch.setattr(fused, "_failure", None)
    min_numel = fused.AUTO_MIN_NUMEL["cpu"]
    assert fused.choose_backend(torch.empty(min_numel - 1), "auto") == "eager"
    assert fused.choose_backend(torch.empty(min_numel), "auto") == "fused"
    assert fused.choose_backend(torch.empty(10 * min_numel), "eager") == "eager"
    assert fused.choose_backend(torch.empty(3), "fused") == "fused"


def test_auto_keeps_toy_snn_sized_tensors_eager():
    """A batch of 256 x 128 hidden neurons, larger than the toy SNN's steps, stays eager."""
    assert fused.choose_backend(torch.empty(256, 128), "auto") == "eager"


def test_unknown_backend_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="backend must be one of"):
        spike(torch.zeros(3), 1.0, Gaussian(), backend="triton")


@pytest.fixture
def compiler_fails(monkeypatch):
    """Every compilation fails, with an empty kernel cache and no failure recorded yet."""
    def broken_compile(function, args):
        def fails(*call_args):
            raise RuntimeError("simulated compiler failure")
        return fails

    monkeypatch.setattr(fused, "_compile", broken_compile)
    monkeypatch.setattr(fused, "_compiled", type(fused._compiled)())
    monkeypatch.setattr(fused, "_failure", None)


def test_compile_failure_falls_back_to_eager_warns_once_and_is_remembered(compiler_fails):
    v = grid(torch.float32, "cpu").repeat(fused.AUTO_MIN_NUMEL["cpu"] // 384 + 1)
    grad_output = torch.ones_like(v)
    eager_out, (eager_grad,) = spike_and_grads(v, 1.0, Gaussian(), "single", "eager", grad_output)
    assert fused.choose_backend(v, "auto") == "fused"
    with pytest.warns(RuntimeWarning, match="simulated compiler failure"):
        out, (grad,) = spike_and_grads(v, 1.0, Gaussian(), "single", "auto", grad_output)
    assert torch.equal(out, eager_out) and torch.equal(grad, eager_grad)
    assert fused.choose_backend(v, "auto") == "eager"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning
        spike_and_grads(v, 1.0, Gaussian(), "single", "auto", grad_output)
    with pytest.raises(RuntimeError, match="backend='fused' is impossible here.*simulated"):
        spike(v, 1.0, Gaussian(), backend="fused")


def test_forced_fused_raises_clearly_when_compilation_fails(compiler_fails):
    with pytest.raises(RuntimeError, match="backend='fused' is impossible here.*simulated"):
        spike(torch.zeros(4), 1.0, Gaussian(), backend="fused")


@pytest.mark.slow  # a fresh interpreter imports torch: seconds on 2 cores
def test_importing_sgexplore_does_not_import_the_compiler():
    code = ("import sys, torch, sgexplore; "
            "sgexplore.spike(torch.zeros(1000), 1.0, sgexplore.surrogates.Gaussian()); "
            "print('torch._dynamo' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.compile  # compiles kernels: seconds each on 2 cores
def test_cpu_kernels_serve_any_layout_and_compile_once_per_layout(monkeypatch):
    """CPU kernels are compiled for exact shapes and strides: a transposed input, a view
    that starts one element into its storage (misaligned), a grad_output expanded from
    a scalar (stride 0) and another shape with the same number of elements all get the
    eager result; a repeated call compiles nothing new."""
    monkeypatch.setattr(fused, "_compiled", type(fused._compiled)())
    surrogate = MultiGaussian(sigma=0.3)
    storage = grid(torch.float32, "cpu").repeat(11)  # 4224 = 64 * 66 elements
    inputs = [storage[:4096].reshape(64, 64), storage[:4096].reshape(64, 64).t(),
              storage[1:4097].reshape(64, 64), storage[:4096].reshape(32, 128)]
    for v in inputs:
        results = {}
        for backend in ("eager", "fused"):
            leaf = v.detach().requires_grad_()
            out = spike(leaf, 1.0, surrogate, "multi", backend=backend)
            (grad_sum,) = torch.autograd.grad(out.sum(), leaf)  # grad_output has stride 0
            results[backend] = out, grad_sum
        assert torch.equal(results["fused"][0], results["eager"][0])
        torch.testing.assert_close(results["fused"][1], results["eager"][1], rtol=1e-5, atol=1e-6)
    compiled = len(fused._compiled)
    leaf = inputs[0].detach().requires_grad_()
    torch.autograd.grad(spike(leaf, 1.0, surrogate, "multi", backend="fused").sum(), leaf)
    assert len(fused._compiled) == compiled > 0


def _traced_backward(surrogate, threshold=1.0):
    v = grid(torch.float32, "cpu")
    grad_output = torch.linspace(-1.0, 2.0, v.numel())
    graph = make_fx(lambda g, x: surrogate_backward(g, x, threshold, surrogate), tracing_mode="fake")(grad_output, v)
    return graph, (grad_output, v)


def _count(graph, target):
    return sum(1 for node in graph.graph.nodes if node.target is target)


def test_divisions_by_constants_become_multiplications_in_smooth_formulas():
    aten = torch.ops.aten
    surrogate = MultiGaussian(mu=0.1, sigma=0.3, h=0.2, s=5.0)
    graph, inputs = _traced_backward(surrogate)
    before = graph(*inputs)
    divisions = _count(graph, aten.div.Tensor)
    assert divisions == 6  # three Gaussians, each divided twice by a constant
    assert fused.multiply_by_reciprocals(graph) == 6
    assert _count(graph, aten.div.Tensor) == 0
    torch.testing.assert_close(graph(*inputs), before, rtol=1e-6, atol=1e-7)


def test_divisions_feeding_floor_comparisons_or_where_conditions_stay_divisions():
    """x / 0.3 and x * (1/0.3) can differ by one ulp, which floor() or a comparison
    could turn into a different period or branch: such divisions are left alone."""
    aten = torch.ops.aten
    graph, inputs = _traced_backward(PeriodicExponential(grad_width=0.3), threshold=0.7)
    before = graph(*inputs)
    floor_input = [node for node in graph.graph.nodes if node.target is aten.floor.default][0].args[0]
    periodic_division = floor_input.args[0]  # v / thr, then - 0.5, then floor
    assert periodic_division.target is aten.div.Tensor
    turned = fused.multiply_by_reciprocals(graph)
    assert periodic_division.target is aten.div.Tensor  # kept
    assert turned == 1  # only |.| / grad_width, which flows into exp alone
    torch.testing.assert_close(graph(*inputs), before, rtol=1e-6, atol=1e-7)

    def condition(x):
        return torch.where(x / 0.3 > 1.0, x / 0.7, x)

    graph = make_fx(condition, tracing_mode="fake")(inputs[1])
    assert fused.multiply_by_reciprocals(graph) == 1  # x / 0.7, a value; not x / 0.3
    assert _count(graph, aten.div.Tensor) == 1


def test_identity_ops_are_dropped_and_results_stay_bit_identical():
    aten = torch.ops.aten
    x = torch.tensor([-0.0, 0.0, -1.5, 2.25, float("inf"), float("-inf"), float("nan")])

    def chain(x):
        return ((x * 1) / 1.0 - 0) + 0.0  # the + 0.0 turns -0.0 into 0.0: it must stay

    graph = make_fx(chain, tracing_mode="fake")(x)
    assert fused.drop_identity_ops(graph) == 3
    assert [node.target for node in graph.graph.nodes if node.op == "call_function"] == [aten.add.Tensor]
    expected, got = chain(x), graph(x)
    assert torch.equal(torch.signbit(got), torch.signbit(expected))
    torch.testing.assert_close(got, expected, rtol=0, atol=0, equal_nan=True)

    def promotes(n):
        return n * 1.0  # int64 -> float32: not a no-op

    graph = make_fx(promotes, tracing_mode="fake")(torch.arange(3))
    assert fused.drop_identity_ops(graph) == 0


@pytest.mark.compile  # compiles kernels: seconds each on 2 cores
def test_a_mutable_user_surrogate_changed_between_calls_gets_a_fresh_kernel(monkeypatch):
    """A float attribute is a runtime input; one inside an object the surrogate holds, or
    a tensor it holds, is compiled in as a constant, so changing it (or the tensor in
    place) must change the key. Either way each call gets the current values."""
    from dataclasses import dataclass, field

    from sgexplore.surrogates import Surrogate

    @dataclass
    class Shape:
        width: float = 0.5

    @dataclass  # not frozen: a user may assign to it
    class Bump(Surrogate):
        shape: Shape = field(default_factory=Shape)
        scale: torch.Tensor = None
        offset: float = 0.0

        def grad(self, v_mem, spike_threshold):
            x = (v_mem - spike_threshold - self.offset) / self.shape.width
            return self.scale * torch.exp(-x ** 2)

    monkeypatch.setattr(fused, "_compiled", type(fused._compiled)())
    surrogate = Bump(scale=torch.tensor(1.0))
    v = grid(torch.float32, "cpu")
    grad_output = torch.linspace(-1.0, 2.0, v.numel())
    previous = None
    for change in (None, "offset", "nested width", "scale in place"):
        if change == "offset":
            surrogate.offset = 0.25
        elif change == "nested width":
            surrogate.shape.width = 0.2
        elif change == "scale in place":
            surrogate.scale.mul_(3.0)
        _, (eager_grad,) = spike_and_grads(v, 1.0, surrogate, "single", "eager", grad_output)
        _, (fused_grad,) = spike_and_grads(v, 1.0, surrogate, "single", "fused", grad_output)
        torch.testing.assert_close(fused_grad, eager_grad, rtol=1e-5, atol=1e-6)
        assert previous is None or not torch.allclose(eager_grad, previous), change  # it did change
        previous = eager_grad


@pytest.mark.compile  # a fresh interpreter imports and runs the compiler
def test_fused_compiles_when_warnings_are_errors():
    """torch's own DeprecationWarnings while compiling must not fail the compilation of a
    user who runs with -W error (as pytest's filterwarnings = error does)."""
    code = ("import torch, sgexplore; v = torch.linspace(-2, 4, 384, requires_grad=True); "
            "out = sgexplore.spike(v, 1.0, sgexplore.surrogates.Gaussian(), backend='fused'); "
            "out.sum().backward(); print(float(v.grad.sum()))")
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    expected = Gaussian().grad(torch.linspace(-2, 4, 384), 1.0).sum().item()
    assert abs(float(result.stdout) - expected) < 1e-4 * abs(expected)


@pytest.mark.compile  # compiles kernels: seconds each on 2 cores
def test_the_cuda_route_matches_eager_when_exercised_on_the_cpu():
    """CUDA kernels come from torch.compile with dynamic shapes (_compile_dynamo); CI
    has no GPU, so that route's wrapper is run here on CPU tensors of two sizes."""
    surrogate = MultiGaussian(sigma=0.3)
    backward = fused._compile_dynamo(surrogate_backward)
    for numel in (384, 1000):
        v = torch.linspace(-2.0, 4.0, numel)
        grad_output = torch.linspace(-1.0, 2.0, numel)
        expected = surrogate_backward(grad_output, v, 1.0, surrogate)
        torch.testing.assert_close(backward(grad_output, v, 1.0, surrogate), expected, rtol=1e-5, atol=1e-6)


# -- runtime parameters: one compilation for every value ---------------------------------

@pytest.fixture
def fresh_cache(monkeypatch, tmp_path):
    """An empty kernel cache, no failure recorded, Inductor's files in ``tmp_path``."""
    monkeypatch.setattr(fused, "_compiled", type(fused._compiled)())
    monkeypatch.setattr(fused, "_constants_only", set())
    monkeypatch.setattr(fused, "_failure", None)
    monkeypatch.setattr(fused, "disk_cache_dir", lambda: str(tmp_path / "inductor"))


@pytest.mark.compile  # compiles kernels: seconds each on 2 cores
@pytest.mark.slow     # a tensor of the fused size, 20 forward and backward passes
def test_twenty_grad_scale_values_at_a_fused_size_cost_one_compilation(fresh_cache):
    """At the size where "auto" fuses, 20 successive grad_scale values compile the forward
    and the backward once (the first value) and then none, and every value's gradient
    still equals eager's (float32 rounding apart)."""
    numel = fused.AUTO_MIN_NUMEL["cpu"]
    v = ((torch.arange(numel, dtype=torch.float64) % 384 - 128 + 0.5) / 64).float()
    grad_output = torch.linspace(-1.0, 2.0, numel)
    assert fused.choose_backend(v, "auto") == "fused"
    before = fused.compilations()
    after_first = None
    for value in torch.logspace(-2, 2, 20, dtype=torch.float64).tolist():
        surrogate = MultiGaussian(grad_scale=value)
        fused_out, (fused_grad,) = spike_and_grads(v, 1.0, surrogate, "single", "auto", grad_output)
        eager_out, (eager_grad,) = spike_and_grads(v, 1.0, surrogate, "single", "eager", grad_output)
        assert torch.equal(fused_out, eager_out)
        torch.testing.assert_close(fused_grad, eager_grad, rtol=1e-5, atol=1e-6 * value)
        after_first = fused.compilations() if after_first is None else after_first
    assert after_first - before == 2  # the forward and the backward, for the first value
    assert fused.compilations() == after_first  # and nothing for the 19 others


@pytest.mark.compile  # compiles kernels: seconds each on 2 cores
def test_thresholds_and_every_builtin_parameter_are_runtime_inputs(fresh_cache):
    """A second value of every parameter of every built-in, and another float threshold,
    reuse the kernels compiled for the first; results follow the new values exactly as
    eager computes them (float32 and float64)."""
    for dtype in (torch.float32, torch.float64):
        v = grid(dtype, "cpu")
        grad_output = torch.linspace(-1.0, 2.0, v.numel(), dtype=dtype)
        for name, cls in sorted(registry().items()):
            settings = [({}, 1.0), ({p: d.slider[0] + 3 * d.slider[2] if not d.log else d.slider[0] * 10
                                     for p, d in cls.params().items()}, 1.3)]
            counts = []
            for params, threshold in settings:
                surrogate = cls(**params)
                fused_out, (fused_grad,) = spike_and_grads(v, threshold, surrogate, "multi", "fused", grad_output)
                eager_out, (eager_grad,) = spike_and_grads(v, threshold, surrogate, "multi", "eager", grad_output)
                assert torch.equal(fused_out, eager_out), (name, dtype)
                exact = grad_output.double() * surrogate.grad(v.double(), threshold)
                assert_grad_close(fused_grad, eager_grad, exact)
                counts.append(fused.compilations())
            assert counts[1] == counts[0], (name, dtype, "a new value compiled again")
    assert not fused._constants_only


@pytest.mark.compile  # compiles kernels: seconds each on 2 cores
def test_a_surrogate_that_branches_on_a_parameter_gets_one_kernel_per_value(fresh_cache):
    """Python control flow on a float parameter cannot be traced with a tensor: that
    class falls back to its values as constants, and stays correct."""
    from dataclasses import dataclass

    from sgexplore.surrogates import Surrogate

    @dataclass(frozen=True)
    class Branchy(Surrogate):
        width: float = 0.5

        def grad(self, v_mem, spike_threshold):
            scale = 2.0 if self.width > 1 else 1.0  # a Python branch on the value
            return scale * torch.exp(-((v_mem - spike_threshold) / self.width) ** 2)

    v = grid(torch.float32, "cpu")
    grad_output = torch.linspace(-1.0, 2.0, v.numel())
    compiled = []
    for width in (0.5, 2.0, 0.5):
        _, (fused_grad,) = spike_and_grads(v, 1.0, Branchy(width), "single", "fused", grad_output)
        _, (eager_grad,) = spike_and_grads(v, 1.0, Branchy(width), "single", "eager", grad_output)
        torch.testing.assert_close(fused_grad, eager_grad, rtol=1e-5, atol=1e-6)
        compiled.append(fused.compilations())
    assert len(fused._constants_only) == 1
    assert compiled[2] == compiled[1] > compiled[0]  # a new value compiled; a known one did not


@pytest.mark.compile  # compiles kernels: seconds each on 2 cores
def test_the_disk_cache_is_sgexplores_own_and_bounded(fresh_cache, monkeypatch, tmp_path):
    monkeypatch.setattr(fused, "DISK_CACHE_BYTES", 200_000)
    v = grid(torch.float32, "cpu")
    spike_and_grads(v, 1.0, Gaussian(), "single", "fused", torch.ones_like(v))
    files = [path for path in (tmp_path / "inductor").rglob("*") if path.is_file()]
    assert files, "Inductor wrote nothing to sgexplore's folder"
    assert sum(path.stat().st_size for path in files) <= 200_000


def test_pruning_removes_the_oldest_files_first(monkeypatch, tmp_path):
    import os

    monkeypatch.setattr(fused, "disk_cache_dir", lambda: str(tmp_path))
    for age, name in enumerate(["newest", "middle", "oldest"]):
        path = tmp_path / "sub" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1_000_000 - age * 100, 1_000_000 - age * 100))
    assert fused._prune_disk_cache(limit=2000) == 2000
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["middle", "newest"]
    assert fused._prune_disk_cache(limit=10**9) == 2000  # under the limit: nothing removed


def test_divisions_by_a_runtime_scalar_become_multiplications_too():
    """A parameter that is a 0-dim tensor input is divided by like a constant: once."""
    def formula(x, width):
        return torch.exp(-x / width) / (2 * width)

    x, width = torch.linspace(-2.0, 2.0, 64), torch.tensor(0.3)
    graph = make_fx(formula, tracing_mode="fake")(x, width)
    before = graph(x, width)
    assert fused.multiply_by_reciprocals(graph) == 2
    targets = [node.target for node in graph.graph.nodes if node.op == "call_function"]
    assert torch.ops.aten.div.Tensor not in targets and targets.count(torch.ops.aten.reciprocal.default) == 2
    torch.testing.assert_close(graph(x, width), before, rtol=1e-6, atol=1e-7)
    other = torch.tensor(0.7)  # the graph follows a new value of its input
    torch.testing.assert_close(graph(x, other), formula(x, other), rtol=1e-6, atol=1e-7)
