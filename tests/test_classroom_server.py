"""The classroom demo's server (``make demo``, apps/server/): no message freezes it, the
kernels of closed or idle visits are freed, the number of kernels is capped, and the token
is never on a command line.

The frame check is tested here without a server. The server tests start Voila the way
``make demo`` does (harness.start_voila: apps/server/voila.py, the token in the
environment) with shorter culling, and speak the kernel websocket protocol the way a
student's own client would. See docs/classroom-demo.md and docs/upstream-websocket-bugs.md.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "apps" / "server"))
sys.path.insert(0, str(REPO / "tests" / "browser"))
try:
    import classroom_server  # noqa: E402
    import harness  # noqa: E402
finally:
    del sys.path[:2]

from jupyter_server.services.kernels.connection.base import (  # noqa: E402
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)

APP = REPO / "apps" / "explorer.ipynb"
V1 = classroom_server.V1_PROTOCOL
#: Its first 8 bytes claim 2**62 offsets: jupyter_server 2.21.1's decoder loops on it.
CLAIMS_2_POW_62_OFFSETS = (2 ** 62).to_bytes(8, "little")
MiB = 2 ** 20


# --- the frame check, without a server --------------------------------------------------
def _message(msg_type, content, channel="shell", buffers=(), metadata=None):
    header = {"msg_id": uuid.uuid4().hex, "username": "student", "session": uuid.uuid4().hex,
              "msg_type": msg_type, "version": "5.3", "date": ""}
    return {"header": header, "parent_header": {}, "metadata": metadata or {}, "content": content,
            "channel": channel, "buffers": list(buffers)}


def _v1_frame(message):
    """``message`` as a v1 frame, framed by jupyter_server's own serializer."""
    parts = [json.dumps(message[k]).encode() for k in ("header", "parent_header", "metadata", "content")]
    return serialize_msg_to_ws_v1([*parts, *message["buffers"]], message["channel"])


def test_frames_jupyter_server_writes_pass_the_check():
    for buffers in ((), (b"\x00" * 12,), (b"a", b"", b"bc")):
        frame = _v1_frame(_message("comm_msg", {"comm_id": "c", "data": {}}, buffers=buffers))
        assert classroom_server.v1_frame_problem(frame) is None
        channel, parts = deserialize_msg_from_ws_v1(frame)
        assert channel == "shell" and len(parts) == 4 + len(buffers)


def test_frames_that_would_loop_the_decoder_are_refused_with_the_reason():
    good = _v1_frame(_message("kernel_info_request", {}))
    count = int.from_bytes(good[:8], "little")
    cases = {
        CLAIMS_2_POW_62_OFFSETS: "offset count of 4611686018427387904",
        (7).to_bytes(8, "little") + good[8:40]: "7 offsets claimed, but a 40-byte frame",
        good[:8] + (0).to_bytes(8, "little") + good[16:]: "do not run in order",
        good[:-1]: "do not run in order",  # the last offset points past the end
        good[:5]: "a 5-byte frame",
        json.dumps(_message("kernel_info_request", {})): "a text frame",
        (5).to_bytes(8, "little") + good[8:]: "offset count of 5",
        (classroom_server.MAX_OFFSETS + 1).to_bytes(8, "little") + good[8:]: "offset count of 1025",
    }
    assert count == 6
    for frame, reason in cases.items():
        problem = classroom_server.v1_frame_problem(frame)
        assert problem is not None and reason in problem, (frame[:24], problem)


# --- talking to a served kernel ---------------------------------------------------------
def _ws_url(server, kernel_id):
    return (server.base_url.replace("http://", "ws://") +
            f"/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}&token={server.token}")


def _connect(server, kernel_id, v1=True):
    import websocket  # websocket-client, a jupyter_server dependency

    return websocket.create_connection(_ws_url(server, kernel_id), timeout=60,
                                       subprotocols=[V1] if v1 else None)


def _visit(server, read_all=True):
    """A plain GET of the app, as curl would; returns the kernel id the page names.

    ``read_all=False`` reads only until the kernel id and drops the connection (a visitor
    who gives up while the notebook runs)."""
    request = urllib.request.Request(server.url("/"))
    seen = b""
    with urllib.request.urlopen(request, timeout=300) as response:
        assert response.status == 200
        while True:
            chunk = response.read1(65536)
            seen += chunk
            found = re.search(rb'"kernelId": "([0-9a-f-]{36})"', seen)
            if (found and not read_all) or not chunk:
                break
    assert found, "the page names no kernel"
    return found.group(1).decode()


