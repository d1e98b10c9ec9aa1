"""Widgets derived from parameter declarations, and the surrogate panel both explorers share.

No surrogate has UI code of its own: :func:`declared_control` turns any
:class:`~sgexplore.params.Param` into a slider, and :class:`SurrogatePanel` rebuilds its
sliders from the chosen class's declarations whenever the surrogate dropdown changes.

Front-end pitfall (notebook-stack.md §4.4A): a ``FloatSlider`` whose value is not exactly
on the browser's float grid is echoed back snapped after it renders, and under *Run All*
that echo overwrites values set by later cells. Float parameters therefore use a
``SelectionSlider`` over the exact values of :func:`~sgexplore.params.slider_values`: the
browser sends an option *index*, never a float, so nothing can be snapped. Log-declared
parameters get log-spaced options, which makes them log sliders.
"""

from __future__ import annotations

import contextlib
import html
import math
import numbers
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Type, Union

import ipywidgets as W

from ..params import Param, slider_values
from ..spike import MODES
from ..surrogates import Surrogate, check_threshold, create, registry

__all__ = ["EPSILON", "declared_control", "grid_options", "is_real_change", "came_from_browser",
           "format_number", "SurrogatePanel"]

#: Changes smaller than this (relative) are float noise, not a user action.
EPSILON = 1e-9

_DESCRIPTION_STYLE = {"description_width": "110px"}
_SLIDER_LAYOUT = {"width": "360px"}

#: The threshold slider: a plain FloatSlider from 0 so a value typed into its readout
#: (including an invalid 0) reaches the explorer, which then shows a message.
#: ``min = 0`` keeps on-grid values free of the browser's snapping echo (§4.4A).
THRESHOLD_SLIDER = (0.0, 5.0, 0.01)
MAX_SPIKES_SLIDER = (1, 10, 1)
DEFAULT_MAX_SPIKES = 2


def format_number(value: float) -> str:
    """Compact text for a readout: ``∞`` for infinity, 4 significant digits otherwise."""
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.4g}"


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, numbers.Real) and isinstance(b, numbers.Real):
        return math.isclose(a, b, rel_tol=EPSILON, abs_tol=EPSILON)
    return a == b


def is_real_change(change: Dict[str, Any]) -> bool:
    """False for a traitlets change that only moves a number by float noise."""
    return not _close(change["old"], change["new"])


def grid_options(declaration: Param, value: float) -> List[Tuple[str, float]]:
    """(label, value) options of the declared slider grid, with ``value`` included exactly."""
    values = slider_values(declaration)
    if not any(_close(v, value) for v in values):
        values = sorted(values + [value])  # an off-grid value given in code stays exact
    return [(format_number(v), v) for v in values]


def _tooltip(name: str, declaration: Param) -> str:
    unit = " (relative to the threshold)" if declaration.relative else ""
    return f"{name}: {declaration.doc}{unit}; valid range {declaration.range_text()}"


def declared_control(name: str, declaration: Param, value: Optional[float] = None) -> W.ValueWidget:
    """The slider for one declared parameter, set to ``value`` (default: the declared default).

    Whole numbers get an ``IntSlider``; other numbers a ``SelectionSlider`` over the exact
    grid (log-spaced for log declarations). Setting ``.value`` from code accepts any number
    within float noise of a grid value and stores the grid value itself.
    """
    value = declaration.default if value is None else value
    common = dict(description=name, tooltip=_tooltip(name, declaration), style=_DESCRIPTION_STYLE,
                  layout=_SLIDER_LAYOUT, continuous_update=True)
    if declaration.integer:
        lo, hi, step = declaration.slider
        return W.IntSlider(value=int(value), min=int(min(lo, value)), max=int(max(hi, value)),
                           step=int(step), **common)
    return W.SelectionSlider(options=grid_options(declaration, value), value=value,
                             equals=_close, **common)


