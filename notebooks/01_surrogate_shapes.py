# %% [markdown]
# # 1 · Surrogate shapes: what every slider does
#
# A spiking neuron emits a spike when its membrane potential $v$ reaches the threshold $\vartheta$:
#
# $$S(v) = \Theta(v - \vartheta) = \begin{cases} 1 & v \ge \vartheta \\ 0 & v < \vartheta \end{cases}$$
#
# The derivative of this step is zero everywhere except at $v = \vartheta$, where it is infinite.
# Backpropagation multiplies by $\partial S / \partial v$ at every spike, so with the true derivative
# no error signal ever reaches the weights. Neftci, Mostafa & Zenke (2019) describe this as an extreme case
# of the vanishing gradient problem.
#
# A **surrogate gradient** keeps the step in the forward pass and, in the backward pass only,
# replaces $\partial S/\partial v$ by a smooth bump $\sigma'(v)$ centred near the threshold:
#
# $$\frac{\partial S}{\partial v} \;\longrightarrow\; \sigma'(v - \vartheta).$$
#
# This notebook is about that bump: its **shape** (which function), its **width** (how far from
# the threshold it reaches) and its **scale** (how tall it is, or how much area it has).
# Notebook 2 shows how the bump enters autograd, notebook 3 trains a network with it, and
# notebook 4 asks which of these properties matters for learning.
#
# *Notation.* $x = v - \vartheta$ is the distance from the threshold; $\mathcal N(x;\mu,s)$ is the
# normal density with mean $\mu$ and standard deviation $s$.

# %% tags=["nbval-ignore-output"]
import math

import numpy as np

from sgexplore import registry
from sgexplore.widgets import SurrogateExplorer

explorer = SurrogateExplorer(surrogate="MultiGaussian")
explorer.widget

# %% [markdown]
# ## 1.1 The explorer
#
# The left panel shows the surrogate $\sigma'(v)$ against the membrane potential, with the threshold
# marked. The right panel shows its **primitive** $P(v) = \int_{-\infty}^{v} \sigma'(u)\,du$ next to
# the true step: the smooth function whose derivative the backward pass pretends the forward pass
# has. The readouts give the **peak** $\max_v \sigma'(v)$ and the **area** $\int \sigma'(v)\,dv$.
#
# Every slider comes from the surrogate's parameter declaration, so a surrogate you register
# yourself (section 1.7) gets the same controls. *Pin* keeps the current curve for comparison;
# *normalise* rescales the curve to peak 1 or area 1, which separates **shape** from **scale**.
#
# The cells marked *check* drive the explorer from code and compare what it draws with the formula
# in the text. Run them after playing, or read them as worked examples.

# %% [markdown]
# ## 1.2 The family
#
# sgexplore starts from the five surrogates of sinabs and adds the other common ones. Each is one
# small class; its docstring states the formula and whether widths are absolute or relative to the
# threshold.
#
# | surrogate | $\sigma'(x)$ | source |
# |---|---|---|
# | `Heaviside` | $\mathbb 1[v \ge \vartheta - \text{window}]/\vartheta$ | sinabs |
# | `Gaussian` | $\text{grad\_scale}\cdot\mathcal N(x;\mu,\sigma)$ | sinabs |
# | `MultiGaussian` | $\text{grad\_scale}\,[(1{+}h)\mathcal N(x;\mu,\sigma) - h\mathcal N(x;\sigma,s\sigma) - h\mathcal N(x;-\sigma,s\sigma)]$ | Yin, Corradi & Bohté (2021) |
# | `SingleExponential` | $\frac{\text{grad\_scale}}{\vartheta w}\,e^{-\lvert x\rvert/(\vartheta w)}$ | Shrestha & Orchard (2018), SLAYER |
# | `PeriodicExponential` | $\text{grad\_scale}\,e^{-\lvert z\rvert/w}$, $z$ the distance to the nearest multiple of $\vartheta$ | Weidel & Sheik (2021), WaveSense |
# | `FastSigmoid` | $\text{grad\_scale}/(\text{slope}\,\lvert x\rvert+1)^2$ | Zenke & Ganguli (2018), SuperSpike |
# | `ArcTan` | $\text{grad\_scale}\,\frac{\alpha/2}{1+(\pi\alpha x/2)^2}$ | Fang et al. (2021) |
# | `SigmoidDerivative` | $\text{grad\_scale}\cdot k\,s(kx)\,s(-kx)$, $s$ the logistic | Zenke & Vogels (2021) |
# | `Triangle` | $\text{grad\_scale}\,\max(0, 1-\lvert x\rvert/w)$ | Esser et al. (2016) |
# | `DampenedTriangle` | $\frac{\gamma}{\vartheta}\max(0, 1-\lvert x\rvert/\vartheta)$ | Bellec et al. (2018), LSNN |
# | `Box` | $\frac{\text{grad\_scale}}{2w}\,\mathbb 1[\lvert x\rvert<w]$ | rectangular pseudo-derivative |
# | `StraightThrough` | $\text{grad\_scale}$ | Bengio, Léonard & Courville (2013) |
# | `TrueGradient` | $0$ (the true derivative, away from $x=0$) | for comparison |

