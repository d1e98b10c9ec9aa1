"""The shape × scale sweep: scaling to a peak, the grid, executors and the summaries.

Peaks, areas and spreads are checked against closed forms and hand computations, not
against the code under test.
"""

from __future__ import annotations

import concurrent.futures
import json
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from sgexplore import sweep as sw
from sgexplore.surrogates import FastSigmoid, Gaussian, SigmoidDerivative, Triangle
from sgexplore.train import StepRecord, TrainConfig, train

# A run of a few milliseconds: two fixed spike patterns, a handful of steps.
TINY = dict(task="two_patterns", classes=2, units=6, time_steps=10, samples_per_class=10,
            hidden=(8,), batch_size=8, steps=3, test_every=3, seed=3)


def numeric_peak_and_area(surrogate, half_width=40.0, points=400_001):
    v = torch.linspace(1.0 - half_width, 1.0 + half_width, points, dtype=torch.float64)
    g = surrogate(v, 1.0)
    return float(g.max()), float(torch.trapezoid(g, v))


@pytest.mark.parametrize("shape, expected_grad_scale", [
    ("FastSigmoid", lambda s: s),                                    # peak = grad_scale
    (SigmoidDerivative(slope=20.0), lambda s: 4 * s / 20.0),         # peak = grad_scale*slope/4
    (Triangle(grad_width=0.2), lambda s: s),                         # peak = grad_scale
    (Gaussian(sigma=0.3), lambda s: s * 0.3 * math.sqrt(2 * math.pi)),  # peak = gs/(sigma sqrt(2pi))
])
@pytest.mark.parametrize("scale", [0.01, 1.0, 37.0])
def test_surrogate_at_scale_puts_the_peak_at_scale(shape, expected_grad_scale, scale):
    scaled = sw.surrogate_at_scale(shape, scale)
    assert scaled.grad_scale == pytest.approx(expected_grad_scale(scale), rel=1e-6)
    peak, _ = numeric_peak_and_area(scaled)
    assert peak == pytest.approx(scale, rel=1e-4)


def test_surrogate_at_scale_keeps_the_width_of_an_instance():
    scaled = sw.surrogate_at_scale(FastSigmoid(slope=3.0, grad_scale=7.0), 2.0)
    assert scaled.slope == 3.0 and scaled.grad_scale == pytest.approx(2.0)


@pytest.mark.parametrize("scale", [0, -1.0, math.nan, math.inf, True, "1"])
def test_surrogate_at_scale_rejects_bad_scales(scale):
    with pytest.raises(ValueError, match="scale must be a finite number in \\(0, inf\\)"):
        sw.surrogate_at_scale("FastSigmoid", scale)


@pytest.mark.parametrize("shape", ["Heaviside", "DampenedTriangle", "TrueGradient"])
def test_surrogate_at_scale_needs_a_grad_scale(shape):
    with pytest.raises(ValueError, match="has no grad_scale"):
        sw.surrogate_at_scale(shape, 1.0)


def test_zenke_vogels_shapes_have_equal_peak_and_area():
    # Closed forms at peak 1: fast sigmoid 2/slope = 0.2, sigmoid derivative 4/slope = 0.2,
    # triangle half-width 0.2.
    for shape in sw.ZENKE_VOGELS_SHAPES:
        peak, area = numeric_peak_and_area(sw.surrogate_at_scale(shape, 1.0), half_width=2000.0,
                                           points=4_000_001)
        assert peak == pytest.approx(1.0, rel=1e-4)
        assert area == pytest.approx(0.2, rel=2e-3), type(shape).__name__


def test_sweep_configs_cover_the_grid_once():
    base = TrainConfig(**TINY)
    jobs = sw.sweep_configs(["FastSigmoid", Triangle(grad_width=0.2)], [0.1, 10.0], base)
    assert [index for index, _ in jobs] == [(r, i, j) for r in range(2) for i in range(2) for j in range(2)]
    for (r, i, j), config in jobs:
        assert config.detach_reset is (r == 0)  # "detached" first
        assert type(config.surrogate).__name__ == ["FastSigmoid", "Triangle"][i]
        assert config.surrogate.peak() == pytest.approx([0.1, 10.0][j])
        assert config.steps == base.steps and config.seed == base.seed


