"""The explorers' bridge to sinabs, snntorch, SpikingJelly and norse.

"copy as code" shows the current surrogate in one framework's syntax (from
:func:`sgexplore.interop.translate`), marked *exact* (the framework's built-in) or
*adapter*, with what does not carry over; "start from my framework" loads a peer's built-in,
with its default parameters, into the explorer's sliders (:func:`~sgexplore.interop.from_framework`).
"""

from __future__ import annotations

import html
from typing import Callable, List, Optional, Tuple

import ipywidgets as W

from ..interop import BUILTINS, FRAMEWORKS, VERSIONS, Builtin, from_framework, translate
from ..params import format_number
from ..surrogates import Surrogate

__all__ = ["FrameworkPanel", "builtin_choices", "builtin_surrogate"]

_PLACEHOLDER = "start from my framework…"


def builtin_choices() -> List[Tuple[str, Optional[int]]]:
    """(label, index into BUILTINS) for the picker, e.g. ``snntorch 1.0.0: fast_sigmoid(slope=25)``."""
    choices: List[Tuple[str, Optional[int]]] = [(_PLACEHOLDER, None)]
    for index, entry in enumerate(BUILTINS):
        args = ", ".join(f"{k}={format_number(v, 6)}" for k, v in _loadable_defaults(entry).items())
        choices.append((f"{entry.framework} {VERSIONS[entry.framework]}: {entry.name}({args})", index))
    return choices


def _loadable_defaults(entry: Builtin) -> dict:
    # SpikingJelly's PiecewiseLeakyReLU is a Box only with c = 0 (its default 0.01 leaks)
    return {**entry.defaults, "c": 0.0} if entry.name == "PiecewiseLeakyReLU" else dict(entry.defaults)


def builtin_surrogate(index: int, spike_threshold: float) -> Surrogate:
    """The sgexplore surrogate equal to ``BUILTINS[index]`` at its defaults, at this threshold."""
    entry = BUILTINS[index]
    return from_framework(entry.framework, entry.name, spike_threshold=spike_threshold,
                          **_loadable_defaults(entry))


class FrameworkPanel:
    """A framework picker for the code, the code itself, and the "start from" dropdown.

    ``show(surrogate, spike_threshold)`` renders the code for the chosen framework (only
    that one, so a drag costs one translation). Choosing a built-in in ``start`` calls
    ``on_pick(surrogate)`` with the equal sgexplore surrogate at ``threshold()``; the
    dropdown then returns to its placeholder. ``on_pick`` also gets ``change=`` (the
    dropdown's), so that a pick made in the browser is handled as a browser change.
    """

    def __init__(self, on_pick: Callable[..., None], threshold: Callable[[], float]):
        self._on_pick, self._threshold = on_pick, threshold
        self._shown: Optional[Tuple[Surrogate, float]] = None
        self.framework = W.ToggleButtons(options=list(FRAMEWORKS), value="snntorch",
                                         description="copy as code",
                                         tooltip="the current surrogate in this framework's syntax",
                                         style={"description_width": "110px", "button_width": "90px"})
        self.code = W.HTML()
        self.start = W.Dropdown(options=builtin_choices(), value=None, description="start from",
                                tooltip="load a peer framework's built-in surrogate (its defaults) "
                                        "into the sliders",
                                style={"description_width": "110px"}, layout={"width": "480px"})
        self.framework.observe(lambda _change: self._render(), names="value")
        self.start.observe(self._picked, names="value")
        self.widget = W.VBox([self.start, self.framework, self.code])
        self.translation = None

    def show(self, surrogate: Surrogate, spike_threshold: float) -> None:
        self._shown = (surrogate, float(spike_threshold))
        self._render()

    def _render(self) -> None:
        if self._shown is None:
            return
        surrogate, spike_threshold = self._shown
        translation = translate(surrogate, self.framework.value, spike_threshold=spike_threshold)
        self.translation = translation
        if translation.exact:
            badge = (f"<b style='color:#1b7f3b'>exact</b>: {html.escape(translation.framework)}'s own "
                     f"built-in <code>{html.escape(translation.builtin)}</code>")
        else:
            badge = ("<b style='color:#8a5a00'>adapter</b>: no built-in of "
                     f"{html.escape(translation.framework)} {VERSIONS[translation.framework]} equals this "
                     "surrogate, so the code uses sgexplore's"
                     if translation.framework != "sinabs" else
                     "<b style='color:#8a5a00'>sgexplore object</b>: a plain drop-in for sinabs")
        notes = "".join(f"<li>{html.escape(note)}</li>" for note in translation.notes)
        self.code.value = (f"<div style='font-size:12px'>{badge}"
                           f"<pre style='white-space:pre-wrap;background:#f6f8fa;padding:6px;"
                           f"user-select:all'>{html.escape(translation.code)}</pre>"
                           f"<details><summary>what does not carry over</summary><ul>{notes}</ul>"
                           f"</details></div>")

    def _picked(self, change) -> None:
        index = change["new"]
        if index is None:
            return
        try:
            self._on_pick(builtin_surrogate(index, self._threshold()), change=change)
        finally:
            self.start.value = None
