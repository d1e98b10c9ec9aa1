"""Seeds trained together: the mean record, the band, and the explorer's seeds option."""

import dataclasses

import numpy as np
import pytest

from sgexplore.seed_band import seed_configs, train_seeds
from sgexplore.train import TrainConfig, train
from sgexplore.widgets import TrainingExplorer
from sgexplore.widgets.training_explorer import _ACCURACY, _ACCURACY_BAND, _LOSS, _LOSS_BAND

# small and well-behaved (no exploding gradients), so each seed's run is reproducible to 1e-4
SMALL = TrainConfig(classes=3, units=12, time_steps=25, samples_per_class=12, hidden=(16,), batch_size=8,
                    steps=8, test_every=4, seed=3)


def test_the_mean_and_band_are_those_of_each_seeds_own_run():
    own = [list(train(dataclasses.replace(SMALL, seed=SMALL.seed + k))) for k in range(3)]
    steps = list(train_seeds(SMALL, 3))
    assert len(steps) == SMALL.steps
    for i, step in enumerate(steps):
        losses = [run[i].loss for run in own]
        accuracies = [run[i].accuracy for run in own]
        assert step.mean.step == i + 1 and step.mean.status == "ok"
        assert step.mean.loss == pytest.approx(np.mean(losses), abs=1e-4)
        assert step.mean.accuracy == pytest.approx(np.mean(accuracies), abs=1e-4)
        assert step.band["loss"] == pytest.approx((min(losses), max(losses)), abs=1e-4)
        assert step.band["accuracy"] == pytest.approx((min(accuracies), max(accuracies)), abs=1e-4)
        assert step.band["loss"][0] <= step.mean.loss <= step.band["loss"][1]
        tested = [run[i].test_accuracy for run in own]
        if tested[0] is None:
            assert step.mean.test_accuracy is None
        else:
            assert step.mean.test_accuracy == pytest.approx(np.mean(tested), abs=1e-4)
    assert max(s.band["loss"][1] - s.band["loss"][0] for s in steps) > 0  # the seeds really differ


def test_seed_configs_are_consecutive_seeds_without_histograms_and_adam_only():
    configs = seed_configs(dataclasses.replace(SMALL, record_every=5), 3)
    assert [c.seed for c in configs] == [3, 4, 5] and all(c.record_every == 0 for c in configs)
    with pytest.raises(ValueError, match="optimizer 'sgd'"):
        seed_configs(dataclasses.replace(SMALL, optimizer="sgd"), 3)
    with pytest.raises(ValueError, match=r"seeds must be an integer in \[1, 5\]"):
        seed_configs(SMALL, 6)


def test_explorer_with_three_seeds_draws_the_mean_inside_its_band():
    explorer = TrainingExplorer(config=SMALL, live=False, seeds=3)
    explorer.run()
    means = [s.mean for s in train_seeds(SMALL, 3)]
    np.testing.assert_allclose(explorer.figure.data[_LOSS].y, [m.loss for m in means], atol=1e-4)
    for line, band in ((_LOSS, _LOSS_BAND), (_ACCURACY, _ACCURACY_BAND)):
        outline = np.asarray(explorer.figure.data[band].y)
        high, low = outline[:SMALL.steps], outline[SMALL.steps:][::-1]
        y = np.asarray(explorer.figure.data[line].y)
        assert np.all(low <= y + 1e-12) and np.all(y <= high + 1e-12) and np.any(high > low)
        assert list(explorer.figure.data[band].x) == list(range(1, 9)) + list(range(8, 0, -1))
    assert "mean of 3 seeds" in explorer.status.value
    assert "seeds = 1 only" in explorer.lens_readout.value and explorer.membrane is None
    explorer.controls["seeds"].value = 1  # back to one run: no band, the lens again
    assert len(explorer.figure.data[_LOSS_BAND].x) == 0 and explorer.membrane is not None
    assert "mean of" not in explorer.status.value


def test_seeds_with_sgd_says_why_and_keeps_the_explorer_alive():
    explorer = TrainingExplorer(config=dataclasses.replace(SMALL, optimizer="sgd"), live=False)
    explorer.controls["seeds"].value = 3
    assert "optimizer 'sgd'" in explorer.message
    explorer.controls["seeds"].value = 1
    assert explorer.records and explorer.records[-1].step == SMALL.steps
