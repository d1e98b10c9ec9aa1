"""The synthetic tasks: shapes, the one-spike-per-unit timing code, seeding, the cache."""

import math

import pytest
import torch

from sgexplore import tasks


def _spike_times(x):
    """(T, N, units) with one spike per unit -> integer spike times (N, units)."""
    return x.argmax(0)


def test_randman_shapes_labels_and_split():
    d = tasks.randman(classes=3, units=7, time_steps=30, samples_per_class=20, seed=1)
    assert d.x_train.shape == (30, 48, 7) and d.x_test.shape == (30, 12, 7)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert torch.bincount(d.y_train).tolist() == [16, 16, 16]
    assert torch.bincount(d.y_test).tolist() == [4, 4, 4]
    assert d.classes == 3


def test_randman_fires_each_unit_exactly_once_inside_the_active_window():
    T = 40
    d = tasks.randman(classes=4, units=9, time_steps=T, samples_per_class=25, seed=2)
    x = torch.cat([d.x_train, d.x_test], 1)
    assert set(x.unique().tolist()) == {0.0, 1.0}
    assert torch.all(x.sum(0) == 1)  # one spike per unit and sample: counts carry no class information
    last_step = math.floor((T - 1) * 0.8)
    assert torch.all(x[last_step + 1:] == 0)


def test_randman_min_max_scales_each_unit_within_each_class():
    T = 40
    d = tasks.randman(classes=3, units=5, time_steps=T, samples_per_class=30, seed=3)
    times = _spike_times(torch.cat([d.x_train, d.x_test], 1))
    labels = torch.cat([d.y_train, d.y_test])
    last_step = math.floor((T - 1) * 0.8)
    for c in range(3):
        per_class = times[labels == c]
        assert per_class.min(0).values.tolist() == [0] * 5
        assert per_class.max(0).values.tolist() == [last_step] * 5


def test_randman_classes_differ_in_timing():
    d = tasks.randman(classes=2, units=10, time_steps=50, samples_per_class=50, seed=4)
    times = _spike_times(d.x_train).float()
    mean_0, mean_1 = times[d.y_train == 0].mean(0), times[d.y_train == 1].mean(0)
    assert float((mean_0 - mean_1).abs().max()) > 2.0


def test_smoother_manifolds_have_closer_neighbours():
    # Along a 1-D manifold, a larger alpha damps high frequencies: sorting the samples by
    # one unit's spike time leaves the other units' times varying less from neighbour to neighbour.
    def roughness(alpha):
        d = tasks.randman(classes=2, units=20, time_steps=200, samples_per_class=200,
                          alpha=alpha, seed=5)
        times = _spike_times(d.x_train[:, d.y_train == 0]).float()
        order = times[:, 0].argsort()
        return float(times[order].diff(dim=0).abs().mean())
    assert roughness(4.0) < roughness(0.5)


def test_randman_is_seeded():
    a = tasks.randman(classes=2, units=5, time_steps=20, samples_per_class=10, seed=7)
    b = tasks.randman(classes=2, units=5, time_steps=20, samples_per_class=10, seed=7)
    c = tasks.randman(classes=2, units=5, time_steps=20, samples_per_class=10, seed=8)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.x_test, b.x_test)
    assert not torch.equal(a.x_train, c.x_train)


def test_two_patterns_is_two_jittered_patterns():
    d = tasks.two_patterns(units=12, time_steps=30, samples_per_class=40, seed=0)
    assert d.classes == 2 and d.x_train.shape == (30, 64, 12)
    times = _spike_times(torch.cat([d.x_train, d.x_test], 1))
    labels = torch.cat([d.y_train, d.y_test])
    assert torch.all(torch.cat([d.x_train, d.x_test], 1).sum(0) == 1)
    for c in range(2):
        per_class = times[labels == c]
        spread = per_class.max(0).values - per_class.min(0).values
        assert int(spread.max()) <= 2  # jitter of at most one step either way
    assert not torch.equal(times[labels == 0][0], times[labels == 1][0])


def test_load_caches_by_parameters():
    args = ("randman", 2, 5, 20, 1, 2.0, 10, 0)
    assert tasks.load(*args) is tasks.load(*args)
    assert tasks.load("randman", 2, 5, 20, 1, 2.0, 10, 1) is not tasks.load(*args)


@pytest.mark.parametrize("kwargs, name", [
    (dict(classes=1), "classes"),
    (dict(units=0), "units"),
    (dict(time_steps=0), "time_steps"),
    (dict(manifold_dim=0), "manifold_dim"),
    (dict(alpha=0.0), "alpha"),
    (dict(samples_per_class=1), "samples_per_class"),
    (dict(seed=-1), "seed"),
    (dict(test_fraction=1.0), "test_fraction"),
    (dict(classes=2.5), "classes"),
])
def test_randman_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        tasks.randman(**kwargs)


def test_load_rejects_unknown_task_and_wrong_class_count():
    with pytest.raises(ValueError, match="task"):
        tasks.load("mnist", 2, 5, 20, 1, 2.0, 10, 0)
    with pytest.raises(ValueError, match="classes"):
        tasks.load("two_patterns", 3, 5, 20, 1, 2.0, 10, 0)
