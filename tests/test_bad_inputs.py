"""Bad input at every public entry point, generated from the declarations where possible.

Each case calls one entry point with one bad argument and sorts the outcome:

* **rejected cleanly**: the promised exception (``TypeError`` for a value of the wrong type,
  ``ValueError`` and not ``TypeError`` for a value of the right type outside its valid
  values, ``RuntimeError`` where that is the documented behaviour: ``Run.step()`` after the
  run ended), raised at entry (no frame of torch, numpy, ipywidgets or plotly on its
  traceback: nothing past sgexplore's own checks ran), with a message that names the
  parameter and, for a declared parameter, its valid values;
* **at entry, not as promised**: raised at entry, but of the wrong type or with a message
  that does not name the parameter or its valid values;
* **accepted**: no exception;
* **crashed deep**: any other exception, or one raised past the checks.

The test fails unless every case is rejected cleanly, and prints the tally
(``pytest tests/test_bad_inputs.py -s``); BENCHMARKS.md records it. The second test
checks the opposite end: the extreme values *inside* every declared range give finite
curves, peaks, areas and primitives in float32.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import pytest
import torch

import sgexplore
from sgexplore import surrogates as sg
from sgexplore.interop import (BUILTINS, FRAMEWORK, INEXPRESSIBLE, NorseMethod, from_framework, to_norse,
                               to_snntorch, to_spikingjelly, translate)
from sgexplore.lens import COVERAGE as LENS_COVERAGE
from sgexplore.lens import LEVEL as LENS_LEVEL
from sgexplore.lens import MembraneHistogram, coverage, histogram, mean_gain, membrane_histogram
from sgexplore.lens import fit_width as lens_fit_width
from sgexplore.params import Param, params_of
from sgexplore.snn import BETA, RESET, SNN, WEIGHT_SCALE, LIFParameters, lif_step
from sgexplore.spike import DETACH_RESET, MAX_SPIKES, MODE, RESET_VALUE, reset_subtract, reset_to_value, spike
from sgexplore.surrogates import SPIKE_THRESHOLD
from sgexplore.train import Run, TrainConfig, _sample_param, main, train
from sgexplore.views import class_examples, firing_rates, membrane_grid, raster, surrogate_view
from sgexplore.widgets import SurrogateExplorer, TrainingExplorer
from sgexplore.widgets.export import CURVE_POINTS, MAX_STEPS
from sgexplore.widgets.surrogate_explorer import NORMALISE_PARAM, POINTS_PARAM
from sgexplore.widgets.controls import LOAD_NOTIFY, SurrogatePanel
from sgexplore.widgets.training_explorer import BROWSER, CLASSROOM, LIVE, MAX_GHOSTS_PARAM, parse_hidden
from sgexplore.widgets.projector import PROJECTOR, projector_toggle, set_projector
from sgexplore.seed_band import SEEDS, seed_configs
from sgexplore.views import SMOOTHING, smoothed

PACKAGE = str(Path(sgexplore.__file__).resolve().parent)
THIS_FILE = str(Path(__file__).resolve())
TYPE, VALUE = "TypeError", "ValueError"
OUTCOMES = ("rejected cleanly", "at entry, not as promised", "accepted", "crashed deep")


@dataclass
class Case:
    entry: str                    # what was called, e.g. "Gaussian(...)"
    parameter: str                # the name the message must contain
    value: Any
    expected: str                 # TYPE or VALUE
    call: Callable[[], Any]
    valid: Optional[str] = None   # text of the valid values the message must contain
    after: Optional[Callable[[], Optional[str]]] = None  # a further check; returns a complaint


# -- bad values from a declaration -------------------------------------------------

WRONG_TYPES = (None, "1", [1.0], complex(1, 1), object())


def bad_values(declaration: Param) -> List[Tuple[Any, str]]:
    """(value, expected exception) pairs that ``declaration`` must reject."""
    kind = declaration.kind
    if kind == "choice":
        first = declaration.choices[0]
        values = [("nope", VALUE), ("", VALUE), (first + " ", VALUE)]
        if first.upper() != first:
            values.append((first.upper(), VALUE))
        return values + [(1, TYPE), (None, TYPE), (True, TYPE), ([first], TYPE)]
    if kind == "boolean":
        return [(value, TYPE) for value in (1, 0, 1.0, "True", "false", None)]
    values: List[Tuple[Any, str]] = []
    low, high = declaration.low, declaration.high
    if math.isfinite(low):
        values += [(low - max(1.0, abs(low)), VALUE), (-1e300, VALUE)]
        values.append((low if declaration.low_open else math.nextafter(low, -math.inf), VALUE))
    if math.isfinite(high):
        values += [(high + max(1.0, abs(high)), VALUE), (1e300, VALUE)]
        values.append((high if declaration.high_open else math.nextafter(high, math.inf), VALUE))
    values += [(math.nan, VALUE), (math.inf, VALUE), (-math.inf, VALUE), (np.float64(math.nan), VALUE)]
    if math.isfinite(high):
        values.append((10**400, VALUE))
    if math.isfinite(low):
        values.append((-10**400, VALUE))
    if kind == "integer":
        values += [(declaration.default + 0.5, VALUE)]
    values += [(True, TYPE), (False, TYPE)] + [(value, TYPE) for value in WRONG_TYPES]
    if kind == "integer":
        values = [(int(v) if isinstance(v, float) and math.isfinite(v) and v == int(v)
                   and abs(v) < 1e18 else v, e) for v, e in values]
    return values


def valid_text(declaration: Param) -> str:
    return declaration.expected_text()


def declared_cases(entry: str, declarations: Dict[str, Param], call_with: Callable[[str, Any], Any],
                   label: Callable[[str], str] = lambda name: name,
                   after: Optional[Callable[[str, Any], Optional[str]]] = None) -> List[Case]:
    cases = []
    for name, declaration in declarations.items():
        for value, expected in bad_values(declaration):
            cases.append(Case(entry, label(name), value, expected,
                              (lambda n=name, v=value: call_with(n, v)),
                              valid=valid_text(declaration) if expected == VALUE else None,
                              after=(lambda n=name, v=value: after(n, v)) if after else None))
    return cases


# -- the entry points ------------------------------------------------------------------

def surrogate_cases() -> List[Case]:
    cases = []
    for cls_name, cls in sg.registry().items():
        if not cls.__module__.startswith("sgexplore."):
            continue
        cases += declared_cases(f"{cls_name}(...)", cls.params(), lambda n, v, c=cls: c(**{n: v}))
        instance = cls()
        cases += declared_cases(f"{cls_name}().replace(...)", cls.params(),
                                lambda n, v, i=instance: i.replace(**{n: v}))
    return cases


def threshold_values() -> List[Tuple[Any, str]]:
    """Bad thresholds: the declaration's, and tensors with a bad entry or dtype."""
    tensors = [(torch.tensor([1.0, -1.0]), VALUE), (torch.tensor([1.0, math.nan]), VALUE),
               (torch.tensor([math.inf]), VALUE), (torch.tensor([2e3]), VALUE),
               (torch.tensor([1, 2]), TYPE), (torch.tensor([True]), TYPE)]
    return bad_values(SPIKE_THRESHOLD) + tensors


