# %% [markdown]
# # 3 · Training a toy spiking network
#
# Notebooks 1 and 2 looked at one spike. Here a whole network learns, and every slider retrains it
# from the same seed, so what changes in the loss curve is caused by the slider alone.
#
# ## 3.1 The network
#
# Each hidden neuron is a leaky integrate-and-fire (LIF) unit in discrete time (Neftci, Mostafa &
# Zenke 2019 write SNNs this way, as recurrent networks with binary outputs):
#
# $$v[t] = \beta\, v[t-1] + I[t], \qquad S[t] = \Theta\bigl(v[t] - \vartheta\bigr), \qquad
#   v[t] \leftarrow v[t] - \vartheta\, S[t],$$
#
# where $I[t] = W x[t]$ is the input current, $\beta$ the membrane decay per step and the last step
# the reset by subtraction. A non-spiking leaky readout integrates the hidden spikes, and the class
# scores are the readout's maximum over time. The loss is the cross-entropy of those scores;
# the optimizer is Adam. Backpropagation through time uses the surrogate at every spike.
#
# ## 3.2 The task
#
# The inputs come from the random-manifold task of Zenke & Vogels (2021): each class is a smooth
# random curve in a 20-dimensional space, and each coordinate of a sample becomes the **time** at
# which one input neuron fires. Every input neuron fires exactly once per sample, so spike counts
# carry no information; only the relative timing does. We use 4 classes, 50 time steps and 200
# samples per class (80 % for training), small enough to train in about a second.
#
# ## 3.3 The explorer
#
# Left: the surrogate controls of notebook 1 plus learning rate, steps, reset, `detach_reset` and
# hidden layers. Right: the loss and accuracy of the current run, streamed while it trains; earlier
# runs stay as faded ghosts (*clear ghosts* removes them); the surrogate in use; and the gradient
# norm of each layer at the last step. A run that blows up says "diverged at step k".

# %% tags=["nbval-ignore-output"]
import math

import numpy as np

from sgexplore.sweep import COURSE_TASK
from sgexplore.train import TrainConfig
from sgexplore.widgets import TrainingExplorer

explorer = TrainingExplorer(surrogate="FastSigmoid", config=TrainConfig(**COURSE_TASK, steps=80))
explorer.widget

# %% [markdown]
# ## 3.4 A surrogate learns
#
# With `FastSigmoid` (peak 1, slope 10) and four classes, the first loss is close to $\ln 4 \approx
# 1.386$: an untrained readout gives all classes nearly the same score, and the cross-entropy of a
# uniform guess over $C$ classes is $\ln C$.
#
# **Try this:** drag `lr` and watch the loss curve; the previous run stays as a ghost.

# %%
# Check: the baseline learns; its first loss is ln 4 and data[0] of the figure is the loss curve
records = explorer.run()
baseline_accuracy = records[-1].test_accuracy
assert abs(records[0].loss - math.log(4)) < 0.05
assert records[-1].loss < 0.3 * records[0].loss and baseline_accuracy > 0.8
assert np.allclose(explorer.figure.data[0].y, [r.loss for r in records])
print(f"{len(records)} steps: loss {records[0].loss:.2f} -> {records[-1].loss:.2f}, "
      f"test accuracy {baseline_accuracy:.2f} (chance 0.25)")

# %% [markdown]
# ## 3.5 The true gradient does not learn
#
# Replace the surrogate by the true derivative of the step (`TrueGradient`, zero almost everywhere).
# No error reaches the hidden weights: their gradient is exactly zero at every step, so the hidden
# layer keeps its random initial weights. Only the readout learns, on whatever the random hidden
# layer happens to emit, and it stalls far below the surrogate run. This is the failure that
# surrogate gradients fix (Neftci, Mostafa & Zenke 2019; spytorch's first tutorial shows the same).

# %%
# Check: with the true gradient the hidden layer's gradient is exactly 0 at every step
explorer.controls["surrogate"].value = "TrueGradient"  # retrains at once
records = explorer.records
hidden_norms = [r.grad_norms[0] for r in records]
assert max(hidden_norms) == 0.0
assert records[-1].test_accuracy < baseline_accuracy - 0.2
print(f"largest hidden-layer gradient norm: {max(hidden_norms):.1f}; "
      f"test accuracy {records[-1].test_accuracy:.2f} vs {baseline_accuracy:.2f} with the surrogate")

