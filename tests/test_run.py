"""sgexplore.train.Run: a training run driven step by step, whose surrogate can change mid-run."""

import dataclasses

import numpy as np

import pytest

from sgexplore import surrogates as sg
from sgexplore.train import Run, TrainConfig, train

TINY = TrainConfig(classes=2, units=10, time_steps=20, samples_per_class=20, hidden=(16,),
                   batch_size=16, steps=8, test_every=4)


def _same(a, b):
    strip = lambda r: dataclasses.replace(r, elapsed_s=0.0)
    return [strip(r) for r in a] == [strip(r) for r in b]


def test_a_run_stepped_by_hand_is_train():
    run = Run(TINY)
    first = [run.step() for _ in range(3)]
    rest = list(run)
    assert _same(first + rest, list(train(TINY)))
    assert run.done and run.records == first + rest
    with pytest.raises(RuntimeError, match="the run is over"):
        run.step()


def test_changing_the_surrogate_mid_run_keeps_the_weights_and_changes_the_backward():
    s1, s2 = sg.FastSigmoid(), sg.Gaussian(sigma=0.3)
    plain = list(train(dataclasses.replace(TINY, surrogate=s1)))
    fresh = list(train(dataclasses.replace(TINY, surrogate=s2)))
    run = Run(dataclasses.replace(TINY, surrogate=s1))
    for _ in range(4):
        run.step()
    run.set_surrogate(s2)
    assert run.config.surrogate == s2
    rest = list(run)
    # step 5's forward uses the weights trained with s1 for 4 steps: the same loss as the s1 run
    # (the surrogate acts only in the backward pass), not the loss of a fresh s2 run
    assert rest[0].loss == plain[4].loss and rest[0].loss != fresh[4].loss
    # its backward uses s2: step 5's gradients are s2's, not s1's
    assert rest[0].grad_norms[0] != plain[4].grad_norms[0]
    assert rest[0].grad_norms[1] == plain[4].grad_norms[1]  # the readout's gradient has no surrogate in it


def test_setting_the_same_surrogate_changes_nothing():
    run = Run(TINY)
    run.step()
    run.set_surrogate(TINY.surrogate)
    list(run)
    assert _same(run.records, list(train(TINY)))


def test_set_surrogate_validates():
    run = Run(TINY)
    with pytest.raises(TypeError, match="surrogate"):
        run.set_surrogate(3)
    with pytest.raises(TypeError, match="TrainConfig"):
        Run({"steps": 3})


# -- the explorer's play, pause, step and stop ------------------------------------------------

import asyncio  # noqa: E402

from sgexplore.widgets import TrainingExplorer  # noqa: E402


def _losses(records):
    return [r.loss for r in records]


@pytest.fixture
def explorer():
    e = TrainingExplorer(config=TINY)  # no event loop here: nothing trains until asked
    yield e
    e.close()


def test_step_trains_one_step_and_pauses_then_play_finishes(explorer):
    full = list(train(explorer._config_from_controls()))
    assert explorer.step().step == 1 and explorer.paused
    assert explorer.step().step == 2
    assert "paused at step 2/8" in explorer.status.value
    assert _losses(explorer.records) == _losses(full[:2])
    np.testing.assert_array_equal(explorer.figure.data[0].y, _losses(full[:2]))
    explorer.play()
    assert not explorer.paused and _losses(explorer.records) == _losses(full)
    assert "done" in explorer.status.value


def test_stop_ends_the_run_and_play_starts_a_new_one(explorer):
    full = list(train(explorer._config_from_controls()))
    explorer.step(), explorer.step()
    explorer.stop()
    assert "stopped at step 2/8" in explorer.status.value and len(explorer.records) == 2
    explorer.play()
    assert _losses(explorer.records) == _losses(full)
    assert explorer.ghosts == 1  # the stopped run stays as a ghost


def test_a_change_retrains_from_scratch_by_default(explorer):
    explorer.step(), explorer.step(), explorer.step()
    explorer.controls["grad_scale"].value = 10.0
    expected = list(train(explorer._config_from_controls()))
    assert _losses(explorer.records) == _losses(expected)


def test_with_retrain_off_a_surrogate_change_goes_on_from_the_current_weights(explorer):
    explorer.controls["retrain_on_change"].value = False
    first = explorer._config_from_controls()
    for _ in range(3):
        explorer.step()
    explorer.controls["grad_scale"].value = 10.0  # paused: the run takes the surrogate and waits
    assert explorer.paused and len(explorer.records) == 3
    assert explorer.config.surrogate == sg.FastSigmoid(grad_scale=10.0)
    explorer.play()
    reference = Run(first)
    for _ in range(3):
        reference.step()
    reference.set_surrogate(sg.FastSigmoid(grad_scale=10.0))
    list(reference)
    assert _losses(explorer.records) == _losses(reference.records)
    fresh = list(train(dataclasses.replace(first, surrogate=sg.FastSigmoid(grad_scale=10.0))))
    assert [r.grad_norms for r in explorer.records] != [r.grad_norms for r in fresh]


