"""The training engine: a config, a stream of per-step records, and a command line.

``train(config)`` is a generator. Each optimizer step yields a :class:`StepRecord`, so a
widget can plot the loss while the run goes on, a script can collect ``list(train(cfg))``,
and any caller stops the run by no longer iterating. The network is :class:`sgexplore.snn.SNN`,
its output the readout membrane's maximum over time, the loss cross-entropy on that
maximum, the optimizer Adam or plain gradient descent (``TrainConfig.optimizer``).

Command line (``python -m sgexplore.train`` or ``sgexplore-train``)::

    python -m sgexplore.train --surrogate MultiGaussian --sigma 0.3 --steps 200

has a flag for every :class:`TrainConfig` field and for every declared parameter of the
registered surrogates (a surrogate parameter whose name is also a config field, such as
``alpha``, is spelled ``--surrogate-alpha``).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Tuple

import torch
import torch.nn.functional as F

from . import lens, native, surrogates, tasks
from .params import Param, ParamTypeError, field_for, format_number, param, params_of, shown, validate_value
from .snn import BETA, DETACH_RESET, LAYER_SIZE, RECURRENT, RESET, SNN, WEIGHT_SCALE
from .spike import MODE
from .surrogates import SPIKE_THRESHOLD, Surrogate, describe

__all__ = ["TrainConfig", "StepRecord", "train", "evaluate", "main", "HIDDEN_SIZE", "STATUSES",
           "TRAIN_MODE", "OPTIMIZERS", "OPTIMIZER", "RECORD_EVERY", "Adam", "SGD", "Run"]

STATUSES = ("ok", "diverged")
#: Training offers the spike modes without a cap ("max" would need max_spikes).
TRAIN_MODE = dataclasses.replace(MODE, choices=tuple(m for m in MODE.choices if m != "max"),
                                 doc="single: at most one spike per step; multi: one per threshold crossed")
#: Declaration of one hidden layer's width (``TrainConfig.hidden`` is a tuple of these).
HIDDEN_SIZE = LAYER_SIZE
OPTIMIZERS = ("adam", "sgd")
#: Adam divides each weight's step by its gradient's running size, so it cancels a surrogate
#: scale that multiplies a whole layer's gradient; plain gradient descent (sgd) feels it.
OPTIMIZER = Param("adam", choices=OPTIMIZERS,
                  doc="adam: Adam with torch's defaults; sgd: plain gradient descent (no momentum)")
RECORD_EVERY = Param(0, low=0, high=100000, integer=True, slider=(0, 100, 1),
                     doc="record each hidden layer's v − thr histogram every this many steps "
                         "(and at the last); 0 = never (StepRecord.membrane)")
_MAX_HIDDEN_LAYERS = 4


def _field(default, doc: str):
    """A dataclass field for a setting that no :class:`Param` kind describes, with its meaning."""
    return field(default=default, metadata={"doc": doc})


def _default_surrogate() -> Surrogate:
    return surrogates.FastSigmoid()


def _task(name: str):
    return field_for(tasks.TASK_PARAMS[name])


@dataclass
class TrainConfig:
    """Everything that defines a training run; validated on construction and on assignment.

    Every setting but ``hidden``, ``surrogate`` and ``device`` is declared with a
    :class:`~sgexplore.params.Param` (valid values, slider, doc), shared with the layer that
    uses it (the task's in :mod:`sgexplore.tasks`, the network's in :mod:`sgexplore.snn`), so
    widgets, the CLI and the checks read the same declarations; ``params_of(TrainConfig)``
    lists them. ``hidden`` is a tuple of layer widths, each declared by :data:`HIDDEN_SIZE`.
    ``surrogate`` may be given as a registered name (``"Gaussian"``), which becomes the
    surrogate with default parameters. Bad values raise ValueError naming the field and
    its valid values (:class:`~sgexplore.params.ParamTypeError`, a TypeError, for a value
    of the wrong type). Assigning a field (``config.lr = 0.1``) validates the whole config
    again, as ``dataclasses.replace`` does, and leaves it unchanged when the new value is
    invalid; assigning a name that is not a field is an AttributeError.
    """

    # -- the task --------------------------------------------------------------
    task: str = field_for(tasks.TASK)
    classes: int = _task("classes")
    units: int = _task("units")
    time_steps: int = _task("time_steps")
    manifold_dim: int = _task("manifold_dim")
    alpha: float = _task("alpha")
    samples_per_class: int = _task("samples_per_class")
    # -- the network -----------------------------------------------------------
    hidden: Tuple[int, ...] = _field((64,), "hidden layer widths, 1 to 4 layers, e.g. 64 or 64, 32")
    surrogate: Surrogate = field(default_factory=_default_surrogate,
                                 metadata={"doc": "surrogate of every spike's backward pass"})
    spike_threshold: float = field_for(SPIKE_THRESHOLD)
    beta: float = field_for(BETA)
    reset: str = field_for(RESET)
    detach_reset: bool = field_for(DETACH_RESET)
    recurrent: bool = field_for(RECURRENT)
    mode: str = field_for(TRAIN_MODE)
    weight_scale: float = field_for(WEIGHT_SCALE)
    # -- the optimizer ---------------------------------------------------------
    optimizer: str = field_for(OPTIMIZER)
    lr: float = param(0.01, low=0.0, low_open=True, high=10.0, slider=(1e-4, 1.0, 0.1), log=True,
                      doc="learning rate (of Adam or of SGD)")
    steps: int = param(120, low=1, high=100000, integer=True, slider=(10, 1000, 10),
                       doc="optimizer steps")
    batch_size: int = param(64, low=1, high=10000, integer=True, slider=(8, 256, 8),
                            doc="training samples per step (drawn without replacement)")
    seed: int = _task("seed")
    test_every: int = param(25, low=1, high=100000, integer=True, slider=(1, 100, 1),
                            doc="evaluate test accuracy every this many steps (and at the last)")
    record_every: int = field_for(RECORD_EVERY)
    threads: int = param(1, low=1, high=256, integer=True, slider=(1, 16, 1),
                         doc="torch threads while a step computes (1 is fastest for this small net)")
    device: str = _field("cpu", "torch device, e.g. cpu or cuda")

    def __post_init__(self) -> None:
        # object.__setattr__: the validated values go in directly, not through the
        # assignment check below (which would build a config per field).
        for name, declaration in params_of(self).items():
            object.__setattr__(self, name, validate_value("TrainConfig", name, declaration,
                                                          getattr(self, name)))
        object.__setattr__(self, "hidden", _check_hidden(self.hidden))
        object.__setattr__(self, "surrogate", _check_surrogate(self.surrogate))
        if self.task == "two_patterns" and self.classes != 2:
            raise ValueError(f"TrainConfig.classes must be 2 for task='two_patterns'; got {self.classes}")
        n_train = self.classes * (self.samples_per_class - tasks.test_count(self.samples_per_class))
        if self.batch_size > n_train:
            raise ValueError(f"TrainConfig.batch_size must be in [1, {n_train}] (the training set "
                             f"size for these task settings); got {self.batch_size}")
        object.__setattr__(self, "device", _check_device(self.device))

    def __setattr__(self, name: str, value) -> None:
        # The generated __init__ sets each field once before __post_init__ validates them
        # all; any later assignment goes through the same validation, on a copy.
        if name not in self.__dataclass_fields__:
            raise AttributeError(f"TrainConfig has no field {name!r}; its fields are "
                                 f"{list(self.__dataclass_fields__)}")
        if name not in self.__dict__:  # __init__ is setting it for the first time
            object.__setattr__(self, name, value)
            return
        try:
            checked = dataclasses.replace(self, **{name: value})
        except ValueError as error:
            if f"TrainConfig.{name} " in str(error):
                raise
            # another field's check failed: say which assignment made it fail
            raise type(error)(f"TrainConfig.{name} = {shown(value)} does not fit the other "
                              f"fields: {error}") from None
        object.__setattr__(self, name, getattr(checked, name))

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"TrainConfig fields cannot be deleted; got del config.{name}")


def _check_hidden(hidden) -> Tuple[int, ...]:
    if isinstance(hidden, int) and not isinstance(hidden, bool):
        hidden = (hidden,)
    expected = (f"TrainConfig.hidden must be a tuple of 1 to {_MAX_HIDDEN_LAYERS} layer widths, "
                f"each {HIDDEN_SIZE.expected_text()}")
    if not isinstance(hidden, (tuple, list)):
        raise ParamTypeError(f"{expected}; got {shown(hidden)} of type {type(hidden).__name__}")
    if not 1 <= len(hidden) <= _MAX_HIDDEN_LAYERS:
        raise ValueError(f"{expected}; got {shown(hidden)}")
    return tuple(validate_value("TrainConfig", "hidden", HIDDEN_SIZE, n) for n in hidden)


def _check_surrogate(surrogate) -> Surrogate:
    if isinstance(surrogate, str):
        if surrogate not in surrogates.registry():
            raise ValueError(f"TrainConfig.surrogate must be a Surrogate or one of "
                             f"{sorted(surrogates.registry())}; got {shown(surrogate)}")
        return surrogates.create(surrogate)
    if not isinstance(surrogate, Surrogate):
        raise ParamTypeError(f"TrainConfig.surrogate must be a Surrogate or one of "
                             f"{sorted(surrogates.registry())}; got {shown(surrogate)}")
    return surrogate


#: Device types a run can train on (others, such as 'meta', hold no data to train with).
DEVICE_TYPES = ("cpu", "cuda")


def _check_device(device) -> str:
    valid = "a torch device: 'cpu', or 'cuda' / 'cuda:N' where CUDA is available"
    if not isinstance(device, (str, torch.device)):
        raise ParamTypeError(f"TrainConfig.device must be {valid}; got {shown(device)} "
                             f"of type {type(device).__name__}")
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"TrainConfig.device must be {valid}; got {shown(device)}") from None
    if parsed.type not in DEVICE_TYPES:
        raise ValueError(f"TrainConfig.device must be {valid}; got {shown(device)}")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"TrainConfig.device is {shown(device)} but CUDA is not available; use 'cpu'")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(f"TrainConfig.device must be {valid}; got {shown(device)}, but this "
                             f"machine has {torch.cuda.device_count()} CUDA device(s)")
    return str(parsed)


@dataclass(frozen=True)
class StepRecord:
    """What one optimizer step reports.

    Attributes:
        step: 1-based step number.
        loss: cross-entropy on this step's training batch.
        accuracy: fraction of the training batch classified correctly.
        test_accuracy: accuracy on the whole test set, every ``test_every`` steps and at the
            last step; otherwise None.
        grad_norms: L2 norm of each layer's weight gradient (hidden layers, then the
            readout); a recurrent layer's norm covers both of its weight matrices.
        spike_rates: mean spikes per neuron per time step of each hidden layer on the batch.
        elapsed_s: seconds since the run started, including this step.
        status: ``"ok"``, or ``"diverged"`` when the loss or a gradient was NaN or infinite;
            a diverged record is the last one and its step was not applied.
        test_loss: cross-entropy on the whole test set, on the steps with ``test_accuracy``;
            otherwise None.
        membrane: on the steps ``record_every`` selects (and the last), one
            :class:`~sgexplore.lens.MembraneHistogram` per hidden layer of ``v_mem - thr`` over
            every neuron, time step and sample of this step's batch, before the spike (the
            forward pass this step's gradient came from); otherwise None. A diverged record
            has none; a recorded step whose membranes hold NaN is a diverged one.
    """

    step: int
    loss: float
    accuracy: float
    test_accuracy: Optional[float]
    grad_norms: Tuple[float, ...]
    spike_rates: Tuple[float, ...]
    elapsed_s: float
    status: str
    test_loss: Optional[float] = None
    membrane: Optional[Tuple[lens.MembraneHistogram, ...]] = None


def build_network(config: TrainConfig, n_in: int, generator: torch.Generator) -> SNN:
    """The network a run trains, initialised from ``generator``."""
    sizes = [n_in, *config.hidden, config.classes]
    return SNN(sizes, config.surrogate, beta=config.beta, spike_threshold=config.spike_threshold,
               reset=config.reset, detach_reset=config.detach_reset, recurrent=config.recurrent,
               mode=config.mode, weight_scale=config.weight_scale, generator=generator)


def logits_of(readout: torch.Tensor) -> torch.Tensor:
    """Class scores: the readout membrane's maximum over time, ``(T, B, C) -> (B, C)``."""
    return readout.amax(0)


