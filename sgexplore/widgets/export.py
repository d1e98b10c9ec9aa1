"""Self-contained HTML pages: interactive figures that need no kernel and no network.

An instructor can drop the file into slides or a course website. plotly.js is embedded
(no CDN), so the page works offline from ``file://``. Interaction uses plotly's own
sliders and buttons, whose steps are computed here, in Python, when the file is written:

* :func:`surrogate_explorer_html`: one plotly slider per surrogate parameter. Each slider
  varies **its own parameter only**; the others stay at the values the explorer had when
  it was exported, and moving one slider puts the others back to those values. (The
  page holds one curve per slider position, not one per combination, so it stays small.)
* :func:`sweep_html`: final loss and accuracy heatmaps of a finished sweep, with buttons
  that switch between the reset modes.

The curves are computed exactly as training computes the surrogate gradient:
``spike(v, thr, surrogate, mode, max_spikes).sum().backward()`` then ``v.grad``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

import numpy as np
import plotly.graph_objects as go

from ..params import Param, ParamTypeError, format_number, shown, slider_values, validate_value
from ..surrogates import Surrogate, describe
from ..views import surrogate_curve
from .figures import sweep_figure

__all__ = ["surrogate_explorer_html", "surrogate_explorer_figure", "sweep_html", "parameter_steps"]

PathLike = Union[str, Path]

#: plotly.js options: no logo, no link to plotly's online editor.
_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False}
_DIGITS = 6  # significant digits stored per curve value (float32 carries about 7)
# Page geometry in pixels: the plot's height, where the sliders start below it, and
# the height of one slider with its labels.
_PLOT_PX, _SLIDERS_TOP, _SLIDER_PX = 320, 85, 100


#: The export's own settings, declared once (checked where they enter, named in messages).
MAX_STEPS = Param(41, low=2, high=201, integer=True, slider=(2, 201, 1),
                  doc="about how many positions each exported slider has at most")
CURVE_POINTS = Param(401, low=11, high=20001, integer=True, slider=(11, 20001, 10),
                     doc="points per exported curve")
#: What include_plotlyjs may be: True embeds plotly.js, False omits it, "cdn" links it.
INCLUDE_PLOTLYJS = (True, False, "cdn")


def _check_page(path: Any, include_plotlyjs: Any, title: Any) -> Path:
    """The page arguments every export shares, checked before anything is computed."""
    if not (isinstance(include_plotlyjs, bool) or (isinstance(include_plotlyjs, str) and include_plotlyjs == "cdn")):
        raise (ValueError if isinstance(include_plotlyjs, str) else ParamTypeError)(
            f"include_plotlyjs must be one of {INCLUDE_PLOTLYJS}; got {shown(include_plotlyjs)}")
    if title is not None and not isinstance(title, str):
        raise ParamTypeError(f"title must be a string or None; got {shown(title)}")
    if not isinstance(path, (str, Path)) or (isinstance(path, str) and not path.strip()):
        raise (ValueError if isinstance(path, str) else ParamTypeError)(
            f"path must be a file name (str or pathlib.Path) ending in .html; got {shown(path)}")
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"path must be a file name ending in .html; got {path.name!r}")
    if not path.parent.is_dir():
        raise ValueError(f"path must be in an existing folder; the folder of {path.name!r} does not exist")
    if path.is_dir():
        raise ValueError(f"path must be a file name ending in .html, not a folder; got {path.name!r}")
    return path


def _stored(values: np.ndarray) -> List[float]:
    """Values rounded to the digits float32 carries, as a list (keeps the page small)."""
    return [float(f"{v:.{_DIGITS}g}") for v in np.asarray(values, dtype=np.float64)]


def parameter_steps(surrogate: Surrogate, name: str, max_steps: int = 41) -> List[float]:
    """Values the exported slider for ``name`` offers: the declared slider grid, thinned to
    at most about ``max_steps``, plus the surrogate's current value, skipping any value the
    surrogate rejects in combination with its other parameters."""
    declaration = type(surrogate).params()[name]
    current = getattr(surrogate, name)
    values = slider_values(declaration, max_steps)
    if not any(math.isclose(v, current, rel_tol=1e-9, abs_tol=1e-12) for v in values):
        values = sorted(values + [current])
    accepted = []
    for value in values:
        try:
            surrogate.replace(**{name: value})
        except ValueError:
            continue
        accepted.append(value)
    return accepted


def _current_index(values: Sequence[float], current: float) -> int:
    return int(np.argmin([abs(v - current) for v in values]))


def surrogate_explorer_html(explorer: Any, path: PathLike, *, include_plotlyjs: Union[bool, str] = True,
                            max_steps: int = 41, points: int = 401, title: Optional[str] = None) -> Path:
    """Write ``explorer``'s surrogate as one interactive, self-contained HTML file.

    The page is :func:`surrogate_explorer_figure` (see there for what each slider does).

    Args:
        explorer: anything with ``surrogate``, ``spike_threshold``, ``mode``,
            ``max_spikes`` and ``v_mem`` (a :class:`~sgexplore.widgets.SurrogateExplorer`).
        path: the ``.html`` file to write.
        include_plotlyjs: ``True`` embeds plotly.js (about 4.8 MB; works offline). Other
            values are passed to plotly's ``to_html`` (e.g. ``"cdn"``) and need a network.
        max_steps: about how many positions each slider has at most.
        points: curve resolution.
        title: the heading (default: the surrogate's name).

    Returns:
        The path written.
    """
    path = _check_page(path, include_plotlyjs, title)
    figure = surrogate_explorer_figure(explorer, max_steps=max_steps, points=points, title=title)
    return _write(figure, path, include_plotlyjs, figure.layout.meta["page_title"])


def surrogate_explorer_figure(explorer: Any, *, max_steps: int = 41, points: int = 401,
                              title: Optional[str] = None) -> go.Figure:
    """The exported page's figure, with every slider step precomputed.

    It shows dS/dv (not normalised) against the membrane potential, over the
    explorer's ``v_mem`` range at ``points`` points, for the explorer's surrogate,
    ``spike_threshold``, ``mode`` and ``max_spikes``. A grey dashed curve marks the
    exported setting. Below it there is one plotly slider per declared parameter, with
    steps from :func:`parameter_steps`. **Each slider varies one parameter with the others
    held at their exported values**; moving a slider resets the others to those values.
    The page title and a note on the page say so too. Trace 0 is the curve the sliders
    change, trace 1 the exported one.
    """
    max_steps = validate_value("", "max_steps", MAX_STEPS, max_steps)
    points = validate_value("", "points", CURVE_POINTS, points)
    if title is not None and not isinstance(title, str):
        raise ParamTypeError(f"title must be a string or None; got {shown(title)}")
    surrogate = explorer.surrogate
    thr, mode, max_spikes = float(explorer.spike_threshold), explorer.mode, explorer.max_spikes
    v_mem = np.linspace(float(np.min(explorer.v_mem)), float(np.max(explorer.v_mem)), points)
    x = _stored(v_mem)

    def curve(s: Surrogate) -> List[float]:
        return _stored(surrogate_curve(s, v_mem, thr, mode, max_spikes))

    exported = curve(surrogate)
    values = surrogate.values()
    steps = {name: parameter_steps(surrogate, name, max_steps) for name in values}
    names = [name for name in values if steps[name]]
    home = {name: _current_index(steps[name], values[name]) for name in names}
    setting = describe(surrogate)
    heading = title or f"{type(surrogate).__name__} surrogate dS/dv"
    subtitle = f"thr = {format_number(thr)}, mode = {mode}" + (f" (max {max_spikes})" if max_spikes else "")

    figure = go.Figure()
    figure.add_scatter(x=x, y=exported, name="surrogate", line=dict(color="#1f77b4", width=2.5))
    figure.add_scatter(x=x, y=exported, name=f"exported: {setting}", hoverinfo="skip",
                       line=dict(color="#888", width=1.5, dash="dash"))
    figure.add_vline(x=thr, line=dict(color="#d62728", width=1, dash="dot"))

    sliders = []
    for i, name in enumerate(names):
        others = {f"sliders[{j}].active": home[other] for j, other in enumerate(names) if other != name}
        slider_steps = []
        for value in steps[name]:
            changed = f"{name}={format_number(value)}"
            slider_steps.append(dict(
                method="update", label=format_number(value), value=repr(float(value)),
                args=[{"y": [curve(surrogate.replace(**{name: value}))]},
                      {"title.text": f"{heading}: {changed} (others as exported)<br><sub>{subtitle}</sub>",
                       **others},
                      [0]]))
        sliders.append(dict(active=home[name], steps=slider_steps, currentvalue=dict(prefix=f"{name} = "),
                            pad=dict(t=30), y=-(_SLIDERS_TOP + _SLIDER_PX * i) / _PLOT_PX, yanchor="top",
                            len=0.95, x=0.025))

    note = ("Each slider varies one parameter; the others stay at the exported values "
            f"({setting}). Precomputed: no kernel needed.")
    figure.update_layout(
        title=dict(text=f"{heading}: exported setting<br><sub>{subtitle}</sub>", font=dict(size=14)),
        xaxis_title="membrane potential v_mem", yaxis_title="dS/dv", template="plotly_white",
        height=_PLOT_PX + 80 + _SLIDERS_TOP + _SLIDER_PX * len(names) + 20,
        margin=dict(l=60, r=30, t=80, b=_SLIDERS_TOP + _SLIDER_PX * len(names) + 20),
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
        sliders=sliders, meta=dict(page_title=f"{heading} (each slider varies one parameter)"),
        annotations=[dict(text=note, showarrow=False, xref="paper", yref="paper", x=0, y=-62 / _PLOT_PX,
                          xanchor="left", yanchor="top", font=dict(size=11, color="#555"))])
    return figure


def sweep_html(result: Any, path: PathLike, *, include_plotlyjs: Union[bool, str] = True,
               title: Optional[str] = None) -> Path:
    """Write a finished sweep's final loss and accuracy as one self-contained HTML file.

    The page is :func:`sgexplore.widgets.figures.sweep_figure`. ``result`` is a
    :class:`~sgexplore.sweep.SweepResult`. Returns the path written.
    """
    path = _check_page(path, include_plotlyjs, title)
    figure = sweep_figure(result, title=title, digits=_DIGITS)
    return _write(figure, path, include_plotlyjs, figure.layout.meta["page_title"])


def _write(figure: go.Figure, path: PathLike, include_plotlyjs: Union[bool, str], page_title: str) -> Path:
    path = Path(path)
    html = figure.to_html(include_plotlyjs=include_plotlyjs, full_html=True, config=_CONFIG)
    html = html.replace("<head>", f"<head><title>{_escape(page_title)}</title>", 1)
    path.write_text(html, encoding="utf-8")
    return path


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
