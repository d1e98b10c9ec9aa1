"""`make lab` really serves a working copy of the notebooks on 127.0.0.1 behind a token.

The working copy (``LAB_DIR``, ``lab/`` by default, ignored by git) gets each notebook it
lacks; a student's own copy is never overwritten, and notebooks/ is never written, so
JupyterLab's autosave cannot break ``make test`` or dirty ``git status``.
"""

import hashlib
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def _tracked_notebooks(repo_root):
    return sorted((repo_root / "notebooks").glob("*.ipynb"))


def _digests(paths):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def _student_notebook(marker):
    """A minimal valid notebook, as a student's edited copy."""
    return json.dumps({"cells": [{"cell_type": "markdown", "id": "mine", "metadata": {},
                                  "source": [marker]}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _make_plan(repo_root, lab_dir):
    done = subprocess.run(["make", "-n", "--no-print-directory", "lab", f"LAB_DIR={lab_dir}"],
                          cwd=repo_root, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_default_working_copy_is_lab_and_git_ignores_it(repo_root):
    makefile = (repo_root / "Makefile").read_text()
    assert re.search(r"^LAB_DIR\s*\?=\s*lab\s*$", makefile, re.M)
    done = subprocess.run(["git", "check-ignore", "-q", "lab/01_surrogate_shapes.ipynb"], cwd=repo_root)
    assert done.returncode == 0, "lab/ is not ignored by git"
    serve = [line for line in _make_plan(repo_root, "lab").splitlines() if "jupyter lab" in line]
    assert len(serve) == 1 and re.search(r"jupyter lab lab ", serve[0]), serve
    assert " notebooks " not in serve[0] + " "


def test_make_lab_copies_only_the_notebooks_missing_from_the_working_copy(repo_root, tmp_path):
    names = [p.name for p in _tracked_notebooks(repo_root)]
    assert names
    fresh = tmp_path / "fresh" / "lab"  # its parent does not exist either
    plan = _make_plan(repo_root, fresh)
    copies = re.findall(r"^cp notebooks/(\S+) (\S+)$", plan, re.M)
    assert sorted(c[0] for c in copies) == names and all(c[1] == f"{fresh}/{c[0]}" for c in copies)
    assert f"jupyter lab {fresh} " in plan
    # run those copy steps for real: the folder is created and holds exact copies
    done = subprocess.run(["make", "-s", f"LAB_DIR={fresh}", *(c[1] for c in copies)], cwd=repo_root,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _digests(fresh.glob("*.ipynb")) == _digests(_tracked_notebooks(repo_root))
    # a student's own copy is kept: no copy step for it, the others are still made
    student = tmp_path / "student"
    student.mkdir()
    (student / names[0]).write_text(_student_notebook("my notes"))
    plan = _make_plan(repo_root, student)
    copied = re.findall(r"^cp notebooks/(\S+) ", plan, re.M)
    assert names[0] not in copied and sorted(copied) == names[1:], plan
    assert _make_plan(repo_root, fresh).count("\ncp ") == 0  # nothing missing, nothing copied


def _status(url):
    """The HTTP status of a GET of ``url``; None while nothing listens there yet."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except urllib.error.URLError:  # make prints the URL before the server listens
        return None


def _listening_addresses(port):
    """Local addresses listening on ``port``, read from /proc/net/tcp{,6} (state 0A = LISTEN)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in open(table).read().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


@pytest.mark.server
def test_make_lab_serves_a_working_copy_on_localhost_with_token(tmp_path, repo_root, free_port):
    port = free_port
    tracked = _tracked_notebooks(repo_root)
    before = _digests(tracked)
    lab_dir = tmp_path / "lab"
    lab_dir.mkdir()
    own = lab_dir / tracked[0].name
    own.write_text(_student_notebook("a student's own copy"))
    own_bytes = own.read_bytes()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    env.pop("JUPYTER_TOKEN", None)
    harness = _harness()
    log_path = tmp_path / "lab.log"
    proc, token = harness.start_make_target("lab", [f"LAB_PORT={port}", f"LAB_DIR={lab_dir}"],
                                            ".venv/.installed-notebook",
                                            rf"http://127\.0\.0\.1:{port}/lab\?token=([0-9a-f]+)",
                                            log_path, env)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(60):
            if _status(f"{base}/api/status?token={token}") == 200:
                break
            time.sleep(0.5)
        assert _status(f"{base}/api/status?token={token}") == 200
        assert _status(f"{base}/api/status") == 403          # no token, no access
        # The token came through the environment: no process shows it on its command line
        # (/proc/PID/cmdline is readable by every local user), and only make's URL line prints it.
        assert harness.processes_showing(token) == [], "the token is on a command line"
        assert [line for line in log_path.read_text().splitlines() if token in line] == [
            f"JupyterLab on {lab_dir}/: http://127.0.0.1:{port}/lab?token={token}"]
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only (IPv4 hex)
        # it serves the working copy: every notebook there, the student's own one kept
        for notebook in tracked:
            assert _status(f"{base}/api/contents/{notebook.name}?token={token}&content=0") == 200
        with urllib.request.urlopen(f"{base}/api/contents/{own.name}?token={token}", timeout=5) as r:
            assert "a student's own copy" in json.dumps(json.load(r)["content"])
        assert own.read_bytes() == own_bytes
        assert _digests(lab_dir.glob("*.ipynb")) == dict(before, **{own.name: _digests([own])[own.name]})
    finally:
        harness.stop_make(proc)
    assert _digests(tracked) == before  # notebooks/ is never written
    assert own.read_bytes() == own_bytes


def _harness():
    """tests/browser/harness.py (its folder is not a package)."""
    import sys
    sys.path.insert(0, str(Path(__file__).parent / "browser"))
    try:
        import harness
    finally:
        sys.path.pop(0)
    return harness


def test_make_demo_starts_voila_as_the_browser_tests_do(repo_root):
    harness = _harness()
    makefile = (repo_root / "Makefile").read_text(encoding="utf-8")
    assert f"VOILA_DENYLIST := {harness.VOILA_DENYLIST}" in makefile and "$(VOILA_DENYLIST)" in makefile
    # the same server settings: apps/server/voila.py
    config_dir = harness.VOILA_CONFIG_DIR.relative_to(repo_root)
    assert f"VOILA_CONFIG := --Voila.config_file_paths={config_dir}" in makefile and "$(VOILA_CONFIG)" in makefile
    assert (harness.VOILA_CONFIG_DIR / "voila.py").is_file()
