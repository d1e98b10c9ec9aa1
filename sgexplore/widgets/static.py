"""A static picture of a plotly figure, for notebooks viewed without a kernel.

A widget output stores only a model id; without a running kernel (GitHub, nbviewer, a
static course site, JupyterLab after a reopen) there is no model, and the page shows the
widget's text repr instead (docs/front-end-pitfalls.md#static-figure-fallback). The
explorers therefore add an SVG picture of their figure's current state to their display
bundle. :func:`figure_svg` writes it from the figure's traces without plotly's image export
(kaleido needs a Chrome), so it is fast, deterministic and dependency-free. It draws what
the explorers use: scatter lines and markers (linear, ``hv`` steps), bars, linear, log and
category axes, subplot titles and annotations, line shapes and a one-line legend.
"""

from __future__ import annotations

import base64
import html
import math
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["figure_svg", "static_bundle", "MAX_SVG_BYTES"]

#: How wide the picture of a figure without a width is (an explorer's figure fits its
#: container on the page; the picture needs a number).
STATIC_WIDTH = 700

# Keeps a notebook with two explorers far below its 200 kB budget (tests/test_notebooks.py).
MAX_SVG_BYTES = 60_000
# plotly's default colorway: traces without a colour take colour (index % 10).
COLORWAY = ("#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A",
            "#19d3f3", "#FF6692", "#B6E880", "#FF97FF", "#FECB52")
_DASHES = {"dash": "6,4", "dot": "2,3", "dashdot": "6,3,2,3", "longdash": "10,4",
           "longdashdot": "10,3,2,3"}
_FONT = "font-family=\"Open Sans, Arial, sans-serif\""
_TOLERANCE = 0.3  # px: path points closer than this to the simplified line are dropped


# -- text --------------------------------------------------------------------------------
def _lines(text: Any) -> List[str]:
    """plotly's bits of HTML (``<br>``, ``<sub>``, ``<b>``) as plain lines of text."""
    if text is None:
        return []
    parts = re.split(r"<br\s*/?>", str(text), flags=re.I)
    return [html.unescape(re.sub(r"<[^>]+>", "", p)).strip() for p in parts if p.strip()]


def _text(x: float, y: float, text: str, size: float = 12, anchor: str = "middle",
          color: str = "#2a3f5f", rotate: bool = False, weight: str = "") -> str:
    transform = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
    bold = f' font-weight="{weight}"' if weight else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" text-anchor="{anchor}" '
            f'fill="{color}"{bold}{transform}>{html.escape(text, quote=False)}</text>')


