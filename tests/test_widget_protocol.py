"""The kernel enforces every control's range, whatever a page sends (issue 15, items 3, 4, 9).

Each test drives a control the way ipywidgets' comm does: ``widget._handle_msg(msg)`` with
the message a browser sends (``{"method": "update", "state": ..., "buffer_paths": []}``),
which calls ``widget.set_state(state)``. It checks that a refused update changed nothing in
the kernel (value, min, max, options), that the page was sent the kernel's state back
(recorded from the widget's comm), that the explorer shows a message naming the control and
its range, and that no run started. The classroom caps (sgexplore.widgets.classroom) are
checked the same way. tests/test_classroom_server.py sends the same updates to a served app.
"""

import asyncio
import logging
import math

import pytest

from sgexplore.params import params_of
from sgexplore.train import TrainConfig
from sgexplore.widgets import SurrogateExplorer, TrainingExplorer
from sgexplore.widgets.classroom import (CLASSROOM_CAPS, CLASSROOM_LAYER_SIZE, CLASSROOM_LAYERS,
                                         CLASSROOM_LIMITS, CLASSROOM_SEEDS, check_classroom)
from sgexplore.widgets.controls import MAX_TEXT

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")

TINY = TrainConfig(classes=2, units=10, time_steps=20, samples_per_class=20, hidden=(16,),
                   batch_size=16, steps=6, test_every=3)
SYNCED = ("value", "index", "min", "max", "step", "_options_labels", "disabled")


def tiny(**kwargs):
    return TrainingExplorer(config=TINY, **kwargs)


def from_page(widget, **state):
    """Deliver ``state`` as a browser's update message; return what the kernel sent back."""
    sent = []
    original = widget.comm.send

    def record(data=None, metadata=None, buffers=None):
        sent.append(data)
        return original(data=data, metadata=metadata, buffers=buffers)

    widget.comm.send = record
    try:
        widget._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}},
                            "buffers": []})
    finally:
        widget.comm.send = original
    return sent


def snapshot(widget):
    return {key: getattr(widget, key) for key in SYNCED if key in widget.keys}


def assert_refused(explorer, name, state, *words, runs=None):
    """``state`` sent to ``explorer.controls[name]`` is refused: nothing changed, the page got
    the kernel's values back (as its echo and as an update), and the message says ``words``."""
    widget = explorer.controls[name]
    before = snapshot(widget)
    started = getattr(explorer, "runs_started", None)
    sent = from_page(widget, **state)
    assert snapshot(widget) == before
    keys = [k for k in state if k in widget.keys]
    expected = {k: widget.get_state(k)[k] for k in keys}
    assert [m["method"] for m in sent] == ["echo_update", "update"], sent
    assert all(m["state"] == expected for m in sent), (sent, expected)
    assert name in explorer.message, explorer.message
    for word in words:
        assert word in explorer.message, (word, explorer.message)
    assert explorer.panel.message_box.value and name in explorer.panel.message_box.value
    if started is not None:
        assert explorer.runs_started == started, "a refused update started a run"


# --- the cases of issue 15 ---------------------------------------------------------------
def test_max_and_value_in_one_update_are_refused_and_the_slider_keeps_its_range():
    explorer = tiny(live=False)
    steps = explorer.controls["steps"]
    assert (steps.min, steps.max, steps.value) == (6, 1000, 6)  # the slider widened to TINY.steps
    assert_refused(explorer, "steps", {"max": 100000, "value": 100000}, "only its value", "not max",
                   "[6, 1000]")
    assert_refused(explorer, "steps", {"value": 10**9}, "an integer in [6, 1000]", "got 1000000000")
    assert_refused(explorer, "steps", {"min": -5}, "not min")
    assert explorer.config.steps == 6


@pytest.mark.parametrize("index", [10**6, -1, 1.5, True, None, "0"])
def test_a_selection_slider_index_outside_its_options_is_refused(index):
    explorer = SurrogateExplorer("Gaussian")
    sigma = explorer.controls["sigma"]
    last = len(sigma.options) - 1
    curve = list(explorer.figure.data[0].y)
    assert_refused(explorer, "sigma", {"index": index}, f"an integer in [0, {last}]")
    assert list(explorer.figure.data[0].y) == curve


@pytest.mark.parametrize("name", ["surrogate", "mode", "normalise"])
def test_a_dropdown_or_toggle_index_of_99_is_refused(name):
    explorer = SurrogateExplorer()
    assert_refused(explorer, name, {"index": 99}, "option index")


