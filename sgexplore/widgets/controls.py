"""Widgets derived from declarations, and the surrogate panel both explorers share.

No setting has UI code of its own: :func:`declared_control` turns any
:class:`~sgexplore.params.Param` into a widget (a slider for a number, a dropdown for a
choice, a checkbox for a boolean) whose tooltip is the declaration's meaning and valid
values, and :class:`SurrogatePanel` rebuilds its sliders from the chosen class's
declarations whenever the surrogate dropdown changes.

Front-end pitfall (docs/front-end-pitfalls.md#slider-snapping-echo): a
``FloatSlider`` whose value is not exactly on the browser's float grid is echoed back
snapped after it renders, and under *Run All* that echo overwrites values set by later
cells. Float parameters therefore use a ``SelectionSlider`` over the exact values of
:func:`~sgexplore.params.slider_values`: the browser sends an option *index*, never a
float, so nothing can be snapped. Log-declared parameters get log-spaced options, which
makes them log sliders.

The kernel trusts no browser (docs/classroom-demo.md, "The kernel checks every control"):
:func:`guard` checks each state update a page sends to a control before it is applied:
only the key the control's view sends (``value``, or a selection's ``index``), of the
right type and within the control's own range, which the kernel set from the declaration.
Anything else (``{"max": 100000, "value": 100000}``, an option index of ``10**6``) is not
applied: the page is sent the control's state back and the explorer shows a message.
"""

from __future__ import annotations

import contextlib
import html
import math
import numbers
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Type, Union

import ipywidgets as W
from ipywidgets.widgets.widget import JUPYTER_WIDGETS_ECHO

from ..params import Param, ParamTypeError, format_number, shown, slider_values, validate_value
from ..spike import MAX_SPIKES, MODE
from ..surrogates import SPIKE_THRESHOLD, Surrogate, create, registry
from .frameworks import FrameworkPanel

__all__ = ["EPSILON", "declared_control", "grid_options", "is_real_change", "came_from_browser",
           "format_number", "SurrogatePanel", "tooltip", "guard", "MAX_TEXT"]

#: Changes smaller than this (relative) are float noise, not a user action.
EPSILON = 1e-9

_DESCRIPTION_STYLE = {"description_width": "110px"}
_SLIDER_LAYOUT = {"width": "360px"}


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


def tooltip(name: str, declaration: Param) -> str:
    """A control's tooltip, from its declaration: meaning, convention, valid values, default."""
    convention = "" if declaration.convention == "factor" else f" ({declaration.convention_text()})"
    return f"{name}{convention}: {declaration.help_text()}"


def declared_control(name: str, declaration: Param, value: Any = None) -> W.ValueWidget:
    """The widget for one declared setting, set to ``value`` (default: the declared default).

    Choices get a ``Dropdown``, booleans a ``Checkbox``, whole numbers an ``IntSlider``, other
    numbers a ``SelectionSlider`` over the exact grid (log-spaced for log declarations).
    Setting a slider's ``.value`` from code accepts any number within float noise of a grid
    value and stores the grid value itself.
    """
    value = declaration.default if value is None else value
    common = dict(description=name, tooltip=tooltip(name, declaration), style=_DESCRIPTION_STYLE)
    if declaration.kind == "choice":
        return W.Dropdown(options=list(declaration.choices), value=value, layout={"width": "220px"},
                          **common)
    if declaration.kind == "boolean":
        return W.Checkbox(value=value, indent=False, **common)
    common.update(layout=_SLIDER_LAYOUT, continuous_update=True)
    if declaration.kind == "integer":
        lo, hi, step = declaration.slider
        return W.IntSlider(value=int(value), min=int(min(lo, value)), max=int(max(hi, value)),
                           step=int(step), **common)
    return W.SelectionSlider(options=grid_options(declaration, value), value=value,
                             equals=_close, **common)


