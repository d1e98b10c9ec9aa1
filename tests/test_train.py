"""The training engine: learning, determinism, divergence, records, validation, the CLI."""

import dataclasses
import math
from dataclasses import dataclass

import pytest
import torch

from sgexplore import surrogates
from sgexplore.params import params_of
from sgexplore.surrogates import Surrogate
from sgexplore.train import HIDDEN_SIZE, Adam, StepRecord, TrainConfig, _parser, config_from_args, main, train

SMALL = dict(task="two_patterns", classes=2, units=10, time_steps=20, samples_per_class=40,
             hidden=(16,), batch_size=16, steps=12, test_every=4)


def test_default_config_beats_chance_by_a_wide_margin():
    config = TrainConfig()
    records = list(train(config))
    assert len(records) == config.steps and records[-1].status == "ok"
    chance = 1 / config.classes
    assert records[-1].test_accuracy >= 5 * chance
    assert records[-1].loss < 0.5 * records[0].loss


def test_two_patterns_is_learned_quickly():
    records = list(train(TrainConfig(**{**SMALL, "steps": 40, "lr": 0.1, "weight_scale": 2.0})))
    assert records[-1].test_accuracy >= 0.9


def _curve(records):
    return [(r.step, r.loss, r.accuracy, r.test_accuracy, r.grad_norms, r.spike_rates, r.status)
            for r in records]


def test_same_config_gives_the_same_curve_bit_for_bit_whatever_the_global_rng():
    config = TrainConfig(**SMALL)
    torch.manual_seed(123)
    first = _curve(train(config))
    torch.manual_seed(456)
    torch.rand(1000)
    second = _curve(train(config))
    assert first == second
    assert _curve(train(dataclasses.replace(config, seed=1))) != first


def test_records_have_the_promised_fields_and_types():
    assert [f.name for f in dataclasses.fields(StepRecord)] == [
        "step", "loss", "accuracy", "test_accuracy", "grad_norms", "spike_rates", "elapsed_s", "status",
        "test_loss", "membrane"]
    config = TrainConfig(**{**SMALL, "hidden": (8, 6), "steps": 10})
    records = list(train(config))
    assert [r.step for r in records] == list(range(1, 11))
    assert [r.test_accuracy is not None for r in records] == [s % 4 == 0 or s == 10 for s in range(1, 11)]
    elapsed = [r.elapsed_s for r in records]
    assert elapsed == sorted(elapsed) and elapsed[0] > 0
    for r in records:
        assert r.status == "ok"
        assert isinstance(r.loss, float) and isinstance(r.accuracy, float)
        assert len(r.grad_norms) == 3 and len(r.spike_rates) == 2  # two hidden layers + readout
        assert all(isinstance(v, float) for v in (*r.grad_norms, *r.spike_rates))
        assert 0 <= r.accuracy <= 1


def test_a_caller_can_stop_early_and_threads_are_restored_between_steps():
    before = torch.get_num_threads()
    stream = train(TrainConfig(**{**SMALL, "steps": 1000, "threads": 1}))
    first = next(stream)
    assert first.step == 1 and torch.get_num_threads() == before
    stream.close()


@dataclass(frozen=True)
class _NaNSurrogate(Surrogate):
    """A broken surrogate whose gradient is NaN everywhere."""

    def grad(self, v_mem, spike_threshold):
        return torch.full_like(v_mem, math.nan)


def test_nan_gradient_ends_the_run_with_a_diverged_record():
    records = list(train(TrainConfig(**{**SMALL, "surrogate": _NaNSurrogate()})))
    assert [r.status for r in records] == ["diverged"]
    assert math.isnan(records[0].grad_norms[0]) and records[0].test_accuracy is None


def test_exploding_surrogate_is_reported_not_raised():
    records = list(train(TrainConfig(**{**SMALL, "surrogate": surrogates.Gaussian(grad_scale=1e6)})))  # the declared maximum
    assert records[-1].status == "diverged"
    assert all(r.status == "ok" for r in records[:-1])
    assert not all(math.isfinite(g) for g in records[-1].grad_norms)


# A silent start: the threshold is far above what the initial weights reach.
SILENT = {**SMALL, "spike_threshold": 3.0, "steps": 60, "test_every": 60}