def test_with_retrain_off_another_setting_still_retrains(explorer):
    explorer.controls["retrain_on_change"].value = False
    explorer.step(), explorer.step()
    explorer.controls["lr"].value = 0.1
    assert _losses(explorer.records) == _losses(train(explorer._config_from_controls()))


def test_pause_stops_a_live_run_and_play_goes_on_from_there():
    config = dataclasses.replace(TINY, steps=40)
    explorer = TrainingExplorer(config=config)
    explorer.debounce_s = 0.0
    full = list(train(explorer._config_from_controls()))

    async def scenario():
        explorer.play(browser=True)  # no run yet: starts one as a live task
        while len(explorer.records) < 5:
            await asyncio.sleep(0)
        explorer.pause(browser=True)
        paused_at = len(explorer.records)
        for _ in range(20):
            await asyncio.sleep(0)
        assert len(explorer.records) == paused_at < 40 and not explorer.running
        explorer.play(browser=True)
        await explorer.wait()

    try:
        asyncio.run(scenario())
        assert _losses(explorer.records) == _losses(full)
    finally:
        explorer.close()


def _browser_drew(figure):
    """What a browser view sends once it has drawn the last trace update (plotly's
    widgetbundle.js ``_sendTraceDeltas``), as ipywidgets' comm delivers it."""
    figure.set_state({"_js2py_traceDeltas": {"trace_deltas": [], "trace_edit_id": figure._last_trace_edit_id}})


def test_play_goes_at_the_pages_pace_one_drawn_step_per_acknowledged_update():
    config = dataclasses.replace(TINY, steps=12)
    explorer = TrainingExplorer(config=config)
    explorer._pacer.timeout_s = 1e9  # the page below answers when it answers: never overdue
    full = list(train(explorer._config_from_controls()))
    _browser_drew(explorer.figure)   # a view is open and has drawn the built run

    async def scenario():
        explorer.step(browser=True)  # a new run, paused at step 1
        _browser_drew(explorer.figure)
        explorer.play(browser=True)
        for expected in range(2, config.steps + 1):
            for _ in range(30):      # however long the page takes, no step goes ahead of it
                await asyncio.sleep(0)
            assert len(explorer.records) == expected, "a step trained before the page drew the last"
            assert list(explorer.figure.data[0].y) == _losses(explorer.records), "a step was not drawn"
            _browser_drew(explorer.figure)
        await explorer.wait()

    try:
        asyncio.run(scenario())
        assert _losses(explorer.records) == _losses(full) and "done step 12/12" in explorer.status.value
    finally:
        explorer.close()


def test_a_changed_control_trains_at_full_speed_whatever_the_pages_pace():
    explorer = TrainingExplorer(config=dataclasses.replace(TINY, steps=12))
    explorer.debounce_s = 0.0
    explorer._pacer.timeout_s = 1e9
    _browser_drew(explorer.figure)
    lr = explorer.controls["lr"]
    finished_before = explorer.runs_finished

    async def scenario():
        lr.set_state({"index": lr.index + 1})  # from the page: a live run
        _browser_drew(explorer.figure)         # it draws the run's start, then never answers again
        await explorer.wait()

    try:
        asyncio.run(scenario())
        assert len(explorer.records) == 12 and explorer.runs_finished == finished_before + 1
        assert len(explorer.figure.data[0].y) < 12  # the page drew less than that
    finally:
        explorer.close()


# -- activity views: the data, the hidden layer's spikes and firing rates ---------------------

from sgexplore import views  # noqa: E402


def test_raster_and_firing_rates_of_a_small_array():
    spikes = np.array([[0, 1, 0], [1, 0, 2], [0, 0, 1]], dtype=np.float32)
    times, neurons = views.raster(spikes)
    assert list(zip(times, neurons)) == [(0, 1), (1, 0), (1, 2), (2, 2)]
    np.testing.assert_allclose(views.firing_rates(spikes), [1 / 3, 1 / 3, 1.0])
    with pytest.raises(ValueError, match=r"\(T, N\)"):
        views.raster(np.zeros(3))


def test_class_examples_are_the_first_sample_of_each_class():
    import torch
    x = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    y = torch.tensor([2, 0, 2, 1])
    examples = views.class_examples(x, y)
    assert [label for label, _ in examples] == [0, 1, 2]
    np.testing.assert_array_equal(examples[0][1], x[:, 1].numpy())
    np.testing.assert_array_equal(examples[2][1], x[:, 0].numpy())


def test_run_activity_is_the_networks_spikes_on_the_probe_sample():
    import torch
    run = Run(dataclasses.replace(TINY, hidden=(16, 8)))
    run.step(), run.step()
    probe = run.activity(3)
    model, x_test = run._state.model, run._state.x_test
    with torch.no_grad():
        _, everything = model(x_test, record=True)  # the whole test set at once: batch-independent
    assert [p.shape for p in probe] == [(20, 16), (20, 8)]
    for mine, theirs in zip(probe, everything):
        assert torch.equal(mine, theirs[:, 3])
    with pytest.raises(ValueError, match="sample"):
        run.activity(10_000)