def test_a_refused_index_logs_no_traitlets_error(caplog):
    """ipywidgets itself raises TraitError for an index out of bounds, inside the comm handler,
    where it is only logged; the guard refuses it before, with a message."""
    explorer = SurrogateExplorer()
    with caplog.at_level(logging.DEBUG):
        from_page(explorer.controls["surrogate"], index=99)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert "surrogate: the option index" in explorer.message


@pytest.mark.parametrize("value", [1e300, -1.0, math.inf, math.nan, "1", None, [1.0]])
def test_a_threshold_beyond_its_slider_or_float32_is_refused_with_the_range(value):
    explorer = SurrogateExplorer()
    assert_refused(explorer, "spike_threshold", {"value": value}, "a finite number in [0, 5]")
    assert explorer.spike_threshold == 1.0


def test_a_checkbox_takes_only_a_boolean():
    explorer = tiny(live=False)
    assert_refused(explorer, "recurrent", {"value": "yes"}, "True or False")
    assert_refused(explorer, "recurrent", {"value": 1}, "True or False")


def test_a_text_too_long_or_not_text_is_refused():
    explorer = tiny(live=False)
    assert_refused(explorer, "hidden", {"value": "8," * MAX_TEXT}, f"at most {MAX_TEXT} characters")
    assert_refused(explorer, "hidden", {"value": 64}, "text")
    assert_refused(explorer, "hidden", {"value": "sixty-four"}, "comma-separated layer widths")
    assert_refused(explorer, "hidden", {"value": "5000"}, "[1, 4096]")
    assert explorer.controls["hidden"].value == "16"


def test_the_framework_panel_controls_are_guarded_too():
    explorer = SurrogateExplorer()
    start = explorer.panel.frameworks.start
    sent = from_page(start, index=99)
    assert start.index is None and [m["state"] for m in sent] == [{"index": None}, {"index": None}]
    assert explorer.message.startswith("start from: the option index must be an integer in [0, ")


def test_every_control_of_both_explorers_refuses_an_update_outside_its_range():
    for explorer in (SurrogateExplorer(mode="max"), tiny(live=False)):
        for name, widget in explorer.controls.items():
            key = "index" if "index" in widget.keys else "value"
            if key == "index":
                bad = len(widget.options)
            elif "max" in widget.keys:
                bad = widget.max + 1
            elif isinstance(widget.value, bool):
                bad = "maybe"
            else:
                bad = "x" * (MAX_TEXT + 1)
            assert_refused(explorer, name, {key: bad})
        explorer.close()


def test_an_update_in_range_still_applies_and_trains():
    explorer = tiny(live=False)
    started = explorer.runs_started
    sent = from_page(explorer.controls["steps"], value=20)
    assert explorer.controls["steps"].value == 20 and explorer.config.steps == 20
    assert explorer.runs_started == started + 1 and len(explorer.records) == 20
    assert [m["method"] for m in sent][:1] == ["echo_update"] and sent[0]["state"] == {"value": 20}
    assert explorer.message == ""


def test_a_refused_update_leaves_the_run_in_flight_alone():
    explorer = tiny(steps=40)
    explorer.debounce_s = 0.0

    async def scenario():
        from_page(explorer.controls["steps"], value=30)  # a browser change: a live run
        while not explorer.records:  # the run yields after each step: this gets a turn between steps
            await asyncio.sleep(0)
        task, generation = explorer._task, explorer._generation
        assert explorer.running and len(explorer.records) < 30
        from_page(explorer.controls["steps"], max=100000, value=100000)
        from_page(explorer.controls["lr"], index=10**6)
        assert explorer._task is task and explorer._generation == generation and explorer.running
        await explorer.wait()

    asyncio.run(scenario())
    assert explorer.config.steps == 30 and len(explorer.records) == 30
    assert explorer.message.startswith("lr: the option index")


# --- the classroom caps -------------------------------------------------------------------
def test_the_classroom_caps_narrow_the_trainconfig_declarations_and_nothing_else():
    declared = params_of(TrainConfig)
    for name, cap in CLASSROOM_CAPS.items():
        narrow, wide = CLASSROOM_LIMITS[name], declared[name]
        assert narrow.high == cap < wide.high
        assert (narrow.low, narrow.default, narrow.doc, narrow.integer) == (wide.low, wide.default, wide.doc,
                                                                            wide.integer)
        assert narrow.slider[1] <= max(cap, narrow.slider[0] + narrow.slider[2])
    assert CLASSROOM_LAYER_SIZE.high == 64 and CLASSROOM_LAYERS == 2
    check_classroom(TrainConfig())  # the defaults are a classroom run


