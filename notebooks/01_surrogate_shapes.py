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
# replaces $\partial S/\partial v$ by a surrogate $\sigma'(v - \vartheta)$, usually a bump centred
# near the threshold:
#
# $$\frac{\partial S}{\partial v} \;\longrightarrow\; \sigma'(v - \vartheta).$$
#
# This notebook is about that bump: its **shape** (which function), its **width** (how far from
# the threshold it reaches) and its **scale** (how tall it is, or how much area it has).
# Notebook 2 shows how the bump enters autograd, notebook 3 trains a network with it, and
# notebook 4 asks which of these properties matters for learning.
#
# *Notation.* $x = v - \vartheta$ is the distance from the threshold; in code the threshold is
# `spike_threshold`, written `thr` in formulas. $\sigma'$ always means the surrogate; a surrogate's
# parameters keep their code names (`sigma`, `grad_width`, `grad_scale`, ...).
# $\mathcal N(x;\,\text{mean},\,\text{sd})$ is the normal density with that mean and standard deviation.

# %% tags=["nbval-ignore-output"]
import math

import numpy as np
from IPython.display import Markdown

from sgexplore import registry
from sgexplore.surrogates import markdown_table
from sgexplore.widgets import SurrogateExplorer

explorer = SurrogateExplorer(surrogate="MultiGaussian")
explorer.widget

# %% [markdown]
# ## 1.1 The explorer
#
# The top panel shows the surrogate $\sigma'(v - \vartheta)$ against the membrane potential $v$,
# with the threshold marked. The bottom panel shows its **primitive**
# $P(v) = \int_{-\infty}^{v} \sigma'(u - \vartheta)\,du$ next to the true step: the smooth function
# whose derivative the backward pass pretends the forward pass has. The readouts give the **peak**
# $\max_v \sigma'(v - \vartheta)$ and the **area** $\int \sigma'(v - \vartheta)\,dv$.
#
# Every parameter slider comes from the surrogate's parameter declaration, so a surrogate you
# register yourself (section 1.8) gets the same controls. *Pin* keeps the current curve, dashed,
# for comparison; *normalise* rescales the curve, and the pinned ones with it, to peak 1 or area 1
# where that is finite, which separates **shape** from **scale**. *Reset to defaults* puts the
# controls back to the values this explorer was built with; the chosen surrogate stays.
#
# The cells marked *Check* build their own explorer (`checker`, never displayed), drive it from
# code, compare what it draws with the formula in the text, and close it. The explorers you see
# keep the state their cell built until you move them; read the checks as worked examples.

# %% [markdown]
# ## 1.2 The family
#
# sgexplore starts from the five surrogates of sinabs (`Heaviside`, `Gaussian`, `MultiGaussian`,
# `SingleExponential`, `PeriodicExponential`), adds the symmetric variant of the periodic one and
# the other common surrogates. Each is one small class; its docstring states the formula and whether
# widths are absolute or relative to the threshold. The table below is generated from the registry
# (`markdown_table()`), so it lists exactly the registered classes and their declared defaults.
# In it, `thr` is $\vartheta$, `w` is the row's `grad_width`, `frac` the fractional part, `σ` the
# `sigma` parameter (in the `MultiGaussian` row) and `logistic` the function $1/(1+e^{-x})$.

# %%
Markdown(markdown_table())

# %%
# Check: the table has one row per registered surrogate, and the explorer offers each of them
names = list(registry())
table_rows = markdown_table().splitlines()[2:]
assert [row.split("`")[1] for row in table_rows] == names
assert set(explorer.controls["surrogate"].options) >= set(names)
print(len(names), "surrogates:", ", ".join(names))

# %% [markdown]
# ## 1.3 sigma and mu: width and position of a bell
#
# For the `Gaussian` (and the central bell of `MultiGaussian`), `sigma` sets the width and `mu`
# shifts the bell's centre to $v = \vartheta + \text{mu}$. Because the bell is a normalised density,
# its area is fixed at `grad_scale`, so a narrower bell is **taller**:
#
# $$\text{peak} = \frac{\text{grad\_scale}}{\text{sigma}\,\sqrt{2\pi}}, \qquad \text{area} = \text{grad\_scale}.$$
#
# **Try this:** pick `Gaussian`, pin the curve, and halve `sigma` (0.5 to 0.25). The peak doubles;
# the area readout stays at 1.

