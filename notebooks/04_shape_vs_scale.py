# %% [markdown]
# # 4 · Shape or scale: which property of a surrogate matters?
#
# Zenke & Vogels (2021) trained spiking networks with many surrogate derivatives and found that
# "surrogate gradient learning is robust to different shapes of underlying surrogate derivatives,
# but the choice of the derivative's scale can substantially affect learning performance". The
# scale mattered most when gradients pass through the spike **reset**, which they call implicit
# recurrence. This notebook replays that experiment in miniature: a grid of surrogate
# shapes × scales, each trained twice, with the reset detached and with it differentiable.
#
# ## 4.1 What is varied
#
# **Shape.** The three forms of Zenke & Vogels' Fig. 3, with $x = v - \vartheta$:
#
# | shape | $\sigma'(x)$ with peak 1 | area at peak 1 |
# |---|---|---|
# | `FastSigmoid` (SuperSpike) | $1/(\beta\lvert x\rvert+1)^2$, $\beta = 10$ | $2/\beta = 0.2$ |
# | `SigmoidDerivative` | $4\,s(kx)\,s(-kx)$, $k = 20$ | $4/k = 0.2$ |
# | `Triangle` (Esser et al.) | $\max(0, 1-\lvert x\rvert/w)$, $w = 0.2$ | $w = 0.2$ |
#
# The widths are chosen so that at equal peak the three also have equal area, so only the *form*
# differs.
#
# **Scale.** The surrogate's peak. For each shape, `grad_scale` is set so that
# $\max_x \sigma'(x) = $ scale, from $0.01$ (very flat) to $100$ (very steep).
#
# **Reset.** After a spike the membrane drops by the threshold, $v \leftarrow v - \vartheta S$.
# With a *detached* reset no gradient flows through that subtraction. With a *differentiable* reset,
# notebook 2 showed that each step multiplies the gradient through the membrane by
# $1 - \vartheta\sigma'(v-\vartheta)$. Once the peak exceeds $2/\vartheta$ this factor can be below
# $-1$, and products of such factors over time steps can explode.
#
# ## 4.2 A prediction before we run it
#
# The network is trained with Adam, which divides each weight's update by a running estimate of
# that weight's gradient magnitude. With a detached reset and one hidden layer, the surrogate's
# scale multiplies every hidden-layer gradient by the same constant, and Adam divides that constant
# out again (up to its small $\epsilon$). So we expect (our derivation, not a claim of the paper):
#
# * detached reset: almost no effect of the scale;
# * differentiable reset: the scale enters through $1 - \vartheta\sigma'$, which no optimizer can
#   divide out, so large scales should hurt;
# * at matched scale and area, the three shapes should give similar results.

# %% [markdown]
# ## 4.3 The sweep
#
# `sgexplore.sweep.sweep(shapes, scales, base_config)` trains every cell of the grid from the same
# seed and returns the final loss (mean of the last 10 training steps) and the test accuracy.
# `QUICK` is small enough for a test run (30 short runs, well under a minute on two cores);
# `FULL` has six shapes, nine scales and longer training for a lecture (several minutes).
# Switch by changing one line:

# %%
from sgexplore.sweep import FULL, QUICK

setting = QUICK  # FULL for a lecture

# %% tags=["nbval-ignore-output"]
result = setting.run()  # a progress bar; runs go to a process pool over the cores

# %% tags=["nbval-ignore-output"]
result.heatmap()

# %% [markdown]
# Each panel is one reset mode and one metric; rows are shapes, columns the surrogate's peak.
# "div" marks a run whose loss or gradients became infinite or NaN.

# %%
# Check: the grid as rounded numbers
print(result.table("accuracy"))
print()
print(result.table("loss"))

# %% [markdown]
# ## 4.4 Reading the result
#
# Two summaries turn the grid into the two claims. For each reset mode:
#
# * **shape spread**: at each scale, the range of test accuracy over the shapes, averaged over
#   scales. How much the shape matters when the scale is fixed.
# * **scale spread**: for each shape, the range of test accuracy over the scales, averaged over
#   shapes. How much the scale matters when the shape is fixed.
#
# (Diverged runs are left out of the ranges. With the `QUICK` grid on this machine none diverges.)