def test_the_classroom_sliders_end_at_the_caps():
    explorer = tiny(live=False, classroom=True)
    for name in ("steps", "batch_size"):
        assert explorer.controls[name].max == CLASSROOM_CAPS[name]
    assert "1 to 2 layers" in explorer.controls["hidden"].tooltip
    plain = tiny(live=False)
    assert plain.controls["steps"].max == 1000 and plain.controls["batch_size"].max == 256


@pytest.mark.parametrize("name", sorted(CLASSROOM_CAPS))
def test_a_classroom_explorer_refuses_a_config_beyond_a_cap_naming_its_range(name):
    cap = CLASSROOM_CAPS[name]
    values = {name: cap + 1}
    if name == "batch_size":
        values["samples_per_class"] = 200  # a training set large enough for the batch
    low = int(CLASSROOM_LIMITS[name].low)
    with pytest.raises(ValueError, match=rf"^{name} must be an integer in \[{low}, {cap}\] in the classroom; "
                                         rf"got {cap + 1}$"):
        TrainingExplorer(config=TINY, classroom=True, **values)
    TrainingExplorer(config=TINY, **values).close()  # allowed outside the classroom


@pytest.mark.parametrize("hidden, words", [((64, 64, 64), "1 to 2 layers"), ((256,), "[1, 64]")])
def test_a_classroom_explorer_refuses_hidden_layers_beyond_the_caps(hidden, words):
    with pytest.raises(ValueError, match="in the classroom") as refused:
        TrainingExplorer(config=TINY, classroom=True, hidden=hidden)
    assert words in str(refused.value)


def test_a_classroom_hidden_text_beyond_the_caps_is_refused_from_a_page_and_from_code():
    explorer = tiny(live=False, classroom=True)
    explorer.run()
    records, config = list(explorer.records), explorer.config
    assert_refused(explorer, "hidden", {"value": "2048, 2048, 2048, 2048"}, "in the classroom")
    assert_refused(explorer, "hidden", {"value": "65"}, "hidden: each layer must be an integer in [1, 64] "
                                                         "in the classroom; got 65")
    explorer.controls["hidden"].value = "256"  # from code: the config is refused, no run
    assert explorer.message == "hidden: each layer must be an integer in [1, 64] in the classroom; got 256"
    assert explorer.records == records and explorer.config == config
    explorer.controls["hidden"].value = "64, 64"
    assert explorer.message == "" and explorer.config.hidden == (64, 64)


def test_a_classroom_run_trains_one_seed_whatever_the_page_or_the_code_asks():
    with pytest.raises(ValueError, match=r"^seeds must be an integer in \[1, 1\] in the classroom; got 3$"):
        TrainingExplorer(config=TINY, classroom=True, seeds=3)
    explorer = tiny(live=False, classroom=True)
    assert explorer.controls["seeds"].disabled and not tiny(live=False).controls["seeds"].disabled
    assert_refused(explorer, "seeds", {"value": 3}, "[1, 1] in the classroom")
    explorer.controls["seeds"].value = 3  # from code: the run is refused
    assert explorer.message == "seeds must be an integer in [1, 1] in the classroom; got 3"


def test_the_classroom_setting_is_checked_where_it_enters():
    with pytest.raises(TypeError, match="TrainingExplorer.classroom must be True or False"):
        TrainingExplorer(config=TINY, classroom="yes")


def test_the_classroom_table_in_the_docs_says_what_the_caps_are():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "classroom-demo.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `"): line.split("|")[2] for line in text.splitlines()
            if line.startswith("| `")}
    for name, declaration in CLASSROOM_LIMITS.items():
        assert rows[name].strip().startswith(declaration.range_text()), (name, rows[name])
    assert f"1 to {CLASSROOM_LAYERS} layers, each [1, {int(CLASSROOM_LAYER_SIZE.high)}]" in rows["hidden"]
    assert rows["seeds"].strip() == CLASSROOM_SEEDS.range_text()


def test_the_app_builds_its_training_explorer_in_the_classroom_setting():
    import ast
    import json
    from pathlib import Path

    app = json.loads((Path(__file__).resolve().parents[1] / "apps" / "explorer.ipynb").read_text())
    calls = [node for cell in app["cells"] if cell["cell_type"] == "code"
             for node in ast.walk(ast.parse("".join(cell["source"])))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "TrainingExplorer"]
    assert calls, "the app builds no TrainingExplorer"
    for call in calls:
        given = {k.arg: k.value for k in call.keywords}
        assert isinstance(given.get("classroom"), ast.Constant) and given["classroom"].value is True
