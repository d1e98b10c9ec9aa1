"""Projector mode: large fonts and full-width figures, and back to the notebook look exactly.

That the figures then fill the page is a browser check: tests/browser/test_layout.py."""

import pytest

from sgexplore.train import TrainConfig
from sgexplore.widgets import SurrogateExplorer, TrainingExplorer
from sgexplore.widgets.projector import FONT_SIZE, HEIGHT_FACTOR, STYLE, projector_toggle, set_projector


def _look(explorer):
    looks = tuple((f.layout.width, f.layout.height, f.layout.autosize, f.layout.font.size, f.layout.title.font.size,
                   tuple(a.font.size for a in f.layout.annotations)) for f in explorer.figures)
    return looks, tuple(explorer.widget._dom_classes)


@pytest.mark.parametrize("make", [lambda: SurrogateExplorer(surrogate="Gaussian"),
                                  lambda: TrainingExplorer(config=TrainConfig(steps=3), live=False)])
def test_projector_look_is_large_and_full_width_and_switches_back_exactly(make):
    explorer = make()
    notebook = _look(explorer)
    set_projector(explorer, False)  # never switched: nothing changes, nothing is sent
    assert _look(explorer) == notebook
    set_projector(explorer, True)
    for figure, look in zip(explorer.figures, notebook[0]):  # every figure of the explorer
        layout = figure.layout
        assert layout.width is None  # it fits its container, which the projector look widens
        assert layout.height == round(look[1] * HEIGHT_FACTOR)
        assert layout.title.font.size == FONT_SIZE >= 2 * 11 and layout.font.size == FONT_SIZE - 4
        assert all(a.font.size == FONT_SIZE - 2 for a in layout.annotations) and layout.annotations
    assert "sgx-projector" in explorer.widget._dom_classes and explorer.projector is True
    set_projector(explorer, True)  # twice is once
    set_projector(explorer, False)
    assert _look(explorer) == notebook and explorer.projector is False


def test_the_toggle_switches_every_explorer_and_carries_the_style_rules():
    shape, training = SurrogateExplorer(), TrainingExplorer(config=TrainConfig(steps=3), live=False)
    box = projector_toggle(shape, training)
    style, button = box.children
    assert STYLE in style.value and f"{FONT_SIZE}px" in style.value
    assert not shape.projector and not training.projector
    button.value = True
    assert shape.projector and training.projector
    assert all("sgx-projector" in e.widget._dom_classes for e in (shape, training))
    button.value = False
    assert not shape.projector and not training.projector
    assert not any("sgx-projector" in e.widget._dom_classes for e in (shape, training))


def test_projector_arguments_are_checked():
    with pytest.raises(ValueError, match="on must be True or False"):
        set_projector(SurrogateExplorer(), "yes")
    with pytest.raises(ValueError, match="value must be True or False"):
        projector_toggle(value=1)