# %% [markdown]
# ## 3.6 Too flat, too steep: the scale, and the reset
#
# Now keep the shape and change only `grad_scale`, which multiplies the surrogate and so sets its
# peak: 0.01 (flat), 1, and 100 (steep). Train each with the reset **detached** (no gradient
# through $v \leftarrow v - \vartheta S$) and **differentiable** (gradient flows through $S$).
#
# Two effects compete:
#
# * The hidden layer's gradient is proportional to the scale, but Adam divides each weight's step by
#   the running size of its own gradient. A scale that multiplies all of a layer's gradients by the
#   same constant therefore cancels (our derivation; it holds up to Adam's small $\epsilon$).
# * Through a differentiable reset, each time step multiplies the gradient by
#   $1 - \vartheta\,\sigma'(v-\vartheta)$ (notebook 2). A steep surrogate makes that factor much
#   larger than 1 in magnitude near the threshold, and the product over 50 time steps explodes. No
#   optimizer can divide that out, because it changes the *direction* of the gradient, not only its size.
#
# Prediction: with a detached reset the scale hardly matters; with a differentiable reset the steep
# surrogate fails. (With plain gradient descent instead of Adam, the flat surrogate would also fail,
# by learning 100 times more slowly.)

# %%
# Check: the scale matters through the differentiable reset, not through the detached one
runs, lines = {}, []
# Changes inside `with explorer.panel.hold():` wait for explorer.run() instead of retraining each.
for detach in (True, False):
    for scale in (0.01, 1.0, 100.0):
        with explorer.panel.hold():
            explorer.controls["surrogate"].value = "FastSigmoid"
            explorer.controls["detach_reset"].value = detach
            explorer.controls["grad_scale"].value = scale
        records = explorer.run()
        runs[detach, scale] = records
        lines.append(f"reset {'detached' if detach else 'differentiable':>14}, peak {scale:>6}: "
                     f"test accuracy {records[-1].test_accuracy:.2f}, "
                     f"largest hidden gradient norm {max(r.grad_norms[0] for r in records):.1e}")
print("\n".join(lines))
accuracy = {key: records[-1].test_accuracy for key, records in runs.items()}
detached = [accuracy[True, s] for s in (0.01, 1.0, 100.0)]
assert max(detached) - min(detached) < 0.05                   # Adam cancels the scale
assert abs(accuracy[False, 0.01] - accuracy[True, 0.01]) < 0.05  # a flat surrogate barely feels the reset
assert accuracy[False, 100.0] < accuracy[False, 1.0] - 0.2     # a steep one fails through it
assert max(r.grad_norms[0] for r in runs[False, 100.0]) > 1e6  # because its gradients explode

# %% [markdown]
# Look at the gradient-norm panel for the last run: the hidden layer's gradient is many orders of
# magnitude above the readout's. That is the explosion through the reset. Zenke & Vogels (2021)
# report the same pattern: the surrogate's scale matters most when gradients flow through the reset.
# Notebook 4 repeats this over three shapes and five scales.
#
# **Try this:** with the steep surrogate and a differentiable reset, tick `detach_reset`. Then untick
# it and lower `grad_scale` step by step: at which peak does learning recover? Compare with the
# condition $\vartheta\,\sigma'_{\max} > 2$ from notebook 2.

# %% [markdown]
# ## 3.7 When a run diverges
#
# Keep the steep surrogate and the differentiable reset, and switch off the leak ($\beta = 1$). Now
# nothing damps the gradient between time steps, and the product of reset factors over 50 steps
# overflows on the very first backward pass. The explorer then stops the run and says where,
# instead of showing a traceback.

# %%
# Check: a diverging run ends with a message, not an error
with explorer.panel.hold():
    explorer.controls["beta"].value = 1.0
records = explorer.run()
assert records[-1].status == "diverged"
assert explorer.message == f"diverged at step {records[-1].step}"
print(explorer.message)

# %% [markdown]
# ## Exercises
#
# 1. Use two hidden layers (`hidden` = `64, 64`) with the baseline surrogate. Does the true gradient
#    now fail even more clearly? Why?
# 2. Find the largest `grad_scale` that still learns with a differentiable reset for `FastSigmoid`,
#    then for `SigmoidDerivative`. Are they the same *peak*?
# 3. Switch `reset` to `zero` (the membrane is set to 0 after a spike). Does the scale still matter
#    with a differentiable reset?
# 4. In 3.7, lower `beta` from 1 in small steps. From which leak on does the run stop diverging,
#    and how does that relate to the factor $\beta\,(1 - \vartheta\sigma')$ per time step?
#
# ## References
#
# * Neftci, Mostafa & Zenke (2019), *Surrogate gradient learning in spiking neural networks*, IEEE Signal Processing Magazine 36(6):51–63, doi:10.1109/MSP.2019.2931595.
# * Zenke & Vogels (2021), *The remarkable robustness of surrogate gradient learning for instilling complex function in spiking neural networks*, Neural Computation 33(4):899–925, doi:10.1162/neco_a_01367.
# * Zenke, *spytorch* tutorials, github.com/fzenke/spytorch (Tutorial 1: the true gradient does not train the hidden layer).
# * Zenke & Ganguli (2018), *SuperSpike*, Neural Computation 30(6):1514–1541, doi:10.1162/neco_a_01086.