def test_true_gradient_does_not_learn_from_a_silent_start():
    records = list(train(TrainConfig(**{**SILENT, "surrogate": surrogates.TrueGradient()})))
    assert all(r.spike_rates == (0.0,) for r in records)
    assert all(r.grad_norms == (0.0, 0.0) for r in records)
    # Zero readout input gives equal logits: the loss stays at ln(2) and nothing changes.
    assert {r.loss for r in records} == {records[0].loss}
    assert records[0].loss == pytest.approx(math.log(2), rel=1e-6)
    assert records[-1].test_accuracy == 0.5


def test_a_real_surrogate_learns_from_the_same_silent_start():
    records = list(train(TrainConfig(**{**SILENT, "surrogate": surrogates.FastSigmoid()})))
    assert records[0].spike_rates == (0.0,) and records[0].grad_norms[0] > 0
    assert records[-1].spike_rates[0] > 0
    assert records[-1].loss < 0.75 * records[0].loss
    assert records[-1].test_accuracy >= 0.9


def test_adam_matches_torch_optim_adam():
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(5, 3, generator=generator)
    ours, theirs = start.clone().requires_grad_(), start.clone().requires_grad_()
    mine, reference = Adam([ours], lr=0.01), torch.optim.Adam([theirs], lr=0.01, foreach=False)
    for _ in range(20):
        target = torch.randn(5, 3, generator=generator)
        for p, opt in ((ours, mine), (theirs, reference)):
            opt.zero_grad()
            ((p - target) ** 2 * torch.arange(1.0, 4.0)).sum().backward()
            opt.step()
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-7)
    assert not torch.allclose(ours, start)


def test_surrogate_may_be_given_by_name_and_replace_revalidates():
    config = TrainConfig(surrogate="Gaussian")
    assert config.surrogate == surrogates.Gaussian()
    with pytest.raises(ValueError, match="lr"):
        dataclasses.replace(config, lr=-1.0)


def test_numeric_fields_are_declared_with_their_defaults():
    declared = params_of(TrainConfig)
    assert {"classes", "units", "time_steps", "manifold_dim", "alpha", "samples_per_class",
            "spike_threshold", "beta", "weight_scale", "lr", "steps", "batch_size", "seed",
            "test_every"} <= set(declared)
    defaults = TrainConfig()
    for name, declaration in declared.items():
        assert getattr(defaults, name) == declaration.default, name
    assert declared["lr"].log and declared["steps"].integer
    assert all(HIDDEN_SIZE.contains(n) for n in defaults.hidden)


@pytest.mark.parametrize("changes, name", [
    (dict(task="mnist"), "task"),
    (dict(classes=1), "classes"),
    (dict(classes=3.5), "classes"),
    (dict(task="two_patterns", classes=3), "classes"),
    (dict(units=0), "units"),
    (dict(time_steps=1), "time_steps"),
    (dict(manifold_dim=0), "manifold_dim"),
    (dict(alpha=0.0), "alpha"),
    (dict(samples_per_class=1), "samples_per_class"),
    (dict(hidden=()), "hidden"),
    (dict(hidden=(64, 0)), "hidden"),
    (dict(hidden="64"), "hidden"),
    (dict(surrogate="NoSuchSurrogate"), "surrogate"),
    (dict(surrogate=3), "surrogate"),
    (dict(spike_threshold=0.0), "spike_threshold"),
    (dict(beta=1.1), "beta"),
    (dict(reset="hard"), "reset"),
    (dict(detach_reset="no"), "detach_reset"),
    (dict(recurrent=None), "recurrent"),
    (dict(mode="max"), "mode"),
    (dict(weight_scale=-1.0), "weight_scale"),
    (dict(lr=0.0), "lr"),
    (dict(lr=math.nan), "lr"),
    (dict(steps=0), "steps"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=10_000), "batch_size"),
    (dict(seed=-1), "seed"),
    (dict(test_every=0), "test_every"),
    (dict(threads=0), "threads"),
    (dict(device="tpu9"), "device"),
])
def test_bad_configs_raise_naming_the_field(changes, name):
    with pytest.raises(ValueError, match=name):
        TrainConfig(**changes)


