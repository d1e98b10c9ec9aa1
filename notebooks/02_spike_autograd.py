# %% [markdown]
# # 2 · The spike in autograd: step forward, surrogate backward
#
# Notebook 1 looked at surrogate shapes on their own. Here we plug one into PyTorch's autograd and
# check, number by number, what the backward pass computes. The function is
# `sgexplore.spike(v_mem, spike_threshold, surrogate, mode)`, a `torch.autograd.Function` with the
# call signature of sinabs' spike functions.
#
# | pass | what it computes |
# |---|---|
# | forward | the exact step $S = \Theta(v - \vartheta)$ (or a staircase, section 2.4) |
# | backward | $\dfrac{\partial L}{\partial v} = \dfrac{\partial L}{\partial S}\cdot\sigma'(v - \vartheta)$ |
#
# The forward pass is untouched: the network still emits binary spikes. Only the error signal
# flowing back through each spike is shaped by the surrogate (Neftci, Mostafa & Zenke 2019;
# Zenke & Ganguli 2018).

# %%
import math

import torch

from sgexplore import spike
from sgexplore.spike import reset_subtract, spike_forward
from sgexplore.surrogates import (Gaussian, MultiGaussian, PeriodicExponential, PeriodicExponentialSymmetric,
                                  SingleExponential, TrueGradient)
from sgexplore.widgets import SurrogateExplorer

_ = torch.manual_seed(0)  # the random upstream gradients below are reproducible

# %% [markdown]
# ## 2.1 Forward: a true step
#
# With `mode="single"` the forward pass returns 1 where $v \ge \vartheta$ and 0 elsewhere, exactly,
# whatever surrogate is attached.

# %%
# Check: the forward pass is the Heaviside step at the threshold
v = torch.tensor([-0.5, 0.0, 0.99, 1.0, 1.01, 2.5])
spikes = spike(v, 1.0, Gaussian())
assert spikes.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
print("v      :", [round(x, 2) for x in v.tolist()])
print("spikes :", spikes.tolist())

# %% [markdown]
# ## 2.2 Backward: upstream gradient times surrogate
#
# Take any loss $L$ that depends on the spikes, and let $g = \partial L/\partial S$ be the gradient
# arriving from above. The chain rule through the spike would multiply $g$ by the step's derivative,
# which is zero. The surrogate spike multiplies by $\sigma'(v-\vartheta)$ instead. For the
# `Gaussian` surrogate with `sigma = 0.3`:
#
# $$\frac{\partial L}{\partial v_i} = g_i\cdot\frac{1}{0.3\sqrt{2\pi}}\exp\!\Bigl(-\frac{(v_i-\vartheta)^2}{2\cdot 0.3^2}\Bigr).$$
#
# The check below feeds a random upstream gradient through `spike` and compares autograd's result
# with this formula, typed out independently of the package.

# %%
# Check: backward == upstream gradient × surrogate, against the Gaussian written out by hand
v = torch.linspace(-1.0, 3.0, 401, dtype=torch.float64, requires_grad=True)
upstream = torch.randn(401, dtype=torch.float64)
spike(v, 1.0, Gaussian(sigma=0.3)).backward(upstream)
by_hand = upstream * torch.exp(-((v.detach() - 1.0) ** 2) / (2 * 0.3**2)) / (0.3 * math.sqrt(2 * math.pi))
# sinabs (and so sgexplore) builds the Gaussian's normalisation in float32: agreement to ~1e-7.
relative_difference = ((v.grad - by_hand).abs().max() / by_hand.abs().max()).item()
assert relative_difference < 1e-6
print("autograd and formula agree to better than 1e-6 relative, over 401 points")
print(f"gradient at v = thr with upstream 1 would be 1/(0.3·sqrt(2π)) = {1 / (0.3 * math.sqrt(2 * math.pi)):.4f}")

# %% [markdown]
# ### Why not the true gradient?
#
# The derivative of the step is zero everywhere except at $v = \vartheta$, where it is a Dirac delta
# that no float can represent. `TrueGradient` is that derivative as a computer can have it: 0 for
# every $v$, the threshold included. Through it, no gradient reaches $v$, and so none reaches the
# weights that produced $v$: they keep their initial values. Notebook 3 shows it in training.