def _receive_v1(ws, until, timeout=60.0):
    """Read v1 frames until ``until(channel, header, content, buffers)`` is true; return
    that message's (header, content, buffers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = ws.recv()
        channel, parts = deserialize_msg_from_ws_v1(frame)
        header, content = json.loads(parts[0]), json.loads(parts[3])
        if until(channel, header, content, parts[4:]):
            return header, content, parts[4:]
    raise TimeoutError("the kernel did not send the expected message")


def _control_open(comm_id):
    """Open the widget manager's control comm (ipywidgets 8's protocol version 1.0.0)."""
    return _message("comm_open", {"comm_id": comm_id, "target_name": "jupyter.widget.control", "data": {}},
                    metadata={"version": "1.0.0"})


def _widget_states(ws):
    """The kernel's widget states, asked for as the page's widget manager does."""
    comm_id = uuid.uuid4().hex
    ws.send_binary(_v1_frame(_control_open(comm_id)))
    ws.send_binary(_v1_frame(_message("comm_msg", {"comm_id": comm_id, "data": {"method": "request_states"}})))
    _, content, _ = _receive_v1(ws, lambda ch, h, c, b: h["msg_type"] == "comm_msg"
                                and c.get("comm_id") == comm_id)
    return content["data"]["states"]


def _slider_moves(states):
    """Two slider moves as the page sends them: a FloatSlider one step away and back."""
    model_id, state = next((m, s["state"]) for m, s in states.items() if s["model_name"] == "FloatSliderModel")
    away = state["value"] + (state["step"] if state["value"] + state["step"] <= state["max"] else -state["step"])
    return model_id, [{"method": "update", "state": {"value": value}, "buffer_paths": []}
                      for value in (away, state["value"])]


def _rss(pid):
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def _assert_server_answers(server, baseline_rss, what):
    """The server answers a static file within 2 s, and its memory stays flat for 2 s."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"{server.base_url}/voila/static/voila.js", timeout=2) as r:
            assert r.status == 200 and r.read()
    except (urllib.error.URLError, OSError) as error:  # a timeout is an OSError, also mid-body
        pytest.fail(f"after {what}, the server did not answer a static file within 2 s ({error!r})")
    assert time.monotonic() - started < 2.0, f"after {what}, a static file took over 2 s"
    peak = 0
    for _ in range(8):
        time.sleep(0.25)
        peak = max(peak, _rss(server.process.pid))
    assert peak - baseline_rss < 50 * MiB, (
        f"after {what}, the server's memory grew by {(peak - baseline_rss) / MiB:.0f} MiB")


@pytest.fixture
def demo(tmp_path):
    """Start ``make demo``'s Voila with ``extra_args``; stopped (with its kernels) at the end."""
    servers = []

    def start(*extra_args):
        workdir = tmp_path / f"voila{len(servers)}"
        (workdir / "app").mkdir(parents=True)
        notebook = workdir / "app" / APP.name
        notebook.write_bytes(APP.read_bytes())
        servers.append(harness.start_voila(notebook, workdir, list(extra_args)))
        return servers[-1]

    yield start
    for server in servers:
        kernels = _kernel_pids(server.process.pid)
        harness.stop_server(server)
        _kill(kernels)


def _kill(kernels):
    """SIGKILL the kernels a stopped server leaves (they run in sessions of their own)."""
    for pid in kernels:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _kernel_pids(server_pid):
    """PIDs of the kernels a server started (its children running ipykernel)."""
    def is_kernel(proc):
        ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        return ppid == server_pid and b"ipykernel" in (proc / "cmdline").read_bytes()
    return harness.pids_where(is_kernel)