def derived_quantity_cases() -> List[Case]:
    cases = []
    for cls_name in ("Gaussian", "MultiGaussian", "Heaviside", "ArcTan", "DampenedTriangle"):
        surrogate = sg.registry()[cls_name]()
        for method in ("peak", "area", "primitive"):
            def call(thr, m=method, s=surrogate):
                if m == "primitive":
                    return s.primitive(torch.linspace(-1.0, 3.0, 9), thr)
                return getattr(s, m)(thr)
            for value, expected in threshold_values():
                cases.append(Case(f"{cls_name}().{method}(thr)", "spike_threshold", value, expected,
                                  lambda v=value, c=call: c(v), valid=str(SPIKE_THRESHOLD.range_text())
                                  if expected == VALUE else None))
        for value, expected in membrane_values():
            cases.append(Case(f"{cls_name}().primitive(v)", "v_mem", value, expected,
                              lambda v=value, s=surrogate: s.primitive(v, 1.0)))
    return cases


def membrane_values() -> List[Tuple[Any, str]]:
    return [(0.5, TYPE), ([0.5], TYPE), ("0.5", TYPE), (None, TYPE), (np.zeros(3), TYPE),
            (torch.zeros(3, dtype=torch.int64), TYPE), (torch.zeros(3, dtype=torch.bool), TYPE),
            (torch.tensor([0.5, math.nan]), VALUE), (torch.tensor([math.inf]), VALUE),
            (torch.tensor([-math.inf, 0.0]), VALUE)]


def spike_cases() -> List[Case]:
    surrogate = sg.Gaussian()
    v = torch.linspace(-1.0, 3.0, 6)
    cases = []

    def call(**changes):
        args = dict(v_mem=v, spike_threshold=1.0, surrogate=surrogate, mode="single", max_spikes=None)
        args.update(changes)
        return spike(**args)

    for value, expected in membrane_values():
        cases.append(Case("spike(v_mem)", "v_mem", value, expected, lambda x=value: call(v_mem=x)))
    for value, expected in threshold_values():
        cases.append(Case("spike(spike_threshold)", "spike_threshold", value, expected,
                          lambda x=value: call(spike_threshold=x),
                          valid=SPIKE_THRESHOLD.range_text() if expected == VALUE else None))
    for shape in ((2, 6), (6, 1), (5,), (1, 1, 1)):
        cases.append(Case("spike(spike_threshold)", "spike_threshold", f"tensor{shape}", VALUE,
                          lambda s=shape: call(spike_threshold=torch.ones(s))))
    for value in (lambda v_mem, thr: v_mem, sg.Gaussian, "Gaussian", None, 1.0):
        cases.append(Case("spike(surrogate)", "surrogate", value, TYPE, lambda x=value: call(surrogate=x)))
    cases += declared_cases("spike(mode)", {"mode": MODE}, lambda n, x: call(mode=x))
    cases += declared_cases("spike(max_spikes)", {"max_spikes": MAX_SPIKES},
                            lambda n, x: call(mode="max", max_spikes=x))
    cases.append(Case("spike(max_spikes)", "max_spikes", 3, VALUE, lambda: call(max_spikes=3)))
    for value, expected in (("triton", VALUE), ("", VALUE), (None, TYPE), ("FUSED", VALUE), (1, TYPE)):
        cases.append(Case("spike(backend)", "backend", value, expected,
                          lambda x=value: spike(v, 1.0, surrogate, backend=x)))
    return cases


def reset_cases() -> List[Case]:
    v, s = torch.linspace(-1.0, 3.0, 6), torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    cases = []
    resets = {"reset_subtract": lambda **k: reset_subtract(**{**dict(v_mem=v, spikes=s, spike_threshold=1.0), **k}),
              "reset_to_value": lambda **k: reset_to_value(**{**dict(v_mem=v, spikes=s, reset_value=0.0), **k})}
    for entry, reset in resets.items():
        for name in ("v_mem", "spikes"):
            for value, expected in membrane_values():
                cases.append(Case(f"{entry}({name})", name, value, expected,
                                  lambda x=value, n=name, r=reset: r(**{n: x})))
            cases.append(Case(f"{entry}({name})", name, "shape (2, 6)", VALUE,
                              lambda n=name, r=reset: r(**{n: torch.zeros(2, 6)})))
        cases += declared_cases(f"{entry}(detach)", {"detach": DETACH_RESET},
                                lambda n, x, r=reset: r(detach=x))
    for value, expected in threshold_values():
        cases.append(Case("reset_subtract(spike_threshold)", "spike_threshold", value, expected,
                          lambda x=value: resets["reset_subtract"](spike_threshold=x)))
    cases.append(Case("reset_subtract(spike_threshold)", "spike_threshold", "tensor (2, 6)", VALUE,
                      lambda: resets["reset_subtract"](spike_threshold=torch.ones(2, 6))))
    cases += declared_cases("reset_to_value(reset_value)", {"reset_value": RESET_VALUE},
                            lambda n, x: resets["reset_to_value"](reset_value=x))
    return cases