# %%
# Check: a Gaussian with sigma = 0.3, mu = 0.2 peaks at 1/(0.3·sqrt(2π)) at v = thr + mu, with area 1
checker = SurrogateExplorer(surrogate="Gaussian", sigma=0.3, mu=0.2)
curve = checker.figure.data[0]
v, grad = np.asarray(curve.x, dtype=float), np.asarray(curve.y, dtype=float)
expected_peak = 1 / (0.3 * math.sqrt(2 * math.pi))
assert abs(grad.max() - expected_peak) < 1e-2 * expected_peak
assert abs(v[grad.argmax()] - (checker.spike_threshold + 0.2)) < 0.02
assert abs(np.trapezoid(grad, v) - 1.0) < 1e-2
print(f"drawn peak within 1% of the formula {expected_peak:.4f}, at v = thr + 0.2 within 0.02; "
      "drawn area within 0.01 of 1")
checker.close()  # done checking: free its widgets (a reloaded page restores every open one)

# %% [markdown]
# ## 1.4 MultiGaussian: negative side lobes
#
# Yin, Corradi & Bohté (2021) subtract two wide, shallow Gaussians centred at $\pm$`sigma` from a
# narrow one. Far from the threshold the surrogate turns slightly **negative**: for a neuron far
# from firing, the gradient changes sign. With `h` the depth and `s` the width of the side lobes
# (in units of `sigma`), the area is
#
# $$\int \sigma'(x)\,dx = \text{grad\_scale}\,\bigl((1+h) - h - h\bigr) = \text{grad\_scale}\,(1-h).$$
#
# Note that `mu` moves only the central bell; the side lobes stay at $\pm$`sigma` (as in sinabs).
# Yin et al.'s own code also multiplies the whole surrogate by 0.5; set `grad_scale = 0.5` to match it.
#
# **Try this:** set `h = 0` (a plain Gaussian, scaled by 1), then raise `h` and watch the minimum
# drop below zero.

# %%
# Check: the MultiGaussian's value 1.8 above threshold, from the formula typed out by hand; area grad_scale·(1 − h)
checker = SurrogateExplorer(surrogate="MultiGaussian", h=0.3)
curve = checker.figure.data[0]
v, grad = np.asarray(curve.x, dtype=float), np.asarray(curve.y, dtype=float)
normal = lambda x, mean, std: math.exp(-((x - mean) ** 2) / (2 * std**2)) / (std * math.sqrt(2 * math.pi))
x = 1.8  # sigma = 0.5, s = 6: the side lobes have standard deviation 3
by_hand = 1.3 * normal(x, 0, 0.5) - 0.3 * normal(x, 0.5, 3.0) - 0.3 * normal(x, -0.5, 3.0)
drawn = np.interp(checker.spike_threshold + x, v, grad)
assert by_hand < 0 and abs(drawn - by_hand) < 1e-4
# The side lobes are 3 wide, far wider than the plot, so the area comes from the readout.
assert abs(checker.view.area - (1 - 0.3)) < 1e-9
print(f"value 1.8 above threshold: formula {by_hand:.4f}, drawn within 1e-4 of it; "
      f"area readout {1 - 0.3:.2f} = 1 - h")
checker.close()

# %% [markdown]
# ## 1.5 window: the one-sided step
#
# sinabs' `Heaviside` surrogate is **not** a box around the threshold: it is $1/\vartheta$ for every
# $v \ge \vartheta - \text{window}$ and never returns to zero above the threshold. `window` is an
# absolute distance (sinabs' docstring calls it relative; its code does not scale it). With the
# default `window = 1` and $\vartheta = 1$ it is 1 for all $v \ge 0$: the average slope of the
# multi-spike staircase of notebook 2, which rises by one spike per $\vartheta$.