def evaluate(model: SNN, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of ``model`` on time-major inputs ``x`` and labels ``y``, without gradients."""
    return _test_metrics(model, x, y)[0]


def _test_metrics(model: SNN, x: torch.Tensor, y: torch.Tensor) -> Tuple[float, float]:
    """(accuracy, cross-entropy) of ``model`` on ``x``, ``y``, without gradients."""
    with torch.no_grad():
        logits = logits_of(model(x))
        return float((logits.argmax(1) == y).float().mean()), float(F.cross_entropy(logits, y))


def _layer_grad_norms(model: SNN) -> Tuple[float, ...]:
    norms = []
    for layer in [*model.hidden, model.readout]:
        # float64, so that a large but finite float32 gradient is not reported as inf.
        norms.append(math.hypot(*(float(torch.linalg.vector_norm(p.grad, dtype=torch.float64))
                                  for p in layer.parameters() if p.grad is not None)))
    return tuple(norms)


class Adam:
    """Adam (Kingma & Ba 2015) with torch's default constants, in a few lines.

    Same update as ``torch.optim.Adam`` (a test holds them together); written here because
    constructing any ``torch.optim`` optimizer first imports ``torch._dynamo``, which can take
    longer than a whole default run (BENCHMARKS.md, Training notes).
    """

    def __init__(self, params, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.betas, self.eps = lr, betas, eps
        self.step_count = 0
        self.mean = [torch.zeros_like(p) for p in self.params]
        self.square = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.step_count += 1
        beta1, beta2 = self.betas
        bias1 = 1 - beta1 ** self.step_count
        bias2 = 1 - beta2 ** self.step_count
        for p, mean, square in zip(self.params, self.mean, self.square):
            if p.grad is None:
                continue
            mean.lerp_(p.grad, 1 - beta1)
            square.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
            denominator = (square.sqrt() / math.sqrt(bias2)).add_(self.eps)
            p.addcdiv_(mean, denominator, value=-self.lr / bias1)


class SGD:
    """Plain gradient descent, ``w -= lr * grad`` (``torch.optim.SGD`` without momentum)."""

    def __init__(self, params, lr: float):
        self.params = [p for p in params if p.requires_grad]
        self.lr = lr

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for p in self.params:
            if p.grad is not None:
                p.add_(p.grad, alpha=-self.lr)


_OPTIMIZERS = {"adam": Adam, "sgd": SGD}


class _Threads:
    """Run a block with a given number of torch intra-op threads, then restore the old number."""

    def __init__(self, count: int):
        self.count = count

    def __enter__(self):
        self.previous = torch.get_num_threads()
        torch.set_num_threads(self.count)

    def __exit__(self, *exc):
        torch.set_num_threads(self.previous)


def train(config: TrainConfig) -> Iterator[StepRecord]:
    """Train an SNN as ``config`` says, yielding a :class:`StepRecord` after every step.

    Deterministic: one ``torch.Generator`` seeded with ``config.seed`` draws the initial
    weights and every batch, so the same config gives the same records (bar ``elapsed_s``)
    on the same machine, whatever the global RNG state. The data set is cached per task
    parameters, so a rerun with another surrogate starts at once. Torch runs with
    ``config.threads`` threads while a step computes and with the caller's setting while
    the caller has control. A NaN or infinite loss or gradient ends the run with one
    ``"diverged"`` record; nothing is raised.

    For one hidden layer without recurrent weights, the subtract reset or none and single
    spikes on the CPU, each step's forward and backward run in :mod:`sgexplore.native`'s
    compiled kernels where they are available (the same results up to float rounding);
    membrane histograms (``record_every``) come from the kernels' forward, which bins the
    membranes itself on those steps, so recording them changes nothing the run trains.
    """
    if not isinstance(config, TrainConfig):
        raise ParamTypeError(f"train() config must be a TrainConfig; got {type(config).__name__}")
    return _stream(config)


class _RunState:
    """The state of one run: data, network, optimizer and the batch generator."""

    def __init__(self, config: TrainConfig):
        self.config = config
        data = tasks.load(config.task, config.classes, config.units, config.time_steps,
                          config.manifold_dim, config.alpha, config.samples_per_class, config.seed)
        device = torch.device(config.device)
        self.x_train, self.y_train = data.x_train.to(device), data.y_train.to(device)
        self.x_test, self.y_test = data.x_test.to(device), data.y_test.to(device)
        self.device = device
        self.generator = torch.Generator().manual_seed(config.seed)
        self.model = build_network(config, self.x_train.shape[-1], self.generator).to(device)
        self.optimizer = _OPTIMIZERS[config.optimizer](self.model.parameters(), lr=config.lr)
        # the native kernels train this network (and give the lens its membranes)
        self.native_network = (len(config.hidden) == 1 and not config.recurrent and config.mode == "single"
                               and config.reset in ("subtract", "none") and device.type == "cpu"
                               and self.model.readout.weight.dtype == torch.float32)
        self._spike_lists = None  # the training set as spike lists, made at the first native step

    def _native_logits(self, batch: torch.Tensor, membranes: Optional[list] = None):
        """Logits and the hidden spike rate of ``batch`` through :mod:`sgexplore.native`, or
        None where its kernels cannot serve this step (then the network module runs). A list
        as ``membranes`` receives the hidden layer's histograms of ``v - thr`` before the reset
        (:func:`lens.counted_histograms`'s counts, binned by the kernel: the lens)."""
        config, model = self.config, self.model
        kernels = native.kernels_for([config.surrogate], config.spike_threshold, config.hidden[0], config.classes)
        if kernels is None:
            return None
        if self._spike_lists is None:
            self._spike_lists = native.spike_lists(self.x_train.transpose(0, 1))
        times, units, values = (a[batch].unsqueeze(0) for a in self._spike_lists)
        inputs = native.InputSpikes(times, units, values, self.x_train.shape[0], self.x_train.shape[-1])
        spec = _OneNetwork(config)
        if membranes is not None:
            spec.histograms = torch.zeros(1, len(lens.edges_for(config.spike_threshold)), dtype=torch.int64)
            spec.bin_scale, spec.bin_offset = lens.bin_arithmetic(config.spike_threshold, config.spike_threshold)
        logits, rates = native.NativeNetwork.apply(model.hidden[0].weight.unsqueeze(0),
                                                   model.readout.weight.unsqueeze(0), inputs, spec, kernels)
        if membranes is not None:
            membranes.append(spec.histograms)
        return logits[0], (float(rates[0]),)

    def step(self, step: int, start: float) -> StepRecord:
        """One optimizer step (skipped when the loss or a gradient is not finite)."""
        config, model = self.config, self.model
        batch = torch.randperm(self.y_train.shape[0], generator=self.generator)[:config.batch_size]
        batch = batch.to(self.device)
        x, y = self.x_train[:, batch], self.y_train[batch]
        recording = bool(config.record_every) and (step % config.record_every == 0 or step == config.steps)
        membranes = [] if recording else None
        fast = self._native_logits(batch, membranes) if self.native_network else None
        if fast is not None:
            logits, spike_rates = fast
        else:
            readout, spikes = model(x, record=True, membranes=membranes)
            logits = logits_of(readout)
            spike_rates = tuple(float(s.detach().mean()) for s in spikes)
        loss = F.cross_entropy(logits, y)
        self.optimizer.zero_grad()
        loss.backward()
        loss_value = float(loss.detach())
        grad_norms = _layer_grad_norms(model)
        record = dict(step=step, loss=loss_value,
                      accuracy=float((logits.detach().argmax(1) == y).float().mean()),
                      grad_norms=grad_norms, spike_rates=spike_rates)
        # a NaN membrane is divergence too (it has no histogram: membrane_histograms gives None)
        membrane = None
        if recording and fast is not None:
            membrane = lens.counted_histograms(membranes[0].numpy(), config.spike_threshold)
        elif recording:
            membrane = lens.membrane_histograms(membranes, config.spike_threshold)
        if not (math.isfinite(loss_value) and all(math.isfinite(g) for g in grad_norms)) or \
                (recording and membrane is None):
            return StepRecord(**record, test_accuracy=None,
                              elapsed_s=time.perf_counter() - start, status="diverged")
        record["membrane"] = membrane
        self.optimizer.step()
        tested = step % config.test_every == 0 or step == config.steps
        test_accuracy, test_loss = _test_metrics(model, self.x_test, self.y_test) if tested else (None, None)
        return StepRecord(**record, test_accuracy=test_accuracy, test_loss=test_loss,
                          elapsed_s=time.perf_counter() - start, status="ok")


class _OneNetwork:
    """What :class:`sgexplore.native.NativeNetwork` reads of one run's settings: its own
    surrogate as the kernel's unit (scale 1) and its reset-gradient mask."""

    def __init__(self, config: TrainConfig):
        self.spike_threshold, self.beta, self.reset = float(config.spike_threshold), float(config.beta), config.reset
        self.keep = torch.tensor([0.0 if config.detach_reset else 1.0])
        self.scales = torch.ones(1)
        self.sizes = [1]


def _stream(config: TrainConfig) -> Iterator[StepRecord]:
    yield from Run(config)


def _sample_param(count: int) -> Param:
    return Param(0, low=0, high=count - 1, integer=True, slider=(0, max(count - 1, 1), 1),
                 doc="index of a test sample")


class Run:
    """One training run that its caller drives: ``run.step()`` trains one optimizer step and
    returns its :class:`StepRecord`; iterating yields the remaining steps' records.

    ``train(config)`` is ``iter(Run(config))``. A Run can also pause (just stop calling it),
    step, and change its surrogate between steps with :meth:`set_surrogate`: the surrogate
    acts only in the backward pass, so the weights, the optimizer's state and the batch
    order carry on, as TensorFlow Playground lets the learning rate change mid-run.
    ``records`` holds every record so far; ``done`` is True after the last step or a
    diverged one. Building a Run builds the data set and the network (the first record's
    ``elapsed_s`` counts from then).
    """

    def __init__(self, config: TrainConfig):
        if not isinstance(config, TrainConfig):
            raise ParamTypeError(f"Run() config must be a TrainConfig; got {type(config).__name__}")
        self._start = time.perf_counter()
        self.config = config
        self.records: List[StepRecord] = []
        with _Threads(config.threads):
            self._state = _RunState(config)

    @property
    def done(self) -> bool:
        return bool(self.records) and (self.records[-1].step >= self.config.steps
                                       or self.records[-1].status != "ok")

    def step(self) -> StepRecord:
        """Train the next step and return its record (RuntimeError once the run is ``done``)."""
        if self.done:
            raise RuntimeError(f"the run is over (step {self.records[-1].step} of {self.config.steps}, "
                               f"status {self.records[-1].status!r}); start a new Run")
        with _Threads(self.config.threads):
            record = self._state.step(len(self.records) + 1, self._start)
        self.records.append(record)
        return record

    def __iter__(self) -> Iterator[StepRecord]:
        while not self.done:
            yield self.step()

    def activity(self, sample: int = 0) -> Tuple[torch.Tensor, ...]:
        """Each hidden layer's spikes ``(T, n)`` on test sample ``sample`` (a fixed probe), with
        the current weights and no gradient."""
        x_test = self._state.x_test
        sample = validate_value("Run.activity", "sample", _sample_param(x_test.shape[1]), sample)
        with torch.no_grad(), _Threads(self.config.threads):
            _readout, spikes = self._state.model(x_test[:, sample:sample + 1], record=True)
        return tuple(s[:, 0].cpu() for s in spikes)

    @property
    def data(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """The training inputs ``(T, samples, units)`` and labels this run draws its batches from."""
        return self._state.x_train.cpu(), self._state.y_train.cpu()

    def set_surrogate(self, surrogate: Surrogate) -> None:
        """Use ``surrogate`` from the next step on (validated as ``TrainConfig.surrogate`` is);
        ``config`` says so too. Weights, optimizer state and batch order are unchanged."""
        config = dataclasses.replace(self.config, surrogate=surrogate)
        model = self._state.model
        lif = dataclasses.replace(model.lif, surrogate=config.surrogate)
        model.lif = lif
        for layer in model.hidden:
            layer.p = lif
        self.config = self._state.config = config


def __getattr__(name: str):
    # sgexplore.train.train_many is sgexplore.ensemble.train_many (N configs in one pass).
    # Imported on first access: ensemble builds on this module, so a module-level import
    # here would run upward (tests/test_layers.py).
    if name == "train_many":
        from .ensemble import train_many
        return train_many
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def _surrogate_flags() -> dict:
    """Flag destination -> (parameter name, declaration) for every registered surrogate's parameters.

    The declaration is the first registered surrogate's; :func:`_surrogate_flag_help` describes
    every surrogate's own.
    """
    return {dest: (name, users[0][1]) for dest, (name, users) in _surrogate_flag_users().items()}


def _surrogate_flag_users() -> dict:
    """Flag destination -> (parameter name, [(surrogate name, declaration), ...]), registry order."""
    config_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    flags: dict = {}
    for surrogate_name, cls in surrogates.registry().items():
        for name, declaration in cls.params().items():
            dest = f"surrogate_{name}" if name in config_fields else name
            flags.setdefault(dest, (name, []))[1].append((surrogate_name, declaration))
    return flags


def _declaration_text(declaration) -> str:
    """Meaning, convention, valid values and default of one surrogate's parameter."""
    doc, convention = declaration.doc, declaration.convention_text()
    meaning = doc if convention in doc else f"{doc} ({convention})"
    return f"{meaning}; in {declaration.range_text()}, default {format_number(declaration.default, 6)}"


def _surrogate_flag_help(name: str, users) -> str:
    """A surrogate flag's help: per surrogate (those with the same declaration together), what
    the value means and how it relates to the threshold, e.g. grad_width is relative to thr for
    SingleExponential but absolute for Triangle."""
    groups: dict = {}
    for surrogate_name, declaration in users:
        groups.setdefault(_declaration_text(declaration), []).append(surrogate_name)
    return f"{name}: " + " | ".join(f"{', '.join(names)}: {text}" for text, names in groups.items())


_ASCII_INTEGER = re.compile(r"[+-]?[0-9]+")
_ASCII_REAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(inf|nan)", re.IGNORECASE)


def _ascii_integer(text: str) -> int:
    """An integer flag's value: ASCII digits only (``int()`` would also take ``1_000`` and
    other scripts' digits)."""
    if not _ASCII_INTEGER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"must be a whole number in ASCII digits; got {text!r}")
    return int(text)


def _ascii_real(text: str) -> float:
    """A number flag's value: a decimal number in ASCII (inf and nan are left to the range check)."""
    if not _ASCII_REAL.fullmatch(text):
        raise argparse.ArgumentTypeError(f"must be a number in ASCII digits, e.g. 0.5 or 1e-3; got {text!r}")
    return float(text)


def _help(text: str) -> str:
    return text.replace("%", "%%")  # argparse treats % in help as a format directive


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sgexplore.train",
        description="Train the toy SNN on a synthetic spike-timing task and report the result.")
    declared = params_of(TrainConfig)
    config = parser.add_argument_group("training (TrainConfig fields)")
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.name in declared:
            d = declared[f.name]
            kind = {"real": dict(type=_ascii_real), "integer": dict(type=_ascii_integer),
                    "choice": dict(choices=d.choices),
                    "boolean": dict(action=argparse.BooleanOptionalAction)}[d.kind]
            config.add_argument(flag, dest=f.name, default=None, help=_help(d.help_text()), **kind)
        elif f.name == "hidden":
            config.add_argument(flag, dest="hidden", type=_ascii_integer, nargs="+", default=None,
                                help=f"{f.metadata['doc']} (default {' '.join(map(str, f.default))})")
        elif f.name == "surrogate":
            config.add_argument(flag, dest="surrogate", default=None,
                                choices=sorted(surrogates.registry()),
                                help=f"{f.metadata['doc']} (default {type(_default_surrogate()).__name__})")
        else:
            config.add_argument(flag, dest=f.name, default=None,
                                help=f"{f.metadata['doc']} (default {f.default})")
    group = parser.add_argument_group("surrogate parameters (apply to the chosen --surrogate)")
    for dest, (name, users) in _surrogate_flag_users().items():
        group.add_argument("--" + dest.replace("_", "-"), dest="sp_" + dest, type=_ascii_real,
                           default=None, metavar=name.upper(),
                           help=_help(_surrogate_flag_help(name, users)))
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig the parsed flags describe (ValueError for bad values)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
              if getattr(args, f.name) is not None}
    if "hidden" in values:
        values["hidden"] = tuple(values["hidden"])
    surrogate_name = values.pop("surrogate", type(_default_surrogate()).__name__)
    surrogate_values = {name: getattr(args, "sp_" + dest)
                        for dest, (name, _) in _surrogate_flags().items()
                        if getattr(args, "sp_" + dest) is not None}
    values["surrogate"] = surrogates.create(surrogate_name, **surrogate_values)
    return TrainConfig(**values)


