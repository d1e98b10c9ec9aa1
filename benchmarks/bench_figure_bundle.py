"""What plotly's JavaScript costs per figure: plain ``FigureWidget`` against sgexplore's
``CompactFigureWidget``, side by side, in a real Chromium.

    .venv/bin/python benchmarks/bench_figure_bundle.py [--figures 3] [--repeats 5]

Every plain plotly ``FigureWidget`` sends plotly's widget bundle (5 MB) as its anywidget
``_esm``: once when it is created, and again for every open figure when a JupyterLab page
is reloaded, in the one ``request_states`` reply the widget manager waits 4 s for. Then
anywidget imports each figure's ``_esm`` separately and gives each model 2 s to load.
``CompactFigureWidget`` sends the bundle gzipped inside a small loader, which unpacks and
imports it once per page for all figures (docs/front-end-pitfalls.md).

Printed: the ``_esm`` size of one figure and of ``--figures`` figures (notebook 03 shows
three explorers), and, in a fresh headless Chromium page per repeat, the time until
``--figures`` figures' modules are all imported, started together as anywidget starts
them, with the slowest figure's time (the one anywidget's 2 s limit applies to).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

# Imports every figure's module at once, each from its own blob URL (as anywidget does);
# returns each figure's time from the start to its module, in ms.
IMPORT_ALL_JS = """async ([esm, count]) => {
  const start = performance.now();
  const one = async () => {
    const url = URL.createObjectURL(new Blob([esm], {type: 'text/javascript'}));
    const module = await import(url);
    URL.revokeObjectURL(url);
    if (!module.default) throw new Error('no default export');
    return performance.now() - start;
  };
  return Promise.all(Array.from({length: count}, one));
}"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", type=int, default=3, help="figures on one page (notebook 03: 3)")
    parser.add_argument("--repeats", type=int, default=5, help="fresh pages per kind")
    args = parser.parse_args(argv)

    import plotly.graph_objects as go
    from playwright.sync_api import sync_playwright

    import harness
    from sgexplore.widgets.figures import CompactFigureWidget

    kinds = {"plain FigureWidget": go.FigureWidget()._esm, "CompactFigureWidget": CompactFigureWidget()._esm}
    sizes = {kind: len(esm.encode("utf-8")) for kind, esm in kinds.items()}
    plain, compact = sizes.values()
    print(f"_esm of one figure: plain {plain / 1e6:.2f} MB, compact {compact / 1e6:.2f} MB "
          f"(compact / plain = {compact / plain:.3f})")
    print(f"{args.figures} figures (a reload's request_states carries these): plain "
          f"{args.figures * plain / 1e6:.1f} MB, compact {args.figures * compact / 1e6:.1f} MB")

    totals = {kind: [] for kind in kinds}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=harness.find_chromium(), args=["--no-sandbox"])
        try:
            for _ in range(args.repeats):
                for kind, esm in kinds.items():  # alternated, so that load drifts hit both
                    page = browser.new_page()
                    page.goto("about:blank")
                    totals[kind].append(page.evaluate(IMPORT_ALL_JS, [esm, args.figures]))
                    page.close()
        finally:
            browser.close()
    print(f"\nChromium {harness.find_chromium()}, {args.repeats} fresh pages each, "
          f"{args.figures} figures imported together; ms until the slowest figure's module:")
    medians = {}
    for kind, runs in totals.items():
        slowest = [max(run) for run in runs]
        medians[kind] = statistics.median(slowest)
        print(f"  {kind:20s} median {medians[kind]:7.0f}  all {[round(s) for s in slowest]}")
    ratio = medians["CompactFigureWidget"] / medians["plain FigureWidget"]
    print(f"  compact / plain (medians) = {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