def threshold_control(value: float) -> W.FloatSlider:
    """The threshold slider: a plain FloatSlider over :data:`SPIKE_THRESHOLD`'s slider range.

    It starts at 0, so a value typed into its readout (an invalid 0 too) reaches the
    explorer, which then shows a message; ``min = 0`` keeps on-grid values free of the
    browser's snapping echo (docs/front-end-pitfalls.md#slider-snapping-echo).
    """
    lo, hi, step = SPIKE_THRESHOLD.slider
    return W.FloatSlider(value=float(value), min=lo, max=max(hi, float(value)), step=step,
                         description="spike_threshold", tooltip=tooltip("spike_threshold", SPIKE_THRESHOLD),
                         style=_DESCRIPTION_STYLE, layout=_SLIDER_LAYOUT, readout_format=".2f")


#: Longest text a page may send to a text control (the hidden-layer box needs a few dozen).
MAX_TEXT = 200


def _browser_key(control: W.Widget) -> str:
    """The one state key a control's view sends: a selection's option ``index``, else ``value``."""
    return "index" if "index" in control.keys else "value"


def _range_text(low: float, high: float) -> str:
    return f"[{format_number(low, 6)}, {format_number(high, 6)}]"


def _refusal(control: W.Widget, name: str, state: Dict[str, Any],
             check: Optional[Callable[[Any], None]]) -> Optional[str]:
    """Why the page's ``state`` update of ``control`` must not be applied, or None."""
    key = _browser_key(control)
    others = sorted(k for k in state if k in control.keys and k != key)
    if others:
        kept = (f" (its range stays {_range_text(control.min, control.max)})"
                if isinstance(control, (W.IntSlider, W.FloatSlider)) else "")
        return f"{name}: a page may change only its {key}, not {', '.join(others)}; nothing was changed{kept}"
    if key not in state:
        return None  # keys that are not synced: set_state ignores them
    value = state[key]
    whole = isinstance(value, int) and not isinstance(value, bool)
    if key == "index":
        last = len(control.options) - 1
        if not (whole and 0 <= value <= last):
            return f"{name}: the option index must be an integer in [0, {last}]; got {shown(value)}"
        value = control.options[value]
        value = value[1] if isinstance(value, tuple) else value
    elif isinstance(control, (W.IntSlider, W.FloatSlider)):
        integer = isinstance(control, W.IntSlider)
        number = whole or (not integer and isinstance(value, float) and math.isfinite(value))
        if not (number and control.min <= value <= control.max):
            kind = "an integer" if integer else "a finite number"
            return f"{name} must be {kind} in {_range_text(control.min, control.max)}; got {shown(value)}"
    elif isinstance(control, W.Checkbox) and not isinstance(value, bool):
        return f"{name} must be True or False; got {shown(value)}"
    elif isinstance(control, W.Text) and not (isinstance(value, str) and len(value) <= MAX_TEXT):
        return f"{name} must be a text of at most {MAX_TEXT} characters; got {shown(value)}"
    if check is not None:
        try:
            check(value)
        except ValueError as error:
            return str(error)
    return None


def guard(control: W.Widget, name: str, on_refused: Callable[[str], None],
          check: Optional[Callable[[Any], None]] = None) -> W.Widget:
    """Check every state update a page sends to ``control`` before it is applied.

    A page may send only the key its view sends (``value``; ``index`` for a dropdown, a
    selection slider, toggle buttons), of the control's type and inside its own range:
    a slider's ``min``/``max``, a selection's option indices, at most :data:`MAX_TEXT`
    characters of text; then ``check(value)`` (the value, for a selection the option's
    value) may raise ValueError for a value the declaration refuses. Any other update is
    not applied, so no observer runs: the page is sent the control's state back (an echo
    of the refused keys, as ipywidgets' own reply, then an update) and
    ``on_refused(message)`` is called with what was refused and the valid range.
    Code assignments (``control.value = ...``) are not affected. Returns ``control``.

    It replaces the instance's ``set_state``, ipywidgets' entry point for a front-end
    update (``Widget._handle_msg``; checked with ipywidgets 8.1), so it also covers
    controls built elsewhere (the framework panel's).
    """
    apply = control.set_state

    def set_state(sync_data: Dict[str, Any]) -> None:
        problem = _refusal(control, name, sync_data, check)
        if problem is None:
            apply(sync_data)
            return
        _send_back(control, [k for k in sync_data if k in control.keys])
        on_refused(problem)

    control.set_state = set_state
    return control