def _summary(config: TrainConfig, records: List[StepRecord], interrupted: bool = False) -> str:
    """The CLI's report of a run; ``interrupted`` for a run stopped by Ctrl-C."""
    if not records:
        return "\n".join([f"surrogate      {describe(config.surrogate)}",
                          f"status         interrupted before the first of {config.steps} steps"])
    last = records[-1]
    tested = [r.test_accuracy for r in records if r.test_accuracy is not None]
    status = "interrupted" if interrupted else last.status
    lines = [
        f"surrogate      {describe(config.surrogate)}",
        f"status         {status} after {last.step} of {config.steps} steps "
        f"in {last.elapsed_s:.2f} s",
        f"loss           {records[0].loss:.4f} -> {last.loss:.4f}",
        f"train accuracy {last.accuracy:.3f} (last batch)",
        f"test accuracy  {tested[-1]:.3f} (chance {1 / config.classes:.3f})" if tested
        else "test accuracy  not measured",
        "spike rates    " + ", ".join(f"{r:.4f}" for r in last.spike_rates),
        "grad norms     " + ", ".join(f"{g:.3g}" for g in last.grad_norms),
    ]
    return "\n".join(lines)


#: Exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry point. Exit code 0 when the run finishes, 1 when it diverged,
    2 for bad arguments, 130 when Ctrl-C stopped it: the summary of the steps done is
    printed then too, without a traceback."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as error:
        parser.error(str(error))  # prints usage and the message, exits with code 2
    from tqdm import tqdm

    records: List[StepRecord] = []
    try:
        with tqdm(total=config.steps, disable=args.quiet, unit="step", file=sys.stderr) as bar:
            for record in train(config):
                records.append(record)
                bar.set_postfix(loss=f"{record.loss:.3f}", acc=f"{record.accuracy:.2f}", refresh=False)
                bar.update(1)
    except KeyboardInterrupt:
        # A step cut short leaves no record; the finished ones are summarised.
        print(_summary(config, records, interrupted=True))
        return EXIT_INTERRUPTED
    print(_summary(config, records))
    return 0 if records[-1].status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