@pytest.mark.server
@pytest.mark.slow
def test_no_message_freezes_the_server(demo):
    import websocket

    server = demo()
    kernel_id = _visit(server)
    baseline = _rss(server.process.pid)

    # The page's own protocol still works: widget states, then a slider move whose reply
    # carries binary buffers (the figure's new curve), framed v1 and passed on by Voila.
    ws = _connect(server, kernel_id)
    assert ws.subprotocol == V1
    states = _widget_states(ws)
    model_id, (move, move_back) = _slider_moves(states)
    ws.send_binary(_v1_frame(_message("comm_msg", {"comm_id": model_id, "data": move})))
    _receive_v1(ws, lambda ch, h, c, b: ch == "iopub" and h["msg_type"] == "comm_msg" and b)
    ws.close()
    _assert_server_answers(server, baseline, "a slider move over v1")

    # 1 and 2: a slider move, and request_states, over a connection without the v1
    # subprotocol. The guard refuses the handshake; were it to connect, the messages go out.
    control = uuid.uuid4().hex
    legacy_messages = {
        "a legacy slider move": [_message("comm_msg", {"comm_id": model_id, "data": move_back})],
        "request_states over a legacy connection": [
            _control_open(control),
            _message("comm_msg", {"comm_id": control, "data": {"method": "request_states"}})],
    }
    for what, messages in legacy_messages.items():
        try:
            legacy = _connect(server, kernel_id, v1=False)
        except websocket.WebSocketBadStatusException as refused:
            assert refused.status_code == 400, refused
        else:
            for message in messages:
                legacy.send(json.dumps(message))
            time.sleep(1.0)  # let the kernel's binary reply reach Voila's websocket handler
            legacy.close()
        _assert_server_answers(server, baseline, what)

    # 3: 8 bytes claiming 2**62 offsets over v1: the connection is closed unread.
    ws = _connect(server, kernel_id)
    ws.send_binary(CLAIMS_2_POW_62_OFFSETS)
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        for _ in range(1000):  # status messages may come before the close
            ws.recv()
    _assert_server_answers(server, baseline, "the 8-byte v1 frame")

    # The kernel lived through all of it and still answers a well-formed message.
    ws = _connect(server, kernel_id)
    assert model_id in _widget_states(ws)
    ws.close()
    assert server.process.poll() is None


def _total_rss(server):
    return _rss(server.process.pid) + sum(_rss(pid) for pid in _kernel_pids(server.process.pid))


def _wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    pytest.fail(f"{what} within {timeout:.0f} s")


IDLE_S, INTERVAL_S = 3, 1
#: The kernel manager waits this long for a kernel to exit before killing it (jupyter_client).
SHUTDOWN_WAIT_S = 5
#: A freed kernel is gone this long after its visit ended (plus 5 s for a loaded machine).
FREED_WITHIN_S = IDLE_S + INTERVAL_S + SHUTDOWN_WAIT_S + 5


@pytest.mark.server
@pytest.mark.browser
@pytest.mark.slow
def test_ten_visits_are_freed_and_memory_returns(demo, unavailable):
    """6 plain GETs (3 of them dropped while the notebook runs) and 4 browser pages (2
    closed normally, 1 closed without its unload handler, as a crashed tab, 1 left open and
    idle): every kernel is freed within FREED_WITHIN_S of its visit ending, and the memory
    of the server and its kernels returns to where it started, give or take less than one
    kernel's worth."""
    chromium = harness.chromium_or_unavailable(unavailable)
    from playwright.sync_api import sync_playwright
    server = demo(f"--MappingKernelManager.cull_idle_timeout={IDLE_S}",
                  f"--MappingKernelManager.cull_interval={INTERVAL_S}",
                  "--ClassroomKernelManager.max_kernels=10")
    baseline = _total_rss(server)
    pids, kernel_rss = set(), []

    def freed(kernel_pids, what, extra_s=0.0):
        _wait_until(lambda: not kernel_pids & set(_kernel_pids(server.process.pid)),
                    FREED_WITHIN_S + extra_s, f"the kernel of {what} was not freed")

    full_visit_s = 0.0
    for n in range(6):
        started = time.monotonic()
        _visit(server, read_all=n % 2 == 0)
        if n % 2 == 0:
            full_visit_s = max(full_visit_s, time.monotonic() - started)
        new = set(_kernel_pids(server.process.pid)) - pids
        assert len(new) == 1, f"plain GET {n} started {len(new)} kernels"
        pids |= new
        if n % 2 == 0:  # a full visit: its notebook has run (a dropped one may still be starting)
            kernel_rss.append(_rss(next(iter(new))))
        # A GET dropped early still runs the notebook to its end (Voila does not stop it),
        # which takes as long as a full visit; then its kernel idles like any other.
        freed(new, f"plain GET {n}", extra_s=0.0 if n % 2 == 0 else 2 * full_visit_s)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                             args=harness.CHROMIUM_FLAGS)
        for n, ending in enumerate(("close", "close", "crash", "idle")):
            page = browser.new_page()
            page.goto(server.url("/"), timeout=300_000)
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2",
                                   timeout=120_000)
            new = set(_kernel_pids(server.process.pid)) - pids
            assert len(new) == 1, f"browser page {n} started {len(new)} kernels"
            pids |= new
            kernel_rss.append(_rss(next(iter(new))))
            if ending != "idle":
                page.close(run_before_unload=ending == "close")
            freed(new, f"browser page {n} ({ending})")
        browser.close()

    assert len(pids) == 10
    assert not _kernel_pids(server.process.pid)
    print(f"kernel RSS at visit end (MiB): {[round(r / MiB) for r in kernel_rss]}; server + kernels "
          f"{baseline / MiB:.0f} MiB before, {_total_rss(server) / MiB:.0f} MiB after")
    # Back to where it started, but for the server's own growth (the pages' widget traffic
    # passed through it), which must stay below what one kernel held: no visit's kernel
    # memory is left anywhere.
    one_kernel = min(kernel_rss)
    assert one_kernel > 100 * MiB, kernel_rss
    _wait_until(lambda: _total_rss(server) - baseline < one_kernel, 10,
                f"memory did not return to {baseline / MiB:.0f} MiB + one kernel's "
                f"{one_kernel / MiB:.0f} MiB (now {_total_rss(server) / MiB:.0f} MiB)")