def _send_back(control: W.Widget, keys: List[str]) -> None:
    """Re-sync a page that changed ``keys`` of its view: the kernel's values, as the echo the
    page waits for (ipywidgets 8 applies it and clears the wait) and as an update."""
    if not keys:
        return
    if JUPYTER_WIDGETS_ECHO:  # Widget._send: private, the path of ipywidgets 8.1's own echo
        control._send({"method": "echo_update", "state": control.get_state(keys), "buffer_paths": []},
                      buffers=[])
    control.send_state(keys)


#: :meth:`SurrogatePanel.load`'s ``notify``.
LOAD_NOTIFY = Param(True, doc="call on_change once after loading")


class SurrogatePanel:
    """Surrogate dropdown, its declared sliders, threshold, spike mode, reset and readouts.

    ``controls`` maps "surrogate", "spike_threshold", "mode", "max_spikes" and every
    declared parameter of the current surrogate to its widget. Choosing another surrogate
    replaces the parameter sliders (same dict object, same container) and calls
    ``on_change(change)``; so does every other control change larger than float noise.
    ``mode_param`` declares the spike modes offered; the max_spikes slider exists only with "max".

    Every control (the framework panel's too) is :func:`guard`-ed: an update from a page
    outside a control's range is not applied and ``on_refused(message)`` is called
    (default: :meth:`show_message`); explorers pass their own, which keeps ``message``.

    Reset (:meth:`reset_values`) restores the values the panel was built with: the threshold,
    the mode, max_spikes, each control added with :meth:`add_observed` (its ``default``) and,
    while the surrogate the panel was built with is chosen, that surrogate's parameters as
    given. After the user chose another surrogate, its parameters go back to that class's
    declared defaults (the panel was never given values for it); the surrogate stays.
    """

    def __init__(self, surrogate: Union[str, Surrogate], spike_threshold: float, mode: str,
                 max_spikes: Optional[int], params: Dict[str, float],
                 on_change: Callable[[Optional[Dict[str, Any]]], None], mode_param: Param = MODE,
                 on_refused: Optional[Callable[[str], None]] = None):
        initial = _initial_surrogate(surrogate, params)
        # a number here, not a tensor: it sets a slider
        spike_threshold = validate_value("", "spike_threshold", SPIKE_THRESHOLD, spike_threshold)
        validate_value("", "mode", mode_param, mode)
        if mode == "max":
            max_spikes = validate_value("", "max_spikes", MAX_SPIKES,
                                        MAX_SPIKES.default if max_spikes is None else max_spikes)
        elif max_spikes is not None:
            raise ValueError(f"max_spikes is only used with mode='max'; got max_spikes={shown(max_spikes)} "
                             f"with mode={mode!r}")
        self._on_change = on_change
        self._on_refused = on_refused if on_refused is not None else self.show_message
        self._initial_class = type(initial)
        self._classes: Dict[str, Type[Surrogate]] = self._known_classes()
        self.controls: Dict[str, W.Widget] = {}
        self.controls["surrogate"] = W.Dropdown(
            options=list(self._classes), value=type(initial).__name__, description="surrogate",
            style=_DESCRIPTION_STYLE, layout={"width": "300px"})
        self.controls["spike_threshold"] = threshold_control(spike_threshold)
        self.controls["mode"] = declared_control("mode", mode_param, mode)
        if "max" in mode_param.choices:
            self.controls["max_spikes"] = declared_control("max_spikes", MAX_SPIKES, max_spikes)
            self.controls["max_spikes"].disabled = mode != "max"
        # what reset restores: the values as built (a control holds the declared default for None)
        self._defaults = {key: self.controls[key].value
                          for key in ("spike_threshold", "mode", "max_spikes") if key in self.controls}
        self._initial_values = initial.values()
        self.reset_button = W.Button(description="reset to defaults", icon="undo",
                                     tooltip="every control back to the value it started with "
                                             "(the surrogate stays)")
        self.readout = W.HTML()
        self.message_box = W.HTML()
        # "copy as code" and "start from my framework" (sgexplore.interop)
        self.frameworks = FrameworkPanel(on_pick=self.load, threshold=lambda: self.spike_settings()[0])
        for name, control in self.controls.items():
            guard(control, name, self._refused)
        guard(self.frameworks.framework, "copy as code", self._refused)
        guard(self.frameworks.start, "start from", self._refused)
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
            W.Accordion([self.frameworks.widget], titles=("your framework: copy as code, start from",),
                        selected_index=None),
        ])

    def _known_classes(self) -> Dict[str, Type[Surrogate]]:
        classes = registry()
        # an unregistered instance still gets a slot (a registered name keeps the registry's class)
        classes.setdefault(self._initial_class.__name__, self._initial_class)
        return classes

    def refresh_choices(self) -> None:
        """Offer every surrogate registered by now (called when the explorer is shown).

        The chosen surrogate and its sliders stay as they are; nothing is recomputed.
        """
        classes = self._known_classes()
        if classes == self._classes:  # same names bound to the same classes
            return
        self._classes = classes
        dropdown = self.controls["surrogate"]
        chosen = dropdown.value
        # ipywidgets moves the selection to the first entry whenever the options change, unless
        # the widget is still initialising (a private traitlets flag, checked with ipywidgets 8.1).
        # Set that flag for the swap, then point the index at the chosen name: its value never
        # changes, so no observer fires, and the browser gets one message.
        with dropdown.hold_sync():
            dropdown._initializing_traits_ = True
            try:
                dropdown.options = list(classes)
            finally:
                dropdown._initializing_traits_ = False
            dropdown.index = list(classes).index(chosen)
        if self.surrogate_class is not self._shown_class:
            self._set_param_controls(self.surrogate_class, {})  # re-registered under the same name
            self._notify(None)

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

    def show_readout(self, peak: float, area: float, code: bool = True) -> None:
        """Peak and area of the surrogate just drawn, and (``code``) its code in the chosen
        framework (explorers call this after every successful update, so the controls are
        valid; a drag may leave the code for :meth:`show_code` at the release)."""
        self.readout.value = (f"<b>peak</b> {format_number(peak)} &nbsp; "
                              f"<b>area</b> {format_number(area)}")
        if code:
            self.show_code()

    def show_code(self) -> None:
        """The current surrogate's code in the chosen framework."""
        self.frameworks.show(self.build_surrogate(), self.spike_settings()[0])

    # -- changing the controls -------------------------------------------------
    def reset_values(self) -> None:
        """Every control back to the value the panel was built with (the chosen surrogate
        stays; another surrogate than the initial one gets its declared defaults), without
        notifying."""
        initial = self.surrogate_class is self._initial_class
        with self.hold():
            for name, declaration in self.surrogate_class.params().items():
                value = self._initial_values.get(name, declaration.default) if initial else declaration.default
                _set_value(self.controls[name], declaration, value)
            for key, value in self._defaults.items():
                self.controls[key].value = value

    def load(self, surrogate: Surrogate, notify: bool = True, change: Optional[Dict[str, Any]] = None) -> None:
        """Show ``surrogate``: choose its class and set every parameter slider to its value
        (off-grid values are added to the slider exactly), then notify once (passing on
        ``change``, the change that asked for it, so a browser's request stays one)."""
        if not isinstance(surrogate, Surrogate):
            raise ParamTypeError("SurrogatePanel.load: surrogate must be a Surrogate instance; "
                                 f"got {shown(surrogate)}")
        validate_value("SurrogatePanel.load", "notify", LOAD_NOTIFY, notify)
        if change is not None and not (isinstance(change, dict) and "owner" in change):
            raise (ValueError if isinstance(change, dict) else ParamTypeError)(
                f"SurrogatePanel.load: change must be None or a traitlets change (a dict with 'owner'); "
                f"got {shown(change)}")
        name = type(surrogate).__name__
        if self._classes.get(name) is not type(surrogate):
            raise ValueError(f"surrogate must be one of the registered {sorted(self._classes)}; got {name}")
        with self.hold():
            self.controls["surrogate"].value = name
            if self._shown_class is not type(surrogate):
                self._set_param_controls(type(surrogate), {})
            for key, declaration in type(surrogate).params().items():
                _set_value(self.controls[key], declaration, getattr(surrogate, key))
        if notify:
            self._notify(change)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Control changes inside this block trigger no update."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False

    def add_observed(self, name: str, control: W.Widget, default: Any,
                     check: Optional[Callable[[Any], None]] = None) -> None:
        """Register another control: its changes call ``on_change``; reset sets ``default``
        (an explorer passes the value it was built with). It is :func:`guard`-ed, with
        ``check`` (raises ValueError for a value that the control's range lets through but
        the declaration refuses)."""
        self.controls[name] = guard(control, name, self._refused, check)
        self._defaults[name] = default
        control.observe(self._control_changed, names="value")

    def _set_param_controls(self, cls: Type[Surrogate], values: Dict[str, float]) -> None:
        for name in self._current_params:
            self.controls.pop(name).unobserve(self._control_changed, names="value")
        sliders = []
        for name, declaration in cls.params().items():
            slider = guard(declared_control(name, declaration, values.get(name)), name, self._refused)
            slider.observe(self._control_changed, names="value")
            self.controls[name] = slider
            sliders.append(slider)
        self._current_params = list(cls.params())
        self._shown_class = cls
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

    def _refused(self, message: str) -> None:
        self._on_refused(message)

    def _notify(self, change: Dict[str, Any]) -> None:
        if not self._holding:
            self._on_change(change)