def register_cases() -> List[Case]:
    @dataclass(frozen=True)
    class Impostor(sg.Gaussian):
        pass

    def register_as(name=None, replace=False, cls=Impostor):
        registry = dict(sg._REGISTRY)
        try:
            sg.register(cls, name=name, replace=replace)
        finally:
            sg._REGISTRY.clear()
            sg._REGISTRY.update(registry)

    cases = []
    for builtin in sorted(n for n, c in sg.registry().items() if c.__module__ == sg.__name__):
        cases.append(Case("register(name=<built-in>)", builtin, builtin, VALUE,
                          lambda n=builtin: register_as(name=n)))
    for value, expected in ((1, TYPE), (b"Name", TYPE), (["Name"], TYPE), ("", VALUE), ("1abc", VALUE),
                            ("a b", VALUE), ("Gauß", VALUE), ("name-with-dash", VALUE), ("x;y", VALUE)):
        cases.append(Case("register(name)", "name", value, expected, lambda x=value: register_as(name=x)))
    for value in (1, "yes", None, 0.0):
        cases.append(Case("register(replace)", "replace", value, TYPE,
                          lambda x=value: register_as(name="Gaussian", replace=x)))
    # (None is no bad input: register(name=...) without a class returns the decorator)
    for value in (int, sg.Gaussian(), "Gaussian", 3, type("NotADataclass", (sg.Surrogate,), {})):
        cases.append(Case("register(cls)", "register", value, TYPE, lambda x=value: register_as(cls=x)))
    for value, expected in ((1, TYPE), (None, TYPE), ("NoSuch", VALUE), ("gaussian", VALUE)):
        cases.append(Case("create(name)", "surrogate", value, expected, lambda x=value: sg.create(x)))
    cases.append(Case("create(**values)", "sigma_x", "sigma_x=1", VALUE,
                      lambda: sg.create("Gaussian", sigma_x=1.0)))
    return cases


def train_config_cases() -> List[Case]:
    declared = params_of(TrainConfig)
    cases = declared_cases("TrainConfig(...)", declared, lambda n, v: TrainConfig(**{n: v}),
                           label=lambda n: f"TrainConfig.{n}")
    config = TrainConfig()
    before = dataclasses.asdict(config)

    def unchanged(name, value):
        return None if dataclasses.asdict(config) == before else f"config changed after cfg.{name} = {value!r}"

    cases += declared_cases("cfg.<field> = ...", declared, lambda n, v: setattr(config, n, v),
                            label=lambda n: f"TrainConfig.{n}", after=unchanged)
    others = {
        "hidden": [((), VALUE), ((64,) * 5, VALUE), ((64, 0), VALUE), ((5000,), VALUE), ((64, 1.5), VALUE),
                   ((10**400,), VALUE), ((math.nan,), VALUE), ("64", TYPE), (None, TYPE), ((True,), TYPE),
                   (("64",), TYPE), (64.0, TYPE), ({64}, TYPE)],
        "surrogate": [("NoSuch", VALUE), (3, TYPE), (None, TYPE), (sg.Gaussian, TYPE), (lambda v, t: v, TYPE)],
        "device": [("meta", VALUE), ("cuda:99" if torch.cuda.is_available() else "cuda", VALUE),
                   ("tpu", VALUE), ("", VALUE), ("cpu:x", VALUE), (3, TYPE), (None, TYPE), (["cpu"], TYPE)],
    }
    for name, values in others.items():
        for value, expected in values:
            cases.append(Case("TrainConfig(...)", f"TrainConfig.{name}", value, expected,
                              lambda n=name, v=value: TrainConfig(**{n: v})))
            cases.append(Case("cfg.<field> = ...", f"TrainConfig.{name}", value, expected,
                              lambda n=name, v=value: setattr(config, n, v),
                              after=lambda n=name, v=value: unchanged(n, v)))
    cases += [
        Case("TrainConfig(...)", "TrainConfig.classes", "two_patterns, 3 classes", VALUE,
             lambda: TrainConfig(task="two_patterns", classes=3)),
        Case("TrainConfig(...)", "TrainConfig.batch_size", "above the training set", VALUE,
             lambda: TrainConfig(batch_size=5000)),
        Case("cfg.<field> = ...", "TrainConfig.task", "two_patterns with 10 classes", VALUE,
             lambda: setattr(config, "task", "two_patterns"), after=lambda: unchanged("task", "two_patterns")),
        Case("cfg.<field> = ...", "lrr", "a misspelt field", "AttributeError",
             lambda: setattr(config, "lrr", 0.1), after=lambda: unchanged("lrr", 0.1)),
    ]
    for value in (None, "config", {}, TrainConfig):
        cases.append(Case("train(config)", "config", value, TYPE, lambda x=value: next(iter(train(x)))))
    return cases


def network_cases() -> List[Case]:
    surrogate = sg.FastSigmoid()
    declared = {"beta": BETA, "reset": RESET, "detach_reset": DETACH_RESET, "mode": MODE}
    cases = declared_cases("LIFParameters(...)", declared,
                           lambda n, v: LIFParameters(surrogate, **{n: v}), label=lambda n: f"LIFParameters.{n}")
    for value, expected in threshold_values():
        cases.append(Case("LIFParameters(spike_threshold)", "spike_threshold", value, expected,
                          lambda x=value: LIFParameters(surrogate, spike_threshold=x)))
    cases.append(Case("LIFParameters(surrogate)", "surrogate", None, TYPE, lambda: LIFParameters(None)))
    cases += declared_cases("SNN(...)", {"weight_scale": WEIGHT_SCALE},
                            lambda n, v: SNN([3, 4, 2], surrogate, **{n: v}), label=lambda n: f"SNN.{n}")
    for value, expected in (([], VALUE), ([3], VALUE), ([3, 0], VALUE), ([3, 1.5], VALUE), ([3, 10**400], VALUE),
                            ([3, True], TYPE), ([3, "4"], TYPE), (None, TYPE), ("34", TYPE)):
        cases.append(Case("SNN(sizes)", "sizes", value, expected, lambda x=value: SNN(x, surrogate)))
    p = LIFParameters(surrogate)
    for name, call in (("current", lambda x: lif_step(x, torch.zeros(3), p)),
                       ("v_mem", lambda x: lif_step(torch.zeros(3), x, p))):
        for value in (0.5, None, torch.zeros(3, dtype=torch.int64)):
            cases.append(Case("lif_step(...)", name, value, TYPE, lambda x=value, c=call: c(x)))
    cases.append(Case("lif_step(p)", "p", "a dict", TYPE, lambda: lif_step(torch.zeros(3), torch.zeros(3), {})))
    cases.append(Case("lif_step(...)", "v_mem", "shape (2, 3)", VALUE,
                      lambda: lif_step(torch.zeros(3), torch.zeros(2, 3), p)))
    return cases


