# %% [markdown]
# # 5 · Where the membrane potentials are
#
# A surrogate $\sigma'(v - \vartheta)$ hands a neuron gradient only where it is not close to zero.
# Whether a setting *works* therefore depends on two things at once: the surrogate's shape, and
# where the hidden neurons' membrane potentials actually are while the network trains. This
# notebook looks at the second, with the **membrane-potential lens**.
#
# ## 5.1 The lens
#
# `TrainConfig(record_every=k)` makes training record, every `k` steps and at the last, one
# histogram per hidden layer of $x = v - \vartheta$: over every neuron, time step and sample of that
# step's batch, taken before the spike (the values the surrogate is evaluated at in that step's
# backward pass). `StepRecord.membrane` holds them. Against such a histogram, `sgexplore.lens` has:
#
# * `coverage(surrogate, histogram, thr, level=0.01)`: the fraction of the samples at which the
#   surrogate is at least 1 % of its peak, i.e. the neurons that receive gradient;
# * `mean_gain(surrogate, histogram, thr)`: the mean surrogate value over the samples, divided by
#   its peak;
# * `fit_width(surrogate, histogram, thr, coverage=0.5)`: the same surrogate with its width
#   parameter set so that the requested fraction receives gradient.
#
# The histogram's bins are $0.02\,\vartheta$ wide, out to $\pm 4\vartheta$; the two outer bins also
# hold everything beyond. The lens functions evaluate the surrogate at each bin's centre.
#
# ## 5.2 The explorer
#
# The training explorer of notebook 3 draws the lens in its upper figure, under the surrogate: each
# hidden layer's histogram (as the fraction of samples per bin) on the same $v$ axis as the surrogate
# above it, from the last recorded step (every 5 steps unless the config sets `record_every`; the one
# below records every 40), and below the buttons the coverage and mean gain of each layer under the
# current surrogate. The lower figure shows, beside the loss, what the network sees and does on those
# steps: the firing rates of hidden layer 1's neurons and their spikes on one fixed test sample, and
# one training sample of each class as an input spike raster. *fit width* sets the surrogate's width so that
# half of hidden layer 1's samples receive gradient, then retrains. The loss panel shows the batch
# loss of every step and the test-set loss every `test_every` steps.
#
# It starts with a narrow `Gaussian` (`sigma = 0.05`): most of the histogram lies where that bell is
# zero. The check cells below train their own runs with `train()`.

# %% tags=["nbval-ignore-output"]
import dataclasses

import numpy as np

from sgexplore import lens
from sgexplore.surrogates import FastSigmoid, Gaussian
from sgexplore.sweep import COURSE_TASK
from sgexplore.train import TrainConfig, train
from sgexplore.widgets import TrainingExplorer

config = TrainConfig(**COURSE_TASK, steps=80, record_every=40)
explorer = TrainingExplorer(surrogate="Gaussian", config=config, sigma=0.05)
explorer.widget

# %% [markdown]
# ## 5.3 Too narrow: few neurons get gradient
#
# Train the same network with a narrow bell (`sigma = 0.02`) and a wide one (`sigma = 0.3`), both
# with plain gradient descent (`optimizer="sgd"`, learning rate 2) so that a gradient's size reaches
# the weights unchanged. Under the narrow bell well under 1 % of the samples receive gradient, and
# learning stalls; under the wide one a third or more do, and the network learns. (The narrow
# bell's few gradients are large, 1/(0.02·√(2π)) ≈ 20 at its peak, so its run is jumpy and its exact
# numbers differ from machine to machine; the checks hold with wide margins.)

# %%
# Check: the narrow bell reaches under 1 % of the samples and stalls; the wide one learns
sgd = dataclasses.replace(config, optimizer="sgd", lr=2.0)
narrow_run = list(train(dataclasses.replace(sgd, surrogate=Gaussian(sigma=0.02))))
wide_run = list(train(dataclasses.replace(sgd, surrogate=Gaussian(sigma=0.3))))
narrow_hist, wide_hist = narrow_run[-1].membrane[0], wide_run[-1].membrane[0]
assert narrow_hist.total == 50 * 64 * 64  # time steps x batch x hidden neurons
assert lens.coverage(Gaussian(sigma=0.02), narrow_hist, 1.0) < 0.01
assert lens.coverage(Gaussian(sigma=0.3), wide_hist, 1.0) > 0.25
assert narrow_run[-1].loss > 0.8 and wide_run[-1].loss < 0.3
print("sigma 0.02: under 1 % of the samples get gradient, and the loss stays above 0.8")
print("sigma 0.3: more than 25 % do, and the loss ends below 0.3")