def test_every_field_and_every_surrogate_parameter_has_a_flag():
    flags = {s for action in _parser()._actions for s in action.option_strings}
    for f in dataclasses.fields(TrainConfig):
        assert "--" + f.name.replace("_", "-") in flags, f.name
    for cls in surrogates.registry().values():
        for name in cls.params():
            spelled = name.replace("_", "-")
            assert "--" + spelled in flags or "--surrogate-" + spelled in flags, name


def _flag_help(flag):
    (action,) = [a for a in _parser()._actions if flag in a.option_strings]
    return action.help.replace("%%", "%")


def test_a_shared_surrogate_flag_says_each_surrogates_meaning_and_convention():
    config_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    for cls_name, cls in surrogates.registry().items():
        for name, declaration in cls.params().items():
            spelled = name.replace("_", "-")
            text = _flag_help(("--surrogate-" if name in config_fields else "--") + spelled)
            assert text.startswith(name + ": "), text
            groups = dict(part.split(": ", 1) for part in text[len(name) + 2:].split(" | "))
            (mine,) = [g for names, g in groups.items() if cls_name in names.split(", ")]
            assert declaration.doc in mine and declaration.convention_text() in mine, (cls_name, name, mine)
            assert declaration.range_text() in mine and f"default {declaration.default:g}" in mine