def cli_cases() -> List[Case]:
    """``main(argv)`` with one bad flag: a clean rejection exits with code 2 and a message
    naming the flag, without a traceback."""
    cases = []
    declared = params_of(TrainConfig)
    for name, declaration in declared.items():
        flag = "--" + name.replace("_", "-")
        if declaration.kind == "boolean":
            continue  # a switch takes no value
        if declaration.kind == "choice":
            texts = ["nope", ""]
        else:
            texts = ["nan", "inf", "-inf", "1e400", "abc", ""]
            if math.isfinite(declaration.low):
                texts.append(repr(declaration.low - 1))
            if math.isfinite(declaration.high):
                texts.append(repr(declaration.high + 1))
            if declaration.kind == "integer":
                texts.append("1.5")
        for text in texts:
            cases.append(Case("CLI " + flag, name, text, "SystemExit", lambda f=flag, t=text: main([f, t])))
    for cls_name, cls in sg.registry().items():
        for name, declaration in cls.params().items():
            flag = "--" + (f"surrogate-{name}" if name in declared else name).replace("_", "-")
            for text in ("nan", "-1e9", "1e400", "x"):
                cases.append(Case("CLI " + flag, name, text, "SystemExit",
                                  lambda f=flag, t=text, c=cls_name: main(["--surrogate", c, f, t])))
    for argv in (["--hidden", "0"], ["--hidden", "1_000"], ["--hidden", "64", "64", "64", "64", "64"],
                 ["--device", "meta"], ["--surrogate", "NoSuch"], ["--task", "two_patterns", "--classes", "3"]):
        name = argv[0].lstrip("-") if argv[0] != "--task" else "classes"
        cases.append(Case("CLI " + argv[0], name, " ".join(argv), "SystemExit", lambda a=argv: main(a)))
    return cases


def explorer_cases(tmp_path: Path) -> List[Case]:
    cases = []
    se = lambda **k: SurrogateExplorer(**k)  # noqa: E731
    for value, expected in threshold_values():
        if isinstance(value, torch.Tensor):
            expected = TYPE  # a slider's value is a number, not a tensor
        cases.append(Case("SurrogateExplorer(spike_threshold)", "spike_threshold", value, expected,
                          lambda x=value: se(spike_threshold=x)))
    cases += declared_cases("SurrogateExplorer(mode)", {"mode": MODE}, lambda n, x: se(mode=x))
    cases += [case for case in declared_cases("SurrogateExplorer(max_spikes)", {"max_spikes": MAX_SPIKES},
                                              lambda n, x: se(mode="max", max_spikes=x))
              if case.value is not None]  # None is the explorer's default: the declared one
    cases.append(Case("SurrogateExplorer(max_spikes)", "max_spikes", 3, VALUE, lambda: se(max_spikes=3)))
    cases += declared_cases("SurrogateExplorer(normalise)", {"normalise": NORMALISE_PARAM},
                            lambda n, x: se(normalise=x))
    cases += declared_cases("SurrogateExplorer(points)", {"points": POINTS_PARAM}, lambda n, x: se(points=x))
    for value, expected in ((3, TYPE), (None, TYPE), ("NoSuch", VALUE), (int, TYPE)):
        cases.append(Case("SurrogateExplorer(surrogate)", "surrogate", value, expected,
                          lambda x=value: se(surrogate=x)))
    cases.append(Case("SurrogateExplorer(**params)", "sigma_x", "sigma_x=1", VALUE,
                      lambda: se(surrogate="Gaussian", sigma_x=1.0)))
    cases.append(Case("SurrogateExplorer(**params)", "sigma_x", "sigma_x=1", VALUE,
                      lambda: se(surrogate=sg.Gaussian(), sigma_x=1.0)))
    cases += declared_cases("SurrogateExplorer(**params)", sg.MultiGaussian.params(),
                            lambda n, x: se(surrogate="MultiGaussian", **{n: x}))

    explorer = SurrogateExplorer("Gaussian", points=101)
    page = tmp_path / "page.html"
    for value, expected in ((None, TYPE), (3, TYPE), ("", VALUE), (str(tmp_path / "no" / "page.html"), VALUE),
                            (str(tmp_path), VALUE), (str(tmp_path / "page.txt"), VALUE)):
        cases.append(Case(".to_html(path)", "path", value, expected, lambda x=value: explorer.to_html(x)))
    for value, expected in (("nope", VALUE), ("directory", VALUE), (3, TYPE), (None, TYPE)):
        cases.append(Case(".to_html(include_plotlyjs)", "include_plotlyjs", value, expected,
                          lambda x=value: explorer.to_html(page, include_plotlyjs=x)))
    cases += declared_cases(".to_html(max_steps)", {"max_steps": MAX_STEPS},
                            lambda n, x: explorer.to_html(page, include_plotlyjs=False, max_steps=x))
    cases += declared_cases(".to_html(points)", {"points": CURVE_POINTS},
                            lambda n, x: explorer.to_html(page, include_plotlyjs=False, points=x))
    for value in (3, ["t"], b"t"):
        cases.append(Case(".to_html(title)", "title", value, TYPE,
                          lambda x=value: explorer.to_html(page, include_plotlyjs=False, title=x)))

    te = lambda **k: TrainingExplorer(live=k.pop("live", False), **k)  # noqa: E731
    for value in (3, "config", {}, TrainConfig):
        cases.append(Case("TrainingExplorer(config)", "config", value, TYPE, lambda x=value: te(config=x)))
    cases += declared_cases("TrainingExplorer(live)", {"live": LIVE}, lambda n, x: te(live=x))
    cases += declared_cases("TrainingExplorer(max_ghosts)", {"max_ghosts": MAX_GHOSTS_PARAM},
                            lambda n, x: te(max_ghosts=x))
    cases += declared_cases("TrainingExplorer(**fields)", params_of(TrainConfig), lambda n, x: te(**{n: x}),
                            label=lambda n: f"TrainConfig.{n}")
    cases += declared_cases("TrainingExplorer(**params)", sg.FastSigmoid.params(), lambda n, x: te(**{n: x}))
    cases += declared_cases("TrainingExplorer(classroom)", {"classroom": CLASSROOM}, lambda n, x: te(classroom=x))
    cases += declared_cases("TrainingExplorer(seeds)", {"seeds": SEEDS}, lambda n, x: te(seeds=x))
    cases += declared_cases("seed_configs(seeds)", {"seeds": SEEDS}, lambda n, x: seed_configs(TrainConfig(), x))
    shape = SurrogateExplorer()
    cases += declared_cases("set_projector(on)", {"on": PROJECTOR}, lambda n, x: set_projector(shape, x))
    cases += declared_cases("projector_toggle(value)", {"value": PROJECTOR}, lambda n, x: projector_toggle(value=x))
    cases += declared_cases("smoothed(window)", {"window": SMOOTHING}, lambda n, x: smoothed([1.0], x))
    for value, expected in (("64", TYPE), ((0,), VALUE), ((64,) * 5, VALUE)):
        cases.append(Case("TrainingExplorer(hidden)", "hidden", value, expected, lambda x=value: te(hidden=x)))
    for text in ("1_000", "\u0666\u0664", "\uff16\uff14", "6\u00b2", "64 32", "-5", "+5", "", ",", "1e3",
                 "0x10", "64;32", "abc", "9" * 5000, "64,\t32", "64\n"):
        cases.append(Case("parse_hidden(text)", "hidden", text, VALUE, lambda x=text: parse_hidden(x)))
    for value in (None, 3.0, b"64", True):
        cases.append(Case("parse_hidden(text)", "hidden", value, TYPE, lambda x=value: parse_hidden(x)))
    return cases