# %%
# Check: Heaviside with window 0.5 is 0 below thr − 0.5 and 1/thr above it
checker = SurrogateExplorer(surrogate="Heaviside", window=0.5)
curve = checker.figure.data[0]
v, grad = np.asarray(curve.x, dtype=float), np.asarray(curve.y, dtype=float)
thr = checker.spike_threshold
below, above = np.interp(thr - 0.6, v, grad), np.interp(thr - 0.4, v, grad)
assert below == 0 and abs(above - 1 / thr) < 1e-9
print(f"at thr - 0.6: {below:.2f}; at thr - 0.4: {above:.2f}")
checker.close()

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
# ($w$ is `grad_width`.) So "make the surrogate steeper" means two different things: for
# `FastSigmoid` a steeper slope keeps the peak and **removes** area; for `SigmoidDerivative` it
# keeps the area and **raises** the peak. Zenke & Vogels (2021) found learning robust to the shape
# but sensitive to the scale (the peak); notebook 4 replays that experiment. The *normalise* control
# divides the curve by its peak or by its area, so you can compare shapes at equal scale.
#
# **Try this:** with `FastSigmoid`, pin the curve, raise `slope` from 10 to 100 and read the area
# (0.2, then 0.02). Then switch *normalise* to "area": the pinned curve is rescaled with the current
# one, both now have area 1, and only their shapes differ.

# %%
# Check: SingleExponential with w = 0.25, grad_scale = 10: peak grad_scale/(thr·w), area 2·grad_scale; then area 1
checker = SurrogateExplorer(surrogate="SingleExponential", grad_width=0.25, grad_scale=10.0)
curve = checker.figure.data[0]
v, grad = np.asarray(curve.x, dtype=float), np.asarray(curve.y, dtype=float)
thr = checker.spike_threshold
assert abs(grad.max() - 10.0 / (thr * 0.25)) < 1e-3 * grad.max()
assert abs(np.trapezoid(grad, v) - 2 * 10.0) < 1e-2 * 20
checker.controls["normalise"].value = "area"
normalised = checker.figure.data[0]
area = np.trapezoid(np.asarray(normalised.y, dtype=float), np.asarray(normalised.x, dtype=float))
assert abs(area - 1.0) < 1e-2
print(f"drawn peak within 0.1% of grad_scale/(thr·w) = {10.0 / (thr * 0.25):.1f}, drawn area within 1% "
      f"of 2·grad_scale = {2 * 10.0:.1f}; normalised to area: within 0.01 of 1")
checker.close()

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
# Each parameter slider's tooltip says which convention it follows. The difference matters when you
# copy a surrogate between networks with different thresholds.
#
# **Try this:** move the threshold slider with `SingleExponential`, then with `Gaussian`, and watch
# the peak readout. Read the x axis too: above $\vartheta = 1$ the plot spans $\vartheta \pm 2\vartheta$,
# so every curve *looks* narrower at a larger threshold.

# %%
# Check: doubling the threshold halves SingleExponential's peak (relative width) but not Gaussian's
checker = SurrogateExplorer(surrogate="SingleExponential", spike_threshold=1.0)
peak_at_1 = float(np.max(checker.figure.data[0].y))
checker.controls["spike_threshold"].value = 2.0
peak_at_2 = float(np.max(checker.figure.data[0].y))
assert abs(peak_at_2 - peak_at_1 / 2) < 1e-2 * peak_at_1
checker.controls["surrogate"].value = "Gaussian"
gauss_peak_at_2 = float(np.max(checker.figure.data[0].y))
assert abs(gauss_peak_at_2 - 1 / (0.5 * math.sqrt(2 * math.pi))) < 1e-2
print(f"SingleExponential peak: thr=1 {1 / 0.5:.1f}, thr=2 {1 / (2 * 0.5):.1f} (drawn, within 1%); "
      f"Gaussian peak at thr=2: {1 / (0.5 * math.sqrt(2 * math.pi)):.4f} as at thr=1 (drawn, within 0.01)")
checker.close()