# %%
# Check: every surrogate of the table is registered and selectable
names = sorted(registry())
assert set(explorer.controls["surrogate"].options) >= set(names)
print(len(names), "surrogates:", ", ".join(names))

# %% [markdown]
# ## 1.3 sigma and mu: width and position of a bell
#
# For the `Gaussian` (and the central bell of `MultiGaussian`), $\sigma$ sets the width and $\mu$
# shifts the bell's centre to $v = \vartheta + \mu$. Because the bell is a normalised density, its
# area is fixed at `grad_scale`, so a narrower bell is **taller**:
#
# $$\text{peak} = \frac{\text{grad\_scale}}{\sigma\sqrt{2\pi}}, \qquad \text{area} = \text{grad\_scale}.$$
#
# **Try this:** pick `Gaussian`, pin the curve, and halve `sigma`. The peak doubles; the area readout
# stays at 1.

# %%
# Check: a Gaussian with sigma = 0.3 peaks at 1/(0.3·sqrt(2π)) at v = thr + mu, with area 1
explorer.controls["surrogate"].value = "Gaussian"
explorer.controls["sigma"].value = 0.3
explorer.controls["mu"].value = 0.2
curve = explorer.figure.data[0]
v, grad = np.asarray(curve.x, dtype=float), np.asarray(curve.y, dtype=float)
expected_peak = 1 / (0.3 * math.sqrt(2 * math.pi))
assert abs(grad.max() - expected_peak) < 1e-2 * expected_peak
assert abs(v[grad.argmax()] - (explorer.spike_threshold + 0.2)) < 0.02
assert abs(np.trapezoid(grad, v) - 1.0) < 1e-2
print(f"peak {grad.max():.3f} (formula {expected_peak:.3f}) at v = {v[grad.argmax()]:.2f}; "
      f"area {np.trapezoid(grad, v):.3f}")

# %% [markdown]
# ## 1.4 MultiGaussian: negative side lobes
#
# Yin, Corradi & Bohté (2021) subtract two wide, shallow Gaussians centred at $\pm\sigma$ from a
# narrow one. Far from the threshold the surrogate turns slightly **negative**: for a neuron far
# from firing, the gradient changes sign. Yin et al. call it an activity-regularising surrogate. With
# $h$ the depth and $s$ the width of the side lobes (in units of $\sigma$), the area is
#
# $$\int \sigma'(x)\,dx = \text{grad\_scale}\,\bigl((1+h) - h - h\bigr) = \text{grad\_scale}\,(1-h).$$
#
# Note that `mu` moves only the central bell; the side lobes stay at $\pm\sigma$ (as in sinabs).
# Yin et al.'s own code also multiplies the whole surrogate by 0.5; set `grad_scale = 0.5` to match it.
#
# **Try this:** set `h = 0` (a plain Gaussian, scaled by 1), then raise `h` and watch the minimum
# drop below zero.

