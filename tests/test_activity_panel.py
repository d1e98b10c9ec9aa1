"""The TrainingExplorer's activity rows: the data, and hidden layer 1 on a fixed probe sample."""

import dataclasses

import numpy as np
import pytest
import torch

from sgexplore.train import TrainConfig
from sgexplore.widgets import TrainingExplorer
from sgexplore.widgets.training_explorer import (_DATA_RASTER, _HIDDEN_RASTER, _RASTER_GAP, _RATES,
                                                 PROBE_SAMPLE)

SMALL = TrainConfig(classes=3, units=12, time_steps=30, samples_per_class=10, hidden=(24,), batch_size=8,
                    steps=6, test_every=3)


def _explorer():
    explorer = TrainingExplorer(config=SMALL, live=False)
    explorer.run()
    return explorer


def test_the_data_raster_shows_the_first_training_sample_of_each_class_side_by_side():
    explorer = _explorer()
    x, y = explorer._run.data
    trace = explorer.figure.data[_DATA_RASTER]
    times, units = np.asarray(trace.x), np.asarray(trace.y)
    period = SMALL.time_steps + _RASTER_GAP
    labels = sorted(set(y.tolist()))
    assert len(labels) == SMALL.classes
    for k, label in enumerate(labels):
        sample = x[:, y.tolist().index(label)].numpy()  # (T, units), the class's first sample
        inside = (times >= k * period) & (times < k * period + SMALL.time_steps)
        drawn = sorted(zip((times[inside] - k * period).tolist(), units[inside].tolist()))
        assert drawn == sorted(zip(*[a.tolist() for a in np.nonzero(sample)]))
    assert len(times) == sum(int(np.count_nonzero(x[:, y.tolist().index(label)])) for label in labels)
    assert list(explorer.figure.layout.xaxis5.ticktext) == [str(label) for label in labels]


def test_hidden_spikes_and_rates_are_the_probe_samples_under_the_final_weights():
    explorer = _explorer()
    state = explorer._run._state
    with torch.no_grad():
        _readout, spikes = state.model(state.x_test[:, PROBE_SAMPLE:PROBE_SAMPLE + 1], record=True)
    expected = spikes[0][:, 0].numpy()  # (T, 24)
    raster = explorer.figure.data[_HIDDEN_RASTER]
    drawn = sorted(zip(np.asarray(raster.x).tolist(), np.asarray(raster.y).tolist()))
    assert drawn == sorted(zip(*[a.tolist() for a in np.nonzero(expected)]))
    rates = np.asarray(explorer.figure.data[_RATES].x)
    assert rates.shape == (24,)  # one value per neuron
    np.testing.assert_allclose(rates, expected.astype(np.float64).mean(axis=0), rtol=0, atol=1e-12)


def test_a_new_run_clears_the_activity_until_its_first_recorded_step():
    explorer = _explorer()
    explorer._start_drawing(explorer.config)
    for index in (_DATA_RASTER, _HIDDEN_RASTER, _RATES):
        assert len(explorer.figure.data[index].x) == 0


def test_the_smoothed_train_loss_is_the_trailing_mean_of_the_batch_losses():
    from sgexplore.views import SMOOTHING, smoothed
    SMOOTHING = SMOOTHING.default
    from sgexplore.widgets.training_explorer import _LOSS, _SMOOTH_LOSS

    explorer = _explorer()
    raw = np.asarray(explorer.figure.data[_LOSS].y)
    drawn = np.asarray(explorer.figure.data[_SMOOTH_LOSS].y)
    expected = [raw[max(0, i - SMOOTHING + 1):i + 1].mean() for i in range(len(raw))]
    np.testing.assert_allclose(drawn, expected, rtol=1e-12)
    assert list(explorer.figure.data[_SMOOTH_LOSS].x) == list(explorer.figure.data[_LOSS].x)
    np.testing.assert_allclose(smoothed([4.0, 2.0, 0.0], 2), [4.0, 3.0, 1.0])
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match=r"smoothed.window must be an integer in \[1, 100000\]"):
            smoothed([1.0], bad)


def test_redrawing_the_lens_without_a_new_step_does_not_rerun_the_probe(monkeypatch):
    """A new surrogate on a paused run redraws the lens's readouts; the weights are the same,
    so the probe's forward pass is not run again (it is after the next step)."""
    explorer = TrainingExplorer(config=dataclasses.replace(SMALL, record_every=1), live=False)
    explorer.run()
    run = explorer._run
    calls = []
    activity = run.activity
    monkeypatch.setattr(run, "activity", lambda sample=0: calls.append(sample) or activity(sample))
    with explorer.figure.batch_update():
        explorer._draw_membrane()
    assert calls == []
    run.records.append(run.records[-1])  # as after one more step
    with explorer.figure.batch_update():
        explorer._draw_membrane()
    assert calls == [PROBE_SAMPLE]