def _as_types(values: List[Tuple[Any, str]]) -> List[Tuple[Any, str]]:
    """Threshold values for an entry that takes a number: a tensor is a wrong type there."""
    return [(value, TYPE if isinstance(value, torch.Tensor) else expected) for value, expected in values]


def interop_cases() -> List[Case]:
    gauss = sg.Gaussian()
    adapters = {"to_snntorch": to_snntorch, "to_spikingjelly": to_spikingjelly, "to_norse": to_norse,
                "translate": lambda s, thr: translate(s, "snntorch", thr)}
    cases = []
    for entry, make in adapters.items():
        for value in (lambda v, thr: v, sg.Gaussian, "Gaussian", None, 1.0):
            cases.append(Case(f"{entry}(surrogate)", "surrogate", value, TYPE,
                              lambda x=value, m=make: m(x, 1.0)))
        for value, expected in _as_types(threshold_values()) + [(torch.ones(2), TYPE)]:
            cases.append(Case(f"{entry}(spike_threshold)", "spike_threshold", value, expected,
                              lambda x=value, m=make: m(gauss, x),
                              valid=SPIKE_THRESHOLD.range_text() if expected == VALUE else None))
    # NorseMethod is what to_norse returns, without extending norse's dispatch (no norse needed)
    calls = {"to_snntorch(...)(x)": to_snntorch(gauss), "to_norse(...)(x)": NorseMethod(gauss),
             "to_spikingjelly(...).forward(x)": to_spikingjelly(gauss).forward}
    smooth = to_spikingjelly(gauss)
    smooth.set_spiking_mode(False)
    calls["to_spikingjelly(...) spiking=False .forward(x)"] = smooth.forward
    for entry, call in calls.items():
        for value, expected in membrane_values():
            if expected == TYPE:  # NaN in x is the framework's business: it does not spike
                cases.append(Case(entry, "x", value, expected, lambda x=value, c=call: c(x)))
    cases += declared_cases("translate(framework)", {"framework": FRAMEWORK},
                            lambda n, x: translate(gauss, x, 1.0))
    cases += declared_cases("from_framework(framework)", {"framework": FRAMEWORK},
                            lambda n, x: from_framework(x, "atan"))
    for value, expected in (("nope", VALUE), ("", VALUE), ("ATAN", VALUE), (3, TYPE), (None, TYPE),
                            (["atan"], TYPE), (sg.ArcTan, TYPE)):
        cases.append(Case("from_framework(name)", "name", value, expected,
                          lambda x=value: from_framework("snntorch", x)))
    for framework, names in INEXPRESSIBLE.items():
        for name in names:
            cases.append(Case("from_framework(name=<inexpressible>)", name, name, VALUE,
                              lambda f=framework, n=name: from_framework(f, n)))
    for value, expected in _as_types(threshold_values()) + [(torch.ones(2), TYPE)]:
        cases.append(Case("from_framework(spike_threshold)", "spike_threshold", value, expected,
                          lambda x=value: from_framework("spikingjelly", "PiecewiseExp", x),
                          valid=SPIKE_THRESHOLD.range_text() if expected == VALUE else None))
    # every parameter of every built-in: not a number, not finite, and <= 0 for a steepness or width
    for entry in BUILTINS:
        for key, default in entry.defaults.items():
            values = [(math.nan, VALUE), (math.inf, VALUE), (-math.inf, VALUE), (10**400, VALUE),
                      (np.float64(math.nan), VALUE), (True, TYPE), (torch.tensor([1.0, 2.0]), TYPE)]
            values += [(value, TYPE) for value in WRONG_TYPES]
            if key in ("alpha", "slope", "w"):
                values += [(0.0, VALUE), (-1.0, VALUE), (-1e300, VALUE)]
            for value, expected in values:
                call = lambda e=entry, k=key, v=value: from_framework(e.framework, e.name, **{k: v})  # noqa: E731
                cases.append(Case(f"from_framework({entry.framework}, {entry.name}, {key}=...)", key, value,
                                  expected, call))
        cases.append(Case(f"from_framework({entry.framework}, {entry.name}, **params)", "nope", "nope=1",
                          VALUE, lambda e=entry: from_framework(e.framework, e.name, nope=1.0)))
    # peer values that map outside the declared range of the sgexplore parameter they become
    outside = (("snntorch", "atan", "alpha", 1e300), ("snntorch", "fast_sigmoid", "slope", 1e9),
               ("spikingjelly", "Sigmoid", "alpha", 1e-9), ("spikingjelly", "Erf", "alpha", 1e300),
               ("spikingjelly", "PiecewiseExp", "alpha", 1e-300), ("spikingjelly", "PiecewiseLeakyReLU", "w", 1e9),
               ("norse", "tanh", "alpha", 1e300), ("norse", "heavi_erfc", "alpha", 5e-324),
               ("sinabs", "Gaussian", "sigma", 1e9), ("sinabs", "Gaussian", "sigma", -1.0),
               ("sinabs", "MultiGaussian", "h", 1e9))
    for framework, name, key, value in outside:
        params = {key: value, **({"c": 0.0} if name == "PiecewiseLeakyReLU" else {})}
        cases.append(Case(f"from_framework({framework}, {name}, {key}=...)", key, value, VALUE,
                          lambda f=framework, n=name, p=params: from_framework(f, n, **p)))
    return cases