# %%
# Check: the MultiGaussian's value 1.8 above threshold, from the formula typed out by hand; area grad_scale·(1 − h)
explorer.controls["surrogate"].value = "MultiGaussian"
explorer.controls["h"].value = 0.3
curve = explorer.figure.data[0]
v, grad = np.asarray(curve.x, dtype=float), np.asarray(curve.y, dtype=float)
normal = lambda x, mean, std: math.exp(-((x - mean) ** 2) / (2 * std**2)) / (std * math.sqrt(2 * math.pi))
x = 1.8  # sigma = 0.5, s = 6: the side lobes have standard deviation 3
by_hand = 1.3 * normal(x, 0, 0.5) - 0.3 * normal(x, 0.5, 3.0) - 0.3 * normal(x, -0.5, 3.0)
drawn = np.interp(explorer.spike_threshold + x, v, grad)
assert by_hand < 0 and abs(drawn - by_hand) < 1e-4
# The side lobes are 3 wide, far wider than the plot, so the area comes from the readout.
assert abs(explorer.view.area - (1 - 0.3)) < 1e-9
print(f"value 1.8 above threshold: drawn {drawn:.4f}, formula {by_hand:.4f}; area {explorer.view.area:.3f}")

# %% [markdown]
# ## 1.5 window: the one-sided step
#
# sinabs' `Heaviside` surrogate is **not** a box around the threshold: it is $1/\vartheta$ for every
# $v \ge \vartheta - \text{window}$ and never returns to zero above the threshold. `window` is an
# absolute distance (sinabs' docstring calls it relative; its code does not scale it). With the
# default `window = 1` and $\vartheta = 1$ it is 1 for all $v \ge 0$: the slope of the multi-spike
# staircase of notebook 2.

# %%
# Check: Heaviside with window 0.5 is 0 below thr − 0.5 and 1/thr above it
explorer.controls["surrogate"].value = "Heaviside"
explorer.controls["window"].value = 0.5
curve = explorer.figure.data[0]
v, grad = np.asarray(curve.x, dtype=float), np.asarray(curve.y, dtype=float)
thr = explorer.spike_threshold
below, above = np.interp(thr - 0.6, v, grad), np.interp(thr - 0.4, v, grad)
assert below == 0 and abs(above - 1 / thr) < 1e-9
print(f"at thr - 0.6: {below:.2f}; at thr - 0.4: {above:.2f}")

# %% [markdown]
# ## 1.6 grad_width and grad_scale; peak versus area
#
# Most surrogates have a width and a `grad_scale` that multiplies the whole curve. What the width
# does to the peak depends on how the formula is normalised:
#
# | surrogate | peak | area |
# |---|---|---|
# | `SingleExponential` | $\text{grad\_scale}/(\vartheta w)$ | $2\,\text{grad\_scale}$ |
# | `Triangle` | $\text{grad\_scale}$ | $\text{grad\_scale}\cdot w$ |
# | `FastSigmoid` | $\text{grad\_scale}$ | $2\,\text{grad\_scale}/\text{slope}$ |
# | `Gaussian`, `ArcTan`, `SigmoidDerivative` | grows as the width shrinks | $\text{grad\_scale}$ |
#
# So "make the surrogate steeper" means two different things: for `FastSigmoid` a steeper slope keeps
# the peak and **removes** area; for `SigmoidDerivative` it keeps the area and **raises** the peak.
# Zenke & Vogels (2021) found that the peak (the *scale*) is what matters for learning; notebook 4
# replays that experiment. The *normalise* control divides the curve by its peak or by its area, so
# you can compare shapes at equal scale.
#
# **Try this:** with `FastSigmoid`, pin the curve, raise `slope` from 10 to 100 and read the area.
# Then switch *normalise* to "area" and compare the two shapes again.