# %%
# Check: with the true derivative every input gradient is exactly zero
v = torch.linspace(-1.0, 3.0, 401, requires_grad=True)
spike(v, 1.0, TrueGradient()).sum().backward()
assert torch.count_nonzero(v.grad).item() == 0
print("non-zero gradients with the true derivative:", torch.count_nonzero(v.grad).item(), "of", v.numel())

# %% [markdown]
# ## 2.3 The surrogate is the gradient of a smooth "pretend forward"
#
# Integrating the surrogate gives its primitive $P(v) = \int_{-\infty}^{v}\sigma'(u - \vartheta)\,du$,
# a smooth sigmoid next to the step. The backward pass behaves *as if* the forward pass had been
# $P$, while the forward pass really is the step. $P$ rises from 0 to the surrogate's **area**, so
# it matches the step's height only for a surrogate of area 1. As the surrogate narrows, $P$
# approaches $\text{area}\cdot\Theta(v-\vartheta)$: the step itself for a `Gaussian` at
# `grad_scale = 1`, but **twice** the step for the `SingleExponential` below, whose area is
# $2\,\text{grad\_scale}$ (sinabs follows SLAYER here).
#
# **Try this:** in the explorer below (`SingleExponential`), make `grad_width` small and compare the
# primitive with the step: it becomes a step of height 2. The peak of the surrogate grows at the same
# time, as $\text{grad\_scale}/(\vartheta\,w)$ with $w$ = `grad_width`. Then set *normalise* to
# "area": now the primitive tends to the true step.

# %% tags=["nbval-ignore-output"]
explorer = SurrogateExplorer(surrogate="SingleExponential")
explorer.widget

# %%
# Check: the explorer's primitive rises by the surrogate's area, 2·grad_scale for SingleExponential
surrogate = explorer.surrogate
low, high = torch.tensor([-20.0]), torch.tensor([20.0])
rise = (surrogate.primitive(high, 1.0) - surrogate.primitive(low, 1.0)).item()
assert abs(rise - 2 * surrogate.grad_scale) < 1e-4
print(f"P(+20) - P(-20) equals 2·grad_scale = {2 * surrogate.grad_scale:.1f} within 1e-4, "
      "twice the height of the step")

# %% [markdown]
# ## 2.4 Several spikes per step and the periodic surrogate
#
# sinabs' multi-spike neurons emit as many spikes in one time step as the potential has thresholds:
#
# $$S(v) = \mathbb 1[v > 0]\,\Bigl\lfloor \frac{v}{\vartheta}\Bigr\rfloor \quad(\texttt{mode="multi"}), \qquad
#   S(v) = \min\bigl(S_{\text{multi}}(v), \text{max\_spikes}\bigr) \quad(\texttt{mode="max"}).$$
#
# This staircase has a jump at **every** multiple of $\vartheta$. A surrogate with a single bump at
# $\vartheta$ gives much less gradient for the second spike and almost none for the third. Weidel &
# Sheik (2021, WaveSense) therefore use a *periodic* exponential with a peak at every $n\vartheta$;
# sinabs ships it as `PeriodicExponential`. In sinabs 3.1.3, which sgexplore reproduces, the
# distance to the nearest multiple of $\vartheta$ is doubled above the threshold: there every lobe is
# $\text{grad\_scale}\,e^{-2\lvert v - n\vartheta\rvert/w}$ ($w$ = `grad_width`), the same on
# both sides of its peak, while below the threshold the surrogate is
# $\text{grad\_scale}\,e^{-\lvert v - \vartheta\rvert/w}$. So only the first lobe, around
# $\vartheta$, is asymmetric: it falls twice as fast above $\vartheta$ as below. The troughs at
# $(n+\tfrac12)\vartheta$ are $\text{grad\_scale}\,e^{-\vartheta/w}$.
# `PeriodicExponentialSymmetric` uses $e^{-\lvert v - n\vartheta\rvert/w}$ on both sides of the
# threshold.
#
# **Try this:** the explorer below is in `mode="multi"` with `PeriodicExponential`. Read the gradient
# at $v = 2\vartheta$ and $3\vartheta$, then select `SingleExponential` and read it again.

