"""Build the course notebooks from their jupytext sources ``notebooks/NN_*.py``.

    python tools/build_notebooks.py            # writes notebooks/*.ipynb, unexecuted
    python tools/execute_notebooks.py notebooks/*.ipynb   # then store outputs
    make notebooks                             # both steps

Each source sits next to its notebook (same stem) in jupytext's "percent" format, so it
diffs and reviews as plain text, and JupyterLab with jupytext opens it as a notebook:

* ``# %% [markdown]`` starts a markdown cell; its lines are comments (``# text``).
* ``# %%`` starts a code cell; ``# %% tags=["nbval-ignore-output"]`` adds cell tags.

The sources carry no jupytext header; jupytext reads them as plain percent scripts.
Display cells (widgets, figures, progress bars) carry the ``nbval-ignore-output`` tag;
check cells print rounded numbers that nbval compares in strict mode.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List

import jupytext
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
SOURCES = NOTEBOOKS  # notebooks/NN_name.py builds notebooks/NN_name.ipynb
SOURCE_FORMAT = "py:percent"
_NEW_CELL = {"code": new_code_cell, "markdown": new_markdown_cell}


def read_cells(source: Path) -> List[nbformat.NotebookNode]:
    """Cells of a percent-format source as jupytext reads them, keeping only their tags.

    jupytext also records round-trip hints (``lines_to_next_cell``, ...) in cell metadata;
    the committed notebooks keep none of that.
    """
    cells = []
    for read in jupytext.read(source, fmt=SOURCE_FORMAT).cells:
        if read.cell_type not in _NEW_CELL:
            raise ValueError(f"{source.name}: unsupported {read.cell_type} cell")
        cell = _NEW_CELL[read.cell_type](read.source)
        tags = read.metadata.get("tags")
        if tags:
            cell.metadata["tags"] = list(tags)
        cells.append(cell)
    return cells


def build(source: Path, target: Path) -> None:
    notebook = new_notebook(cells=read_cells(source))
    notebook.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)",
                                       "language": "python", "name": "python3"}
    notebook.metadata["language_info"] = {"name": "python"}
    # Stable cell ids keep rebuilt notebooks diff-friendly.
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{source.stem.split('_')[0]}-{index:02d}"
    nbformat.validate(notebook)
    nbformat.write(notebook, target)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="source stems, e.g. 01_surrogate_shapes (default: all)")
    args = parser.parse_args(argv)
    sources = [SOURCES / f"{name}.py" for name in args.names] or sorted(SOURCES.glob("*.py"))
    for source in sources:
        target = NOTEBOOKS / f"{source.stem}.ipynb"
        build(source, target)
        print(f"built {target.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