# %% [markdown]
# With Adam, the default, the narrow bell does better than with gradient descent: Adam divides each
# weight's step by the running size of its own gradient, so the tiny gradients that do arrive are
# scaled up. But they come from very few samples, and the wide bell still learns far better.

# %%
# Check: with Adam the narrow bell learns something, and still far less than the wide one
adam_narrow = list(train(dataclasses.replace(config, surrogate=Gaussian(sigma=0.02))))
adam_wide = list(train(dataclasses.replace(config, surrogate=Gaussian(sigma=0.3))))
assert adam_narrow[-1].loss < 0.9 * adam_narrow[0].loss
assert adam_wide[-1].loss < 0.3 * adam_narrow[-1].loss
print("Adam: the narrow bell lowers the loss, the wide one ends below 30 % of the narrow one's loss")

# %% [markdown]
# ## 5.4 Fitting the width to the distribution
#
# `fit_width` reads a histogram and widens the bell until half of the samples receive gradient.
# Fit it to the first step's histogram (before any learning, the same for every surrogate: the
# forward pass does not use the surrogate), and train again: the gradient-descent run recovers.
# Coverage moves in steps of one bin, so the fit lands within one bin's share of one half; here one
# bin is large, because the neurons that receive no input at all sit at $v = 0$, $x = -1$.

# %%
# Check: fitted to step 1's histogram, the bell is several times wider, and the run learns
initial = list(train(dataclasses.replace(sgd, steps=1, record_every=1)))[0].membrane[0]
fitted = lens.fit_width(Gaussian(sigma=0.02), initial, 1.0, coverage=0.5)
assert 0.15 < fitted.sigma < 0.6
assert abs(lens.coverage(fitted, initial, 1.0) - 0.5) <= initial.fractions().max() + 0.01
fitted_run = list(train(dataclasses.replace(sgd, surrogate=fitted)))
assert fitted_run[-1].loss < 0.3
print("fitted sigma is between 0.15 and 0.6; trained with it, the loss ends below 0.3")

# %% [markdown]
# ## 5.5 The distribution moves during training
#
# The histogram is not fixed: learning changes the weights, and with them where the membrane
# potentials sit. Record every step of the wide-bell Adam run and compare the first step with the
# last: the distribution moves towards the threshold, more samples cross it (the hidden layer fires
# more), and more of them receive gradient. A width fitted at the start is not the width that fits
# at the end.

# %%
# Check: from step 1 to step 80 the histogram moves towards the threshold
moving = list(train(dataclasses.replace(config, surrogate=Gaussian(sigma=0.3), record_every=1)))
first, last = moving[0].membrane[0], moving[-1].membrane[0]
assert last.mean() > first.mean() + 0.03
assert last.fraction_at_or_above(0.0) > 3 * first.fraction_at_or_above(0.0)
assert lens.coverage(Gaussian(sigma=0.3), last, 1.0) > lens.coverage(Gaussian(sigma=0.3), first, 1.0) + 0.05
print("mean v - thr rises by more than 0.03, the fraction at or above the threshold more than "
      "triples, and the coverage grows by more than 0.05")

# %% tags=["nbval-ignore-output"]
# The numbers themselves (not compared: they vary in the last digits from machine to machine)
for name, h in (("step 1", first), ("step 80", last)):
    print(f"{name}: mean v - thr {h.mean():+.3f}, at or above thr {h.fraction_at_or_above(0.0):.2%}, "
          f"coverage {lens.coverage(Gaussian(sigma=0.3), h, 1.0):.1%}, "
          f"mean gain {lens.mean_gain(Gaussian(sigma=0.3), h, 1.0):.3f}")

# %% [markdown]
# ## 5.6 Gradient descent feels the scale, Adam barely does
#
# `grad_scale` multiplies the whole surrogate. With the reset detached and one hidden layer, the
# hidden layer's gradient is exactly proportional to it (notebook 3, section 3.6). For plain
# gradient descent the scale is then the hidden layer's own learning rate: at `grad_scale = 10` its
# steps are ten times larger, and a run that learned slowly learns fast. Adam divides each step by
# the gradient's own running size, so the factor cancels, up to Adam's $\epsilon = 10^{-8}$, which
# matters here only because some of these gradients are that small.