class SurrogatePanel:
    """Surrogate dropdown, its declared sliders, threshold, spike mode, reset and readouts.

    ``controls`` maps "surrogate", "spike_threshold", "mode", "max_spikes" and every
    declared parameter of the current surrogate to its widget. Choosing another surrogate
    replaces the parameter sliders (same dict object, same container) and calls
    ``on_change(change)``; so does every other control change larger than float noise.
    ``modes`` limits the spike modes offered; the max_spikes slider exists only with "max".
    """

    def __init__(self, surrogate: Union[str, Surrogate], spike_threshold: float, mode: str,
                 max_spikes: Optional[int], params: Dict[str, float],
                 on_change: Callable[[Optional[Dict[str, Any]]], None], modes: Tuple[str, ...] = MODES):
        initial = _initial_surrogate(surrogate, params)
        check_threshold(spike_threshold)
        if mode not in modes:
            raise ValueError(f"mode must be one of {modes}; got {mode!r}")
        self._on_change = on_change
        self._classes: Dict[str, Type[Surrogate]] = registry()
        name = type(initial).__name__
        if self._classes.get(name) is not type(initial):
            self._classes[name] = type(initial)  # an unregistered instance still gets a slot
        self.controls: Dict[str, W.Widget] = {}
        self.controls["surrogate"] = W.Dropdown(
            options=list(self._classes), value=name, description="surrogate",
            style=_DESCRIPTION_STYLE, layout={"width": "300px"})
        lo, hi, step = THRESHOLD_SLIDER
        self.controls["spike_threshold"] = W.FloatSlider(
            value=float(spike_threshold), min=lo, max=max(hi, float(spike_threshold)), step=step,
            description="spike_threshold", tooltip="firing threshold thr, > 0",
            style=_DESCRIPTION_STYLE, layout=_SLIDER_LAYOUT, readout_format=".2f")
        self.controls["mode"] = W.Dropdown(
            options=list(modes), value=mode, description="mode", style=_DESCRIPTION_STYLE,
            tooltip="single: at most one spike per step; multi: one per threshold crossed; "
                    "max: multi, capped at max_spikes", layout={"width": "220px"})
        self._defaults = {"spike_threshold": 1.0, "mode": "single"}
        if "max" in modes:
            lo, hi, step = MAX_SPIKES_SLIDER
            cap = DEFAULT_MAX_SPIKES if max_spikes is None else int(max_spikes)
            self.controls["max_spikes"] = W.IntSlider(
                value=cap, min=lo, max=max(hi, cap), step=step, description="max_spikes",
                style=_DESCRIPTION_STYLE, layout=_SLIDER_LAYOUT, disabled=mode != "max")
            self._defaults["max_spikes"] = DEFAULT_MAX_SPIKES
        self.reset_button = W.Button(description="reset to defaults", icon="undo",
                                     tooltip="every control back to its default (the surrogate stays)")
        self.readout = W.HTML()
        self.message_box = W.HTML()
        self._param_box = W.VBox()
        self._current_params: List[str] = []
        self._holding = False
        self._set_param_controls(type(initial), initial.values())

        self.controls["surrogate"].observe(self._surrogate_chosen, names="value")
        for key in ("spike_threshold", "mode", "max_spikes"):
            if key in self.controls:
                self.controls[key].observe(self._control_changed, names="value")
        self.widget = W.VBox([
            W.HBox([self.controls["surrogate"], self.reset_button]),
            self.controls["spike_threshold"],
            W.HBox([self.controls[k] for k in ("mode", "max_spikes") if k in self.controls]),
            self._param_box,
            self.readout,
            self.message_box,
        ])

    # -- reading the controls --------------------------------------------------
    @property
    def surrogate_class(self) -> Type[Surrogate]:
        return self._classes[self.controls["surrogate"].value]

    @property
    def param_names(self) -> List[str]:
        return list(self.surrogate_class.params())

    def build_surrogate(self) -> Surrogate:
        """The surrogate the sliders describe (ValueError if the combination is invalid)."""
        values = {name: self.controls[name].value for name in self.param_names}
        return self.surrogate_class(**values)

    def spike_settings(self) -> Tuple[float, str, Optional[int]]:
        """(spike_threshold, mode, max_spikes); max_spikes is None unless mode is "max"."""
        mode = self.controls["mode"].value
        cap = self.controls["max_spikes"].value if mode == "max" else None
        return float(self.controls["spike_threshold"].value), mode, cap

    # -- showing results -------------------------------------------------------
    def show_message(self, text: str) -> None:
        shown = f"<span style='color:#b00020'>⚠ {html.escape(text)}</span>" if text else ""
        self.message_box.value = shown

    def show_readout(self, peak: float, area: float) -> None:
        self.readout.value = (f"<b>peak</b> {format_number(peak)} &nbsp; "
                              f"<b>area</b> {format_number(area)}")

    # -- changing the controls -------------------------------------------------
    def reset_values(self) -> None:
        """Every control back to its default (the chosen surrogate stays), without notifying."""
        with self.hold():
            for name, declaration in self.surrogate_class.params().items():
                self.controls[name].value = declaration.default
            for key, value in self._defaults.items():
                self.controls[key].value = value

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Control changes inside this block trigger no update."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False

    def add_observed(self, name: str, control: W.Widget, default: Any) -> None:
        """Register another control: its changes call ``on_change``; reset sets ``default``."""
        self.controls[name] = control
        self._defaults[name] = default
        control.observe(self._control_changed, names="value")

    def _set_param_controls(self, cls: Type[Surrogate], values: Dict[str, float]) -> None:
        for name in self._current_params:
            self.controls.pop(name).unobserve(self._control_changed, names="value")
        sliders = []
        for name, declaration in cls.params().items():
            slider = declared_control(name, declaration, values.get(name))
            slider.observe(self._control_changed, names="value")
            self.controls[name] = slider
            sliders.append(slider)
        self._current_params = list(cls.params())
        self._param_box.children = sliders

    def _surrogate_chosen(self, change) -> None:
        cls = self._classes[change["new"]]
        self._set_param_controls(cls, {})
        self._notify(change)

    def _control_changed(self, change) -> None:
        if change["owner"] is self.controls["mode"] and "max_spikes" in self.controls:
            self.controls["max_spikes"].disabled = change["new"] != "max"
        if is_real_change(change):
            self._notify(change)

    def _notify(self, change: Dict[str, Any]) -> None:
        if not self._holding:
            self._on_change(change)


def came_from_browser(change: Optional[Dict[str, Any]]) -> bool:
    """True when a trait change was sent by the browser, False when code set it.

    ipywidgets locks the properties it is applying from a front-end message while the
    observers run (``Widget.set_state``); code assignments hold no lock. A private
    attribute, checked with ipywidgets 8.1.
    """
    return change is not None and bool(getattr(change["owner"], "_property_lock", None))


def _initial_surrogate(surrogate: Union[str, Surrogate], params: Dict[str, float]) -> Surrogate:
    if isinstance(surrogate, Surrogate):
        return surrogate.replace(**params) if params else surrogate
    if isinstance(surrogate, type) and issubclass(surrogate, Surrogate):
        return surrogate(**params)
    if not isinstance(surrogate, str):
        raise ValueError("surrogate must be a registered name, a Surrogate class or instance; "
                         f"got {surrogate!r}")
    return create(surrogate, **params)