# %% [markdown]
# ## 1.8 Your own surrogate
#
# A surrogate is one small frozen dataclass with declared parameters and a `grad` method. Registering
# it adds it to the registry, and so to the surrogate menu of every explorer displayed from then on
# (an explorer reads the registry each time it is shown), with sliders built from its declarations
# and no UI code. `check_surrogate` then checks the
# contract every built-in passes: validation from the declarations, primitive′ = surrogate, peak and
# area against numerics, the spike's backward exactly the surrogate, and every dtype.
# Here is a raised cosine, $\sigma'(x) = \frac{1}{2w}\bigl(1+\cos(\pi x/w)\bigr)$ for $\lvert x\rvert<w$,
# whose area is 1 for every width $w$ (the parameter `width`):

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
checker = SurrogateExplorer(surrogate="RaisedCosine", width=0.25)
assert "RaisedCosine" in explorer_with_cosine.controls["surrogate"].options
assert "width" in explorer_with_cosine.controls and "width" in checker.controls
curve = checker.figure.data[0]
v, grad = np.asarray(curve.x, dtype=float), np.asarray(curve.y, dtype=float)
assert abs(grad.max() - 1 / 0.25) < 1e-2 * 4
assert abs(np.trapezoid(grad, v) - 1.0) < 1e-2
print("RaisedCosine(width=0.25): drawn peak within 1% of 1/w = 4, drawn area within 0.01 of 1")
checker.close()

# %% [markdown]
# ## Exercises
#
# Each exercise has a hint and a worked answer; click to open them. The cell after each exercise
# checks the answer's numbers.
#
# **Exercise 1.** Find parameters for which `Gaussian`, `FastSigmoid` and `Triangle` have the same
# peak **and** nearly the same area. How different do they still look?
#
# <details><summary>Hint</summary>
#
# Use the table of section 1.6. The `Triangle` at its defaults (`grad_width = 1`, `grad_scale = 1`)
# has peak 1 and area 1. Keep `grad_scale = 1` for all three and solve for the width parameter that
# gives area 1 and peak 1.
#
# </details>
#
# <details><summary>Answer</summary>
#
# With `grad_scale = 1`: `Triangle(grad_width=1)` has peak 1 and area 1; `FastSigmoid(slope=2)` has
# peak 1 and area $2/2 = 1$ (from code, `controls["slope"].value = 2`; the log slider's nearest stop
# is 1.995); `Gaussian(sigma=0.4)` has area 1 and peak $1/(0.4\sqrt{2\pi}) \approx 0.997$
# (`sigma` $= 1/\sqrt{2\pi} \approx 0.399$ would give exactly 1). They still look quite different:
# the triangle has corners and is exactly zero beyond $\lvert x\rvert = 1$; the Gaussian is smooth
# and below 1.2 % of its peak beyond $\lvert x\rvert = 1.2$ (three `sigma`); the fast sigmoid has a sharp cusp at the
# threshold (half its peak already at $\lvert x\rvert \approx 0.21$, against 0.47 for the Gaussian
# and 0.5 for the triangle) and heavy tails: 20 % of its area lies more than 2 from the threshold,
# outside the plot.
#
# </details>

# %%
# Check (exercise 1): equal peaks and areas (Gaussian within 0.3 %), and where the three differ
from sgexplore.surrogates import (ArcTan, FastSigmoid, Gaussian, MultiGaussian, SigmoidDerivative,
                                  SingleExponential, Triangle)

shapes = {"Gaussian": Gaussian(sigma=0.4), "FastSigmoid": FastSigmoid(slope=2.0), "Triangle": Triangle()}
for name, surrogate in shapes.items():
    assert abs(surrogate.peak(1.0) - 1) < 3e-3 and abs(surrogate.area(1.0) - 1) < 1e-9, name