def test_sweep_fills_each_cell_with_its_own_run():
    shapes, scales = ["FastSigmoid", "Triangle"], [0.5, 5.0]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        result = sw.sweep(shapes, scales, TrainConfig(**TINY), executor=pool, progress=False)
    assert result.loss.shape == result.accuracy.shape == (2, 2, 2)
    assert result.shapes == ("FastSigmoid", "Triangle") and result.scales == (0.5, 5.0)
    # One cell recomputed by hand: mean loss of the last 10 steps (all 3 here), final test accuracy.
    config = TrainConfig(**{**TINY, "surrogate": sw.surrogate_at_scale("Triangle", 5.0),
                            "detach_reset": False})
    records = list(train(config))
    assert result.loss[1, 1, 1] == pytest.approx(np.mean([r.loss for r in records]), rel=1e-6)
    assert result.accuracy[1, 1, 1] == pytest.approx(records[-1].test_accuracy)
    assert (result.diverged_at == -1).all()


class InlineExecutor(concurrent.futures.Executor):
    """The smallest possible Executor: runs each job at submission, in this thread."""

    def __init__(self):
        self.submitted = 0
        self.shut_down = False

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        future = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        self.shut_down = True


def test_sweep_accepts_any_executor_and_leaves_it_open():
    executor = InlineExecutor()
    result = sw.sweep(["FastSigmoid"], [1.0, 2.0, 3.0], TrainConfig(**TINY), executor=executor,
                      progress=False, chunk_size=4)
    assert executor.submitted == 2  # 2 resets x 3 scales = 6 runs, in chunks of 4
    assert not executor.shut_down
    assert np.isfinite(result.loss).all()


@pytest.mark.slow  # starts worker processes that import torch: seconds on 2 cores
def test_default_process_pool_gives_the_same_numbers_as_threads():
    # Workers get pickled TrainConfigs; seeded runs must not depend on where they run.
    shapes, scales = ["SigmoidDerivative"], [2.0]
    in_processes = sw.sweep(shapes, scales, TrainConfig(**TINY), max_workers=2, progress=False)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        in_threads = sw.sweep(shapes, scales, TrainConfig(**TINY), executor=pool, progress=False)
    np.testing.assert_allclose(in_processes.loss, in_threads.loss, rtol=1e-5)
    np.testing.assert_allclose(in_processes.accuracy, in_threads.accuracy)


def _record(step, loss, status="ok", test_accuracy=None):
    return StepRecord(step=step, loss=loss, accuracy=0.5, test_accuracy=test_accuracy,
                      grad_norms=(1.0,), spike_rates=(0.1,), elapsed_s=0.0, status=status)


def test_run_to_end_averages_the_last_losses(monkeypatch):
    losses = [float(k) for k in range(1, 13)]  # 12 steps: the last 10 are 3..12, mean 7.5
    records = [_record(k, loss) for k, loss in enumerate(losses, 1)]
    records[-1] = _record(12, 12.0, test_accuracy=0.75)
    monkeypatch.setattr(sw, "train", lambda config: iter(records))
    summary = sw.run_to_end(TrainConfig(**TINY))
    assert summary == sw.RunSummary(loss=7.5, accuracy=0.75, diverged_at=None)


def test_run_to_end_reports_where_a_run_diverged(monkeypatch):
    records = [_record(1, 1.0), _record(2, 0.9), _record(3, math.inf, status="diverged")]
    monkeypatch.setattr(sw, "train", lambda config: iter(records))
    summary = sw.run_to_end(TrainConfig(**TINY))
    assert summary.diverged_at == 3 and math.isnan(summary.loss) and math.isnan(summary.accuracy)