# %%
# Check: x10 scale: gradient descent's run changes a lot, Adam's stays close to the x1 run
detached = dataclasses.replace(config, detach_reset=True)
final = {}
for optimizer, lr in (("sgd", 0.25), ("adam", 0.01)):
    for grad_scale in (1.0, 10.0):
        surrogate = Gaussian(sigma=0.3, grad_scale=grad_scale)
        run = list(train(dataclasses.replace(detached, optimizer=optimizer, lr=lr, surrogate=surrogate)))
        final[optimizer, grad_scale] = run[-1].loss
sgd_1, sgd_10, adam_1, adam_10 = final["sgd", 1.0], final["sgd", 10.0], final["adam", 1.0], final["adam", 10.0]
assert sgd_1 > 0.4 and sgd_10 < 0.25
assert abs(adam_1 - adam_10) < 0.1 and max(adam_1, adam_10) < 0.25
print("SGD (lr 0.25): x1 ends above 0.4, x10 below 0.25; Adam: both end below 0.25, within 0.1 "
      "of each other")

# %% [markdown]
# **Exercise 1.** The explorer starts with `Gaussian(sigma=0.05)`. Before pressing *fit width*,
# predict: will the fitted `sigma` be larger or smaller than 0.05? Then press it and check the
# lens readout and the new loss curve.
#
# <details><summary>Hint</summary>
#
# Look at the lens (the upper figure's bottom panel): how much of the histogram lies within
# $\pm 0.05$ of the threshold, where the bell is tall? `fit_width` aims at half of the samples.
#
# </details>
#
# <details><summary>Answer</summary>
#
# Larger. The histogram is spread over several tenths of a volt below the threshold (its mean is
# near $-1$), so a bell of width 0.05 covers a few percent of it; covering half needs a bell several
# times wider (a `sigma` of about 0.3 here). The retrained run then learns faster.
#
# </details>

# %%
# Check (exercise 1): fitted to an explorer-like run, the width grows well beyond 0.05
start = list(train(dataclasses.replace(config, surrogate=Gaussian(sigma=0.05))))
assert lens.coverage(Gaussian(sigma=0.05), start[-1].membrane[0], 1.0) < 0.1
fit = lens.fit_width(Gaussian(sigma=0.05), start[-1].membrane[0], 1.0)
assert fit.sigma > 3 * 0.05
print("sigma 0.05 reaches under 10 % of the samples; the fitted sigma is more than three times as wide")

# %% [markdown]
# **Exercise 2.** `FastSigmoid(slope=100)` is a steep sigmoid. Is it "too narrow" in the sense of
# this notebook? Use the wide run's last histogram (`wide_hist`) and `lens.coverage` to decide, and
# compare with `slope=10`.
#
# <details><summary>Hint</summary>
#
# `FastSigmoid` never reaches zero: $1/(k|x| + 1)^2$ falls to 1 % of its peak at
# $|x| = 9/k$. Compare that distance with where the histogram is.
#
# </details>
#
# <details><summary>Answer</summary>
#
# At `slope=100` the surrogate is above 1 % of its peak only within 0.09 of the threshold, which
# holds well under 1 % of the samples; at `slope=10` it reaches out to 0.9, which holds about a
# third of them. So yes: a steep slope starves most neurons of gradient, as a narrow bell does, even
# though its tails never reach exactly zero.
#
# </details>

# %%
# Check (exercise 2): slope 100 reaches far fewer samples than slope 10
steep, gentle = lens.coverage(FastSigmoid(slope=100.0), wide_hist, 1.0), lens.coverage(FastSigmoid(slope=10.0), wide_hist, 1.0)
assert steep < 0.02 and gentle > 0.2
print("slope 100 reaches under 2 % of the samples, slope 10 more than 20 %")

# %% [markdown]
# ## References
#
# * Zenke & Vogels (2021), *The remarkable robustness of surrogate gradient learning for instilling complex function in spiking neural networks*, Neural Computation 33(4):899–925, doi:10.1162/neco_a_01367.
# * Neftci, Mostafa & Zenke (2019), *Surrogate gradient learning in spiking neural networks*, IEEE Signal Processing Magazine 36(6):51–63, doi:10.1109/MSP.2019.2931595.
# * Kingma & Ba (2015), *Adam: A method for stochastic optimization*, ICLR, arXiv:1412.6980.
