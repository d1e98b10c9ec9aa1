"""Set-up files agree with each other: pyproject.toml, environment.yml, Makefile, CI."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _split(requirement):
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def _environment_packages():
    names = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        m = re.match(r"^  - ([A-Za-z0-9_.\-]+)\s*([<>=!~][^#]*)?$", line)
        if m and m.group(1) not in ("pip", "python"):
            name = CONDA_NAMES.get(m.group(1), m.group(1)).lower()
            names[name] = (m.group(2) or "").strip().replace(" ", "")
    return names


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = _pyproject()
    wanted = dict(_split(r) for r in project["dependencies"])
    for extra in ("notebook", "test", "browser"):
        wanted.update(_split(r) for r in project["optional-dependencies"][extra])
    assert _environment_packages() == wanted


def test_environment_yml_installs_the_package_itself():
    assert re.search(r"^\s+- -e \.\s*$", (ROOT / "environment.yml").read_text(), re.M)


def test_runtime_dependencies_are_named_explicitly():
    names = {_split(r)[0] for r in _pyproject()["dependencies"]}
    assert {"torch", "numpy", "ipywidgets", "plotly", "anywidget", "ipykernel", "tqdm"} <= names


def test_makefile_installs_torch_first_from_an_overridable_spec():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^TORCH_SPEC\s*\?=\s*torch==2\.13\.0$", makefile, re.M)
    assert '"$(TORCH_SPEC)"' in makefile


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make lab" in readme


def test_lab_binds_to_localhost_and_never_disables_the_token():
    makefile = (ROOT / "Makefile").read_text()
    lab_lines = [l for l in makefile.splitlines() if "jupyter lab" in l or "voila" in l]
    assert lab_lines and all("127.0.0.1" in l for l in lab_lines if "jupyter lab" in l)
    assert not re.search(r"token=(''|\"\"|\s)|NotebookApp\.token=\s|disable_check_xsrf|password=''", makefile)


def test_readme_python_examples_run(tmp_path):
    import subprocess
    import sys

    readme = (ROOT / "README.md").read_text()
    blocks = [part.split("```", 1)[0] for part in readme.split("```python")[1:]]
    assert len(blocks) >= 2
    for i, block in enumerate(blocks):
        script = tmp_path / f"readme_example_{i}.py"
        script.write_text(block)
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"README example {i} failed:\n{block}\n{done.stderr}"
        if "registry()" in block:
            assert "Heaviside" in done.stdout
