"""Memory per visitor of the classroom demo (``make demo``): what each visit's kernel holds.

Starts Voila as ``make demo`` does (apps/server/voila.py, token in the environment), with
culling off for the measurement, makes ``--visits`` plain GETs one after the other (each
runs the whole app notebook, as a browser visit does), then reads every kernel's memory
from /proc: RSS, PSS (shared pages split between the processes that map them, so the
kernels' PSS add up to what they cost together) and USS (pages only that kernel holds,
what its shutdown gives back). Prints one row per kernel, the server's own growth, and
the ratio of a kernel's PSS to the server's RSS.

    .venv/bin/python benchmarks/bench_classroom.py --visits 3
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MiB = 2 ** 20


def memory(pid: int) -> dict:
    """RSS, PSS and USS of a process in MiB, from /proc/PID/smaps_rollup."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) * 1024
    uss = fields["Private_Clean"] + fields["Private_Dirty"]
    return {"rss": fields["Rss"] / MiB, "pss": fields["Pss"] / MiB, "uss": uss / MiB}


def kernel_pids(server_pid: int) -> list:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == server_pid and \
                        b"ipykernel" in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return sorted(pids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=3, help="plain GETs of the app (default 3)")
    args = parser.parse_args()
    if not 1 <= args.visits <= 20:
        parser.error(f"--visits must be in [1, 20]; got {args.visits}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    work = Path(tempfile.mkdtemp(prefix="bench-classroom-"))
    env = dict(os.environ, JUPYTER_TOKEN=token, JUPYTER_RUNTIME_DIR=str(work / "runtime"),
               JUPYTER_CONFIG_DIR=str(work / "config"), IPYTHONDIR=str(work / "ipython"))
    argv = [sys.executable, "-m", "voila", str(REPO / "apps" / "explorer.ipynb"), "--no-browser",
            f"--port={port}", "--Voila.ip=127.0.0.1", f"--Voila.config_file_paths={REPO / 'apps' / 'server'}",
            "--VoilaConfiguration.extension_denylist=jupyterlab-jupytext",
            "--MappingKernelManager.cull_idle_timeout=0", f"--ClassroomKernelManager.max_kernels={args.visits}"]
    log = open(work / "voila.log", "wb")
    server = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/voila/static/voila.js", timeout=5).read()
                break
            except OSError:
                time.sleep(0.3)
        before = memory(server.pid)
        seconds = []
        for _ in range(args.visits):
            start = time.monotonic()
            page = urllib.request.urlopen(f"{base}/?token={token}", timeout=300).read().decode()
            seconds.append(time.monotonic() - start)
            assert re.search(r'"kernelId": "[0-9a-f-]{36}"', page), "the page names no kernel"
        time.sleep(2)  # let the last run's figures settle
        after = memory(server.pid)
        kernels = [memory(pid) for pid in kernel_pids(server.pid)]
        print(f"{args.visits} plain GETs of apps/explorer.ipynb, one after the other "
              f"({', '.join(f'{s:.1f}' for s in seconds)} s each)")
        print(f"{'kernel':>8} {'RSS MiB':>9} {'PSS MiB':>9} {'USS MiB':>9}")
        for n, k in enumerate(kernels):
            print(f"{n:>8} {k['rss']:>9.0f} {k['pss']:>9.0f} {k['uss']:>9.0f}")
        mean = {key: sum(k[key] for k in kernels) / len(kernels) for key in ("rss", "pss", "uss")}
        print(f"{'mean':>8} {mean['rss']:>9.0f} {mean['pss']:>9.0f} {mean['uss']:>9.0f}")
        print(f"server RSS {before['rss']:.0f} MiB before the visits, {after['rss']:.0f} MiB after "
              f"(+{(after['rss'] - before['rss']) / args.visits:.1f} MiB per visit)")
        print(f"per visitor: kernel PSS / server RSS = {mean['pss'] / after['rss']:.2f}; "
              f"{args.visits} kernels + server = {sum(k['pss'] for k in kernels) + after['pss']:.0f} MiB PSS")
    finally:
        kernels = kernel_pids(server.pid)
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        for pid in kernels:  # kernels run in sessions of their own
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    main()