# %% tags=["nbval-ignore-output"]
multi_explorer = SurrogateExplorer(surrogate="PeriodicExponential", mode="multi")
multi_explorer.widget

# %%
# Check: the multi and max staircases, evaluated by hand
v = torch.tensor([-0.5, 0.5, 1.0, 2.3, 3.9])
multi = spike_forward(v, 1.0, "multi")
capped = spike_forward(v, 1.0, "max", max_spikes=2)
assert multi.tolist() == [0.0, 0.0, 1.0, 2.0, 3.0]
assert capped.tolist() == [0.0, 0.0, 1.0, 2.0, 2.0]
print("v     :", [round(x, 2) for x in v.tolist()])
print("multi :", (multi + 0.0).tolist())  # + 0.0 turns trunc(-0.5) = -0.0 into 0.0
print("max 2 :", (capped + 0.0).tolist())

# %%
# Check: at the second and third threshold the periodic surrogate is at full height, a single bump is not
at_multiples = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
spike(at_multiples, 1.0, PeriodicExponential(), mode="multi").sum().backward()
periodic = at_multiples.grad.clone()
at_multiples.grad = None
spike(at_multiples, 1.0, SingleExponential(), mode="multi").sum().backward()
single = at_multiples.grad
# SingleExponential(grad_width=0.5) at distance d from thr: 2·exp(-d/0.5)
assert torch.allclose(periodic, torch.ones(3))
assert torch.allclose(single, torch.tensor([2.0, 2 * math.exp(-2), 2 * math.exp(-4)]))
print("gradient at v = 1, 2, 3 thr, periodic: 1, 1, 1")
print("gradient at v = 1, 2, 3 thr, single  :", [round(2 * math.exp(-2 * d), 4) for d in (0, 1, 2)])

# %%
# Check: only the first lobe of PeriodicExponential is asymmetric; the symmetric variant is symmetric
w = 0.5
periodic, symmetric = PeriodicExponential(grad_width=w), PeriodicExponentialSymmetric(grad_width=w)
v = torch.tensor([0.75, 1.25, 1.5, 1.75, 2.25, 2.5], dtype=torch.float64)
p, q = periodic(v, 1.0), symmetric(v, 1.0)
assert abs(p[0] - math.exp(-0.25 / w)) < 1e-12 and abs(p[1] - math.exp(-2 * 0.25 / w)) < 1e-12  # first lobe
assert abs(p[3] - p[4]) < 1e-12 and abs(p[3] - math.exp(-2 * 0.25 / w)) < 1e-12  # lobe at 2·thr
assert abs(p[2] - math.exp(-1 / w)) < 1e-12 and abs(p[5] - math.exp(-1 / w)) < 1e-12  # troughs
assert torch.allclose(q[[0, 1, 3, 4]], torch.full((4,), math.exp(-0.25 / w), dtype=torch.float64))
print(f"PeriodicExponential: {math.exp(-0.25 / w):.4f} at 0.75 thr, {math.exp(-0.5 / w):.4f} at 1.25 thr; "
      f"{math.exp(-0.5 / w):.4f} at both 1.75 and 2.25 thr; troughs {math.exp(-1 / w):.4f}")
print(f"PeriodicExponentialSymmetric: {math.exp(-0.25 / w):.4f} at 0.75, 1.25, 1.75 and 2.25 thr")

# %% [markdown]
# ## 2.5 A learnable threshold
#
# When the threshold is a tensor that requires grad, sgexplore's spike gives it the gradient
#
# $$\frac{\partial L}{\partial \vartheta} = -\sum_i g_i\,\sigma'(v_i - \vartheta),$$
#
# the $v$-gradient with the opposite sign. That treats the threshold as a pure shift of $v$: exact
# for a surrogate that depends on $v$ and $\vartheta$ only through $v - \vartheta$, like the
# `Gaussian` here; for `SingleExponential` and the others whose shape also depends on $\vartheta$
# (notebook 1, exercise 4) it leaves out that dependence.
# (sinabs returns no gradient for the threshold; sgexplore does, so thresholds can be trained.)
# An independent check: for the Gaussian this is exactly what a finite difference of the smooth
# primitive $\sum_i g_i P(v_i - \vartheta)$ gives when $\vartheta$ moves.