# -- axes --------------------------------------------------------------------------------
def _nice_ticks(lo: float, hi: float, count: int = 6) -> List[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return []
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _tick_label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e")
    return f"{value:.6g}"


class _Axis:
    """One plotly axis: where it lies on the page and how it maps values to pixels."""

    def __init__(self, name: str, spec: Dict[str, Any]):
        self.name, self.spec = name, spec
        self.letter = name[0]
        self.domain = tuple(spec.get("domain") or (0.0, 1.0))
        self.type = spec.get("type") or "-"
        self.range: Optional[Tuple[float, float]] = None
        self.categories: List[str] = []
        self.values: List[np.ndarray] = []  # data on this axis, for autorange
        self.padded = False
        self.lo_px = self.hi_px = 0.0

    def add(self, values: Sequence, pad: bool) -> None:
        array = np.asarray(values, dtype=object if self.type == "category" else None)
        if array.dtype.kind in "OUS":
            if self.type in ("-", "category"):
                self.type = "category"
                for v in array.ravel():
                    if v is not None and str(v) not in self.categories:
                        self.categories.append(str(v))
                return
            array = np.array([np.nan if v is None else v for v in array.ravel()], dtype=float)
        self.values.append(np.asarray(array, dtype=float).ravel())
        self.padded |= pad

    def to_num(self, values: Sequence) -> np.ndarray:
        """Values in axis units (category index, log10 for log axes); NaN where not drawable."""
        if self.type == "category":
            index = {c: i for i, c in enumerate(self.categories)}
            return np.array([index.get(str(v), np.nan) for v in values], dtype=float)
        array = np.array([np.nan if v is None else v for v in values], dtype=float) \
            if isinstance(values, (list, tuple)) else np.asarray(values, dtype=float)
        if self.type == "log":
            with np.errstate(divide="ignore", invalid="ignore"):
                array = np.where(array > 0, np.log10(np.where(array > 0, array, 1.0)), np.nan)
        return array

    def finish(self, width: float, height: float, margin: Dict[str, float]) -> None:
        plot_w = width - margin["l"] - margin["r"]
        plot_h = height - margin["t"] - margin["b"]
        if self.letter == "x":
            self.lo_px = margin["l"] + self.domain[0] * plot_w
            self.hi_px = margin["l"] + self.domain[1] * plot_w
        else:  # y grows upwards
            self.lo_px = height - margin["b"] - self.domain[0] * plot_h
            self.hi_px = height - margin["b"] - self.domain[1] * plot_h
        explicit = self.spec.get("range")
        if explicit is not None and None not in explicit and self.spec.get("autorange") is not True:
            self.range = (float(explicit[0]), float(explicit[1]))
        elif self.type == "category":
            self.range = (-0.5, max(len(self.categories), 1) - 0.5)
        else:
            data = [self.to_num(v) for v in self.values]
            data = np.concatenate(data) if data else np.zeros(0)
            data = data[np.isfinite(data)]
            if data.size == 0:
                self.range = (-1.0, 6.0) if self.letter == "x" else (-1.0, 4.0)
            else:
                lo, hi = float(data.min()), float(data.max())
                if hi == lo:
                    lo, hi = lo - 1, hi + 1
                elif self.padded:
                    pad = 0.05 * (hi - lo)
                    lo, hi = lo - pad, hi + pad
                self.range = (lo, hi)

    def px(self, values: np.ndarray) -> np.ndarray:
        lo, hi = self.range
        return self.lo_px + (np.asarray(values, dtype=float) - lo) / (hi - lo) * (self.hi_px - self.lo_px)

    def ticks(self) -> List[Tuple[float, str]]:
        lo, hi = sorted(self.range)
        if self.type == "category":
            return [(float(i), c) for i, c in enumerate(self.categories)]
        if self.type == "log":
            decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
            if len(decades) > 8:
                decades = decades[::math.ceil(len(decades) / 8)]
            return [(float(d), _tick_label(10.0 ** d)) for d in decades]
        return [(t, _tick_label(round(t, 12))) for t in _nice_ticks(lo, hi)]


def _axis_names(layout: Dict[str, Any]) -> List[str]:
    names = [k for k in layout if re.fullmatch(r"[xy]axis\d*", k)]
    return sorted(names, key=lambda n: (n[0], int(n[5:] or 1)))


def _axis_key(ref: Optional[str], letter: str) -> str:
    """Trace or shape reference ("x2", "y2 domain") to its layout key ("xaxis2")."""
    ref = (ref or letter).split()[0]
    return f"{letter}axis{ref[1:]}"


# -- paths -------------------------------------------------------------------------------
def _simplify(points: np.ndarray, tolerance: float = _TOLERANCE) -> np.ndarray:
    """Ramer-Douglas-Peucker on pixel coordinates: same picture, far fewer points."""
    n = len(points)
    if n <= 2:
        return points
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        start, end = stack.pop()
        if end - start < 2:
            continue
        a, b = points[start], points[end]
        seg = points[start + 1:end]
        d = b - a
        norm = math.hypot(d[0], d[1])
        if norm == 0:
            dist = np.hypot(*(seg - a).T)
        else:
            dist = np.abs(d[0] * (seg[:, 1] - a[1]) - d[1] * (seg[:, 0] - a[0])) / norm
        i = int(np.argmax(dist))
        if dist[i] > tolerance:
            mid = start + 1 + i
            keep[mid] = True
            stack.extend([(start, mid), (mid, end)])
    return points[keep]


def _path(xs: np.ndarray, ys: np.ndarray, step: bool) -> str:
    """An SVG path through the finite points, broken at NaN, steps drawn for ``hv``."""
    finite = np.isfinite(xs) & np.isfinite(ys)
    pieces = []
    breaks = np.flatnonzero(np.diff(np.concatenate([[0], finite.astype(int), [0]])))
    for start, end in zip(breaks[::2], breaks[1::2]):
        pts = np.column_stack([xs[start:end], ys[start:end]])
        if step and len(pts) > 1:
            corners = np.column_stack([pts[1:, 0], pts[:-1, 1]])
            pts = np.insert(pts, np.arange(1, len(pts)), corners, axis=0)
        pts = _simplify(pts)
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        pieces.append(f"M{coords}" if len(pts) > 1 else "")
    return "".join(pieces)


def _color(trace: Dict[str, Any], index: int, *keys: str) -> str:
    for key in keys:
        part: Any = trace
        for k in key.split("."):
            part = part.get(k) if isinstance(part, dict) else None
        if isinstance(part, str):
            return part
    return COLORWAY[index % len(COLORWAY)]


def _opacity(trace: Dict[str, Any]) -> str:
    opacity = trace.get("opacity")
    return f' opacity="{opacity:g}"' if opacity is not None and opacity < 1 else ""


# -- the picture -------------------------------------------------------------------------
def _drawable(traces):
    """(index, trace, kind, x, y) of every visible trace this writer draws (lines, markers, bars)."""
    for index, trace in enumerate(traces):
        kind = trace.get("type", "scatter")
        if kind not in ("scatter", "scattergl", "bar") or trace.get("visible") is False:
            continue
        xs, ys = trace.get("x"), trace.get("y")
        if xs is not None and ys is not None and len(ys) > 0:
            yield index, trace, kind, xs, ys


def figure_svg(figure: Any, note: Optional[str] = None) -> str:
    """An SVG picture of ``figure`` (a plotly ``Figure`` or ``FigureWidget``) as it is now.

    ``note`` is a line written small in the bottom-left corner, for example to say that
    this is a static picture and where the live one comes from.
    """
    # Not figure.to_dict(): plotly 6+ writes its arrays there as base64 typed arrays.
    layout = figure.layout.to_plotly_json()
    traces = [trace.to_plotly_json() for trace in figure.data]
    width = float(layout.get("width") or STATIC_WIDTH)
    height = float(layout.get("height") or 450)
    margin = {"l": 80, "r": 80, "t": 100, "b": 80}
    margin.update({k: float(v) for k, v in (layout.get("margin") or {}).items() if k in margin})
    axes = {name: _Axis(name, layout.get(name) or {}) for name in _axis_names(layout)}
    for letter in "xy":
        axes.setdefault(f"{letter}axis", _Axis(f"{letter}axis", layout.get(f"{letter}axis") or {}))

    def axis_of(trace, letter):
        key = _axis_key(trace.get(f"{letter}axis"), letter)
        return axes.setdefault(key, _Axis(key, {}))

    for _index, trace, kind, xs, ys in _drawable(traces):
        markers = "markers" in (trace.get("mode") or "")
        axis_of(trace, "x").add(xs, pad=kind == "bar" or markers)
        axis_of(trace, "y").add(list(ys) + [0] if kind == "bar" else ys, pad=True)
    # Matched axes (shared_xaxes) share one range: the union of their data.
    for axis in axes.values():
        target = axes.get(_axis_key(axis.spec.get("matches"), axis.letter)) if axis.spec.get("matches") else None
        if target is not None and target is not axis:
            target.values += axis.values
            target.padded |= axis.padded
            target.categories += [c for c in axis.categories if c not in target.categories]
            if axis.type != "-" and target.type == "-":
                target.type = axis.type
    for axis in axes.values():
        axis.finish(width, height, margin)
    for axis in axes.values():
        target = axes.get(_axis_key(axis.spec.get("matches"), axis.letter)) if axis.spec.get("matches") else None
        if target is not None and target is not axis:
            axis.range, axis.type, axis.categories = target.range, target.type, target.categories

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" '
           f'viewBox="0 0 {width:g} {height:g}" {_FONT}>',
           f'<rect width="{width:g}" height="{height:g}" fill="white"/>']
    # Grids, ticks and axis titles, one subplot (x axis with its anchored y axis) at a time.
    drawn_y = set()
    for xaxis in [a for a in axes.values() if a.letter == "x"]:
        yaxis = axes.get(_axis_key(xaxis.spec.get("anchor"), "y")) or axes["yaxis"]
        x0, x1, y0, y1 = xaxis.lo_px, xaxis.hi_px, yaxis.lo_px, yaxis.hi_px
        grid = []
        for value, label in xaxis.ticks():
            px = float(xaxis.px(value))
            if x0 - 0.5 <= px <= x1 + 0.5:
                grid.append(f"M{px:.1f},{y0:.1f}V{y1:.1f}")
                if xaxis.spec.get("showticklabels") is not False:
                    out.append(_text(px, y0 + 15, label, 11, color="#444"))
        if yaxis.name not in drawn_y:
            drawn_y.add(yaxis.name)
            for value, label in yaxis.ticks():
                py = float(yaxis.px(value))
                if y1 - 0.5 <= py <= y0 + 0.5:
                    grid.append(f"M{x0:.1f},{py:.1f}H{x1:.1f}")
                    out.append(_text(x0 - 5, py + 4, label, 11, anchor="end", color="#444"))
        out.append(f'<path d="{"".join(grid)}" stroke="#ebf0f8" stroke-width="1" fill="none"/>')
        for line in _lines((xaxis.spec.get("title") or {}).get("text"))[:1]:
            out.append(_text((x0 + x1) / 2, y0 + 33, line, 12))
        for line in _lines((yaxis.spec.get("title") or {}).get("text"))[:1]:
            out.append(_text(x0 - 40, (y0 + y1) / 2, line, 12, rotate=True))
        out.append(f'<clipPath id="c{xaxis.name}{yaxis.name}"><rect x="{x0:.1f}" y="{y1:.1f}" '
                   f'width="{x1 - x0:.1f}" height="{y0 - y1:.1f}"/></clipPath>')

    # Shapes (the threshold lines): lines only, in data or domain coordinates.
    for shape in layout.get("shapes") or []:
        if shape.get("type", "line") != "line":
            continue
        xa, ya = axes.get(_axis_key(shape.get("xref"), "x")), axes.get(_axis_key(shape.get("yref"), "y"))
        if xa is None or ya is None:
            continue

        def place(ax, ref, value):
            if ref and ref.endswith("domain"):
                return ax.lo_px + float(value) * (ax.hi_px - ax.lo_px)
            return float(ax.px(ax.to_num([value])[0]))

        sx0, sx1 = place(xa, shape.get("xref"), shape.get("x0", 0)), place(xa, shape.get("xref"), shape.get("x1", 0))
        sy0, sy1 = place(ya, shape.get("yref"), shape.get("y0", 0)), place(ya, shape.get("yref"), shape.get("y1", 0))
        if not all(map(math.isfinite, (sx0, sx1, sy0, sy1))):
            continue
        line = shape.get("line") or {}
        dash = _DASHES.get(line.get("dash"), "")
        out.append(f'<path d="M{sx0:.1f},{sy0:.1f}L{sx1:.1f},{sy1:.1f}" stroke="{line.get("color", "#444")}" '
                   f'stroke-width="{line.get("width", 2):g}"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")

    # Traces.
    legend = []
    for index, trace, kind, xs, ys in _drawable(traces):
        xa, ya = axis_of(trace, "x"), axis_of(trace, "y")
        px, py = xa.px(xa.to_num(list(xs) if xa.type == "category" else xs)), ya.px(ya.to_num(ys))
        clip = f' clip-path="url(#c{xa.name}{ya.name})"'
        if kind == "bar":
            color = _color(trace, index, "marker.color")
            base = float(ya.px(ya.to_num([1e-300 if ya.type == "log" else 0.0])[0]))
            base = min(max(base, ya.hi_px), ya.lo_px)
            band = abs(float(xa.px(1.0) - xa.px(0.0))) * 0.8
            rects = []
            for bx, by, value in zip(px, py, ys):
                if math.isfinite(bx) and math.isfinite(by):
                    top, h = min(by, base), abs(base - by)
                    rects.append(f'<rect x="{bx - band / 2:.1f}" y="{top:.1f}" width="{band:.1f}" height="{h:.1f}"/>')
                    if trace.get("texttemplate"):
                        out.append(_text(bx, top - 4, f"{float(value):.2g}", 10, color="#444"))
            out.append(f'<g fill="{color}"{clip}{_opacity(trace)}>{"".join(rects)}</g>')
            style = f'<rect x="-6" y="-5" width="12" height="10" fill="{color}"/>'
        else:
            mode = trace.get("mode") or "lines"
            line = trace.get("line") or {}
            color = _color(trace, index, "line.color", "marker.color")
            dash = _DASHES.get(line.get("dash"), "")
            width_ = float(line.get("width", 2))
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            if "lines" in mode:
                d = _path(px, py, step=line.get("shape") == "hv")
                out.append(f'<path d="{d}" stroke="{color}" stroke-width="{width_:g}" fill="none" '
                           f'stroke-linejoin="round"{dash_attr}{clip}{_opacity(trace)}/>')
            if "markers" in mode:
                size = float((trace.get("marker") or {}).get("size", 6)) / 2
                dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{size:g}"/>'
                               for x, y in zip(px, py) if math.isfinite(x) and math.isfinite(y))
                out.append(f'<g fill="{color}"{clip}{_opacity(trace)}>{dots}</g>')
            style = (f'<path d="M-12,0H12" stroke="{color}" stroke-width="{min(width_, 3):g}"{dash_attr}/>'
                     if "lines" in mode else f'<circle r="4" fill="{color}"/>')
        if trace.get("showlegend") is not False and trace.get("name"):
            legend.append((str(trace["name"]), style))

    # Subplot titles and other paper annotations, the title, the legend, the note.
    for note_spec in layout.get("annotations") or []:
        if note_spec.get("xref", "paper") != "paper" or note_spec.get("yref", "paper") != "paper":
            continue
        plot_w, plot_h = width - margin["l"] - margin["r"], height - margin["t"] - margin["b"]
        ax_ = margin["l"] + float(note_spec.get("x", 0.5)) * plot_w
        ay_ = height - margin["b"] - float(note_spec.get("y", 0.5)) * plot_h
        anchor = {"left": "start", "right": "end"}.get(note_spec.get("xanchor"), "middle")
        if note_spec.get("yanchor") == "bottom":
            ay_ -= 5
        for i, line in enumerate(_lines(note_spec.get("text"))):
            out.append(_text(ax_, ay_ + 15 * i, line, 13 if i == 0 else 11, anchor=anchor))
    title = layout.get("title") or {}
    for i, line in enumerate(_lines(title.get("text"))[:3]):
        size = float((title.get("font") or {}).get("size", 17))
        out.append(_text(margin["l"] + 2, 22 + i * (size + 4), line, size if i == 0 else size - 2,
                         anchor="start"))
    # The legend goes in rows under the lowest x axis title (plotly would grow the margin).
    bottom = height
    if legend and layout.get("showlegend") is not False:
        ly = height - margin["b"] + 52
        lx = margin["l"]
        for name, style in legend:
            label = name if len(name) <= 40 else name[:39] + "…"
            item_w = 34 + 6.5 * len(label)
            if lx + item_w > width - 10 and lx > margin["l"]:
                lx, ly = margin["l"], ly + 17
            out.append(f'<g transform="translate({lx + 12:.1f},{ly:.1f})">{style}</g>')
            out.append(_text(lx + 30, ly + 4, label, 11, anchor="start"))
            lx += item_w
        bottom = max(height, ly + 12)
    if note:
        bottom += 14
        out.append(_text(4, bottom - 4, note, 10, anchor="start", color="#999"))
    if bottom != height:  # grow the picture to fit the legend and the note
        out[0] = out[0].replace(f'height="{height:g}" viewBox="0 0 {width:g} {height:g}"',
                                f'height="{bottom:g}" viewBox="0 0 {width:g} {bottom:g}"')
        out[1] = f'<rect width="{width:g}" height="{bottom:g}" fill="white"/>'
    out.append("</svg>")
    return "".join(out)