def _histogram() -> MembraneHistogram:
    return histogram(torch.linspace(-2.0, 2.0, 401), 1.0)


def lens_cases() -> List[Case]:
    gauss, hist = sg.Gaussian(), _histogram()
    cases = []
    entries = {"histogram": ("offsets", lambda v, thr=1.0: histogram(v, thr)),
               "membrane_histogram": ("v_mem", lambda v, thr=1.0: membrane_histogram(v, thr))}
    for entry, (name, call) in entries.items():
        for value, expected in membrane_values():
            if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isnan(value).any():
                continue  # inf counts in the outer bins
            cases.append(Case(f"{entry}({name})", name, value, expected, lambda x=value, c=call: c(x)))
        for where in (0, 4097, 9999):  # a NaN first, inside and last of a large tensor
            value = torch.zeros(10000, dtype=torch.float64).index_fill_(0, torch.tensor([where]), math.nan)
            cases.append(Case(f"{entry}({name})", name, f"NaN at {where} of 10000", VALUE,
                              lambda x=value, c=call: c(x)))
        for value, expected in _as_types(threshold_values()):
            cases.append(Case(f"{entry}(spike_threshold)", "spike_threshold", value, expected,
                              lambda x=value, c=call: c(torch.zeros(3), x),
                              valid=SPIKE_THRESHOLD.expected_text() if expected == VALUE else None))
    readers = {"coverage": lambda s=gauss, h=hist, thr=1.0: coverage(s, h, thr),
               "mean_gain": lambda s=gauss, h=hist, thr=1.0: mean_gain(s, h, thr),
               "fit_width": lambda s=gauss, h=hist, thr=1.0: lens_fit_width(s, h, thr)}
    for entry, call in readers.items():
        for value in (lambda v, thr: v, sg.Gaussian, "Gaussian", None, 1.0):
            cases.append(Case(f"{entry}(surrogate)", "surrogate", value, TYPE, lambda x=value, c=call: c(s=x)))
        for value in (None, hist.counts, (hist.edges, hist.counts), torch.zeros(3), "hist"):
            cases.append(Case(f"{entry}(hist)", "hist", value, TYPE, lambda x=value, c=call: c(h=x)))
        for value, expected in _as_types(threshold_values()):
            cases.append(Case(f"{entry}(spike_threshold)", "spike_threshold", value, expected,
                              lambda x=value, c=call: c(thr=x),
                              valid=SPIKE_THRESHOLD.expected_text() if expected == VALUE else None))
    cases += declared_cases("coverage(level)", {"level": LENS_LEVEL}, lambda n, x: coverage(gauss, hist, 1.0, x))
    cases += declared_cases("fit_width(level)", {"level": LENS_LEVEL},
                            lambda n, x: lens_fit_width(gauss, hist, 1.0, level=x))
    cases += declared_cases("fit_width(coverage)", {"coverage": LENS_COVERAGE},
                            lambda n, x: lens_fit_width(gauss, hist, 1.0, coverage=x))
    for name, cls in sg.registry().items():
        if cls.__module__.startswith("sgexplore.") and not cls.width:
            cases.append(Case("fit_width(surrogate without a width)", "surrogate", name, VALUE,
                              lambda c=cls: lens_fit_width(c(), hist, 1.0)))
    for value, expected in ((math.nan, VALUE), (np.float64(math.nan), VALUE), (True, TYPE), (None, TYPE),
                            ("0", TYPE), ([0.0], TYPE), (complex(0, 1), TYPE), (torch.tensor(0.0), TYPE)):
        cases.append(Case("MembraneHistogram.fraction_at_or_above(x)", "x", value, expected,
                          lambda x=value: hist.fraction_at_or_above(x)))
    return cases


def run_cases() -> List[Case]:
    config = TrainConfig(steps=2, hidden=(4,), samples_per_class=20, batch_size=8, test_every=1)
    cases = []
    for value in (None, "config", {}, TrainConfig, 3, dataclasses.asdict(config)):
        cases.append(Case("Run(config)", "config", value, TYPE, lambda x=value: Run(x)))
    finished = Run(config)
    list(finished)
    cases.append(Case("Run.step() when done", "the run is over", "done", "RuntimeError", finished.step,
                      after=lambda: None if len(finished.records) == config.steps else "a record was added"))
    run = Run(config)
    before = run.config

    def unchanged(value):
        return None if run.config is before and run._state.model.lif.surrogate == before.surrogate \
            else f"the run's surrogate changed after set_surrogate({value!r})"

    for value, expected in (("NoSuch", VALUE), ("", VALUE), (3, TYPE), (None, TYPE), (sg.Gaussian, TYPE),
                            (lambda v, t: v, TYPE), (["Gaussian"], TYPE)):
        cases.append(Case("Run.set_surrogate(surrogate)", "surrogate", value, expected,
                          lambda x=value: run.set_surrogate(x), after=lambda x=value: unchanged(x)))
    test_samples = run._state.x_test.shape[1]
    cases += declared_cases("Run.activity(sample)", {"sample": _sample_param(test_samples)},
                            lambda n, x: run.activity(x))
    return cases


