"""Declarations: one Param per setting, one validator, and everything derived from them."""

import dataclasses
import math

import pytest

from sgexplore import surrogates as sg
from sgexplore.params import (CONVENTIONS, Param, format_number, markdown_settings, params_of,
                              validate_value)
from sgexplore.snn import LIFParameters
from sgexplore.surrogates import SPIKE_THRESHOLD, describe
from sgexplore.train import TrainConfig, _help, _parser, main


# -- the convention is one three-valued field ----------------------------------------

def test_convention_is_one_of_three_values():
    assert set(CONVENTIONS) == {"factor", "relative", "absolute"}
    assert Param(1.0).convention == "factor"
    with pytest.raises(ValueError, match="convention must be one of"):
        Param(1.0, convention="both")
    with pytest.raises(TypeError):
        Param(1.0, relative=True, absolute=True)  # the two old booleans are gone


def test_builtin_conventions_match_the_docs():
    assert sg.SingleExponential.params()["grad_width"].convention == "relative"
    assert sg.PeriodicExponential.params()["grad_width"].convention == "absolute"
    assert sg.Heaviside.params()["window"].convention == "absolute"
    assert sg.MultiGaussian.params()["h"].convention == "factor"
    assert sg.SingleExponential.params()["grad_width"].convention_text() == "relative to thr"


# -- one validator for numbers, choices and booleans ---------------------------------

CHOICE = Param("a", choices=("a", "b"), doc="a letter")
FLAG = Param(False, doc="a flag")


def test_kinds_are_told_by_the_declaration():
    assert [CHOICE.kind, FLAG.kind, Param(1, integer=True, slider=(0, 5, 1)).kind, Param(0.5).kind] == \
        ["choice", "boolean", "integer", "real"]


@pytest.mark.parametrize("declaration, good, bad, message", [
    (CHOICE, "b", ["c", 1, None, True], r"Owner\.x must be one of \('a', 'b'\)"),
    (FLAG, True, [1, 0, "True", None], r"Owner\.x must be True or False"),
])
def test_choices_and_booleans_are_validated_like_numbers(declaration, good, bad, message):
    assert validate_value("Owner", "x", declaration, good) == good
    for value in bad:
        with pytest.raises(ValueError, match=message):
            validate_value("Owner", "x", declaration, value)


def test_a_choice_declaration_checks_its_default():
    with pytest.raises(ValueError, match="not one of"):
        Param("c", choices=("a", "b"))


def test_a_huge_integer_gets_a_message_naming_the_setting():
    with pytest.raises(ValueError, match=r"TrainConfig\.lr must be a finite number in \(0, 10\]"):
        TrainConfig(lr=10**400)


def test_train_config_declares_every_setting_but_three():
    declared = params_of(TrainConfig)
    others = {f.name for f in dataclasses.fields(TrainConfig)} - set(declared)
    assert others == {"hidden", "surrogate", "device"}
    assert declared["reset"].choices == ("subtract", "zero", "none")
    assert declared["mode"].choices == ("single", "multi")
    assert declared["detach_reset"].kind == declared["recurrent"].kind == "boolean"


@pytest.mark.parametrize("field, bad, message", [
    ("reset", "soft", r"TrainConfig\.reset must be one of \('subtract', 'zero', 'none'\); got 'soft'"),
    ("mode", "max", r"TrainConfig\.mode must be one of \('single', 'multi'\)"),
    ("task", "mnist", r"TrainConfig\.task must be one of"),
    ("detach_reset", 1, r"TrainConfig\.detach_reset must be True or False; got 1"),
    ("recurrent", "yes", r"TrainConfig\.recurrent must be True or False"),
])
def test_train_config_rejects_bad_choices_and_booleans(field, bad, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: bad})


def test_layers_and_training_share_their_declarations():
    lif, config = params_of(LIFParameters), params_of(TrainConfig)
    for name in ("spike_threshold", "beta", "reset", "detach_reset"):
        assert lif[name] is config[name], name
    assert config["spike_threshold"] is SPIKE_THRESHOLD
    with pytest.raises(ValueError, match=r"LIFParameters\.beta must be a finite number in \[0, 1\]"):
        LIFParameters(sg.Gaussian(), beta=1.5)


# -- text derived from the declarations ---------------------------------------------

def test_cli_help_comes_from_the_declarations():
    actions = {a.dest: a for a in _parser()._actions}
    for name, declaration in params_of(TrainConfig).items():
        assert actions[name].help == _help(declaration.help_text()), name
    assert actions["reset"].choices == ("subtract", "zero", "none")


def test_cli_rejects_a_bad_choice_with_exit_code_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--reset", "soft", "--quiet"])
    assert exit_info.value.code == 2
    assert "soft" in capsys.readouterr().err


def test_readme_settings_table_is_generated_from_the_declarations(repo_root):
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    assert markdown_settings(params_of(TrainConfig)) in readme, (
        "README settings table is stale: regenerate with python -c 'from sgexplore.params import "
        "markdown_settings, params_of; from sgexplore.train import TrainConfig; "
        "print(markdown_settings(params_of(TrainConfig)))'")


# -- one number formatter, one description ------------------------------------------

def test_one_number_formatter():
    assert format_number(math.inf) == "∞" and format_number(-math.inf) == "-∞"
    assert format_number(math.inf, infinity="inf") == "inf"
    assert format_number(0.123456) == "0.1235" and format_number(0.123456, 6) == "0.123456"
    assert SPIKE_THRESHOLD.range_text() == "[0.001, 1000]"


def test_one_surrogate_description():
    assert describe(sg.FastSigmoid()) == "FastSigmoid(slope=10, grad_scale=1)"
    assert describe(sg.TrueGradient()) == "TrueGradient()"
    assert describe(sg.Gaussian(sigma=1 / 3)) == "Gaussian(mu=0, sigma=0.3333, grad_scale=1)"


def test_cli_summary_uses_the_description(capsys):
    assert main(["--steps", "2", "--samples-per-class", "20", "--quiet", "--surrogate", "Triangle",
                 "--grad-width", "0.25"]) == 0
    assert f"surrogate      {describe(sg.Triangle(grad_width=0.25))}" in capsys.readouterr().out