# %%
# Check: SingleExponential with w = 0.25, grad_scale = 10: peak grad_scale/(thr·w), area 2·grad_scale; then area 1
explorer.controls["surrogate"].value = "SingleExponential"
explorer.controls["grad_width"].value = 0.25
explorer.controls["grad_scale"].value = 10.0
curve = explorer.figure.data[0]
v, grad = np.asarray(curve.x, dtype=float), np.asarray(curve.y, dtype=float)
thr = explorer.spike_threshold
assert abs(grad.max() - 10.0 / (thr * 0.25)) < 1e-3 * grad.max()
assert abs(np.trapezoid(grad, v) - 2 * 10.0) < 1e-2 * 20
explorer.controls["normalise"].value = "area"
normalised = explorer.figure.data[0]
area = np.trapezoid(np.asarray(normalised.y, dtype=float), np.asarray(normalised.x, dtype=float))
assert abs(area - 1.0) < 1e-2
explorer.controls["normalise"].value = "none"
print(f"peak {grad.max():.2f} (formula {10.0 / (thr * 0.25):.2f}), area {np.trapezoid(grad, v):.2f} "
      f"(formula {2 * 10.0:.2f}); normalised to area 1: {area:.3f}")

# %% [markdown]
# ## 1.7 Relative versus absolute parameters
#
# When the threshold changes, does the surrogate stretch with it? That depends on the parameter:
#
# * **relative** parameters are measured in units of $\vartheta$. `SingleExponential`'s
#   `grad_width` is relative: the decay length is $\vartheta\,w$, so doubling the threshold doubles
#   the width and halves the peak (SLAYER's convention, Shrestha & Orchard 2018).
# * **absolute** parameters are in membrane-potential units: `Gaussian`'s `sigma`,
#   `PeriodicExponential`'s `grad_width`, `Heaviside`'s `window`. Doubling $\vartheta$ moves the
#   bump but keeps its width.
#
# Each slider's tooltip says which convention it follows. The difference matters when you copy a
# surrogate between networks with different thresholds.
#
# **Try this:** move the threshold slider with `SingleExponential`, then with `Gaussian`.

# %%
# Check: doubling the threshold halves SingleExponential's peak (relative width) but not Gaussian's
explorer.reset()
explorer.controls["surrogate"].value = "SingleExponential"
explorer.controls["spike_threshold"].value = 1.0
peak_at_1 = float(np.max(explorer.figure.data[0].y))
explorer.controls["spike_threshold"].value = 2.0
peak_at_2 = float(np.max(explorer.figure.data[0].y))
assert abs(peak_at_2 - peak_at_1 / 2) < 1e-2 * peak_at_1
explorer.controls["surrogate"].value = "Gaussian"
gauss_peak_at_2 = float(np.max(explorer.figure.data[0].y))
assert abs(gauss_peak_at_2 - 1 / (0.5 * math.sqrt(2 * math.pi))) < 1e-2
print(f"SingleExponential peak: thr=1 {peak_at_1:.3f}, thr=2 {peak_at_2:.3f}; "
      f"Gaussian peak at thr=2: {gauss_peak_at_2:.3f}")

# %% [markdown]
# ## 1.8 Your own surrogate
#
# A surrogate is one small frozen dataclass with declared parameters and a `grad` method. Registering
# it makes it appear in every explorer displayed from then on, with sliders built from its
# declarations and no UI code. `check_surrogate` then checks the contract every built-in passes:
# validation from the declarations, primitive′ = surrogate, peak and area against numerics, the
# spike's backward exactly the surrogate, and every dtype.
# Here is a raised cosine, $\sigma'(x) = \frac{1}{2w}\bigl(1+\cos(\pi x/w)\bigr)$ for $\lvert x\rvert<w$,
# whose area is 1 for every width $w$:

# %%
from dataclasses import dataclass

import torch

from sgexplore import Surrogate, check_surrogate, register
from sgexplore.params import param


