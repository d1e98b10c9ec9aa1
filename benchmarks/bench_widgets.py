"""Server-side latency of the explorers, in a plain process and in a real ipykernel.

    .venv/bin/python benchmarks/bench_widgets.py [--quick]

Targets (issue 4): SurrogateExplorer slider -> updated figure, median <= 10 ms;
TrainingExplorer slider -> first loss point <= 100 ms and -> complete curve <= 1.5 s;
a storm of 100 slider changes within one second leaves the kernel responsive and the
final figure matching the final value.

In-process: a control is set from code (the synchronous path) and timed until the
figure holds the new curve. In the kernel: the script plays the browser. It sends the
same ``comm_msg`` "update" messages a dragged slider sends (``{"index": i}`` for a
SelectionSlider, ``{"value": v}`` for an IntSlider) and times the kernel's replies on
iopub: the figure's first ``_py2js_*`` message (surrogate), the status line reporting
"step 1/" and "done" (training), and, during the storm, the round trip of tiny
``execute_request``s sent every 50 ms. Browser rendering is not included (the browser
tests cover it).
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import sys
import textwrap
import threading
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad")


def summary(times_s):
    ms = np.array(times_s) * 1e3
    return f"median {np.median(ms):7.2f} ms  p95 {np.percentile(ms, 95):7.2f} ms  (n={len(ms)})"


# ---------------------------------------------------------------------------
# In-process (the synchronous path, no kernel)
# ---------------------------------------------------------------------------

def bench_in_process(repeats: int) -> dict:
    from sgexplore.widgets import SurrogateExplorer, TrainingExplorer

    results = {}
    explorers = {name: SurrogateExplorer(name) for name in ("MultiGaussian", "Gaussian", "FastSigmoid")}
    knob = {"MultiGaussian": ("sigma", (0.3, 0.35)), "Gaussian": ("sigma", (0.3, 0.35)),
            "FastSigmoid": ("grad_scale", (1.0, 10 ** 0.1))}
    times = {name: [] for name in explorers}
    for i in range(repeats):  # interleaved, so load changes hit every case alike
        for name, explorer in explorers.items():
            control, values = knob[name]
            t0 = time.perf_counter()
            explorer.controls[control].value = values[i % 2]
            times[name].append(time.perf_counter() - t0)
    for name, t in times.items():
        results[f"surrogate {name}"] = t
        print(f"in-process  SurrogateExplorer({name}) slider -> figure: {summary(t)}")

    explorer = TrainingExplorer()
    explorer.run()  # builds and caches the data set
    stamps = []
    draw = explorer._draw_records

    def timed_draw(final=False):
        draw(final)
        stamps.append(time.perf_counter())

    explorer._draw_records = timed_draw
    first, complete = [], []
    for i in range(max(3, repeats // 20)):
        stamps.clear()
        t0 = time.perf_counter()
        explorer.controls["lr"].value = (0.03162277660168379, 0.01)[i % 2]
        first.append(stamps[0] - t0)
        complete.append(stamps[-1] - t0)
    results["training first"], results["training complete"] = first, complete
    print(f"in-process  TrainingExplorer slider -> first loss point: {summary(first)}")
    print(f"in-process  TrainingExplorer slider -> complete curve:   {summary(complete)}")
    return results


# ---------------------------------------------------------------------------
# In a real kernel, driven like a browser
# ---------------------------------------------------------------------------

SETUP = textwrap.dedent("""
    import json, warnings
    warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad")
    from sgexplore.widgets import SurrogateExplorer, TrainingExplorer
    from sgexplore.train import train
    se = SurrogateExplorer()
    ge = SurrogateExplorer("Gaussian")
    te = TrainingExplorer()
    te.run()
    lr = te.controls["lr"]
    print(json.dumps(dict(
        sigma=se.controls["sigma"].model_id, surrogate_figure=se.figure.model_id,
        gaussian_sigma=ge.controls["sigma"].model_id, gaussian_figure=ge.figure.model_id,
        lr=lr.model_id, status=te.status.model_id,
        sigma_index={str(v): i for i, (_, v) in enumerate(se.controls["sigma"].options)},
        lr_index={str(v): i for i, (_, v) in enumerate(lr.options)})))
