"""`make lab` really serves the notebooks on 127.0.0.1 behind a token."""

import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest


def _status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


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
def test_make_lab_binds_localhost_with_token(tmp_path, repo_root, free_port):
    port = free_port
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    log = open(tmp_path / "lab.log", "w+")
    proc = subprocess.Popen(["make", "-s", "lab", f"LAB_PORT={port}"], cwd=repo_root, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        token = None
        for _ in range(240):
            log.seek(0)
            found = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=([0-9a-f]+)", log.read())
            if found:
                token = found.group(1)
                break
            assert proc.poll() is None, (tmp_path / "lab.log").read_text()
            time.sleep(0.5)
        assert token, "make lab never printed a URL with a token"
        base = f"http://127.0.0.1:{port}"
        for _ in range(60):
            if _status(f"{base}/api/status?token={token}") == 200:
                break
            time.sleep(0.5)
        assert _status(f"{base}/api/status?token={token}") == 200
        assert _status(f"{base}/api/status") == 403          # no token, no access
        assert _status(f"{base}/api/contents/01_surrogate_shapes.ipynb?token={token}&content=0") in (200, 404)
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only (IPv4 hex)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_make_demo_starts_voila_as_the_browser_tests_do(repo_root):
    import sys
    sys.path.insert(0, str(repo_root / "tests" / "browser"))
    try:
        from harness import VOILA_DENYLIST
    finally:
        sys.path.pop(0)
    makefile = (repo_root / "Makefile").read_text(encoding="utf-8")
    assert f"VOILA_DENYLIST := {VOILA_DENYLIST}" in makefile and "$(VOILA_DENYLIST)" in makefile