x = torch.linspace(0.0, 3.0, 30001, dtype=torch.float64)
half_widths = {name: float(x[s.grad(1.0 + x, 1.0) >= s.peak(1.0) / 2].max()) for name, s in shapes.items()}
assert abs(half_widths["FastSigmoid"] - (math.sqrt(2) - 1) / 2) < 1e-3  # 1/(2|x|+1)² = 1/2
assert abs(half_widths["Gaussian"] - 0.4 * math.sqrt(2 * math.log(2))) < 1e-3
assert abs(half_widths["Triangle"] - 0.5) < 1e-3
fast = shapes["FastSigmoid"]
far = torch.tensor([-1.0, 3.0], dtype=torch.float64)  # thr ∓ 2
beyond_2 = 1 - float(fast.primitive(far[1:], 1.0) - fast.primitive(far[:1], 1.0))
assert abs(beyond_2 - 0.2) < 1e-6  # exactly 2/(k(2k+1)) = 1/5 at k = 2
assert float(shapes["Triangle"].grad(torch.tensor([2.0]), 1.0)) == 0.0
assert float(shapes["Gaussian"].grad(torch.tensor([2.2]), 1.0)) < 0.012 * shapes["Gaussian"].peak(1.0)
print("peak 1 and area 1 (Gaussian: peak 0.997); half-maximum at |x| = 0.21 (FastSigmoid), "
      "0.47 (Gaussian), 0.50 (Triangle); FastSigmoid has 20% of its area beyond |x| = 2")

# %% [markdown]
# **Exercise 2.** `SigmoidDerivative` with slope 4 and `ArcTan` with $\alpha = 2$ (`alpha`) both have
# peak 1 and area 1. Pin one, select the other: where do they differ, and would you expect that to
# matter?
#
# <details><summary>Hint</summary>
#
# Compare the width at half the peak, and the value two units away from the threshold. The logistic
# derivative decays like $e^{-\text{slope}\,\lvert x\rvert}$, the arctan derivative like $1/x^2$.
#
# </details>
#
# <details><summary>Answer</summary>
#
# Near the threshold the `ArcTan` is the narrower one: it falls to half its peak at
# $\lvert x\rvert = 1/\pi \approx 0.32$, the `SigmoidDerivative` at $\lvert x\rvert \approx 0.44$.
# Far from it the order reverses: at $\lvert x\rvert = 2$ the `ArcTan` is still 0.025, about 18 times
# the `SigmoidDerivative`'s 0.0013, and 10 % of its area lies beyond $\lvert x\rvert = 2$ (0.07 % for
# the sigmoid). So the arctan keeps sending some gradient to neurons far from their threshold.
# Zenke & Vogels (2021) found learning robust to such differences of shape at equal scale, so we
# would not expect much difference in training; notebook 4 tests that claim for three shapes.
#
# </details>

# %%
# Check (exercise 2): same peak and area, different half-widths and tails
pair = {"SigmoidDerivative": SigmoidDerivative(slope=4.0), "ArcTan": ArcTan(alpha=2.0)}
for name, surrogate in pair.items():
    assert abs(surrogate.peak(1.0) - 1) < 1e-12 and abs(surrogate.area(1.0) - 1) < 1e-12, name
half_widths = {name: float(x[s.grad(1.0 + x, 1.0) >= 0.5].max()) for name, s in pair.items()}
assert abs(half_widths["ArcTan"] - 1 / math.pi) < 1e-3
assert abs(half_widths["SigmoidDerivative"] - math.log(3 + 2 * math.sqrt(2)) / 4) < 1e-3
at_2 = {name: float(s.grad(torch.tensor([3.0], dtype=torch.float64), 1.0)) for name, s in pair.items()}
assert abs(at_2["ArcTan"] - 1 / (1 + 4 * math.pi**2)) < 1e-12 and abs(at_2["ArcTan"] - 0.025) < 1e-3
assert abs(at_2["SigmoidDerivative"] - 0.0013) < 1e-4 and 17 < at_2["ArcTan"] / at_2["SigmoidDerivative"] < 19
tails = {name: 1 - float(s.primitive(far[1:], 1.0) - s.primitive(far[:1], 1.0)) for name, s in pair.items()}
assert abs(tails["ArcTan"] - 0.10) < 1e-3 and abs(tails["SigmoidDerivative"] - 0.0007) < 1e-4
print("both peak 1, area 1; half-maximum at |x| = 0.32 (ArcTan) and 0.44 (SigmoidDerivative); "
      "at |x| = 2: 0.025 vs 0.0013; area beyond |x| = 2: 10% vs 0.07%")

