"""Build the course notebooks from their sources in ``tools/notebook_src/``.

    python tools/build_notebooks.py            # writes notebooks/*.ipynb, unexecuted
    python tools/execute_notebooks.py notebooks/*.ipynb   # then store outputs

Sources use the "percent" format that jupytext also reads, so they diff and review
as plain text:

* ``# %% [markdown]`` starts a markdown cell; its lines are comments (``# text``).
* ``# %%`` starts a code cell; ``# %% tags=["nbval-ignore-output"]`` adds cell tags.

Display cells (widgets, figures, progress bars) carry the ``nbval-ignore-output`` tag;
check cells print rounded numbers that nbval compares in strict mode.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import List

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
SOURCES = REPO / "tools" / "notebook_src"
NOTEBOOKS = REPO / "notebooks"

_HEADER = re.compile(r"^# %%(?P<markdown> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")


def _uncomment(line: str) -> str:
    if line == "#":
        return ""
    if line.startswith("# "):
        return line[2:]
    raise ValueError(f"markdown lines must start with '# ': {line!r}")


def parse(text: str) -> List[nbformat.NotebookNode]:
    """Cells of a percent-format source, in order."""
    cells, kind, tags, body = [], None, [], []

    def flush():
        if kind is None:
            return
        while body and not body[-1].strip():
            body.pop()
        if kind == "markdown":
            cell = new_markdown_cell("\n".join(_uncomment(line) for line in body))
        else:
            cell = new_code_cell("\n".join(body))
        if tags:
            cell.metadata["tags"] = list(tags)
        cells.append(cell)

    for line in text.splitlines():
        match = _HEADER.match(line)
        if match:
            flush()
            kind = "markdown" if match["markdown"] else "code"
            tags = json.loads(match["tags"]) if match["tags"] else []
            body = []
        elif kind is not None:
            if not body and not line.strip():
                continue
            body.append(line)
    flush()
    return cells


def build(source: Path, target: Path) -> None:
    notebook = new_notebook(cells=parse(source.read_text()))
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