def views_cases() -> List[Case]:
    cases = []
    for entry, call in (("raster(spikes)", raster), ("firing_rates(spikes)", firing_rates)):
        for value, expected in ((None, TYPE), ("spikes", TYPE), ({"a": 1}, TYPE), (object(), TYPE),
                                ([["0", "1"]], TYPE), (np.zeros((2, 2), dtype=complex), TYPE),
                                (np.zeros(3), VALUE), (np.zeros((2, 2, 2)), VALUE), (3, VALUE),
                                ([[0, 1], [1]], VALUE), (np.array([[0.0, math.nan]]), VALUE),
                                (np.array([[0.0, math.inf]]), VALUE), (np.array([[0.0, -1.0]]), VALUE),
                                (torch.tensor([[0.0, math.nan]]), VALUE), (torch.zeros(3), VALUE)):
            cases.append(Case(entry, "spikes", value, expected, lambda x=value, c=call: c(x)))
    x, y = torch.zeros(5, 4, 3), torch.tensor([0, 1, 0, 2])
    for name, value, expected in (("x", None, TYPE), ("x", x.numpy(), TYPE), ("x", x.tolist(), TYPE),
                                  ("x", torch.zeros(5, 4), VALUE), ("x", torch.zeros(2, 5, 4, 3), VALUE),
                                  ("y", torch.zeros(5, 3, 3), VALUE)):  # 3 samples, 4 labels
        cases.append(Case("class_examples(x)", name, value, expected, lambda v=value: class_examples(v, y)))
    for value, expected in ((None, TYPE), ([0, 1, 0, 2], TYPE), (y.numpy(), TYPE), (y.float(), TYPE),
                            (y.bool(), TYPE), (torch.tensor([0, 1, 0]), VALUE), (y[None], VALUE),
                            (torch.tensor([0, -1, 0, 2]), VALUE), (torch.tensor([0, 1, 0, 2, 1]), VALUE)):
        cases.append(Case("class_examples(y)", "y", value, expected, lambda v=value: class_examples(x, v)))
    return cases


def widget_method_cases() -> List[Case]:
    cases = []
    explorer = TrainingExplorer(live=False, steps=2, hidden=(4,), samples_per_class=20, batch_size=8)
    explorer.run()  # a recorded histogram, so fit_width's own checks are what is tried

    def no_new_records(count=len(explorer.records), surrogate=explorer.config.surrogate):
        if len(explorer.records) != count or explorer.config.surrogate != surrogate:
            return "the explorer trained or changed its surrogate"
        return None

    cases += declared_cases("TrainingExplorer.fit_width(coverage)", {"coverage": LENS_COVERAGE},
                            lambda n, x: explorer.fit_width(coverage=x), after=lambda n, x: no_new_records())
    for method in ("fit_width", "pause", "play", "step", "stop"):
        cases += declared_cases(f"TrainingExplorer.{method}(browser)", {"browser": BROWSER},
                                lambda n, x, m=method: getattr(explorer, m)(browser=x),
                                after=lambda n, x: no_new_records())
    notified = []
    panel = SurrogatePanel("Gaussian", 1.0, "single", None, {}, on_change=notified.append)
    shown_before = dict(sigma=panel.controls["sigma"].value, surrogate=panel.controls["surrogate"].value)

    def untouched(_name=None, _value=None):
        now = dict(sigma=panel.controls["sigma"].value, surrogate=panel.controls["surrogate"].value)
        return None if now == shown_before and not notified else "the panel changed or notified"

    @dataclass(frozen=True)
    class Unregistered(sg.Gaussian):
        pass

    for value, expected in ((None, TYPE), ("Gaussian", TYPE), (sg.Gaussian, TYPE), (3, TYPE),
                            (Unregistered(), VALUE)):
        cases.append(Case("SurrogatePanel.load(surrogate)", "surrogate", value, expected,
                          lambda x=value: panel.load(x), after=untouched))
    cases += declared_cases("SurrogatePanel.load(notify)", {"notify": LOAD_NOTIFY},
                            lambda n, x: panel.load(sg.FastSigmoid(), notify=x), after=untouched)
    for value, expected in ((3, TYPE), ("change", TYPE), ([("owner", None)], TYPE), ({}, VALUE),
                            ({"new": 1}, VALUE)):
        cases.append(Case("SurrogatePanel.load(change)", "change", value, expected,
                          lambda x=value: panel.load(sg.FastSigmoid(), change=x), after=untouched))
    return cases


# -- running the cases -------------------------------------------------------------

def _allowed(filename: str) -> bool:
    """A frame that is sgexplore's own, this file's, or the dataclass machinery's."""
    path = str(Path(filename).resolve()) if not filename.startswith("<") else filename
    return (path.startswith(PACKAGE) or path == THIS_FILE or filename == "<string>"
            or path.endswith(("dataclasses.py", "argparse.py")))


def _outside_frames(error: BaseException) -> List[str]:
    """Frames past the checks: any frame outside sgexplore (and the dataclass machinery),
    and an innermost frame that is not a ``raise`` statement (a builtin or a C function,
    such as ``torch.exp``, called by sgexplore raised it, not a check)."""
    frames = traceback.extract_tb(error.__traceback__)
    outside = [f"{Path(f.filename).name}:{f.lineno}" for f in frames if not _allowed(f.filename)]
    innermost = frames[-1]
    if not outside and not (innermost.line or "").lstrip().startswith("raise"):
        outside.append(f"{Path(innermost.filename).name}:{innermost.lineno} ({innermost.line.strip()!r})")
    return outside


def _named(parameter: str, text: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(parameter)}(?![A-Za-z0-9_])", text) is not None