# %% [markdown]
# **Exercise 3.** Set the `MultiGaussian` to Yin et al.'s values (the defaults `sigma = 0.5`,
# `h = 0.15`, `s = 6`, with `grad_scale = 0.5`) and read its peak and area. Compare them with
# sinabs' default `SingleExponential` (peak 2, area 2): by what factor do the two scales differ?
#
# <details><summary>Hint</summary>
#
# The area is $\text{grad\_scale}\,(1-h)$ (section 1.4); the peak has no closed form in the package,
# so read it from the readout or from `MultiGaussian(grad_scale=0.5).peak(1.0)`.
#
# </details>
#
# <details><summary>Answer</summary>
#
# Peak $\approx 0.439$ (half of 0.878 at `grad_scale = 1`) and area $0.5 \cdot 0.85 = 0.425$. The
# `SingleExponential`'s peak is about 4.6 times larger and its area about 4.7 times larger
# ($2/0.425 = 4.71$): the two sinabs defaults differ in scale by a factor of about 4.6 to 4.7,
# whichever measure you take.
#
# </details>

# %%
# Check (exercise 3): MultiGaussian(grad_scale=0.5) against SingleExponential()
yin, slayer = MultiGaussian(grad_scale=0.5), SingleExponential()
assert abs(yin.peak(1.0) - 0.439) < 5e-4 and abs(yin.area(1.0) - 0.425) < 1e-12
assert slayer.peak(1.0) == 2.0 and slayer.area(1.0) == 2.0
assert abs(slayer.peak(1.0) / yin.peak(1.0) - 4.6) < 0.05 and abs(slayer.area(1.0) / yin.area(1.0) - 4.7) < 0.05
print(f"MultiGaussian(grad_scale=0.5): peak 0.439, area {0.5 * 0.85:.3f}; "
      f"SingleExponential larger by 4.6 (peak) and {2 / 0.425:.2f} (area)")

# %% [markdown]
# **Exercise 4.** Which surrogates of the table change their *shape*, not only their position, when
# the threshold goes from 1 to 2? Predict from the formulas, then check with the threshold slider.
#
# <details><summary>Hint</summary>
#
# Look for `thr` in the formulas other than inside $x = v - \text{thr}$. A factor $1/\text{thr}$ in
# front changes only the height; `thr` inside the function changes the width or the period. The
# plot's x axis widens with the threshold above 1, so compare the readouts or the tick labels.
#
# </details>
#
# <details><summary>Answer</summary>
#
# Shape changes: `SingleExponential` (decay length $\vartheta w$, so twice as wide and half as tall),
# `DampenedTriangle` (half-width $\vartheta$, height `dampening`$/\vartheta$), and both
# `PeriodicExponential` variants (a lobe at every multiple of $\vartheta$, so the lobes move apart
# and the troughs between them deepen). `Heaviside` keeps its shape but its height $1/\vartheta$
# halves. All the others only move with the threshold: their parameters are absolute
# (`StraightThrough` and `TrueGradient` are constants).
#
# </details>

# %%
# Check (exercise 4): compare sigma'(x) at thr = 1 and thr = 2, raw and divided by the peak
x = torch.linspace(-2.995, 2.995, 600, dtype=torch.float64)  # avoids the edges at x = ±0.5, ±1
changed_shape, changed_height = [], []
for name in names:  # the registered built-ins of the table
    surrogate = registry()[name]()
    at_1, at_2 = surrogate.grad(1.0 + x, 1.0), surrogate.grad(2.0 + x, 2.0)
    if torch.allclose(at_1, at_2, rtol=1e-6, atol=1e-9):
        continue
    peaks = surrogate.peak(1.0), surrogate.peak(2.0)
    if torch.allclose(at_1 / peaks[0], at_2 / peaks[1], rtol=1e-6, atol=1e-9):
        changed_height.append(name)
    else:
        changed_shape.append(name)