@pytest.mark.server
@pytest.mark.slow
def test_a_visit_past_the_cap_gets_a_clear_page_and_the_cap_frees_up(demo):
    # An idle timeout longer than two visits take on a loaded machine: with IDLE_S the
    # first visit's kernel was once culled while the second page was still rendering.
    idle_s = 20
    server = demo("--ClassroomKernelManager.max_kernels=2",
                  f"--MappingKernelManager.cull_idle_timeout={idle_s}",
                  f"--MappingKernelManager.cull_interval={INTERVAL_S}")
    # Two visitors hold the two kernels (each page left open on its websocket, so the
    # culler would free them only once idle).
    sockets = [_connect(server, _visit(server, read_all=False)) for _ in range(2)]
    assert len(_kernel_pids(server.process.pid)) == 2
    with pytest.raises(urllib.error.HTTPError) as full:
        urllib.request.urlopen(server.url("/"), timeout=60)
    page = full.value.read().decode()
    assert full.value.code == 503
    assert "The demo is full (2 visitors)" in page and "try again in a minute" in page, page[:2000]
    assert len(_kernel_pids(server.process.pid)) == 2, "the refused visit started a kernel"
    for ws in sockets:
        ws.close()
    _wait_until(lambda: not _kernel_pids(server.process.pid), FREED_WITHIN_S - IDLE_S + idle_s,
                "the kernels were not freed")
    assert _visit(server, read_all=False)  # room again