def hand_made_result():
    # [reset, shape, scale]: 2 resets, 2 shapes, 3 scales
    accuracy = np.array([[[0.90, 0.92, 0.91], [0.88, 0.90, 0.89]],
                         [[0.95, 0.80, 0.40], [0.93, np.nan, 0.30]]])
    diverged = np.full((2, 2, 3), -1)
    diverged[1, 1, 1] = 17
    return sw.SweepResult(shapes=("A", "B"), scales=(0.1, 1.0, 10.0), resets=("detached", "differentiable"),
                          loss=1 - accuracy, accuracy=accuracy, diverged_at=diverged)


def test_spreads_by_hand():
    result = hand_made_result()
    # detached: shape ranges per scale 0.02, 0.02, 0.02 -> 0.02; scale ranges per shape 0.02, 0.02 -> 0.02
    # differentiable: shape ranges 0.02, 0 (one finite value), 0.10 -> 0.04; scale ranges 0.55, 0.63 -> 0.59
    np.testing.assert_allclose(result.shape_spread(), [0.02, 0.04], atol=1e-12)
    np.testing.assert_allclose(result.scale_spread(), [0.02, 0.59], atol=1e-12)


def test_table_marks_diverged_runs_and_rounds():
    text = hand_made_result().table("accuracy")
    assert "accuracy, differentiable reset" in text
    rows = [line.split() for line in text.splitlines() if line.startswith("B")]
    assert rows[1] == ["B", "0.93", "div", "0.30"]


def test_heatmap_has_one_panel_per_metric_and_reset():
    result = hand_made_result()
    figure = result.heatmap()
    assert len(figure.data) == 4
    np.testing.assert_array_equal(figure.data[1].z, result.loss[1])
    np.testing.assert_array_equal(figure.data[2].z, result.accuracy[0])
    with pytest.raises(ValueError, match="metric must be"):
        result.heatmap("speed")


@pytest.mark.parametrize("kwargs, message", [
    (dict(shapes=[], scales=[1.0]), "shapes must be a non-empty list"),
    (dict(shapes="FastSigmoid", scales=[1.0]), "shapes must be a non-empty list"),
    (dict(shapes=["FastSigmoid"], scales=[]), "scales must be a non-empty list"),
    (dict(shapes=["FastSigmoid"], scales=[1.0], resets=["soft"]), "resets must be a non-empty subset"),
    (dict(shapes=["FastSigmoid"], scales=[-1.0]), "scale must be a finite number"),
])
def test_sweep_rejects_bad_grids_before_running(kwargs, message):
    executor = InlineExecutor()
    with pytest.raises(ValueError, match=message):
        sw.sweep(base_config=TrainConfig(**TINY), executor=executor, progress=False, **kwargs)
    assert executor.submitted == 0


# -- batched chunks, seeds and learning rates ----------------------------------------------

def test_batched_and_sequential_sweeps_agree():
    shapes, scales = ["FastSigmoid", Triangle(grad_width=0.5)], [0.5, 2.0]
    kwargs = dict(seeds=[3, 4], lrs=[0.01, 0.05], progress=False)
    batched = sw.sweep(shapes, scales, TrainConfig(**TINY), executor=InlineExecutor(), chunk_size=5, **kwargs)
    alone = sw.sweep(shapes, scales, TrainConfig(**TINY), executor=InlineExecutor(), batched=False, **kwargs)
    assert batched.run_loss.shape == (2, 2, 2, 2, 2)
    np.testing.assert_allclose(batched.run_loss, alone.run_loss, rtol=1e-4)
    np.testing.assert_allclose(batched.run_accuracy, alone.run_accuracy, atol=1e-9)
    assert len(np.unique(batched.run_loss.round(6))) > 8  # the runs differ: seeds and lrs were applied


