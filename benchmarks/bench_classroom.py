"""Memory per visitor of the classroom demo (``make demo``): what each visit's kernel holds.

Starts Voila as ``make demo`` does (apps/server/voila.py, token in the environment), with
culling off for the measurement, makes ``--visits`` plain GETs one after the other (each
runs the whole app notebook, as a browser visit does), then reads every kernel's memory
from /proc: RSS, PSS (shared pages split between the processes that map them, so the
kernels' PSS add up to what they cost together) and USS (pages only that kernel holds,
what its shutdown gives back). Prints one row per kernel, the server's own growth, and
the ratio of a kernel's PSS to the server's RSS.

    .venv/bin/python benchmarks/bench_classroom.py --visits 3

``--worst-run`` measures instead what one visitor's run can cost in the classroom setting
(``TrainingExplorer(classroom=True)``, apps/explorer.ipynb): the most expensive config
inside the caps of sgexplore.widgets.classroom (every cap at its end, two recurrent
layers of the widest width), next to the app's default run, in one process. It prints the
time per step (median and longest), the whole run, and how long the kernel was deaf: a
live run in the explorer, started as a page's change of the seed (a new data set), with a
ticker task on the same event loop that records how late each of its 5 ms sleeps wakes;
the same live run with twice the batch cap, measured in turn; and the steps of a band of
1, 3 and 5 seeds trained together (the classroom trains one).

    .venv/bin/python benchmarks/bench_classroom.py --worst-run
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


def worst_config():
    """The costliest TrainConfig inside the classroom's caps (and the record_every the
    explorer uses): every cap at its end, the most and widest hidden layers, recurrent."""
    from sgexplore.train import TrainConfig
    from sgexplore.widgets.classroom import (CLASSROOM_CAPS, CLASSROOM_LAYER_SIZE, CLASSROOM_LAYERS)
    from sgexplore.widgets.training_explorer import LENS_EVERY

    return TrainConfig(**CLASSROOM_CAPS, hidden=(int(CLASSROOM_LAYER_SIZE.high),) * CLASSROOM_LAYERS,
                       recurrent=True, record_every=LENS_EVERY)


def step_times(config) -> list:
    """Seconds of each step of ``train(config)``, the first one including the data set."""
    from sgexplore.train import train

    times, last = [], time.perf_counter()
    for _record in train(config):
        now = time.perf_counter()
        times.append(now - last)
        last = now
    return times


def deaf_seconds(config, seed: int, classroom: bool = True) -> tuple:
    """(longest lateness of a 5 ms ticker, run seconds) while the explorer (in the classroom
    setting unless ``classroom`` is False) trains ``config`` live after a page sets its seed
    to ``seed`` (a data set not built yet)."""
    import asyncio
    import dataclasses

    from sgexplore.widgets import TrainingExplorer

    explorer = TrainingExplorer(config=dataclasses.replace(config, seed=0), classroom=classroom)
    lateness = []

    async def scenario():
        done = asyncio.Event()

        async def ticker():
            while not done.is_set():
                start = time.perf_counter()
                await asyncio.sleep(0.005)
                lateness.append(time.perf_counter() - start - 0.005)

        tick = asyncio.get_running_loop().create_task(ticker())
        await asyncio.sleep(0.05)
        start = time.perf_counter()
        explorer.controls["seed"].set_state({"value": seed})  # as a page's message: a live run
        assert explorer.running, explorer.message
        await explorer.wait()
        elapsed = time.perf_counter() - start
        done.set()
        await tick
        return elapsed

    elapsed = asyncio.run(scenario())
    assert len(explorer.records) == config.steps and not explorer.message, explorer.message
    explorer.close()
    return max(lateness), elapsed


def worst_run() -> None:
    import dataclasses
    import statistics

    import torch
    from sgexplore.train import TrainConfig

    worst = worst_config()
    default = dataclasses.replace(TrainConfig(), record_every=worst.record_every)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the start")
    rows = {}
    for label, config in (("app default", default), ("classroom worst", worst)):
        times = step_times(dataclasses.replace(config, seed=99))  # a data set not cached yet
        later = sorted(times[1:])
        rows[label] = (times[0], statistics.median(later), later[-1], sum(times))
        print(f"{label:>16}: hidden={config.hidden} recurrent={config.recurrent} steps={config.steps} "
              f"batch={config.batch_size} units={config.units} time_steps={config.time_steps} "
              f"samples_per_class={config.samples_per_class}")
        print(f"{'':>16}  first step (builds the data set) {times[0]:.3f} s; later steps median "
              f"{statistics.median(later) * 1e3:.0f} ms, longest {later[-1] * 1e3:.0f} ms; "
              f"whole run {sum(times):.1f} s")
    ratio = rows["classroom worst"][3] / rows["app default"][3]
    print(f"worst / default whole run: {ratio:.1f}x")
    # why the classroom trains one seed: steps of a band of seeds (sgexplore.seed_band), 30 each
    from sgexplore.seed_band import train_seeds

    short = dataclasses.replace(worst, steps=30, seed=95)
    for seeds in (1, 3, 5):
        times, last = [], time.perf_counter()
        for _step in train_seeds(short, seeds):
            now = time.perf_counter()
            times.append(now - last)
            last = now
        later = sorted(times[1:])
        print(f"worst config with {seeds} seed(s) together: steps median {statistics.median(later) * 1e3:.0f} ms, "
              f"longest {later[-1] * 1e3:.0f} ms")
    # the same with twice the batch cap, measured in turn with the caps, to show what it would cost
    wider = dataclasses.replace(worst, batch_size=2 * worst.batch_size)
    for n, (label, config, classroom) in enumerate((("classroom worst", worst, True),
                                                     (f"batch {wider.batch_size}", wider, False)) * 2):
        deaf, elapsed = deaf_seconds(config, seed=90 - n, classroom=classroom)
        print(f"explorer live after a page's seed change, {label:>15}: run {elapsed:.1f} s, kernel deaf "
              f"at most {deaf:.3f} s (longest lateness of a 5 ms ticker)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=3, help="plain GETs of the app (default 3)")
    parser.add_argument("--worst-run", action="store_true",
                        help="the costliest classroom run instead of the memory per visitor")
    args = parser.parse_args()
    if args.worst_run:
        worst_run()
        return
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
