"""The static picture that the explorers add to their display bundle.

Without a kernel a widget output has no model to render, so viewers fall back to another
mimetype of the bundle (docs/front-end-pitfalls.md#static-figure-fallback). These tests
check that the fallback is there, is a valid SVG of the figure's *current* state, and stays
small; the browser checks are described in that section.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET

import numpy as np
import plotly.graph_objects as go
import pytest

from sgexplore.widgets import SurrogateExplorer, TrainingExplorer
from sgexplore.widgets.static import MAX_SVG_BYTES, figure_svg, static_bundle

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
SVG_NS = "{http://www.w3.org/2000/svg}"


def _data(bundle):
    return bundle[0] if isinstance(bundle, tuple) else bundle


def _curve_paths(svg: str):
    """The ``d`` of every stroked, unfilled path with a 2.5 px line (the live curves)."""
    root = ET.fromstring(svg)
    return [p.get("d") for p in root.iter(f"{SVG_NS}path")
            if p.get("fill") == "none" and p.get("stroke-width") == "2.5"]


@pytest.fixture(scope="module")
def explorer():
    return SurrogateExplorer()


def test_bundle_has_widget_svg_html_and_short_text(explorer):
    data = _data(explorer._repr_mimebundle_())
    assert WIDGET_MIME in data
    assert data[WIDGET_MIME]["model_id"] == explorer.widget.model_id
    assert data["image/svg+xml"].startswith("<svg ")
    assert "HBox(" not in data["text/plain"]
    # The HTML copy is the same SVG as a data: image (shown for untrusted outputs).
    encoded = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', data["text/html"]).group(1)
    assert base64.b64decode(encoded).decode("utf-8") == data["image/svg+xml"]


def test_svg_is_well_formed_and_has_titles(explorer):
    svg = _data(explorer._repr_mimebundle_())["image/svg+xml"]
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    texts = [t.text for t in root.iter(f"{SVG_NS}text")]
    assert "surrogate dS/dv (used in the backward pass)" in texts
    assert "membrane potential v_mem" in texts
    assert any(t and t.startswith("MultiGaussian(") for t in texts)


def test_svg_follows_the_sliders():
    explorer = SurrogateExplorer()
    before = _curve_paths(_data(explorer._repr_mimebundle_())["image/svg+xml"])
    assert len(before) == 2 and all(len(d) > 100 for d in before)  # derivative, primitive
    explorer.controls["sigma"].value = 0.25
    after = _curve_paths(_data(explorer._repr_mimebundle_())["image/svg+xml"])
    assert after[0] != before[0]
    assert explorer.figure.data[0].y.max() > 1  # narrower Gaussian: taller peak
    # The y axis follows the taller peak: its tick labels now go above 1.
    def top_tick(svg):
        labels = [t.text for t in ET.fromstring(svg).iter(f"{SVG_NS}text")  # the top panel's y ticks
                  if t.get("text-anchor") == "end" and float(t.get("y")) < 290]
        return max(float(v) for v in labels)
    assert top_tick(_data(explorer._repr_mimebundle_())["image/svg+xml"]) > 1
    assert top_tick(figure_svg(SurrogateExplorer().figure)) < 1

def test_pins_are_drawn_dashed_and_size_stays_bounded():
    explorer = SurrogateExplorer()
    for threshold in (0.5, 1.5, 2.0, 0.8, 1.2, 1.7, 0.3):
        explorer.controls["spike_threshold"].value = threshold
        explorer.pin()
    svg = _data(explorer._repr_mimebundle_())["image/svg+xml"]
    dashed = [p for p in ET.fromstring(svg).iter(f"{SVG_NS}path")
              if p.get("stroke-dasharray") == "6,4" and p.get("fill") == "none"]
    assert len(dashed) == 2 * explorer.pins == 12  # MAX_PINS pairs, the oldest dropped
    assert len(svg.encode()) < MAX_SVG_BYTES


def test_simplified_path_keeps_the_curve():
    x = np.linspace(-1, 3, 1001)
    figure = go.Figure(go.Scatter(x=x, y=np.exp(-x ** 2), line=dict(width=2.5)))
    figure.update_layout(width=600, height=400, margin=dict(l=50, r=20, t=40, b=40),
                         xaxis_range=[-1, 3], yaxis_range=[0, 1])
    (d,) = _curve_paths(figure_svg(figure))
    points = np.array([[float(v) for v in p.split(",")] for p in d[1:].split()])
    assert 10 < len(points) < 200  # far fewer than 1001, but still a curve
    # Every drawn point is on the true curve (to well under a pixel plus rounding).
    xs = (points[:, 0] - 50) / 530 * 4 - 1
    ys = 1 - (points[:, 1] - 40) / 320
    assert np.abs(ys - np.exp(-xs ** 2)).max() * 320 < 0.6


def test_training_explorer_bundle_has_all_panels():
    explorer = TrainingExplorer()
    data = _data(explorer._repr_mimebundle_())
    assert WIDGET_MIME in data
    texts = [t.text for t in ET.fromstring(data["image/svg+xml"]).iter(f"{SVG_NS}text")]
    for title in ("loss", "accuracy", "surrogate dS/dv", "gradient norm per layer (last step)",
                  "where the membrane potentials are (last recorded step)"):
        assert title in texts
    assert len(data["image/svg+xml"].encode()) < MAX_SVG_BYTES


def test_bar_and_log_axes():
    figure = go.Figure(go.Bar(x=["fc1", "fc2"], y=[0.01, 3.0]))
    figure.update_yaxes(type="log")
    root = ET.fromstring(figure_svg(figure))
    assert len(list(root.find(f"{SVG_NS}g").iter(f"{SVG_NS}rect"))) == 2
    texts = [t.text for t in root.iter(f"{SVG_NS}text")]
    assert {"fc1", "fc2", "0.01", "1"} <= set(texts)


def test_ipython_display_publishes_the_same_bundle(explorer, monkeypatch):
    published = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display",
                        lambda data, metadata=None, raw=False: published.append((data, raw)))
    explorer._ipython_display_()
    (data, raw), = published
    assert raw and WIDGET_MIME in data and "image/svg+xml" in data


@pytest.mark.parametrize("width", [None, 640])
def test_static_bundle_shows_the_picture_at_its_own_width(explorer, width):
    explorer.figure.layout.width = width
    bundle = static_bundle(explorer.figure)
    drawn = ET.fromstring(bundle["image/svg+xml"]).get("width")
    assert float(drawn) >= 300 and (width is None or float(drawn) == width)
    assert '<img src="data:image/svg+xml;base64,' in bundle["text/html"] and f'width="{drawn}"' in bundle["text/html"]


def test_displaying_the_widget_attribute_gets_the_picture_too(explorer):
    # The course notebooks display ``explorer.widget``; it must carry the fallback as well.
    data = _data(explorer.widget._repr_mimebundle_())
    assert WIDGET_MIME in data and "image/svg+xml" in data and "text/html" in data
    assert data["text/plain"].startswith("SurrogateExplorer")