# %%
# Check: Zenke & Vogels 2021, qualitatively
shape_spread = result.shape_spread("accuracy")
scale_spread = result.scale_spread("accuracy")
for reset, shape_s, scale_s in zip(result.resets, shape_spread, scale_spread):
    print(f"{reset:>14} reset: shape spread {shape_s:.2f}, scale spread {scale_s:.2f}")
detached, differentiable = (result.resets.index(r) for r in ("detached", "differentiable"))
# the scale matters with a differentiable reset, far more than with a detached one
assert scale_spread[differentiable] > 0.15
assert scale_spread[differentiable] > 4 * scale_spread[detached]
# at matched scale the shape matters less than the scale does with a differentiable reset
assert shape_spread.max() < scale_spread[differentiable] / 2
# the steepest scale is the worst one with a differentiable reset, for every shape
steepest = result.accuracy[differentiable, :, -1]
assert all(steepest <= result.accuracy[differentiable].max(axis=1) - 0.1)

# %% [markdown]
# What the numbers say, for the `QUICK` grid on this machine:
#
# * **Shape matters little at matched scale.** The three shapes differ by a few percent; the
#   compact `Triangle` (zero gradient beyond $\lvert x\rvert = w$) is the weakest.
# * **Scale matters, and far more with a differentiable reset.** With a detached reset the accuracy
#   barely moves from peak 0.01 to peak 100, as Adam predicts. With a differentiable reset the
#   steep surrogates (peak 10 and 100) lose accuracy, because gradients through the reset grow from
#   one time step to the next.
#
# This is the qualitative pattern of Zenke & Vogels (2021, Figs. 3 and 5), obtained on a much
# smaller network and task. It is not a reproduction of their numbers.
#
# **Try this:**
#
# 1. Open notebook 3 and watch the per-layer gradient norms for peak 100 with a differentiable
#    reset. On which step do they take off?
# 2. Add `recurrent=True` to the configuration (`QUICK.config`), which gives the hidden layer
#    explicit recurrence. Zenke & Vogels found that the scale also matters when gradients flow
#    through recurrent connections (their Fig. 5e–f). Do you see that with a detached reset?
# 3. Use two hidden layers (`hidden=(64, 64)`). Does depth change the detached-reset picture? Why
#    might Adam still cancel the scale layer by layer?
# 4. Sweep the *width* instead: keep peak 1 and vary `slope` of `FastSigmoid`. Which of width and
#    peak is the "scale" that matters here?
#
# ## 4.5 Larger sweeps elsewhere
#
# `sweep` sends each run, as a plain `TrainConfig`, to a `concurrent.futures.Executor`. The default
# is a process pool over the local cores; any other executor works unchanged, for example a Dask
# cluster's:
#
# ```python
# from dask.distributed import Client
# from sgexplore.sweep import FULL, sweep
# from sgexplore.train import TrainConfig
#
# client = Client("tcp://scheduler:8786")
# result = sweep(FULL.shapes, FULL.scales, TrainConfig(**FULL.config), executor=client.get_executor())
# result.to_html("shape_vs_scale.html")  # a self-contained report to share
# ```
#
# ## References
#
# * Zenke & Vogels (2021), *The remarkable robustness of surrogate gradient learning for instilling complex function in spiking neural networks*, Neural Computation 33(4):899–925, doi:10.1162/neco_a_01367.
# * Zenke & Ganguli (2018), *SuperSpike*, Neural Computation 30(6):1514–1541, doi:10.1162/neco_a_01086.
# * Esser et al. (2016), *Convolutional networks for fast, energy-efficient neuromorphic computing*, PNAS 113(41):11441–11446, doi:10.1073/pnas.1604850113.
# * Kingma & Ba (2015), *Adam: A method for stochastic optimization*, ICLR 2015, arXiv:1412.6980 (not in the project's verified literature notes).
