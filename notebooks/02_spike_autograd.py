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
from sgexplore.surrogates import Gaussian, PeriodicExponential, SingleExponential, TrueGradient
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
# `Gaussian` surrogate with $\sigma = 0.3$:
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
print(f"autograd and formula agree to {relative_difference:.0e} relative, over 401 points")
print(f"gradient at v = thr with upstream 1 would be 1/(0.3·sqrt(2π)) = {1 / (0.3 * math.sqrt(2 * math.pi)):.4f}")

# %% [markdown]
# ### Why not the true gradient?
#
# `TrueGradient` is the derivative of the step itself: zero at every $v$ a float can hold except
# exactly at the threshold. Through it, no gradient reaches $v$, and so none reaches the weights
# that produced $v$. A network that starts silent stays silent; notebook 3 shows it in training.

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
# $P$, while the forward pass really is the step. The explorer draws both; drag the width and
# watch $P$ approach the step as the surrogate narrows.
#
# **Try this:** choose `SingleExponential`, make `grad_width` small, and compare the primitive with
# the step. What happens to the peak of the surrogate at the same time?

# %% tags=["nbval-ignore-output"]
explorer = SurrogateExplorer(surrogate="SingleExponential")
explorer.widget

# %%
# Check: the explorer's primitive rises by the surrogate's area, 2·grad_scale for SingleExponential
surrogate = explorer.surrogate
low, high = torch.tensor([-20.0]), torch.tensor([20.0])
rise = (surrogate.primitive(high, 1.0) - surrogate.primitive(low, 1.0)).item()
assert abs(rise - 2 * surrogate.grad_scale) < 1e-4
print(f"P(+20) - P(-20) = {rise:.4f}; 2·grad_scale = {2 * surrogate.grad_scale:.4f}")

# %% [markdown]
# ## 2.4 Several spikes per step and the periodic surrogate
#
# sinabs' multi-spike neurons emit as many spikes in one time step as the potential has thresholds:
#
# $$S(v) = \mathbb 1[v > 0]\,\Bigl\lfloor \frac{v}{\vartheta}\Bigr\rfloor \quad(\texttt{mode="multi"}), \qquad
#   S(v) = \min\bigl(S_{\text{multi}}(v), \text{max\_spikes}\bigr) \quad(\texttt{mode="max"}).$$
#
# This staircase has a jump at **every** multiple of $\vartheta$. A surrogate with a single bump at
# $\vartheta$ gives almost no gradient for the second and third spike. Weidel & Sheik (2021,
# WaveSense) therefore use a *periodic* exponential with a peak at every $n\vartheta$; sinabs ships it
# as `PeriodicExponential` (in the current sinabs version each lobe decays twice as fast above its
# peak as below; `PeriodicExponentialSymmetric` has equal sides).
#
# **Try this:** switch the explorer to `mode="multi"` and select `PeriodicExponential`, then
# `SingleExponential`. Which one gives a gradient for a neuron at $v = 2.5\vartheta$?

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
print("gradient at v = 1, 2, 3 thr, periodic:", [round(x, 4) for x in periodic.tolist()])
print("gradient at v = 1, 2, 3 thr, single  :", [round(x, 4) for x in single.tolist()])

# %% [markdown]
# ## 2.5 A learnable threshold
#
# The surrogate depends on $v$ and $\vartheta$ only through $v - \vartheta$, so its derivative with
# respect to the threshold is the same with the opposite sign:
#
# $$\frac{\partial L}{\partial \vartheta} = -\sum_i g_i\,\sigma'(v_i - \vartheta).$$
#
# (sinabs returns no gradient for the threshold; sgexplore does, so thresholds can be trained.)
# An independent check: this is exactly what a finite difference of the smooth primitive
# $\sum_i g_i P(v_i - \vartheta)$ gives when $\vartheta$ moves.

# %%
# Check: threshold gradient == -sum(g · surrogate), and == a finite difference of the primitive
surrogate = Gaussian(sigma=0.3)
v = torch.linspace(0.0, 2.0, 201, dtype=torch.float64)
upstream = torch.randn(201, dtype=torch.float64)
threshold = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
spike(v, threshold, surrogate).backward(upstream)
h = 1e-5
finite_difference = ((upstream * surrogate.primitive(v, 1.0 + h)).sum()
                     - (upstream * surrogate.primitive(v, 1.0 - h)).sum()) / (2 * h)
assert abs(threshold.grad.item() - finite_difference.item()) < 1e-6
print(f"dL/dthr from autograd {threshold.grad.item():.4f}, from the primitive {finite_difference.item():.4f}")

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
# grow over time. This implicit recurrence is why Zenke & Vogels (2021) found the surrogate's
# **scale** matters most when the reset is differentiable, the subject of notebooks 3 and 4.

# %%
# Check: d(reset membrane)/dv is 1 - thr·σ'(v - thr) through a differentiable reset and 1 if detached
surrogate = SingleExponential(grad_width=0.5)  # σ'(0) = 1/(thr·0.5) = 2 at thr = 1
for detach in (False, True):
    v = torch.tensor([0.8, 1.0, 1.3], requires_grad=True)
    reset_subtract(v, spike(v, 1.0, surrogate), 1.0, detach=detach).sum().backward()
    expected = [1.0] * 3 if detach else [1 - 2 * math.exp(-abs(x - 1.0) / 0.5) for x in (0.8, 1.0, 1.3)]
    assert torch.allclose(v.grad, torch.tensor(expected))
    print(f"detach={detach!s:5}: d(reset v)/dv at v = 0.8, 1.0, 1.3:", [round(x, 4) for x in v.grad.tolist()])

# %% [markdown]
# ## Exercises
#
# 1. Repeat the check of 2.2 with `MultiGaussian`. Where is the gradient negative, and what does a
#    negative surrogate do to a weight update?
# 2. In 2.6, which `grad_width` makes the factor $1 - \vartheta\sigma'$ exactly $-1$ at the threshold?
#    What happens to a gradient multiplied by it 50 times, once per time step?
# 3. Use `mode="max"` with `max_spikes=2` in the explorer. Which part of the periodic surrogate has
#    no counterpart in the forward pass any more?
# 4. Train a threshold: make `threshold` a parameter, set the loss to the squared distance between
#    the spike count and a target, and take a few gradient steps by hand.
#
# ## References
#
# * Neftci, Mostafa & Zenke (2019), *Surrogate gradient learning in spiking neural networks*, IEEE Signal Processing Magazine 36(6):51–63, doi:10.1109/MSP.2019.2931595.
# * Zenke & Ganguli (2018), *SuperSpike*, Neural Computation 30(6):1514–1541, doi:10.1162/neco_a_01086.
# * Weidel & Sheik (2021), *WaveSense: Efficient temporal convolutions with spiking neural networks for keyword spotting*, arXiv:2111.01456.
# * Zenke & Vogels (2021), *The remarkable robustness of surrogate gradient learning for instilling complex function in spiking neural networks*, Neural Computation 33(4):899–925, doi:10.1162/neco_a_01367.