# %%
# Check: threshold gradient == -sum(g · surrogate), and == a finite difference of the primitive
surrogate = Gaussian(sigma=0.3)
v = torch.linspace(0.0, 2.0, 201, dtype=torch.float64)
upstream = torch.randn(201, dtype=torch.float64)
threshold = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
spike(v, threshold, surrogate).backward(upstream)
step = 1e-5
finite_difference = ((upstream * surrogate.primitive(v, 1.0 + step)).sum()
                     - (upstream * surrogate.primitive(v, 1.0 - step)).sum()) / (2 * step)
assert abs(threshold.grad.item() - finite_difference.item()) < 1e-6
print("dL/dthr from autograd equals the finite difference of the primitive within 1e-6")

# %% [markdown]
# ## 2.6 The reset: where gradients loop back
#
# After a spike the membrane is reset, for example by subtracting the threshold:
# $v \leftarrow v - \vartheta S(v)$. The spike appears inside the next membrane value, so if gradients
# flow through the reset, the derivative of the reset membrane is
#
# $$\frac{\partial}{\partial v}\bigl(v - \vartheta S(v)\bigr) = 1 - \vartheta\,\sigma'(v-\vartheta)
#   \qquad\text{(differentiable reset)},$$
#
# and plain $1$ if the reset is *detached*. Over many time steps these factors multiply. When
# $\vartheta\sigma'$ exceeds 2 near the threshold, the factor's magnitude exceeds 1 and gradients can
# grow over time. Zenke & Vogels (2021) call this path implicit recurrence; they found the
# surrogate's **scale** mattered most when gradients pass through the reset, the subject of
# notebooks 3 and 4.

# %%
# Check: d(reset membrane)/dv is 1 - thr·σ'(v - thr) through a differentiable reset and 1 if detached
surrogate = SingleExponential(grad_width=0.5)  # σ'(0) = 1/(thr·0.5) = 2 at thr = 1
for detach in (False, True):
    v = torch.tensor([0.8, 1.0, 1.3], requires_grad=True)
    reset_subtract(v, spike(v, 1.0, surrogate), 1.0, detach=detach).sum().backward()
    expected = [1.0] * 3 if detach else [1 - 2 * math.exp(-abs(x - 1.0) / 0.5) for x in (0.8, 1.0, 1.3)]
    assert torch.allclose(v.grad, torch.tensor(expected))
    print(f"detach={detach!s:5}: d(reset v)/dv at v = 0.8, 1.0, 1.3:", [round(x, 4) for x in expected])

# %% [markdown]
# ## Exercises
#
# Each exercise has a hint and a worked answer; click to open them. The cell after each exercise
# checks the answer's numbers.
#
# **Exercise 1.** Repeat the check of 2.2 with `MultiGaussian`. Where is the gradient negative, and
# what does a negative surrogate do to a weight update?
#
# <details><summary>Hint</summary>
#
# Replace `Gaussian(sigma=0.3)` by `MultiGaussian()` and use an upstream gradient of ones, so that
# `v.grad` is the surrogate itself; then look at `v[v.grad < 0]`. For the second question, write out
# the sign of $\partial L/\partial v = g\,\sigma'$ and of the gradient-descent step $-\eta\,\partial L/\partial v$.
#
# </details>
#
# <details><summary>Answer</summary>
#
# At the defaults (`sigma = 0.5`, `h = 0.15`, `s = 6`, `mu = 0`) the surrogate is negative for
# $\lvert v - \vartheta\rvert > 1.27$, on both sides, with its minimum of about $-0.032$ at
# $\lvert v - \vartheta\rvert \approx 1.86$ (the peak is 0.878). Where $\sigma' < 0$, the
# gradient $g\,\sigma'$ has the opposite sign from the one a positive bump gives, so the update
# moves the neuron's potential the other way: a neuron far below threshold that the loss wants to
# fire ($g < 0$) is pushed further down, a neuron far above threshold that the loss wants silent
# is pushed further up. The effect is small, at most about 4 % of the peak.
#
# </details>

