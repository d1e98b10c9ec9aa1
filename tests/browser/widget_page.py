"""A page showing ipywidgets, checked against the kernel behind it.

:class:`WidgetPage` knows each displayed root widget's model id and DOM node, asks the
kernel for the state of the widgets under it and compares that with what the browser
shows (:func:`harness.view_mismatches`). :func:`move_a_slider` and
:func:`drag_first_sliders` are the interaction checks the Lab test uses.
"""

from __future__ import annotations

import json
import time

import pytest

import harness


class WidgetPage:
    """Subclasses set ``server``, ``kernel_id`` and ``outputs`` (dicts with ``key`` and
    ``model_id``; each output's DOM node carries ``data-sgx-output="<key>"``)."""

    def __init__(self, server, page):
        self.server, self.page = server, page
        self.kernel_id = None
        self.outputs = []
        self.sent_updates = []  # (comm_id, JSON text) of widget updates the browser sent
        page.on("websocket", self._watch_socket)

    def _watch_socket(self, ws):
        def sent(payload):
            raw = payload.encode() if isinstance(payload, str) else payload
            if b'"method":"update"' not in raw:
                return
            # JSON or binary kernel protocol (offsets, then JSON parts): look at the JSON
            for part in raw[raw.find(b"{"):].split(b"}{"):
                if b'"comm_id"' in part and b'"method":"update"' in part:
                    text = part.decode(errors="replace")
                    comm = text.split('"comm_id":"', 1)[1].split('"', 1)[0]
                    self.sent_updates.append((comm, text))
        ws.on("framesent", sent)

    @property
    def roots(self):
        return [o for o in self.outputs if o["model_id"]]

    def kernel(self):
        return harness.kernel_snapshot(self.server, self.kernel_id, [o["model_id"] for o in self.roots])

    def dom(self, key):
        return self.page.locator(f'[data-sgx-output="{key}"]').evaluate(harness.DOM_SNAPSHOT)

    def mismatches(self):
        kernel = self.kernel()
        problems = []
        for root in self.roots:
            problems += [f"output {root['key']}: {p}"
                         for p in harness.view_mismatches(kernel[root["model_id"]], self.dom(root["key"]))]
        return problems, kernel

    def in_sync(self, what, timeout=30.0, until=None):
        """The kernel's widget state, once the browser shows it (and ``until(state)`` holds);
        fails the test with every difference if that does not happen within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            problems, kernel = self.mismatches()
            if not problems and (until is None or until(kernel)):
                return kernel
            if time.monotonic() > deadline:
                reason = problems or ["the expected change did not arrive"]
                pytest.fail(f"{what}: the browser does not show what the kernel holds:\n  " + "\n  ".join(reason))
            time.sleep(0.3)

    def check_no_echo(self, kernel):
        """No slider sent a value without being touched (a snapped echo would overwrite
        values set in code; docs/front-end-pitfalls.md#slider-snapping-echo)."""
        sliders = {i["id"]: i["description"] for items in kernel.values() for i in items if i["kind"] == "slider"}
        echoes = [f"{sliders[c]}: {text[:200]}" for c, text in self.sent_updates
                  if c in sliders and '"value"' in text]
        assert not echoes, "sliders echoed a value without being touched: " + "; ".join(echoes)


def plotted_paths(view, key):
    """What plotly.js drew for every figure under one output: SVG paths, data and title.
    (Moving the threshold can shift data and axes together and leave the paths as they were.)"""
    return [(i["paths"], i["y"], i["title"]) for i in view.dom(key) if i["kind"] == "figure"]


def figure_ys(items):
    return [i["y"] for i in items if i["kind"] == "figure"]


def figure_state(items):
    """Each figure's curves and title, as JSON text: equal states give equal text (a NaN
    gap too, which ``==`` on the lists would call different)."""
    return json.dumps([(i["y"], i["title"]) for i in items if i["kind"] == "figure"])


def interactive_roots(view, kernel):
    """(root output, index in its widget walk of its first visible slider, or None) for
    every root that shows a figure."""
    found = []
    for root in view.roots:
        items = kernel[root["model_id"]]
        if not any(i["kind"] == "figure" and not i["hidden"] for i in items):
            continue
        index = next((n for n, i in enumerate(items)
                      if i["kind"] == "slider" and not i["hidden"] and not i["range"]), None)
        found.append((root, index))
    return found


def first_interactive(view, kernel):
    """(root output, index in its widget walk) of the first visible slider next to a figure."""
    return next(((root, n) for root, n in interactive_roots(view, kernel) if n is not None), (None, None))


def slider_at(view, kernel, root, index):
    """The DOM slider of item ``index`` of a root's widget walk (same order in both)."""
    return view.page.locator(f'[data-sgx-output="{root["key"]}"] .widget-slider').nth(
        sum(i["kind"] == "slider" for i in kernel[root["model_id"]][:index]))


def settled(view, what, timeout=120.0, quiet=1.0):
    """The kernel's widget state once the browser shows it and it has stopped changing for
    ``quiet`` s (a TrainingExplorer streams its run after a change)."""
    deadline = time.monotonic() + timeout
    state = view.in_sync(what)
    while True:
        time.sleep(quiet)
        again = view.in_sync(what)
        if json.dumps(again, sort_keys=True) == json.dumps(state, sort_keys=True):
            return again
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: the widgets kept changing for {timeout:.0f} s")
        state = again


def move_a_slider(view, kernel, artifacts, stem):
    """Move the first slider next to a figure with the mouse, then one step with the
    keyboard. After each, the browser must show what the kernel holds (readouts and the
    plotted data) and the drawn figure must have changed. Returns the root's model id and its
    figure curves as created and after both moves."""
    page = view.page
    root, index = first_interactive(view, kernel)
    assert root is not None, "the page shows live figures but no slider next to one to move"
    model_id = root["model_id"]
    created = figure_ys(kernel[model_id])
    drawn = plotted_paths(view, root["key"])
    slider = slider_at(view, kernel, root, index)
    handle = slider.locator(".noUi-handle")
    handle.scroll_into_view_if_needed()

    def changed_from(before):
        return lambda state: state[model_id][index]["value"] != before

    # Mouse: drag the handle a fifth of the track towards the far side.
    before = kernel[model_id][index]["value"]
    direction = drag_slider(page, slider)
    kernel = view.in_sync("after a mouse drag", until=changed_from(before))
    after_mouse = plotted_paths(view, root["key"])
    assert after_mouse != drawn, "the drag changed the slider but no figure"
    page.screenshot(path=str(artifacts / f"{stem}-2-after-drag.png"), full_page=True)

    # Keyboard: one arrow press moves one step.
    before = kernel[model_id][index]["value"]
    handle.focus()
    page.keyboard.press("ArrowRight" if direction > 0 else "ArrowLeft")
    kernel = view.in_sync("after an arrow key", until=changed_from(before))
    current = figure_ys(kernel[model_id])
    assert plotted_paths(view, root["key"]) != after_mouse, "the key press changed the slider but no figure"
    page.screenshot(path=str(artifacts / f"{stem}-3-after-key.png"), full_page=True)
    page.locator(f'[data-sgx-output="{root["key"]}"]').screenshot(path=str(artifacts / f"{stem}-widget.png"))
    return model_id, created, current


def drag_first_sliders(view, kernel, artifacts, stem, skip=()):
    """Drag the first slider of every output that shows a figure (but the roots whose model
    ids are in ``skip``) with the mouse, one output after the other. After each drag the
    slider's value must change, the browser must show what the kernel holds once it has
    settled, and what plotly.js drew under that output must have changed. Returns the
    kernel's state after the last drag."""
    roots = interactive_roots(view, kernel)
    bare = [root["key"] for root, index in roots if index is None]
    assert not bare, f"outputs {bare} show a figure but no slider to move"
    for root, index in roots:
        model_id, key = root["model_id"], root["key"]
        if model_id in skip:
            continue
        slider = slider_at(view, kernel, root, index)
        slider.locator(".noUi-handle").scroll_into_view_if_needed()
        description = kernel[model_id][index]["description"]
        before, drawn = kernel[model_id][index]["value"], plotted_paths(view, key)
        drag_slider(view.page, slider)
        what = f"output {key}, after a mouse drag of {description!r}"
        view.in_sync(what, until=lambda state: state[model_id][index]["value"] != before)
        kernel = settled(view, what)
        assert plotted_paths(view, key) != drawn, \
            f"{what}: the slider moved ({before!r} -> {kernel[model_id][index]['value']!r}) but no figure changed"
        view.page.locator(f'[data-sgx-output="{key}"]').screenshot(
            path=str(artifacts / f"{stem}-2-after-drag-{key}.png"))
    return kernel


def drag_slider(page, slider) -> int:
    """Drag a noUiSlider's handle with the mouse a fifth of its track towards the far side.

    Returns the direction moved: +1 (right) or -1 (left).
    """
    handle = slider.locator(".noUi-handle")
    track, box = slider.locator(".noUi-base").bounding_box(), handle.bounding_box()
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    direction = 1 if x0 < track["x"] + track["width"] / 2 else -1
    page.mouse.move(x0, y0)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x0 + direction * step * track["width"] / 50, y0)
    page.mouse.up()
    return direction