@pytest.mark.server
@pytest.mark.slow
def test_make_demo_keeps_the_token_off_every_command_line(tmp_path, free_port):
    """``make demo`` prints the URL with its token; no process has the token on its command
    line; the token opens the app and kernels do not inherit it."""
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    env.pop("JUPYTER_TOKEN", None)
    log_path = tmp_path / "demo.log"
    proc, token = harness.start_make_target(
        "demo", [f"DEMO_PORT={free_port}", "DEMO_ARGS=--MappingKernelManager.cull_idle_timeout=600"],
        ".venv/.installed-demo", rf"http://127\.0\.0\.1:{free_port}/\?token=([0-9a-f]{{32}})", log_path, env)
    kernels = []
    try:
        server = harness.Server("voila", proc, f"http://127.0.0.1:{free_port}", token, log_path)
        bogus = "00000000-0000-0000-0000-000000000000"
        for _ in range(120):  # the token authenticates: an unknown kernel is 404, not 403
            try:
                urllib.request.urlopen(server.url(f"/api/kernels/{bogus}"), timeout=5)
            except urllib.error.HTTPError as error:
                if error.code == 404:
                    break
            except urllib.error.URLError:
                pass
            time.sleep(0.5)
        with pytest.raises(urllib.error.HTTPError) as no_token:
            urllib.request.urlopen(f"{server.base_url}/api/kernels/{bogus}", timeout=5)
        assert no_token.value.code == 403
        _visit(server, read_all=False)  # the app itself, with a kernel
        voila = [p for p in _processes_in_group(proc.pid) if b"voila" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(voila) == 1, voila
        kernels = _kernel_pids(voila[0])
        assert len(kernels) == 1
        assert harness.processes_showing(token) == [], "the token is on a command line"
        # (Voila hands each kernel its page's URL, QUERY_STRING and VOILA_REQUEST_URL, token
        # and all; the server's own JUPYTER_TOKEN stays out.)
        kernel_env = Path(f"/proc/{kernels[0]}/environ").read_bytes().split(b"\0")
        assert not [v for v in kernel_env if v.startswith(b"JUPYTER_TOKEN=")], "the kernel inherited the token"
        # Printed only to make's terminal: the URL line, and Voila's log of requests that
        # carried the token in their URL (this test's own).
        shown = [line for line in log_path.read_text().splitlines() if token in line]
        assert shown[0] == f"Voila app: http://127.0.0.1:{free_port}/?token={token}", shown
        assert all(re.search(r"\b\d{3} GET /\S*token=", line) for line in shown[1:]), shown
    finally:
        harness.stop_make(proc)
        _kill(kernels)


def _processes_in_group(pgid):
    return harness.pids_where(lambda proc: os.getpgid(int(proc.name)) == pgid)


def _update(model_id, state):
    return _message("comm_msg", {"comm_id": model_id,
                                 "data": {"method": "update", "state": state, "buffer_paths": []}})


def _model(states, model_name, description):
    """The id and state of the one widget of ``model_name`` whose description is ``description``
    (the TrainingExplorer's controls are the only ones with these names in the app)."""
    found = [(m, s["state"]) for m, s in states.items()
             if s["model_name"] == model_name and s["state"].get("description") == description]
    assert len(found) == 1, (model_name, description, len(found))
    return found[0]


@pytest.mark.server
@pytest.mark.slow
def test_out_of_range_updates_over_the_widget_protocol_are_reverted_with_a_message(demo):
    """Over the widget protocol, as a student's own client would: a slider's max and value in
    one update, a value past the slider, a SelectionSlider index of 10**6 and -1, a Dropdown
    index of 99 and hidden layers past the classroom's caps. Each is answered with the
    control's kept state (the echo the page waits for, then an update), the explorer's
    message names the control and its range, no run starts, and the kernel's state read back
    afterwards is the declared one."""
    server = demo()
    ws = _connect(server, _visit(server))
    states = _widget_states(ws)
    steps, steps_state = _model(states, "IntSliderModel", "steps")
    lr, lr_state = _model(states, "SelectionSliderModel", "lr")
    optimizer, optimizer_state = _model(states, "DropdownModel", "optimizer")
    hidden, hidden_state = _model(states, "TextModel", "hidden")
    assert (steps_state["min"], steps_state["max"]) == (10, 120), "the app is not in the classroom setting"
    kept_steps = {"max": 120, "value": steps_state["value"]}
    cases = [
        (steps, {"max": 100000, "value": 100000}, kept_steps, "steps: a page may change only its value"),
        (steps, {"value": 10 ** 9}, {"value": steps_state["value"]}, "steps must be an integer in [10, 120]"),
        (lr, {"index": 10 ** 6}, {"index": lr_state["index"]}, "lr: the option index must be an integer in [0, "),
        (lr, {"index": -1}, {"index": lr_state["index"]}, "lr: the option index must be an integer in [0, "),
        (optimizer, {"index": 99}, {"index": optimizer_state["index"]}, "optimizer: the option index must be an "
                                                                         "integer in [0, 1]; got 99"),
        (hidden, {"value": "2048, 2048, 2048, 2048"}, {"value": hidden_state["value"]},
         "hidden must be 1 to 2 layers, each an integer in [1, 64] in the classroom; got 4 layers"),
    ]
    for model_id, state, kept, words in cases:
        sent = _update(model_id, state)
        ws.send_binary(_v1_frame(sent))
        seen = {"echo": None, "update": None, "message": False}
        training = []

        def until(channel, header, content, buffers):
            if channel != "iopub" or header["msg_type"] != "comm_msg":
                return False
            data = content["data"]
            new = data.get("state", {})
            if content["comm_id"] == model_id and data.get("method") == "echo_update":
                seen["echo"] = new
            elif content["comm_id"] == model_id and data.get("method") == "update":
                seen["update"] = new
            elif isinstance(new.get("value"), str):
                seen["message"] |= words in new["value"]
                if new["value"].startswith("training"):
                    training.append(new["value"])
            return seen["echo"] is not None and seen["update"] is not None and seen["message"]

        _receive_v1(ws, until, timeout=30)
        assert seen["echo"] == kept and seen["update"] == kept, (state, seen)
        assert not training, f"{state} started a run: {training}"
    after = _widget_states(ws)
    assert {k: after[steps]["state"][k] for k in ("min", "max", "value")} == {"min": 10, **kept_steps}
    assert after[lr]["state"]["index"] == lr_state["index"]
    assert after[optimizer]["state"]["index"] == optimizer_state["index"]
    assert after[hidden]["state"]["value"] == hidden_state["value"]
    ws.close()
