"""Set-up files agree with each other: pyproject.toml, environment.yml, Makefile, CI."""

import os
import re
import subprocess
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def _pyproject(root):
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]


def _split(requirement):
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def _environment_packages(root):
    names = {}
    text = (root / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        m = re.match(r"^  - ([A-Za-z0-9_.\-]+)\s*([<>=!~][^#]*)?$", line)
        if m and m.group(1) not in ("pip", "python"):
            name = CONDA_NAMES.get(m.group(1), m.group(1)).lower()
            names[name] = (m.group(2) or "").strip().replace(" ", "")
    return names


def test_environment_yml_lists_the_same_packages_as_pyproject(repo_root):
    project = _pyproject(repo_root)
    wanted = dict(_split(r) for r in project["dependencies"])
    for extra in ("notebook", "test", "browser"):
        wanted.update(_split(r) for r in project["optional-dependencies"][extra])
    assert _environment_packages(repo_root) == wanted


def test_environment_yml_installs_the_package_itself(repo_root):
    assert re.search(r"^\s+- -e \.\s*$", (repo_root / "environment.yml").read_text(), re.M)


def test_runtime_dependencies_are_named_explicitly(repo_root):
    names = {_split(r)[0] for r in _pyproject(repo_root)["dependencies"]}
    assert {"torch", "numpy", "ipywidgets", "plotly", "anywidget", "ipykernel", "tqdm"} <= names


def _default_torch_spec(root):
    """The Makefile's TORCH_SPEC default, parsed as a requirement."""
    found = re.search(r"^TORCH_SPEC\s*\?=\s*(\S.*?)\s*$", (root / "Makefile").read_text(), re.M)
    assert found, "the Makefile sets no overridable TORCH_SPEC default (TORCH_SPEC ?= ...)"
    return Requirement(found.group(1))


def _pinned_version(requirement):
    pins = [s.version for s in requirement.specifier if s.operator in ("==", "===")]
    assert requirement.name == "torch" and len(pins) == 1, f"TORCH_SPEC must pin one torch version: {requirement}"
    return pins[0]


def test_makefile_installs_torch_first_from_an_overridable_spec(repo_root):
    makefile = (repo_root / "Makefile").read_text()
    _pinned_version(_default_torch_spec(repo_root))
    assert '"$(TORCH_SPEC)"' in makefile


def test_torch_spec_is_admitted_by_pyproject_and_environment_yml(repo_root):
    pinned = _pinned_version(_default_torch_spec(repo_root))
    required = dict(_split(r) for r in _pyproject(repo_root)["dependencies"])["torch"]
    assert SpecifierSet(required).contains(pinned, prereleases=True), (pinned, required)
    conda = _environment_packages(repo_root)["torch"]
    assert SpecifierSet(conda).contains(pinned, prereleases=True), (pinned, conda)


def test_installed_torch_satisfies_the_torch_spec(repo_root):
    # make passes a command-line TORCH_SPEC=... on to the tests' environment.
    spec = Requirement(os.environ["TORCH_SPEC"]) if os.environ.get("TORCH_SPEC") else _default_torch_spec(repo_root)
    assert spec.specifier.contains(version("torch"), prereleases=True), (version("torch"), str(spec))


def _make(repo_root, *args):
    done = subprocess.run(["make", "--no-print-directory", *args], cwd=repo_root, capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def test_a_new_torch_spec_reinstalls_torch_and_every_install_set_on_top(repo_root, tmp_path):
    venv = tmp_path / "venv"
    first, other = f"VENV={venv}", "torch==0.0.1"
    code, plan = _make(repo_root, "-n", "install-test", first)
    assert code == 0, plan
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    stamps = re.findall(r"^touch (\S+)$", plan, re.M)
    assert any(".torch-" in s for s in stamps) and stamps[-1].endswith(".installed-test"), plan
    after = (repo_root / "pyproject.toml").stat().st_mtime  # a prerequisite of every install set
    for offset, stamp in enumerate(stamps, 1):  # as make leaves them: torch first, each one newer
        Path(stamp).touch()
        os.utime(stamp, (after + offset / 1000, after + offset / 1000))
    code, _ = _make(repo_root, "-q", "install-test", first)
    assert code == 0, "an installed .venv with the same TORCH_SPEC is not up to date"
    code, plan = _make(repo_root, "-n", "install-test", first, f"TORCH_SPEC={other}")
    assert f'pip install -q "{other}"' in plan and "pip install -q -e" in plan, plan
    assert "--no-deps" in plan and plan.rstrip().endswith(f"touch {venv}/.installed-test"), plan


def test_make_help_lists_every_target_with_its_summary(repo_root):
    makefile = (repo_root / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
    documented = dict(re.findall(r"^## make ([^ :]+): (.+)$", makefile, re.M))
    code, listing = _make(repo_root, "-s", "help")
    assert code == 0, listing
    for target in phony:
        assert target in documented, f"{target} has no '## make {target}: ...' line"
        assert re.search(rf"^make {re.escape(target)} +{re.escape(documented[target])}$", listing, re.M), target


def test_make_unit_leaves_out_every_marked_tier(repo_root):
    markers = tomllib.loads((repo_root / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    names = {m.split(":")[0].strip() for m in markers}
    assert {"slow", "compile", "server", "browser"} <= names
    unit = re.search(r"^unit:.*\n\t(.*)$", (repo_root / "Makefile").read_text(), re.M).group(1)
    expression = re.search(r'-m "([^"]+)"', unit).group(1)  # and, or, not, names: Python too
    assert eval(expression, {}, dict.fromkeys(names, False)) is True  # an unmarked test runs
    for name in names:
        assert eval(expression, {}, {n: n == name for n in names}) is False, name


def test_ci_runs_the_readme_test_command(repo_root):
    assert "make test" in (repo_root / ".ci" / "run").read_text()
    readme = (repo_root / "README.md").read_text()
    assert "make test" in readme and "make lab" in readme


def test_lab_binds_to_localhost_and_never_disables_the_token(repo_root):
    makefile = (repo_root / "Makefile").read_text()
    lab_lines = [l for l in makefile.splitlines() if "jupyter lab" in l or "voila" in l]
    assert lab_lines and all("127.0.0.1" in l for l in lab_lines if "jupyter lab" in l)
    assert not re.search(r"token=(''|\"\"|\s)|NotebookApp\.token=\s|disable_check_xsrf|password=''", makefile)


@pytest.mark.slow  # a fresh interpreter per example, one of them trains: seconds on 2 cores
def test_readme_python_examples_run(tmp_path, repo_root):
    import sys

    readme = (repo_root / "README.md").read_text()
    blocks = [part.split("```", 1)[0] for part in readme.split("```python")[1:]]
    assert len(blocks) >= 2
    for i, block in enumerate(blocks):
        script = tmp_path / f"readme_example_{i}.py"
        script.write_text(block)
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"README example {i} failed:\n{block}\n{done.stderr}"
        if "registry()" in block:
            assert "Heaviside" in done.stdout


def test_license_is_an_spdx_string_that_setuptools_reads_without_deprecation(repo_root):
    import warnings

    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    data = tomllib.loads((repo_root / "pyproject.toml").read_text())
    assert data["project"]["license"] == "MIT"
    (setuptools_req,) = [Requirement(r) for r in data["build-system"]["requires"]
                         if Requirement(r).name == "setuptools"]
    # the SPDX string form (PEP 639) needs setuptools 77; older ones reject it
    assert not setuptools_req.specifier.contains("76.1") and setuptools_req.specifier.contains("77.0")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), repo_root / "pyproject.toml")
    assert dist.metadata.license_expression == "MIT"
    about_license = [str(w.message) for w in caught if "licen" in str(w.message).lower()]
    assert not about_license, about_license


def _other_machine_env(repo_root, name="OTHER_MACHINE_ENV"):
    found = re.search(rf"^{name}\s*:?=\s*(.+?)\s*$", (repo_root / "Makefile").read_text(), re.M)
    assert found, f"the Makefile defines no {name}"
    return dict(item.split("=", 1) for item in found.group(1).split())


def test_make_test_runs_strict_nbval_again_as_another_machine(repo_root):
    env = _other_machine_env(repo_root)
    assert env["ATEN_CPU_CAPABILITY"] == "avx2" and env["MKL_ENABLE_INSTRUCTIONS"] == "AVX2"
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "2"
    code, plan = _make(repo_root, "-n", "test")
    assert code == 0, plan
    nbval = [line for line in plan.splitlines() if "--nbval " in line]
    assert len(nbval) == 3, nbval
    strict = "-m pytest --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg notebooks/"
    assert all(line.endswith(strict) for line in nbval), nbval
    assert "ATEN_CPU_CAPABILITY" not in nbval[0]
    assert nbval[1].startswith("env " + " ".join(f"{k}={v}" for k, v in env.items()) + " ")
    baseline = _other_machine_env(repo_root, "BASELINE_MACHINE_ENV")
    assert baseline["ATEN_CPU_CAPABILITY"] == "default" and baseline["OMP_NUM_THREADS"] == "1"
    assert nbval[2].startswith("env " + " ".join(f"{k}={v}" for k, v in baseline.items()) + " ")


@pytest.mark.slow  # starts a kernel, as nbval does: a few seconds
def test_the_other_machine_env_reaches_torch_in_an_nbval_kernel(repo_root):
    """nbval's kernel inherits the environment: torch there uses 2 threads and AVX2 kernels."""
    import platform
    import sys

    from jupyter_client.manager import start_new_kernel

    env = dict(os.environ, **_other_machine_env(repo_root))
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # the count must come from the Makefile
        assert env[key] == "2"
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(repo_root))
    try:
        printed = []
        client.execute_interactive(
            "import sys, torch; print(sys.executable, torch.get_num_threads(), "
            "torch.backends.cpu.get_cpu_capability())",
            output_hook=lambda m: printed.append(m["content"].get("text", "")), timeout=60)
    finally:
        manager.shutdown_kernel(now=True)
    executable, threads, capability = "".join(printed).split()
    assert executable == sys.executable  # --nbval-current-env: this interpreter
    assert threads == "2"
    if platform.machine() in ("x86_64", "AMD64"):
        assert capability == "AVX2"
