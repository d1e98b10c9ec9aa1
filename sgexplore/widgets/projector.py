"""Projector mode: large fonts and full-width figures, for explorers shown to a room.

The notebook look (13 px titles, a 500 px control column beside a figure of at most 960 px)
fills about 60 % of a 1080p projector and cannot be read from the back. :func:`set_projector`
switches one explorer to the projector look and back: the controls above the figure instead
of beside it, every font at :data:`FONT_SIZE`, and the figure as wide as the page (its layout
has no width: it fits its container, ``figures.CompactFigureWidget``).
:func:`projector_toggle` is the button the Voila app shows for its explorers.
"""

from __future__ import annotations

from typing import Any, Dict, List

import ipywidgets as W

from ..params import Param, validate_value

__all__ = ["PROJECTOR", "FONT_SIZE", "set_projector", "projector_toggle", "STYLE"]

PROJECTOR = Param(False, doc="large fonts and full-width figures, for a projector")
#: Font size of the projector look, in CSS pixels (about twice the notebook look's).
FONT_SIZE = 22
#: How much taller a figure gets: its fonts grow, and so must the room between its panels.
HEIGHT_FACTOR = 1.25
_CLASS = "sgx-projector"
#: The page's style rules for the projector look (shown once, by :func:`projector_toggle`).
STYLE = f"""<style>
.{_CLASS} {{ flex-wrap: wrap !important; width: 100% !important; }}
.{_CLASS} > .sgx-controls {{ width: 100% !important; flex-direction: row !important; flex-wrap: wrap !important; }}
.{_CLASS} .widget-label, .{_CLASS} .widget-readout, .{_CLASS} .widget-html-content,
.{_CLASS} .widget-dropdown > select, .{_CLASS} .widget-text input, .{_CLASS} .widget-toggle-button,
.{_CLASS} .widget-button, .{_CLASS} .widget-checkbox {{ font-size: {FONT_SIZE}px !important; }}
.{_CLASS} .widget-slider, .{_CLASS} .widget-dropdown, .{_CLASS} .widget-text {{ min-height: {FONT_SIZE + 14}px; }}
.{_CLASS} .widget-inline-hbox > .widget-label {{ width: 11em !important; max-width: none !important; }}
.{_CLASS} .widget-slider, .{_CLASS} .widget-dropdown, .{_CLASS} .widget-text {{ width: 36em !important; max-width: none !important; }}
.{_CLASS} .widget-slider .slider-container {{ flex: 1 1 auto !important; max-width: none !important; }}
.{_CLASS} .sgx-figure {{ flex: 1 1 100% !important; max-width: none !important; }}
</style>"""


def set_projector(explorer: Any, on: bool) -> None:
    """Switch ``explorer`` (a SurrogateExplorer or TrainingExplorer) to the projector look
    (``on``) or back to the look it was built with."""
    on = validate_value("set_projector", "on", PROJECTOR, on)
    if not on and getattr(explorer, "_notebook_look", None) is None:
        explorer.projector = False  # never switched: nothing to restore (and nothing sent)
        return
    looks: List[Dict[str, Any]] = getattr(explorer, "_notebook_look", None) or [
        {"height": figure.layout.height, "font": figure.layout.font.size,
         "title": figure.layout.title.font.size,
         "annotations": [a.font.size for a in figure.layout.annotations]} for figure in explorer.figures]
    explorer._notebook_look = looks
    for figure, notebook in zip(explorer.figures, looks):
        with figure.batch_update():
            figure.layout.height = round(notebook["height"] * HEIGHT_FACTOR) if on else notebook["height"]
            figure.layout.font.size = FONT_SIZE - 4 if on else notebook["font"]
            figure.layout.title.font.size = FONT_SIZE if on else notebook["title"]
            for annotation, size in zip(figure.layout.annotations, notebook["annotations"]):
                annotation.font.size = FONT_SIZE - 2 if on else size  # the subplot titles
    if on:
        explorer.widget.add_class(_CLASS)
    else:
        explorer.widget.remove_class(_CLASS)
    explorer.projector = on


def projector_toggle(*explorers: Any, value: bool = False) -> W.VBox:
    """A "projector" toggle button for ``explorers`` (with the page's style rules), set to
    ``value``; pressing it switches every one of them."""
    value = validate_value("projector_toggle", "value", PROJECTOR, value)
    button = W.ToggleButton(value=value, description="projector", icon="television",
                            tooltip="large fonts and full-width figures, for a projector")

    def toggled(change) -> None:
        for explorer in explorers:
            set_projector(explorer, change["new"])

    button.observe(toggled, names="value")
    for explorer in explorers:
        set_projector(explorer, value)  # False: nothing is sent to a figure not yet shown
    return W.VBox([W.HTML(STYLE), button])
