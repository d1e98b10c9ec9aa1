"""Execute notebooks in place and store their outputs, without widget state.

    python tools/execute_notebooks.py notebooks/*.ipynb

nbclient would otherwise write every widget's state into ``metadata.widgets``: about
5 MB per plotly FigureWidget (its JavaScript bundle travels as a widget trait). The
stored outputs are what ``pytest --nbval`` compares against, so regenerate them with
this script whenever a notebook or the code it calls changes, never by hand.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]


def execute(path: Path, timeout: int = 600) -> None:
    """Run every cell of ``path`` in a fresh kernel and write the outputs back."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            store_widget_state=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    # The kernel must import the sgexplore in this checkout even without `pip install -e`.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    for path in args.notebooks:
        print(f"executing {path}", flush=True)
        execute(path, args.timeout)
        print(f"  wrote {path} ({path.stat().st_size / 1000:.0f} kB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