def run_case(case: Case) -> Tuple[str, str]:
    """(outcome, detail) of one case."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            result = case.call()
    except SystemExit as error:
        if case.expected != "SystemExit":
            return "crashed deep", f"SystemExit {error.code}"
        text = err.getvalue()
        flag_named = _named(case.parameter, text) or _named(case.parameter.replace("_", "-"), text)
        if error.code == 2 and flag_named and "Traceback" not in text:
            return "rejected cleanly", ""
        return "at entry, not as promised", f"exit {error.code}: {text.strip().splitlines()[-1:]}"
    except (TypeError, ValueError, AttributeError, RuntimeError) as error:
        outside = _outside_frames(error)
        if outside:
            return "crashed deep", f"{type(error).__name__} past the checks ({outside[-1]}): {error}"
        for kind in (AttributeError, RuntimeError):  # only where that is the documented behaviour
            if isinstance(error, kind) and case.expected != kind.__name__:
                return "crashed deep", f"{kind.__name__}: {error}"
        text = str(error)
        promised = {TYPE: isinstance(error, TypeError),
                    VALUE: isinstance(error, ValueError) and not isinstance(error, TypeError),
                    "AttributeError": isinstance(error, AttributeError),
                    "RuntimeError": isinstance(error, RuntimeError),
                    "SystemExit": False}[case.expected]
        problems = []
        if not promised:
            problems.append(f"{type(error).__name__}, promised {case.expected}")
        if not _named(case.parameter, text):
            problems.append(f"message does not name {case.parameter!r}")
        if case.valid is not None and case.valid not in text:
            problems.append(f"message does not say {case.valid!r}")
        if case.after is not None:
            complaint = case.after()
            if complaint:
                problems.append(complaint)
        if problems:
            return "at entry, not as promised", "; ".join(problems) + f": {text[:160]}"
        return "rejected cleanly", ""
    except Exception as error:  # noqa: BLE001 - anything else is a crash by definition
        return "crashed deep", f"{type(error).__name__}: {str(error)[:160]}"
    if hasattr(result, "close") and isinstance(result, (SurrogateExplorer, TrainingExplorer)):
        result.close()
    return "accepted", f"returned {type(result).__name__}"


def all_cases(tmp_path: Path) -> List[Case]:
    return (surrogate_cases() + derived_quantity_cases() + spike_cases() + reset_cases()
            + register_cases() + train_config_cases() + network_cases() + cli_cases()
            + explorer_cases(tmp_path) + interop_cases() + lens_cases() + run_cases() + views_cases()
            + widget_method_cases())


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_every_bad_input_is_rejected_cleanly_where_it_enters(tmp_path, own_registry):
    cases = all_cases(tmp_path)
    tally = dict.fromkeys(OUTCOMES, 0)
    failures = []
    for case in cases:
        outcome, detail = run_case(case)
        tally[outcome] += 1
        if outcome != "rejected cleanly":
            failures.append(f"{outcome}: {case.entry} {case.parameter}={sgexplore.params.shown(case.value)}: {detail}")
    entries = len({case.entry for case in cases})
    print(f"\nbad inputs over {entries} entry points: tried {len(cases)}, "
          + ", ".join(f"{name} {count}" for name, count in tally.items()))
    assert len(cases) >= 4500  # fails if generated cases silently vanish
    assert not failures, f"{len(failures)} of {len(cases)} not rejected cleanly:\n" + "\n".join(failures[:60])


# -- the other end: extreme values inside the declared ranges ---------------------------

def _extremes(declaration: Param) -> List[float]:
    """The ends of a declared range, or the nearest floats inside an open or infinite end."""
    low = declaration.low if not declaration.low_open else math.nextafter(declaration.low, math.inf)
    high = declaration.high if not declaration.high_open else math.nextafter(declaration.high, -math.inf)
    return [value for value in (low, high) if math.isfinite(value)]


def extreme_settings() -> List[Tuple[str, sg.Surrogate, float]]:
    """(label, surrogate, threshold): each declared parameter at each end of its range with
    the others at their defaults, each surrogate at each end of the threshold's range, and
    each surrogate with every parameter at the end that makes its peak largest."""
    settings = []
    for name, cls in sg.registry().items():
        if not cls.__module__.startswith("sgexplore."):
            continue
        for param_name, declaration in cls.params().items():
            if declaration.kind != "real":
                continue
            for value in _extremes(declaration):
                settings.append((f"{name}({param_name}={value:g})", cls(**{param_name: value}), 1.0))
        for thr in _extremes(SPIKE_THRESHOLD):
            settings.append((f"{name}() thr={thr:g}", cls(), thr))
        peakiest = {}
        for param_name, declaration in cls.params().items():
            ends = _extremes(declaration)
            peaks = [cls(**{param_name: end}).peak(SPIKE_THRESHOLD.low) for end in ends]
            peakiest[param_name] = ends[int(np.argmax(peaks))]
        settings.append((f"{name}({peakiest}) thr={SPIKE_THRESHOLD.low:g}", cls(**peakiest), SPIKE_THRESHOLD.low))
    return settings


def _finite_everywhere(surrogate: sg.Surrogate, thr: float) -> List[str]:
    problems = []
    for mode, cap in (("single", None), ("multi", None), ("max", 3)):
        view = surrogate_view(surrogate, thr, mode, cap, "none", 401)
        for name in ("derivative", "primitive", "forward"):
            if not np.all(np.isfinite(getattr(view, name))):
                problems.append(f"{name} ({mode})")
    area = surrogate.area(thr)
    if not math.isfinite(surrogate.peak(thr)):
        problems.append("peak")
    # an area is infinite only where the shape never decays (then it is so at the defaults too)
    if not (math.isfinite(area) or math.isinf(type(surrogate)().area(1.0))):
        problems.append("area")
    v = torch.tensor(membrane_grid(thr, "multi", 101), dtype=torch.float32, requires_grad=True)
    spike(v, thr, surrogate, "multi").sum().backward()
    if not torch.all(torch.isfinite(v.grad)):
        problems.append("spike backward")
    return problems


def test_extreme_values_inside_the_declared_ranges_stay_finite():
    settings = extreme_settings()
    failing = {label: problems for label, surrogate, thr in settings
               if (problems := _finite_everywhere(surrogate, thr))}
    print(f"\nextreme in-range values: {len(settings) - len(failing)} of {len(settings)} stay finite "
          "(curves, primitives, forward, peak, area, spike backward in float32)")
    assert len(settings) >= 60
    assert not failing, failing