def test_grad_width_help_is_relative_only_for_single_exponential(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the help text
    grad_width = out.split("--grad-width GRAD_WIDTH ", 1)[1].split(" --slope", 1)[0]
    parts = grad_width.removeprefix("grad_width: ").split(" | ")
    relative = [p for p in parts if "relative to thr" in p or "units of the threshold" in p]
    assert len(relative) == 1 and relative[0].startswith("SingleExponential: "), parts
    for absolute in ("PeriodicExponential", "Triangle", "Box"):
        (part,) = [p for p in parts if absolute in p.split(": ", 1)[0].split(", ")]
        assert "(absolute" in part and "relative" not in part, part
    assert "Triangle: half-width of the triangle (absolute); in [0.001, 1000], default 1" in grad_width


def test_cli_flags_build_the_config():
    args = _parser().parse_args(["--surrogate", "MultiGaussian", "--sigma", "0.3", "--steps", "200",
                                 "--hidden", "32", "16", "--detach-reset", "--alpha", "1.5"])
    config = config_from_args(args)
    assert config.surrogate == surrogates.MultiGaussian(sigma=0.3)
    assert (config.steps, config.hidden, config.detach_reset, config.alpha) == (200, (32, 16), True, 1.5)
    arctan = config_from_args(_parser().parse_args(["--surrogate", "ArcTan", "--surrogate-alpha", "3"]))
    assert arctan.surrogate == surrogates.ArcTan(alpha=3.0) and arctan.alpha == TrainConfig().alpha


def test_cli_runs_and_summarises(capsys):
    code = main(["--task", "two_patterns", "--classes", "2", "--steps", "3", "--samples-per-class", "40",
                 "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "status         ok after 3 of 3 steps" in out and "test accuracy" in out


@pytest.mark.parametrize("argv, name", [
    (["--lr", "-1"], "lr"),
    (["--surrogate", "Gaussian", "--slope", "3"], "slope"),
    (["--surrogate", "Gaussian", "--sigma", "0"], "sigma"),
    (["--hidden", "0"], "hidden"),
])
def test_cli_bad_values_exit_2_with_a_message(argv, name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv + ["--quiet"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert name in err and "Traceback" not in err


_LOSSES_SCRIPT = """
import json, sys, torch
from sgexplore.train import TrainConfig, train
config = TrainConfig(steps=40, threads=int(sys.argv[1]))
print(json.dumps([torch.backends.cpu.get_cpu_capability(), [r.loss for r in train(config)]]))
"""


@pytest.mark.slow  # two fresh interpreters, each training 40 steps
def test_a_non_chaotic_run_agrees_across_simulated_machines_within_a_tolerance():
    """README, "What is reproducible": another CPU's kernels and thread count change the last
    bits, not the curve, of a well-behaved run."""
    import json
    import os
    import subprocess
    import sys

    runs = []
    for capability, threads in (("default", "1"), ("avx2", "2")):
        env = dict(os.environ, ATEN_CPU_CAPABILITY=capability, MKL_ENABLE_INSTRUCTIONS="AVX2")
        done = subprocess.run([sys.executable, "-c", _LOSSES_SCRIPT, threads], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        runs.append(json.loads(done.stdout))
    (first_capability, first), (_, second) = runs
    assert first_capability == "DEFAULT"  # the environment really changed the kernels
    assert len(first) == len(second) == 40
    assert first[-1] < 0.8 * first[0]  # it learns: not a flat, trivially equal curve
    assert second == pytest.approx(first, rel=1e-4)


# -- Ctrl-C and assignment ------------------------------------------------------------

def test_ctrl_c_ends_the_cli_with_a_summary_of_the_steps_done(monkeypatch, capsys):
    from sgexplore import train as train_module

    def interrupted_after_three(config):
        for record in train(config):
            yield record
            if record.step == 3:
                raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "train", interrupted_after_three)
    code = main(["--task", "two_patterns", "--classes", "2", "--samples-per-class", "40",
                 "--steps", "50", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 130
    assert "status         interrupted after 3 of 50 steps" in out and "loss " in out
    assert "Traceback" not in out + err


@pytest.mark.slow  # a fresh interpreter, interrupted by a real SIGINT
def test_a_real_sigint_ends_the_cli_with_exit_130_and_the_summary():
    import os
    import re
    import signal
    import subprocess
    import sys

    # SIGINT back to its default in the child: a shell's background job (nohup ... &, some CI
    # runners) starts with SIGINT ignored, and Python then installs no KeyboardInterrupt handler
    process = subprocess.Popen(
        [sys.executable, "-m", "sgexplore.train", "--task", "two_patterns", "--classes", "2",
         "--samples-per-class", "40", "--steps", "100000", "--test-every", "100000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = b""
    # tqdm's progress on stderr (redrawn at most every 0.1 s, so not at every step)
    while not any(int(done) >= 3 for done in re.findall(rb"(\d+)/100000", seen)):
        chunk = os.read(process.stderr.fileno(), 4096)
        assert chunk, "the CLI ended before it was interrupted: " + seen.decode(errors="replace")
        seen += chunk
    process.send_signal(signal.SIGINT)
    try:
        out, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the CLI went on for 120 s after SIGINT")
    assert process.returncode == 130, (out, err)
    assert "status         interrupted after" in out.decode() and "of 100000 steps" in out.decode()
    assert b"Traceback" not in seen + err and b"KeyboardInterrupt" not in seen + err


def test_assigning_a_field_validates_like_the_constructor():
    config = TrainConfig(**SMALL)
    config.lr = 0.1
    config.hidden = [8, 4]
    assert config.lr == 0.1 and config.hidden == (8, 4)  # normalised as the constructor does
    before = dataclasses.asdict(config)
    for name, value, message in [
        ("lr", -1, r"TrainConfig\.lr must be a finite number in \(0, 10\]; got -1"),
        ("steps", 10**400, r"TrainConfig\.steps must be an integer in \[1, 100000\]"),
        ("device", "meta", r"TrainConfig\.device must be a torch device"),
        ("classes", 3, r"TrainConfig\.classes must be 2 for task='two_patterns'; got 3"),
        ("samples_per_class", 5, r"TrainConfig\.samples_per_class = 5 does not fit the other fields: "
                                 r"TrainConfig\.batch_size must be in \[1, 8\]"),
    ]:
        with pytest.raises(ValueError, match=message):
            setattr(config, name, value)
    with pytest.raises(TypeError, match=r"TrainConfig\.detach_reset must be True or False"):
        config.detach_reset = "no"
    with pytest.raises(AttributeError, match="TrainConfig has no field 'lrr'"):
        config.lrr = 0.1
    with pytest.raises(AttributeError):
        del config.lr
    assert dataclasses.asdict(config) == before


def test_meta_device_is_rejected_at_entry():
    with pytest.raises(ValueError, match=r"TrainConfig\.device must be a torch device: 'cpu', or 'cuda'"):
        TrainConfig(device="meta")