assert changed_shape == ["SingleExponential", "PeriodicExponential", "PeriodicExponentialSymmetric",
                         "DampenedTriangle"]
assert changed_height == ["Heaviside"]
print("shape changes:", ", ".join(changed_shape))
print("only the height changes:", ", ".join(changed_height))
print(len(names) - len(changed_shape) - len(changed_height), "others only move with the threshold")

# %% [markdown]
# ## Take it to your framework
#
# A setting you chose here carries over exactly. Each explorer has a collapsed panel, *your
# framework: copy as code, start from*: it shows the current surrogate as code for sinabs,
# snntorch, SpikingJelly or norse, and loads a framework's built-in (with its defaults) into the
# sliders. The same comes from code:
#
# * `translate(surrogate, framework, spike_threshold)` writes a runnable snippet. It uses the
#   framework's own built-in where that is exactly the same function (`exact=True`) and sgexplore's
#   adapter otherwise, and its notes say what does not carry over (for example `>` against `>=` at
#   the threshold, or how the framework resets).
# * `from_framework(framework, name, **params)` is the sgexplore surrogate equal to a built-in.
#
# Why an adapter: sinabs calls a surrogate as `surrogate(v_mem, spike_threshold)` and wants
# dS/dv, which is what every surrogate here is. snntorch, SpikingJelly and norse call a *spike
# function* with one argument, $x = v - \vartheta$, and want spikes forward. Called that way, a
# surrogate here raises a TypeError that names the adapter, instead of returning surrogate values
# that the framework would take for spikes.

# %%
from sgexplore.interop import from_framework, translate
from sgexplore.surrogates import FastSigmoid, Gaussian

print(translate(FastSigmoid(slope=25.0), "snntorch").code)   # snntorch's own fast_sigmoid
print(translate(Gaussian(sigma=0.3), "snntorch").code)       # no snntorch built-in: the adapter
print(from_framework("spikingjelly", "Sigmoid"))             # SpikingJelly's default surrogate
print(from_framework("norse", "tanh", alpha=100.0))          # norse's "tanh" at its default alpha
try:
    Gaussian()(torch.zeros(3))                                # the way snntorch would call it
except TypeError as error:
    print("TypeError:", str(error)[:96], "...")

# %% [markdown]
# The same word means different things across frameworks: SpikingJelly's `SuperSpike(alpha)` has
# `alpha` as its *height* (slope fixed at 1), snntorch's `fast_sigmoid(slope)` has a slope, and norse
# 1.1.0's `"super"` ignores `alpha` altogether. The README's table lists every mapping.
#
# **Exercise 5.** Which SpikingJelly built-in is `Triangle(grad_width=0.5, grad_scale=2.0)`, with which
# `alpha`? Work it out from the formulas, then check with `translate`.
#
# <details><summary>Hint</summary>
#
# SpikingJelly's `PiecewiseQuadratic(alpha)` has the gradient $\alpha - \alpha^2 |x|$ for
# $|x| \le 1/\alpha$, and 0 outside. Write it as a triangle: height times $(1 - |x|/\text{half-width})$.
#
# </details>
#
# <details><summary>Answer</summary>
#
# $\alpha - \alpha^2|x| = \alpha (1 - \alpha |x|)$: a triangle of height $\alpha$ and half-width
# $1/\alpha$. Height 2 and half-width 0.5 both give $\alpha = 2$: `surrogate.PiecewiseQuadratic(alpha=2.0)`,
# an exact mapping.
#
# </details>

# %%
# Check (exercise 5)
answer = translate(Triangle(grad_width=0.5, grad_scale=2.0), "spikingjelly")
assert answer.exact and answer.builtin == "PiecewiseQuadratic"
assert "surrogate.PiecewiseQuadratic(alpha=2.0)" in answer.code
print(answer.code.splitlines()[2])

# %% [markdown]
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
# * Bengio, Léonard & Courville (2013), *Estimating or propagating gradients through stochastic neurons for conditional computation*, arXiv:1308.3432.