def test_each_run_gets_its_own_seed_and_learning_rate():
    result = sw.sweep(["FastSigmoid"], [1.0], TrainConfig(**TINY), resets=["detached"], seeds=[5, 6],
                      lrs=[0.002, 0.2], executor=InlineExecutor(), progress=False)
    for l, lr in enumerate([0.002, 0.2]):
        for k, seed in enumerate([5, 6]):
            config = TrainConfig(**{**TINY, "surrogate": sw.surrogate_at_scale("FastSigmoid", 1.0),
                                    "detach_reset": True, "lr": lr, "seed": seed})
            records = list(train(config))
            assert result.run_loss[0, 0, 0, l, k] == pytest.approx(np.mean([r.loss for r in records]), rel=1e-4)


def test_cells_are_reported_at_their_best_learning_rate_with_the_spread_over_seeds():
    # one reset, one shape, two scales; 3 learning rates x 3 seeds, numbers made by hand
    accuracy = np.array([[[[[0.5, 0.6, 0.7], [0.8, 0.9, 1.0], [0.9, 0.9, np.nan]],
                           [[0.2, 0.2, 0.2], [0.1, 0.1, 0.1], [0.3, 0.3, 0.3]]]]])
    diverged = np.full(accuracy.shape, -1)
    diverged[0, 0, 0, 2, 2] = 7  # the third lr would win scale 0 but a seed diverged there
    result = sw.SweepResult.from_runs(shapes=("A",), scales=(0.1, 1.0), resets=("detached",),
                                      lrs=(0.001, 0.01, 0.1), seeds=(0, 1, 2), loss=1 - accuracy,
                                      accuracy=accuracy, diverged_at=diverged)
    np.testing.assert_allclose(result.best_lr, [[[0.01, 0.1]]])
    np.testing.assert_allclose(result.accuracy, [[[0.9, 0.3]]])
    np.testing.assert_allclose(result.accuracy_std, [[[0.1, 0.0]]], atol=1e-12)  # sample std of .8 .9 1
    assert (result.diverged_at == -1).all()
    table = result.table("accuracy")
    assert "mean±std over 3 seeds" in table and "best of 3 learning rates" in table
    assert table.splitlines()[2].split() == ["A", "0.90±0.10", "0.30±0.00"]
    assert result.lr_table().splitlines()[2].split() == ["A", "0.01", "0.1"]


def test_heatmap_text_shows_mean_and_spread():
    accuracy = np.array([[[[[0.8, 0.9, 1.0]]]]])
    result = sw.SweepResult.from_runs(shapes=("A",), scales=(1.0,), resets=("detached",), lrs=(0.01,),
                                      seeds=(0, 1, 2), loss=1 - accuracy, accuracy=accuracy,
                                      diverged_at=np.full(accuracy.shape, -1))
    figure = result.heatmap("accuracy")
    assert figure.data[0].text[0][0] == "0.90±0.10"
    assert "mean±std of 3 seeds" in figure.layout.annotations[0].text


@pytest.mark.parametrize("kwargs, message", [
    (dict(seeds=[]), "seeds must be a non-empty list"),
    (dict(seeds=[1, 1]), "seeds must not repeat"),
    (dict(seeds=[-1]), r"seeds\[\] must be"),
    (dict(lrs=0.01), "lrs must be a non-empty list"),
    (dict(lrs=[0.0]), r"lrs\[\] must be"),
    (dict(chunk_size=0), "chunk_size must be an integer >= 1"),
])
def test_bad_axes_are_refused_before_running(kwargs, message):
    executor = InlineExecutor()
    with pytest.raises(ValueError, match=message):
        sw.sweep(["FastSigmoid"], [1.0], TrainConfig(**TINY), executor=executor, progress=False, **kwargs)
    assert executor.submitted == 0


# -- resuming, failures ----------------------------------------------------------------------