# %%
# Check (exercise 1): where the MultiGaussian's gradient is negative
v = torch.linspace(-2.0, 4.0, 6001, dtype=torch.float64, requires_grad=True)
spike(v, 1.0, MultiGaussian()).backward(torch.ones(6001, dtype=torch.float64))
distance = (v.detach() - 1.0).abs()
assert bool((v.grad[distance < 1.26] > 0).all()) and bool((v.grad[distance > 1.28] < 0).all())
assert abs(v.grad.min().item() + 0.032) < 1e-3 and abs(distance[v.grad.argmin()].item() - 1.86) < 0.01
assert v.grad.min().item() / MultiGaussian().peak(1.0) > -0.04
print("negative for |v - thr| > 1.27 (checked outside 1.26..1.28); minimum -0.032 at |v - thr| = 1.86")

# %% [markdown]
# **Exercise 2.** In 2.6, which `grad_width` makes the factor $1 - \vartheta\sigma'$ exactly $-1$ at
# the threshold? What happens to a gradient multiplied by it 50 times, once per time step?
#
# <details><summary>Hint</summary>
#
# For `SingleExponential`, $\sigma'(0) = \text{grad\_scale}/(\vartheta\,w)$. Multiply by $\vartheta$:
# what is left?
#
# </details>
#
# <details><summary>Answer</summary>
#
# $\vartheta\,\sigma'(0) = \text{grad\_scale}/w$, whatever the threshold, so the factor is $-1$ for
# $w = \text{grad\_scale}/2$: `grad_width = 0.5` at the default `grad_scale = 1`, the value the check
# of 2.6 already uses. Multiplied by $-1$ fifty times, a gradient keeps its magnitude exactly and
# flips its sign every step, ending where it started ($(-1)^{50} = 1$). This is the edge of
# stability: with `grad_width = 0.45` the factor is $1 - 1/0.45 \approx -1.22$ and 50 steps multiply
# the magnitude by about $2.3\cdot 10^4$; with `grad_width = 0.55` it is $\approx -0.82$ and the
# gradient shrinks to about $4.4\cdot 10^{-5}$.
#
# </details>

# %%
# Check (exercise 2): grad_width = 0.5 gives the factor -1 at the threshold, at thr = 1 and thr = 2
for thr in (1.0, 2.0):
    v = torch.tensor([thr], requires_grad=True)
    reset_subtract(v, spike(v, thr, SingleExponential(grad_width=0.5)), thr).sum().backward()
    assert v.grad.item() == -1.0
    gradient = torch.tensor(1.0)
    for _ in range(50):
        gradient = gradient * v.grad
    assert gradient.item() == 1.0
grown, shrunk = abs(1 - 1 / 0.45) ** 50, abs(1 - 1 / 0.55) ** 50
assert 2.2e4 < grown < 2.4e4 and 4.3e-5 < shrunk < 4.5e-5
print("factor exactly -1 at thr = 1 and 2; after 50 steps the gradient is exactly back to +1")
print("grad_width 0.45: x 2.3e4 after 50 steps; grad_width 0.55: x 4.4e-5")

# %% [markdown]
# **Exercise 3.** Use `mode="max"` with `max_spikes=2` in the explorer. Which part of the periodic
# surrogate has no counterpart in the forward pass any more?
#
# <details><summary>Hint</summary>
#
# Compare the staircase (bottom panel) with the surrogate (top panel) above $v = 2\vartheta$. Does
# the backward pass know about `max_spikes`?
#
# </details>
#
# <details><summary>Answer</summary>
#
# The forward staircase stops at 2 spikes: it is flat for every $v \ge 2\vartheta$. The backward pass
# still uses the full `PeriodicExponential`, so the lobes at $3\vartheta, 4\vartheta, \dots$ (peak
# `grad_scale` each) stand for steps that no longer exist: a neuron at $v = 3\vartheta$ gets the
# full gradient although raising its potential cannot change its output.
#
# </details>