""")

CHECK = textwrap.dedent("""
    expected = [r.loss for r in train(te.config)]
    print(json.dumps(dict(lr=te.config.lr, running=te.running, started=te.runs_started,
                          finished=te.runs_finished,
                          figure_matches=list(te.figure.data[0].y) == expected,
                          records_match=[r.loss for r in te.records] == expected)))
""")


class Browser:
    """A jupyter_client connection that sends widget updates the way the front-end does."""

    def __init__(self):
        from jupyter_client.manager import start_new_kernel
        self.km, self.kc = start_new_kernel(kernel_name="python3")
        self.iopub: "queue.Queue" = queue.Queue()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        while not self._stop.is_set():
            try:
                msg = self.kc.get_iopub_msg(timeout=0.1)
            except queue.Empty:
                continue
            self.iopub.put((time.perf_counter(), msg))

    def execute(self, code: str, timeout: float = 300) -> str:
        """Run code, return its stdout (raises on an error)."""
        msg_id = self.kc.execute(code)
        out, deadline = [], time.perf_counter() + timeout
        while True:
            _, msg = self.iopub.get(timeout=max(0.01, deadline - time.perf_counter()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                raise RuntimeError("\n".join(msg["content"]["traceback"]))
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)

    def send_update(self, comm_id: str, state: dict) -> str:
        msg = self.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {
            "method": "update", "state": state, "buffer_paths": []}})
        self.kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def wait_for(self, predicate, timeout: float = 60):
        """The receive time of the first iopub message satisfying ``predicate``."""
        deadline = time.perf_counter() + timeout
        while True:
            stamp, msg = self.iopub.get(timeout=max(0.01, deadline - time.perf_counter()))
            if predicate(msg):
                return stamp

    def drain(self):
        while not self.iopub.empty():
            self.iopub.get_nowait()

    def close(self):
        self._stop.set()
        self._reader.join()
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def comm_state(msg, comm_id):
    if msg["msg_type"] != "comm_msg" or msg["content"].get("comm_id") != comm_id:
        return None
    return msg["content"]["data"].get("state", {})


def status_text(msg, comm_id):
    state = comm_state(msg, comm_id)
    return state.get("value", "") if state else ""


def bench_kernel(repeats: int) -> dict:
    browser = Browser()
    results = {}
    try:
        ids = json.loads(browser.execute(SETUP).strip().splitlines()[-1])
        browser.drain()

        # SurrogateExplorer: slider message -> the figure's first update message, and -> idle.
        # Interleaved: the default MultiGaussian and Gaussian (whose peak has a closed form).
        sigma_index = ids["sigma_index"]
        cases = {"MultiGaussian": ("sigma", "surrogate_figure"), "Gaussian": ("gaussian_sigma", "gaussian_figure")}
        updated = {name: [] for name in cases}
        idle = {name: [] for name in cases}
        for i in range(repeats):
            for name, (slider, figure) in cases.items():
                t0 = time.perf_counter()
                msg_id = browser.send_update(ids[slider], {"index": sigma_index[("0.3", "0.35")[i % 2]]})
                updated[name].append(browser.wait_for(lambda m: any(
                    k.startswith("_py2js_") for k in (comm_state(m, ids[figure]) or {}))) - t0)
                idle[name].append(browser.wait_for(lambda m: m["msg_type"] == "status"
                                                   and m["parent_header"].get("msg_id") == msg_id
                                                   and m["content"]["execution_state"] == "idle") - t0)
        for name in cases:
            print(f"kernel      SurrogateExplorer({name}) slider -> figure message: {summary(updated[name])}")
            print(f"kernel      SurrogateExplorer({name}) slider -> kernel idle:    {summary(idle[name])}")
        results["kernel surrogate figure"] = updated["MultiGaussian"]
        results["kernel gaussian figure"] = updated["Gaussian"]

        # TrainingExplorer: slider message -> first point, and -> complete curve.
        first, complete = [], []
        lr_values = ["0.03162277660168379", "0.01"]
        for i in range(max(3, repeats // 20)):
            browser.drain()
            t0 = time.perf_counter()
            browser.send_update(ids["lr"], {"index": ids["lr_index"][lr_values[i % 2]]})
            first.append(browser.wait_for(lambda m: "step 1/" in status_text(m, ids["status"])) - t0)
            complete.append(browser.wait_for(lambda m: "done step" in status_text(m, ids["status"])) - t0)
        results["kernel training first"], results["kernel training complete"] = first, complete
        print(f"kernel      TrainingExplorer slider -> first loss point:  {summary(first)}")
        print(f"kernel      TrainingExplorer slider -> complete curve:    {summary(complete)}")

        results.update(storm(browser, ids))
    finally:
        browser.close()
    return results


def storm(browser: Browser, ids: dict) -> dict:
    """100 lr changes within one second while a probe checks the kernel keeps answering.

    One thread sends everything (zmq sockets are not thread-safe): an lr update every
    9.9 ms and a tiny ``execute_request`` ("0") every 50 ms, and goes on probing until the
    last run's curve is complete. A probe's round trip ends at the kernel's "idle" status
    for it, as stamped by the iopub reader thread.
    """
    browser.drain()
    options = list(ids["lr_index"].items())
    sequence = [options[i % len(options)][1] for i in range(7, 107)]
    final_lr = float([v for v, i in options if i == sequence[-1]][0])
    pending, probes = {}, []
    done, last_probe = None, -1.0

    def handle(stamp, msg):
        nonlocal done
        parent = msg["parent_header"].get("msg_id")
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle" and parent in pending:
            probes.append(stamp - pending.pop(parent))
        if "done step" in status_text(msg, ids["status"]):
            done = stamp

    t0 = time.perf_counter()
    for k, index in enumerate(sequence):
        time.sleep(max(0.0, t0 + k * 0.0099 - time.perf_counter()))  # 100 messages in 0.99 s
        browser.send_update(ids["lr"], {"index": index})
        now = time.perf_counter()
        if now - last_probe >= 0.05:
            pending[browser.kc.execute("0", store_history=False)] = last_probe = now
    sent = time.perf_counter() - t0
    deadline = time.perf_counter() + 120
    while (done is None or done < t0 + sent or pending) and time.perf_counter() < deadline:
        now = time.perf_counter()
        if done is None and now - last_probe >= 0.05:
            pending[browser.kc.execute("0", store_history=False)] = last_probe = now
        try:
            handle(*browser.iopub.get(timeout=0.01))
        except queue.Empty:
            pass
    browser.drain()
    check = json.loads(browser.execute(CHECK).strip().splitlines()[-1])
    finished = done is not None
    print(f"kernel      storm: 100 lr changes sent in {sent:.2f} s; last curve complete "
          + (f"{done - t0:.2f} s after the first change" if finished else "NEVER (120 s)")
          + f"; runs started {check['started']}, finished {check['finished']} (incl. earlier ones)")
    print(f"kernel      storm: probe round trips: {summary(probes)}, max {max(probes) * 1e3:.1f} ms, "
          f"unanswered {len(pending)}")
    print(f"kernel      storm: final lr {check['lr']:.6g} (last sent {final_lr:.6g}); figure matches a "
          f"fresh run: {check['figure_matches']}; records match: {check['records_match']}")
    ok = (finished and check["figure_matches"] and check["records_match"] and not pending
          and abs(check["lr"] - final_lr) < 1e-12)
    return {"storm probes": probes, "storm ok": ok}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    repeats = 20 if args.quick else 100
    import torch
    print(f"torch threads {torch.get_num_threads()}, python {sys.version.split()[0]}")
    bench_in_process(repeats)  # prints its figures; the targets are the kernel's
    kernel = bench_kernel(repeats)
    print("\ntargets:")
    checks = [
        ("SurrogateExplorer (MultiGaussian) slider -> figure, kernel median <= 10 ms",
         statistics.median(kernel["kernel surrogate figure"]) <= 0.010),
        ("SurrogateExplorer (Gaussian) slider -> figure, kernel median <= 10 ms",
         statistics.median(kernel["kernel gaussian figure"]) <= 0.010),
        ("TrainingExplorer slider -> first loss point, kernel median <= 100 ms",
         statistics.median(kernel["kernel training first"]) <= 0.100),
        ("TrainingExplorer slider -> complete curve, kernel median <= 1.5 s",
         statistics.median(kernel["kernel training complete"]) <= 1.5),
        ("storm: every probe answered, final figure matches the final value", kernel["storm ok"]),
    ]
    for text, ok in checks:
        print(f"  [{'met' if ok else 'MISSED'}] {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