def test_results_file_gets_one_line_per_run_and_the_same_call_resumes(tmp_path):
    path = tmp_path / "sweep.jsonl"
    grid = (["FastSigmoid", "Triangle"], [0.5, 5.0], TrainConfig(**TINY))
    first = sw.sweep(*grid, seeds=[0, 1], executor=InlineExecutor(), progress=False, results=path, chunk_size=3)
    lines = path.read_text().splitlines()
    assert len(lines) == 2 * 2 * 2 * 2
    row = json.loads(lines[0])
    assert {"key", "reset", "shape", "scale", "lr", "seed", "loss", "accuracy", "diverged_at"} <= set(row)
    # everything done: nothing is trained again, and the result is the same
    executor = InlineExecutor()
    again = sw.sweep(*grid, seeds=[0, 1], executor=executor, progress=False, results=path)
    assert executor.submitted == 0
    np.testing.assert_array_equal(again.run_loss, first.run_loss)
    # a sweep killed after 5 runs, with its last line cut off: the 11 others are trained
    path.write_text("\n".join(lines[:5]) + "\n" + lines[5][:20])
    executor = InlineExecutor()
    resumed = sw.sweep(*grid, seeds=[0, 1], executor=executor, progress=False, results=path, chunk_size=1)
    assert executor.submitted == 16 - 5
    np.testing.assert_allclose(resumed.run_loss, first.run_loss, rtol=1e-6)


class FailingExecutor(InlineExecutor):
    """Fails the job whose configs include a Triangle surrogate, as a lost cluster worker would."""

    def submit(self, fn, /, *args, **kwargs):
        if any(type(c.surrogate).__name__ == "Triangle" for c in args[0]):
            self.submitted += 1
            future = concurrent.futures.Future()
            future.set_exception(RuntimeError("worker lost"))
            return future
        return super().submit(fn, *args, **kwargs)


def test_a_failed_chunk_is_named_with_its_cells_and_the_others_go_on():
    with pytest.warns(RuntimeWarning, match="RuntimeError: worker lost; its runs: reset detached, shape Triangle"):
        result = sw.sweep(["FastSigmoid", "Triangle"], [1.0], TrainConfig(**TINY), resets=["detached"],
                          executor=FailingExecutor(), progress=False, chunk_size=1)
    assert len(result.failed) == 1 and "shape Triangle, scale 1.0" in result.failed[0]
    assert np.isfinite(result.accuracy[0, 0, 0]) and np.isnan(result.accuracy[0, 1, 0])


@dataclass(frozen=True)
class KillsItsWorker(FastSigmoid):
    """A FastSigmoid that ends the process computing it, when that is a worker process."""

    def grad(self, v_mem, spike_threshold):
        if multiprocessing.parent_process() is not None:
            os._exit(3)
        return super().grad(v_mem, spike_threshold)


@pytest.mark.slow  # several pools of worker processes that import torch
def test_a_dead_worker_is_named_with_its_cell_and_the_other_cells_go_on():
    with pytest.warns(RuntimeWarning, match="its worker process died; its runs: reset detached, shape KillsItsWorker"):
        result = sw.sweep(["FastSigmoid", KillsItsWorker(), "Triangle"], [1.0], TrainConfig(**TINY),
                          resets=["detached"], progress=False, chunk_size=1, max_workers=2)
    assert len(result.failed) == 1 and "KillsItsWorker" in result.failed[0]
    assert np.isfinite(result.accuracy[0, [0, 2], 0]).all() and np.isnan(result.accuracy[0, 1, 0])


# -- scripts and processes ------------------------------------------------------------------

UNGUARDED = """
from sgexplore.sweep import sweep
from sgexplore.train import TrainConfig
result = sweep(["FastSigmoid"], [1.0], TrainConfig(**{tiny!r}), progress=False)
print("finished")
"""


def test_a_top_level_sweep_without_main_guard_stops_at_once_with_one_line(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED.format(tiny=TINY))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [sw.MAIN_GUARD_MESSAGE]
    assert 'if __name__ == "__main__":' in sw.MAIN_GUARD_MESSAGE and "finished" not in done.stdout


