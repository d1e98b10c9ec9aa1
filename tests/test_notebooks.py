"""Guard for the committed course notebooks, which nbval checks in strict mode.

nbval silently skips output comparison for a cell that was never executed, so a
notebook with cleared outputs "passes". This guard closes that hole and keeps the
notebooks lean and thin:

* every code cell is executed, with counts 1, 2, 3, ... (one clean top-to-bottom run);
* no stored widget state (``metadata.widgets``: about 5 MB per plotly FigureWidget);
* no file above 200 kB;
* no error outputs, and every cell that shows widgets, figures, HTML or stderr is
  tagged ``nbval-ignore-output`` (their text is not reproducible);
* each notebook has check cells: untagged cells that assert and print;
* notebooks define no functions or classes (the logic lives in the package); the one
  exception is a surrogate class decorated with ``@register``, which is the user API
  being taught;
* each committed notebook has exactly the cells of its jupytext source next to it
  (``notebooks/NN_name.py``, percent format), and ``tools/build_notebooks.py``
  rebuilds it with the same cells and ids.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import List, Optional

import jupytext
import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
EXPECTED = ["01_surrogate_shapes.ipynb", "02_spike_autograd.ipynb",
            "03_training_a_toy_snn.ipynb", "04_shape_vs_scale.ipynb",
            "05_where_the_membrane_potentials_are.ipynb"]
MAX_BYTES = 200_000
IGNORE_TAG = "nbval-ignore-output"
# Outputs whose stored text cannot be compared run to run (ids, uids, templates).
UNCOMPARABLE_MIMETYPES = ("application/vnd.jupyter.widget-view+json", "application/vnd.plotly.v1+json",
                          "text/html", "image/png", "image/jpeg", "image/svg+xml")


def _tags(cell) -> List[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _shows_uncomparable_output(cell) -> bool:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            return True
        if any(m in output.get("data", {}) for m in UNCOMPARABLE_MIMETYPES):
            return True
    return False


def _is_register_decorated(node: ast.ClassDef) -> bool:
    return any((isinstance(d, ast.Name) and d.id == "register")
               or (isinstance(d, ast.Attribute) and d.attr == "register") for d in node.decorator_list)


def _definitions(source: str) -> List[str]:
    """Names of functions and classes a code cell defines (registered surrogates excepted)."""
    # IPython magics and shell escapes are not Python; blank them before parsing.
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    found = []

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append(f"def {child.name}")
            elif isinstance(child, ast.ClassDef):
                if _is_register_decorated(child):
                    continue  # its methods are the surrogate being taught
                found.append(f"class {child.name}")
            visit(child)

    visit(ast.parse("\n".join(lines)))
    return found


def _is_check_cell(cell) -> bool:
    if cell.cell_type != "code" or IGNORE_TAG in _tags(cell):
        return False
    printed = any(o.get("output_type") == "stream" and o.get("name") == "stdout"
                  for o in cell.get("outputs", []))
    return printed and "assert" in cell.source


def notebook_problems(notebook, size_bytes: Optional[int] = None) -> List[str]:
    """Everything wrong with a committed notebook, as readable lines (empty when fine)."""
    problems = []
    code = [c for c in notebook.cells if c.cell_type == "code"]
    unexecuted = [i for i, c in enumerate(code, 1) if c.execution_count is None]
    if unexecuted:
        problems.append(f"code cells {unexecuted} were not executed (nbval would skip them)")
    counts = [c.execution_count for c in code]
    if not unexecuted and counts != list(range(1, len(code) + 1)):
        problems.append(f"execution counts {counts} are not 1..{len(code)} (not one clean run)")
    if "widgets" in notebook.metadata:
        problems.append("metadata.widgets holds stored widget state")
    if size_bytes is not None and size_bytes > MAX_BYTES:
        problems.append(f"file is {size_bytes} bytes (limit {MAX_BYTES})")
    for i, cell in enumerate(code, 1):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            problems.append(f"code cell {i} stored an error")
        if _shows_uncomparable_output(cell) and IGNORE_TAG not in _tags(cell):
            problems.append(f"code cell {i} shows widgets/figures/stderr but is not tagged {IGNORE_TAG}")
        try:
            defined = _definitions(cell.source)
        except SyntaxError as error:
            problems.append(f"code cell {i} is not valid Python: {error.msg}")
            continue
        if defined:
            problems.append(f"code cell {i} defines {defined}; put logic in the package")
    if not any(_is_check_cell(c) for c in code):
        problems.append("no check cell (an untagged cell that asserts and prints)")
    return problems


def _read(name: str):
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def test_every_course_notebook_is_present():
    present = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))
    assert present == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_is_executed_lean_and_thin(name):
    path = NOTEBOOK_DIR / name
    assert notebook_problems(_read(name), path.stat().st_size) == []


# -- the guard itself must catch what it is for -----------------------------------

@pytest.mark.parametrize("name", EXPECTED)
def test_guard_rejects_a_cleared_copy(name):
    cleared = copy.deepcopy(_read(name))
    for cell in cleared.cells:
        if cell.cell_type == "code":
            cell.execution_count = None
            cell.outputs = []
    problems = notebook_problems(cleared)
    assert any("not executed" in p for p in problems)
    assert any("no check cell" in p for p in problems)


def test_guard_rejects_widget_state_size_and_reordered_runs():
    notebook = copy.deepcopy(_read(EXPECTED[0]))
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    code = [c for c in notebook.cells if c.cell_type == "code"]
    code[0].execution_count, code[1].execution_count = code[1].execution_count, code[0].execution_count
    problems = notebook_problems(notebook, size_bytes=5_000_000)
    assert any("widget state" in p for p in problems)
    assert any("bytes" in p for p in problems)
    assert any("not 1.." in p for p in problems)


def test_guard_rejects_an_untagged_display_cell_and_notebook_logic():
    notebook = copy.deepcopy(_read(EXPECTED[0]))
    display = next(c for c in notebook.cells if c.cell_type == "code" and _shows_uncomparable_output(c))
    display.metadata["tags"] = [t for t in _tags(display) if t != IGNORE_TAG]
    check = next(c for c in notebook.cells if _is_check_cell(c))
    check.source = "def helper(x):\n    return x\n" + check.source
    problems = notebook_problems(notebook)
    assert any("not tagged" in p for p in problems)
    assert any("def helper" in p for p in problems)


def test_registered_surrogate_class_is_allowed_but_other_classes_are_not():
    allowed = ("@register\n@dataclass(frozen=True)\nclass Cosine(Surrogate):\n"
               "    def grad(self, v_mem, spike_threshold):\n        return v_mem\n")
    assert _definitions(allowed) == []
    assert _definitions("f = lambda x: 2 * x\n") == []
    assert _definitions("class Helper:\n    pass\n%matplotlib inline\n") == ["class Helper"]


SOURCES = sorted(p.name for p in NOTEBOOK_DIR.glob("*.py"))


def _cells(cells, ids: bool = False):
    return [((c.id,) if ids else ()) + (c.cell_type, c.source, _tags(c)) for c in cells]


def _read_source(name: str):
    """A notebooks/*.py source as jupytext's percent reader gives it."""
    return jupytext.read(NOTEBOOK_DIR / name, fmt="py:percent")


def test_every_notebook_has_a_source_and_every_source_a_notebook():
    assert [n.replace(".py", ".ipynb") for n in SOURCES] == EXPECTED
    # pytest (tests/ and the nbval run on notebooks/) must never collect a source as a test.
    assert not [n for n in SOURCES if n.startswith("test_") or n.endswith("_test.py")]


@pytest.mark.parametrize("source", SOURCES)
def test_committed_notebook_matches_its_source(source):
    # The notebooks are generated from notebooks/*.py (make notebooks); an edit made only in
    # the .ipynb, or a source edited without rebuilding, would be lost or untested.
    committed = _read(source.replace(".py", ".ipynb"))
    assert _cells(committed.cells) == _cells(_read_source(source).cells)


@pytest.mark.parametrize("source", SOURCES)
def test_source_is_plain_percent_format(source):
    # No jupytext header or cell metadata beyond tags: the source stays plain and diffable.
    text = (NOTEBOOK_DIR / source).read_text()
    assert text.startswith("# %%")
    # ... and jupytext writes it back unchanged, so saving it from JupyterLab adds no noise.
    assert jupytext.writes(_read_source(source), fmt="py:percent") == text


@pytest.mark.parametrize("source", SOURCES)
def test_builder_reproduces_the_committed_cells(source, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(NOTEBOOK_DIR.parent / "tools"))
    import build_notebooks as builder
    target = tmp_path / source.replace(".py", ".ipynb")
    builder.build(NOTEBOOK_DIR / source, target)
    built = nbformat.read(target, as_version=4)  # unexecuted
    committed = _read(target.name)
    assert _cells(built.cells, ids=True) == _cells(committed.cells, ids=True)
    assert built.metadata["kernelspec"] == committed.metadata["kernelspec"]


def test_source_check_catches_an_unbuilt_edit(tmp_path):
    edited = tmp_path / SOURCES[0]
    edited.write_text((NOTEBOOK_DIR / SOURCES[0]).read_text() + "#\n# Edited without rebuilding.\n")
    read = jupytext.read(edited, fmt="py:percent")
    assert _cells(read.cells) != _cells(_read(EXPECTED[0]).cells)