@register
@dataclass(frozen=True)
class RaisedCosine(Surrogate):
    """(1 + cos(pi x / w)) / (2 w) for |x| < w, else 0; area 1."""

    width: float = param(0.5, low=0.0, low_open=True, slider=(0.05, 2.0, 0.05), convention="absolute",
                         doc="half-width of the bump (absolute)")

    def grad(self, v_mem, spike_threshold):
        x = v_mem - spike_threshold
        return (torch.abs(x) < self.width) * (1 + torch.cos(math.pi * x / self.width)) / (2 * self.width)


check_surrogate(RaisedCosine)  # raises SurrogateContractError, listing every failure, if one fails

# %% tags=["nbval-ignore-output"]
explorer_with_cosine = SurrogateExplorer(surrogate="RaisedCosine")
explorer_with_cosine.widget

# %%
# Check: the registered surrogate is selectable, gets a width slider, and peaks at 1/w
assert "RaisedCosine" in explorer_with_cosine.controls["surrogate"].options
explorer_with_cosine.controls["width"].value = 0.25
curve = explorer_with_cosine.figure.data[0]
v, grad = np.asarray(curve.x, dtype=float), np.asarray(curve.y, dtype=float)
assert abs(grad.max() - 1 / 0.25) < 1e-2 * 4
assert abs(np.trapezoid(grad, v) - 1.0) < 1e-2
print(f"RaisedCosine(width=0.25): peak {grad.max():.3f} (formula 4.000), area {np.trapezoid(grad, v):.3f}")

# %% [markdown]
# ## Exercises
#
# 1. Find parameters for which `Gaussian`, `FastSigmoid` and `Triangle` have the same peak **and**
#    nearly the same area. How different do they still look?
# 2. `SigmoidDerivative` with slope 4 and `ArcTan` with $\alpha = 2$ both have peak 1 and area 1.
#    Pin one, select the other: where do they differ, and would you expect that to matter?
# 3. Set the `MultiGaussian` to Yin et al.'s values (`grad_scale = 0.5`) and read its peak and area.
#    Compare them with sinabs' default `SingleExponential` (peak 2, area 2): by what factor do the
#    two scales differ?
# 4. Which surrogates of the table change their *shape*, not only their position, when the threshold
#    goes from 1 to 2? Predict from the formulas, then check with the threshold slider.
#
# ## References
#
# * Neftci, Mostafa & Zenke (2019), *Surrogate gradient learning in spiking neural networks*, IEEE Signal Processing Magazine 36(6):51–63, doi:10.1109/MSP.2019.2931595.
# * Zenke & Ganguli (2018), *SuperSpike*, Neural Computation 30(6):1514–1541, doi:10.1162/neco_a_01086.
# * Zenke & Vogels (2021), *The remarkable robustness of surrogate gradient learning…*, Neural Computation 33(4):899–925, doi:10.1162/neco_a_01367.
# * Yin, Corradi & Bohté (2021), *Accurate and efficient time-domain classification with adaptive spiking recurrent neural networks*, Nature Machine Intelligence 3:905–913, doi:10.1038/s42256-021-00397-w.
# * Shrestha & Orchard (2018), *SLAYER: Spike Layer Error Reassignment in Time*, NeurIPS 31, arXiv:1810.08646.
# * Weidel & Sheik (2021), *WaveSense*, arXiv:2111.01456.
# * Esser et al. (2016), *Convolutional networks for fast, energy-efficient neuromorphic computing*, PNAS 113(41):11441–11446, doi:10.1073/pnas.1604850113.
# * Bellec et al. (2018), *Long short-term memory and learning-to-learn in networks of spiking neurons*, NeurIPS 2018, arXiv:1803.09574.
# * Fang et al. (2021), *Incorporating learnable membrane time constant to enhance learning of spiking neural networks*, ICCV 2021.
# * Bengio, Léonard & Courville (2013), *Estimating or propagating gradients through stochastic neurons for conditional computation*, arXiv:1308.3432 (cited from the package docstring; not in the project's verified literature notes).
