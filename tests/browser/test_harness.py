"""The comparisons the browser tests rely on (no browser needed)."""

import math

import harness


def test_readout_matches_the_value_to_the_digits_it_shows():
    assert harness.readout_matches("10.00", 10.0)
    assert harness.readout_matches("0.50", 0.504)
    assert not harness.readout_matches("0.50", 0.506)
    assert not harness.readout_matches("5.00", 10.0)       # the Run All echo race
    assert harness.readout_matches("\u22122.5", -2.5)      # d3-format's minus sign
    assert harness.readout_matches("1.00e+3", 1004.0) and not harness.readout_matches("1.00e+3", 1006.0)
    assert harness.readout_matches("0.25", "0.25") and not harness.readout_matches("0.25", "0.3")


def test_same_curve_treats_gaps_alike_and_nothing_else():
    assert harness.same_curve([1.0, math.nan], [1.0, None])
    assert not harness.same_curve([1.0, 2.0], [1.0, 2.001])
    assert not harness.same_curve([1.0], [1.0, 2.0])


def _kernel(y, text="peak 1", value=0.5):
    return [{"kind": "slider", "description": "sigma", "range": False, "value": value},
            {"kind": "text", "text": text},
            {"kind": "figure", "y": [y], "title": "t"}]


def _dom(y, text="peak 1", readout="0.50"):
    return [{"kind": "slider", "description": "sigma", "readout": readout, "hidden": False},
            {"kind": "text", "text": text, "hidden": False},
            {"kind": "figure", "y": [y], "title": "t", "hidden": False}]


def test_view_mismatches_names_each_difference():
    assert harness.view_mismatches(_kernel([1.0, 2.0]), _dom([1.0, 2.0])) == []
    problems = harness.view_mismatches(_kernel([1.0, 2.0], text="peak 2", value=0.7),
                                       _dom([1.0, 3.0]))
    assert len(problems) == 3 and "sigma" in problems[0] and "peak" in problems[1] and "trace 0" in problems[2]
    assert "layout differs" in harness.view_mismatches(_kernel([1.0]), _dom([1.0])[:2])[0]
