"""The package's layering: data modules need no drawing library, and no import runs upward."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sgexplore"

#: Lowest first. A module may import only modules of its own level or below; the widgets
#: package is the top. (SweepResult.heatmap/to_html import the widgets inside the call.)
LEVELS = [
    {"params", "closed_form"},
    {"surrogates"},
    {"fused", "native"},
    {"spike"},
    {"contract", "views", "interop", "lens"},
    {"snn", "tasks"},
    {"train"},
    {"ensemble"},
    {"sweep", "seed_band"},
    {"widgets"},
]
LEVEL = {name: i for i, names in enumerate(LEVELS) for name in names}


def _module_level_imports(path: Path):
    """(line, sgexplore module) for every import at module level (not inside functions)."""
    package = ["sgexplore", *path.relative_to(PACKAGE).parent.parts]
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            full = base + (node.module.split(".") if node.module else [])
            names = [full + [alias.name] for alias in node.names] if len(full) == 1 else [full]
        elif isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names]
        else:
            continue
        for name in names:
            if name[0] == "sgexplore" and len(name) > 1:
                yield node.lineno, name[1]


def _layer_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return "widgets" if parts[0] == "widgets" else parts[0]


MODULES = [p for p in sorted(PACKAGE.rglob("*.py")) if p.name != "__init__.py" or p.parent != PACKAGE]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_layer_above_it(path):
    layer = _layer_of(path)
    assert layer in LEVEL, f"{path.name}: add the new module to LEVELS"
    for line, target in _module_level_imports(path):
        assert target in LEVEL, f"{path.name}:{line} imports an unknown module {target!r}"
        assert LEVEL[target] <= LEVEL[layer], (
            f"{path.relative_to(PACKAGE)}:{line} imports {target} (level {LEVEL[target]}) from "
            f"level {LEVEL[layer]}: an upward import")


def test_the_layer_checker_sees_an_upward_import(tmp_path, monkeypatch):
    fake = PACKAGE / "views.py"
    source = fake.read_text(encoding="utf-8") + "\nfrom .train import train\n"
    probe = tmp_path / "views.py"
    probe.write_text(source, encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    found = dict((target, line) for line, target in _module_level_imports(probe))
    assert "train" in found and LEVEL["train"] > LEVEL["views"]


def test_data_modules_load_neither_plotly_nor_ipywidgets():
    code = ("import sys, sgexplore.train, sgexplore.sweep, sgexplore.views, sgexplore.contract\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('plotly', 'ipywidgets'))\n"
            "print(loaded)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout


def test_the_widgets_do_load_them():
    # the probe above can fail: importing the widgets loads both libraries
    code = ("import sys, sgexplore.widgets\n"
            "print(all(m in sys.modules for m in ('plotly', 'ipywidgets')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"