def static_bundle(figures: Any, note: Optional[str] = None) -> Dict[str, str]:
    """The SVG picture of ``figures`` (one figure, or several drawn one under the other, the
    ``note`` under the last) twice: as ``image/svg+xml`` and as an HTML ``<img>``.

    Untrusted outputs (any notebook opened from disk) may not render SVG in JupyterLab (its
    SVG renderer is marked unsafe), but sanitized HTML with a ``data:`` image is shown; the
    plain SVG is for viewers that do not show HTML outputs.
    """
    figures = tuple(figures) if isinstance(figures, (tuple, list)) else (figures,)
    pictures = [figure_svg(figure, note if k == len(figures) - 1 else None) for k, figure in enumerate(figures)]
    sizes = [tuple(float(v) for v in re.match(r'<svg [^>]*?width="([0-9.]+)" height="([0-9.]+)"', svg).groups())
             for svg in pictures]
    width = max(w for w, _ in sizes)
    if len(pictures) == 1:
        svg = pictures[0]
    else:  # nested pictures, each at its height's offset
        height, parts = 0.0, []
        for picture, (_, h) in zip(pictures, sizes):
            parts.append(picture.replace("<svg ", f'<svg y="{height:g}" ', 1))
            height += h
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" '
               f'viewBox="0 0 {width:g} {height:g}">' + "".join(parts) + "</svg>")
    encoded = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    img = (f'<img src="data:image/svg+xml;base64,{encoded}" width="{width:g}" '
           f'alt="static picture of the figure (run the notebook for the live widget)"/>')
    return {"image/svg+xml": svg, "text/html": img}