def _set_value(control: W.ValueWidget, declaration: Param, value: Any) -> None:
    """Set a declared control to ``value``, widening its range or grid if it lies outside
    (a value given in code need not be on the declared slider)."""
    if isinstance(control, W.SelectionSlider) and not any(_close(v, value) for _, v in control.options):
        control.options = grid_options(declaration, value)
    elif isinstance(control, W.IntSlider):
        control.min, control.max = int(min(control.min, value)), int(max(control.max, value))
    control.value = value


def came_from_browser(change: Optional[Dict[str, Any]]) -> bool:
    """True when a trait change was sent by the browser, False when code set it.

    ipywidgets locks the properties it is applying from a front-end message while the
    observers run (``Widget.set_state``); code assignments hold no lock. A private
    attribute, checked with ipywidgets 8.1.
    """
    return change is not None and bool(getattr(change["owner"], "_property_lock", None))


def _initial_surrogate(surrogate: Union[str, Surrogate], params: Dict[str, float]) -> Surrogate:
    cls = type(surrogate) if isinstance(surrogate, Surrogate) else surrogate
    if isinstance(cls, type) and issubclass(cls, Surrogate):
        unknown = set(params) - set(cls.params())
        if unknown:
            raise ValueError(f"{cls.__name__} has no parameter(s) {sorted(unknown)}; "
                             f"its parameters are {list(cls.params())}")
    if isinstance(surrogate, Surrogate):
        return surrogate.replace(**params) if params else surrogate
    if isinstance(surrogate, type) and issubclass(surrogate, Surrogate):
        return surrogate(**params)
    if not isinstance(surrogate, str):
        raise ParamTypeError("surrogate must be a registered name, a Surrogate class or instance; "
                             f"got {shown(surrogate)}")
    return create(surrogate, **params)