# %%
# Check (exercise 3): with max_spikes = 2 the forward is flat above 2·thr, the backward is not
v = torch.tensor([2.0, 2.5, 3.0, 3.5, 4.0], requires_grad=True)
capped = spike(v, 1.0, PeriodicExponential(), mode="max", max_spikes=2)
capped.sum().backward()
assert capped.tolist() == [2.0] * 5
assert v.grad[2].item() == 1.0 and v.grad[4].item() == 1.0
print("forward at v = 2, 2.5, 3, 3.5, 4 thr:", capped.tolist())
print("backward at v = 3 thr and 4 thr: 1.0 (a full lobe, for a step the forward no longer has)")

# %% [markdown]
# **Exercise 4.** Train a threshold: make `threshold` a parameter, set the loss to the squared
# distance between the spike count and a target, and take a few gradient steps by hand.
#
# <details><summary>Hint</summary>
#
# Reuse 2.5: a threshold tensor with `requires_grad=True` gets a gradient. Fix 100 membrane
# potentials between 0 and 2 (50 of them spike at $\vartheta = 1$), aim for 30 spikes, and after each
# `backward()` update the threshold inside `torch.no_grad()`. How large is the gradient at the
# start? That sets the learning rate.
#
# </details>
#
# <details><summary>Answer</summary>
#
# The count's surrogate gradient is $-\sum_i \sigma'(v_i - \vartheta) \approx -50$ (50 potentials
# per unit of $v$, times the Gaussian's area 1), so the loss gradient starts near
# $2\,(50 - 30)\,(-50) = -2000$ and a learning rate of $10^{-4}$ moves the threshold by about 0.2.
#
# ```python
# v = torch.linspace(0.0, 2.0, 100, dtype=torch.float64)
# threshold = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
# for step in range(10):
#     count = spike(v, threshold, Gaussian(sigma=0.3)).sum()
#     loss = (count - 30) ** 2
#     loss.backward()
#     with torch.no_grad():
#         threshold -= 1e-4 * threshold.grad
#     threshold.grad = None
# ```
#
# The count goes 50, 40, 35, 33, 31, 31, 30 and then stays at 30 (the loss is 0, so is its
# gradient); the threshold ends near 1.39, where 30 of the 100 potentials lie above it.
#
# </details>

# %%
# Check (exercise 4): the worked answer reaches 30 spikes and stays there
v = torch.linspace(0.0, 2.0, 100, dtype=torch.float64)
threshold = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
counts = []
for step in range(10):
    count = spike(v, threshold, Gaussian(sigma=0.3)).sum()
    loss = (count - 30) ** 2
    loss.backward()
    with torch.no_grad():
        threshold -= 1e-4 * threshold.grad
    threshold.grad = None
    counts.append(int(count.item()))
assert counts == [50, 40, 35, 33, 31, 31, 30, 30, 30, 30]
assert abs(threshold.item() - 1.39) < 0.01 and int((v >= threshold.detach()).sum()) == 30
print("spike count per step:", counts, "; final threshold 1.39 (within 0.01)")

# %% [markdown]
# ## References
#
# * Neftci, Mostafa & Zenke (2019), *Surrogate gradient learning in spiking neural networks*, IEEE Signal Processing Magazine 36(6):51–63, doi:10.1109/MSP.2019.2931595.
# * Zenke & Ganguli (2018), *SuperSpike*, Neural Computation 30(6):1514–1541, doi:10.1162/neco_a_01086.
# * Weidel & Sheik (2021), *WaveSense: Efficient temporal convolutions with spiking neural networks for keyword spotting*, arXiv:2111.01456.
# * Zenke & Vogels (2021), *The remarkable robustness of surrogate gradient learning for instilling complex function in spiking neural networks*, Neural Computation 33(4):899–925, doi:10.1162/neco_a_01367.
