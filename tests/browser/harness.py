"""Servers, browser and kernel plumbing for the browser tests (no assertions here).

Also the two snapshots the tests compare: the kernel's widget state and the browser's
view of it, and :func:`view_mismatches`, which lists every difference.

Everything binds to 127.0.0.1 with a random token; servers run in their own process
group and are stopped by PID. See ``docs/front-end-pitfalls.md#browser-tests`` for why
each flag is there.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"

NOTEBOOK_DIRS = ("notebooks", "apps")


def _notebooks() -> list:
    """``notebooks/*.ipynb`` and ``apps/*.ipynb``; ``$SGEXPLORE_BROWSER_NOTEBOOKS`` (paths
    separated by ``os.pathsep``) replaces the list, e.g. to try the harness on a scratch notebook."""
    override = os.environ.get("SGEXPLORE_BROWSER_NOTEBOOKS")
    if override:
        return [Path(p).resolve() for p in override.split(os.pathsep) if p]
    return sorted(p for d in NOTEBOOK_DIRS for p in (REPO / d).glob("*.ipynb"))


NOTEBOOKS = _notebooks()

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def find_chromium() -> Optional[str]:
    """Debian's chromium (or ``$SGEXPLORE_CHROMIUM``); Playwright's own download is never used."""
    explicit = os.environ.get("SGEXPLORE_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_or_unavailable(unavailable) -> str:
    """The Chromium to drive, after checking Playwright is importable; else
    ``unavailable(reason)`` (the conftest fixture: a skip, a failure under CI)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[browser]')")
    path = find_chromium()
    if path is None:
        unavailable("no Chromium found (apt-get install chromium, or set SGEXPLORE_CHROMIUM)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A Jupyter-family server started by :func:`start_server`."""

    name: str
    process: subprocess.Popen
    base_url: str
    token: str
    log_path: Path

    def url(self, path: str, **query: str) -> str:
        parts = [f"{k}" if v == "" else f"{k}={v}" for k, v in query.items()]
        parts.append(f"token={self.token}")
        return f"{self.base_url}{path}?{'&'.join(parts)}"

    def api(self, path: str, method: str = "GET") -> object:
        request = urllib.request.Request(f"{self.base_url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_server(name: str, argv: List[str], port: int, token: str, workdir: Path,
                 ready_path: str, env: dict, timeout: float = 90.0) -> Server:
    """Start ``argv`` in its own process group and wait until ``ready_path`` answers 200."""
    log_path = workdir / f"{name}.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(argv, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    server = Server(name, process, f"http://127.0.0.1:{port}", token, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{server.log()[-3000:]}")
        try:
            request = urllib.request.Request(f"{server.base_url}{ready_path}",
                                             headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    stop_server(server)
    raise RuntimeError(f"{name} did not answer {ready_path} within {timeout:.0f} s:\n{server.log()[-3000:]}")


def stop_server(server: Server, grace: float = 15.0) -> None:
    """SIGTERM the server's process group (server and kernels), SIGKILL after ``grace`` s."""
    pid = server.process.pid
    if server.process.poll() is None:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            server.process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:  # kernels live in the same group; make sure none outlives the server
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.process.wait(5)


def jupyter_env(workdir: Path) -> dict:
    """An environment whose Jupyter runtime, settings and workspaces live under ``workdir``."""
    env = dict(os.environ)
    for var, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("JUPYTER_CONFIG_DIR", "config"),
                     ("IPYTHONDIR", "ipython")):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(workdir / sub)
    env["PYTHONUNBUFFERED"] = "1"
    # Keep every notebook on the DOM (no virtual scrolling), so each plot lays out and renders.
    tracker = workdir / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    notifications = workdir / "settings" / "@jupyterlab" / "apputils-extension"
    notifications.mkdir(parents=True, exist_ok=True)
    (notifications / "notification.jupyterlab-settings").write_text(
        json.dumps({"checkForUpdates": False, "fetchNews": "false"}))
    return env


def root_flag() -> List[str]:
    return ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


def start_lab(serve_dir: Path, workdir: Path) -> Server:
    token = secrets.token_hex(16)
    port = free_port()
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--ServerApp.root_dir={serve_dir}", f"--IdentityProvider.token={token}",
            "--LabApp.news_url=None", "--LabApp.expose_app_in_browser=True",
            "--ServerApp.port_retries=0", *root_flag()]
    return start_server("lab", argv, port, token, workdir, "/api/status", jupyter_env(workdir))


#: As in the Makefile's demo target: jupytext's JupyterLab extension (installed for the
#: notebook sources) fails to load in Voila's page ("shared module" console error).
VOILA_DENYLIST = "--VoilaConfiguration.extension_denylist=jupyterlab-jupytext"
#: As in the Makefile's VOILA_CONFIG: the demo's server settings (apps/server/voila.py).
VOILA_CONFIG_DIR = REPO / "apps" / "server"


def start_voila(notebook: Path, workdir: Path, extra_args: List[str] = ()) -> Server:
    """Voila as ``make demo`` starts it (its configuration, the token in the environment);
    ``extra_args`` override settings of apps/server/voila.py, e.g. shorter culling."""
    token = secrets.token_hex(16)
    port = free_port()
    argv = [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}",
            "--Voila.ip=127.0.0.1", f"--Voila.config_file_paths={VOILA_CONFIG_DIR}",
            "--ServerApp.port_retries=0", VOILA_DENYLIST, *extra_args]
    env = dict(jupyter_env(workdir), JUPYTER_TOKEN=token)
    # Voila serves no /api/status; a static file answers once the server is up (without
    # running the notebook, which every visit to "/" does).
    return start_server("voila", argv, port, token, workdir, "/voila/static/voila.js", env)


def start_make_target(target: str, make_vars: List[str], stamp: str, url_regex: str,
                      log_path: Path, env: dict):
    """``make -s <target>`` in its own session, as a user runs it, without reinstalling
    (``-o stamp``: these tests are about serving); wait until its output shows a URL
    matching ``url_regex`` (group 1: the token). Returns the make process and the token;
    stop it with :func:`stop_make`."""
    log = open(log_path, "w+")
    proc = subprocess.Popen(["make", "-s", "-o", stamp, target, *make_vars], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(240):
            log.seek(0)
            found = re.search(url_regex, log.read())
            if found:
                return proc, found.group(1)
            if proc.poll() is not None:
                raise RuntimeError(f"make {target} exited with {proc.returncode}:\n{log_path.read_text()}")
            time.sleep(0.5)
    except BaseException:
        stop_make(proc)
        raise
    finally:
        log.close()
    stop_make(proc)
    raise RuntimeError(f"make {target} never printed a URL with a token:\n{log_path.read_text()}")


def stop_make(proc: subprocess.Popen) -> None:
    """SIGTERM the session of a :func:`start_make_target` process, SIGKILL after 20 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def pids_where(test) -> List[int]:
    """PIDs of the processes for which ``test(Path('/proc/PID'))`` is true (a process that
    ends while it is read is left out)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and test(entry):
                found.append(int(entry.name))
        except OSError:
            pass
    return sorted(found)


def processes_showing(secret: str) -> List[int]:
    """PIDs of every process whose command line (/proc/PID/cmdline, readable by every local
    user) contains ``secret``."""
    return pids_where(lambda proc: secret.encode() in (proc / "cmdline").read_bytes())


def kernel_execute(server: Server, kernel_id: str, code: str, timeout: float = 60.0) -> str:
    """Run ``code`` in a running kernel over the server's websocket; return its stdout.

    The request goes through the same authenticated channel the browser uses, as a second
    client; nothing is added to the notebook. Raises RuntimeError on a kernel error.
    """
    import websocket  # websocket-client, a jupyter_server dependency

    ws_url = server.base_url.replace("http://", "ws://")
    ws = websocket.create_connection(f"{ws_url}/api/kernels/{kernel_id}/channels?token={server.token}",
                                     timeout=timeout, header=[f"Authorization: token {server.token}"])
    try:
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex,
                       "msg_type": "execute_request", "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))
        stdout, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            raw = ws.recv()
            if isinstance(raw, bytes):  # messages with binary buffers (widget traffic), not ours
                continue
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            if kind == "stream" and msg["content"]["name"] == "stdout":
                stdout.append(msg["content"]["text"])
            elif kind == "error":
                raise RuntimeError("kernel error: " + "\n".join(msg["content"]["traceback"]))
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(stdout)
        raise TimeoutError(f"kernel {kernel_id} did not answer within {timeout} s")
    finally:
        ws.close()


# --- what the kernel holds ---------------------------------------------------------------
# Run in the notebook's own kernel (see kernel_execute). It walks the widget tree under each
# displayed root widget, depth first, which is the order the front-end lays the views out
# in the DOM, and prints one JSON line.
KERNEL_SNAPSHOT = r'''
def _sgx_snapshot(root_ids):
    import html.parser, json
    from ipywidgets import Layout
    from ipywidgets.widgets.widget import _instances

    class _Text(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.parts = []
        def handle_data(self, data):
            self.parts.append(data)

    def text_of(markup):
        parser = _Text()
        parser.feed(markup)
        return " ".join("".join(parser.parts).split())

    def numbers(values):  # a heatmap's y holds category labels: those stay text
        return None if values is None else [v if isinstance(v, str) else float(v) for v in values]

    def walk(w, hidden, out):
        layout = getattr(w, "layout", None)  # a FigureWidget's layout is plotly's, not a widget Layout
        if isinstance(layout, Layout):
            hidden = hidden or layout.display == "none" or layout.visibility == "hidden"
        name = type(w).__name__
        if hasattr(w, "_layout_obj") and hasattr(w, "data"):  # plotly FigureWidget
            out.append({"kind": "figure", "id": w.model_id, "hidden": hidden,
                        "y": [numbers(getattr(t, "y", None)) for t in w.data],
                        "title": w.layout.title.text})
        elif name.endswith("Slider"):
            item = {"kind": "slider", "id": w.model_id, "hidden": hidden, "type": name,
                    "description": w.description, "range": "Range" in name}
            item["value"] = w.label if name == "SelectionSlider" else w.value
            out.append(item)
        elif name in ("Label", "HTML"):
            out.append({"kind": "text", "id": w.model_id, "hidden": hidden,
                        "text": text_of(w.value) if name == "HTML" else " ".join(w.value.split())})
        for child in getattr(w, "children", None) or ():
            walk(child, hidden, out)

    roots = {}
    for model_id in root_ids:
        out = []
        if model_id in _instances:
            walk(_instances[model_id], False, out)
        roots[model_id] = out
    print(json.dumps(roots))
'''


def kernel_snapshot(server: Server, kernel_id: str, root_ids: List[str]) -> dict:
    """Model id of each root widget -> its sliders, texts and figures as the kernel holds them."""
    code = KERNEL_SNAPSHOT + f"\n_sgx_snapshot({json.dumps(list(root_ids))})\ndel _sgx_snapshot\n"
    return json.loads(kernel_execute(server, kernel_id, code).strip().splitlines()[-1])


# --- what the browser shows --------------------------------------------------------------
# The same depth-first walk over the DOM of one root widget's view. Figures report what
# plotly.js drew (its full data and the SVG path of every line); sliders their readout.
DOM_SNAPSHOT = r'''
(node) => {
  const items = [];
  for (const e of node.querySelectorAll('.widget-slider, .js-plotly-plot, div.widget-label.widget-inline-hbox, .widget-html')) {
    const hidden = e.offsetParent === null;
    if (e.classList.contains('js-plotly-plot')) {
      const data = e._fullData || e.data || [];
      items.push({kind: 'figure', hidden,
                  y: data.map(t => t.y == null ? null : Array.from(t.y, v => typeof v === "string" ? v : Number(v))),
                  paths: [...e.querySelectorAll('path.js-line')].map(p => p.getAttribute('d')),
                  title: e._fullLayout && e._fullLayout.title ? e._fullLayout.title.text : null});
    } else if (e.classList.contains('widget-slider')) {
      const readout = e.querySelector('.widget-readout');
      const label = e.querySelector('.widget-label');
      items.push({kind: 'slider', hidden, description: label ? label.textContent : '',
                  readout: readout ? readout.textContent.trim() : null,
                  handles: e.querySelectorAll('.noUi-handle').length});
    } else {
      // An HTML widget's text sits in its content div; a Label's in itself, after its description.
      const content = (e.querySelector('.widget-html-content') || e).cloneNode(true);
      content.querySelectorAll(':scope > label.widget-label').forEach(l => l.remove());
      items.push({kind: 'text', hidden, text: content.textContent.split(/\s+/).filter(Boolean).join(' ')});
    }
  }
  return items;
}
'''

IDLE_JS = ("[...document.querySelectorAll('.jp-StatusBar-TextItem')]"
           ".some(e => /\\| Idle/.test(e.textContent))")

# Every code cell's outputs, as the notebook model holds them; each output's DOM node is
# tagged with data-sgx-output="<cell>-<index>" so a test can find it.
LAB_OUTPUTS_JS = r'''
() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const outputs = [];
  panel.content.widgets.forEach((cell, ci) => {
    if (cell.model.type !== 'code') return;
    const nodes = cell.outputArea.node.querySelectorAll(':scope > .jp-OutputArea-child');
    for (let i = 0; i < cell.model.outputs.length; i++) {
      const output = cell.model.outputs.get(i);
      const data = output.data || {};
      const view = data['application/vnd.jupyter.widget-view+json'];
      if (nodes[i]) nodes[i].setAttribute('data-sgx-output', `${ci}-${i}`);
      outputs.push({key: `${ci}-${i}`, cell: ci, type: output.type, mimes: Object.keys(data),
                    model_id: view ? view.model_id : null,
                    error: output.type === 'error' ? `${output.toJSON().ename}: ${output.toJSON().evalue}` : null});
    }
  });
  return outputs;
}
'''


# --- comparing the two -------------------------------------------------------------------
def readout_matches(readout: str, value) -> bool:
    """True when a slider's readout text is ``value`` rounded to the digits it shows."""
    text = readout.replace("\u2212", "-").strip()  # d3-format writes a Unicode minus
    if not isinstance(value, (int, float)):
        return text == str(value)
    match = re.fullmatch(r"[-+]?\d*(?:\.(\d*))?(?:e([-+]?\d+))?", text.lower())
    if not match:
        return False
    decimals, exponent = len(match.group(1) or ""), int(match.group(2) or 0)
    half_unit = 0.5 * 10.0 ** (exponent - decimals)
    return abs(float(text) - value) <= half_unit * (1 + 1e-9) + 1e-12


def _number(x) -> float:
    return math.nan if x is None else float(x)  # a gap travels as NaN or as null


def same_curve(a, b) -> bool:
    """Equal curves: same length, values equal to float32 precision, gaps in the same places."""
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(
        p == q if isinstance(p, str) or isinstance(q, str)  # category labels (a heatmap's y)
        else (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9)
        for p, q in zip(a, b) for x, y in [(_number(p) if not isinstance(p, str) else 0.0,
                                            _number(q) if not isinstance(q, str) else 0.0)])


def _head(values, n=6) -> str:
    if values is None:
        return "None"
    shown = ", ".join(v if isinstance(v, str) else f"{_number(v):.6g}" for v in values[:n])
    return f"[{shown}{', ...' if len(values) > n else ''}] ({len(values)} values)"


def view_mismatches(kernel_items: list, dom_items: list) -> List[str]:
    """Every way the browser's view differs from the kernel's state (empty when they agree)."""
    kinds_k = [i["kind"] for i in kernel_items]
    kinds_d = [i["kind"] for i in dom_items]
    if kinds_k != kinds_d:
        return [f"widget layout differs: kernel {kinds_k} vs browser {kinds_d}"]
    problems = []
    for k, d in zip(kernel_items, dom_items):
        if k["kind"] == "slider":
            if k["description"] != d["description"]:
                problems.append(f"slider label {d['description']!r} != kernel {k['description']!r}")
            elif not k["range"] and not readout_matches(d["readout"], k["value"]):
                problems.append(f"slider {k['description']!r} shows {d['readout']!r}, kernel has {k['value']!r}")
        elif k["kind"] == "text":
            if k["text"] != d["text"]:
                problems.append(f"text shows {d['text']!r}, kernel has {k['text']!r}")
        elif not d["hidden"]:
            if len(k["y"]) != len(d["y"]):
                problems.append(f"figure has {len(d['y'])} traces in the browser, {len(k['y'])} in the kernel")
            for n, (yk, yd) in enumerate(zip(k["y"], d["y"])):
                if not same_curve(yk, yd):
                    problems.append(f"figure {k['title']!r} trace {n}: browser y {_head(yd)} "
                                    f"differs from kernel y {_head(yk)}")
        if k["kind"] == "figure" and not d["hidden"] and (k["title"] or None) != (d["title"] or None):
            problems.append(f"figure title {d['title']!r} != kernel {k['title']!r}")
    return problems