def test_the_main_guard_check_lets_a_guarded_call_through(tmp_path):
    script = tmp_path / "guarded.py"
    script.write_text("import sgexplore.sweep as sw\nif __name__ == '__main__':\n    sw._check_main_guard()\n"
                      "    print('ok')\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


LONG_SWEEP = """
import sys
from sgexplore.sweep import sweep
from sgexplore.train import TrainConfig
if __name__ == "__main__":
    sweep(["FastSigmoid", "Triangle"], [0.5, 1.0, 2.0, 4.0], TrainConfig(**{config!r}), seeds=[0, 1, 2],
          progress=False, results=sys.argv[1], chunk_size=1, max_workers=2)
"""


def _children(pid: int):
    try:
        found = []
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
        return found
    except FileNotFoundError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _wait(condition, what: str, seconds: float = 240.0) -> None:
    # a guard against hanging, not a speed requirement: the conditions come within seconds
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


@pytest.mark.slow  # a script with two worker processes
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the worker processes")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_no_worker_outlives_a_stopped_sweep_and_the_same_call_resumes(tmp_path, stop):
    config = {**TINY, "steps": 400, "test_every": 400}
    script, path = tmp_path / "long.py", tmp_path / "runs.jsonl"
    script.write_text(LONG_SWEEP.format(config=config))
    process = subprocess.Popen([sys.executable, str(script), str(path)], stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: path.exists() and len(path.read_text().splitlines()) >= 2, "two finished runs")
        workers = _children(process.pid)
        assert len(workers) >= 2
        process.send_signal(stop)
        process.wait(timeout=240)
        _wait(lambda: not any(_alive(w) for w in workers), "the workers to end")
    finally:
        if process.poll() is None:
            process.kill()
    done = len(path.read_text().splitlines())
    assert 2 <= done < 48  # 2 resets x 2 shapes x 4 scales x 3 seeds
    executor = InlineExecutor()
    result = sw.sweep(["FastSigmoid", "Triangle"], [0.5, 1.0, 2.0, 4.0], TrainConfig(**config), seeds=[0, 1, 2],
                      progress=False, results=path, executor=executor, chunk_size=1)
    assert executor.submitted == 48 - done
    assert np.isfinite(result.run_loss).all()


@pytest.mark.slow  # starts a Dask cluster of two worker processes
def test_a_dask_cluster_gives_the_same_numbers_as_a_local_run():
    from dask import distributed  # a test extra: missing, it fails rather than skips
    shapes, scales = ["FastSigmoid", "SigmoidDerivative"], [0.5, 2.0]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        on_dask = sw.sweep(shapes, scales, TrainConfig(**TINY), seeds=[0, 1], executor=client.get_executor(),
                           progress=False, chunk_size=4)
        assert len(client.scheduler_info()["workers"]) == 2
    local = sw.sweep(shapes, scales, TrainConfig(**TINY), seeds=[0, 1], executor=InlineExecutor(),
                     progress=False, chunk_size=4)
    assert on_dask.failed == ()
    np.testing.assert_allclose(on_dask.run_loss, local.run_loss, rtol=1e-5)
    np.testing.assert_allclose(on_dask.run_accuracy, local.run_accuracy)


def test_live_heatmap_fills_in_as_chunks_finish(monkeypatch):
    import IPython.display
    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    filled = []

    def count_filled(partial):  # called after the live figure's own update
        filled.append(int(sum(np.isfinite(np.asarray(trace.z, dtype=float)).sum() for trace in shown[0].data)))

    result = sw.sweep(["FastSigmoid", "Triangle"], [1.0], TrainConfig(**TINY), resets=["detached"],
                      executor=InlineExecutor(), progress=False, chunk_size=1, live=True, on_chunk=count_filled)
    from sgexplore.widgets.figures import CompactFigureWidget
    assert isinstance(shown[0], CompactFigureWidget) and len(shown) == 1
    assert filled == [0, 2, 4]  # loss and accuracy panels: nothing, then one cell, then both
    np.testing.assert_array_equal(np.asarray(shown[0].data[1].z, dtype=float), result.accuracy[0])
