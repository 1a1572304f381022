"""The run of a character-level language model as a frozen dataclass, and its train states.

A :class:`CharLMRun` fixes everything a run depends on: the model, the minibatches, the
optimiser and the seed. Its :data:`~CharLMRun.SHAPE_FIELDS` change the compiled program;
its :data:`~CharLMRun.VMAP_FIELDS` (seed, learning rate, decay) are arrays in the train
state, so runs that differ only in those are stacked by :func:`init_states` and trained
by one vmapped program (:func:`jaxdl.training.train` with ``vmapped=True``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jaxdl.charlm.objective import lm_loss, seq_lm_loss, whole_words
from jaxdl.charlm.optim import make_optimizer
from jaxdl.nn.char_lm import INITS, build_char_lm
from jaxdl.training.engine import TrainResult, train
from jaxdl.training.hyperparams import with_hyperparams
from jaxdl.training.sources import Data, Sampled
from jaxdl.training.state import TrainState
from jaxdl.training.sweep import group_by

MODELS = ("mlp", "wavenet", "transformer")
OPTIMIZERS = ("sgd", "adamw")


@dataclasses.dataclass(frozen=True)
class CharLMRun:
    """One training run of a character-level language model (seed 002, makemore).

    Minibatches of ``batch_size`` windows are drawn with replacement
    (:class:`jaxdl.training.Sampled`); SGD runs at ``learning_rate`` until update
    ``int(lr_decay_at * num_steps)``, then at ``learning_rate * lr_decay_factor``.
    ``jax.random.key(seed)`` fixes the initialisation and every draw.

    Attributes:
      model: ``"mlp"`` (Bengio et al. 2003, as the seed), ``"wavenet"`` (hierarchical) or
        ``"transformer"`` (a character GPT, :class:`~jaxdl.nn.char_lm.CharGPT`, trained on
        the whole words of the split with a loss at every position: :func:`seq_lm_loss`).
      block_size: context length in characters (a power of two >= 2 for ``"wavenet"``).
      n_embd: embedding dimension per character.
      n_hidden: hidden units (the transformer's MLP width).
      init: ``"seed"`` (every parameter N(0, 1)) or ``"scaled"`` (fan-in scaling).
      batch_size: windows per step.
      num_steps: training steps.
      seed: the run's one seed.
      learning_rate: the SGD step size before the decay.
      lr_decay_at: the fraction of ``num_steps`` after which the step size decays.
      lr_decay_factor: the factor of the step size after the decay.
      n_layer: transformer blocks (``"transformer"`` only).
      n_head: attention heads per block (``"transformer"`` only).
      head_dim: width of each head; 0 is ``n_embd // n_head`` (narrow heads, GPT-2),
        ``n_embd`` makes every head full width (wide).
      optim: ``"sgd"`` (the seed's) or ``"adamw"``, both with the step decay.
      dropout: the transformer's dropout rate (embeddings and residual branches).
      weight_decay: AdamW's decoupled weight decay (0.01, as makemore's transformer);
        SGD ignores it.
      ema_decay: 0 (none) or the decay of an exponential moving average of the
        parameters (:func:`jaxdl.training.track_ema`), which is then what is evaluated
        and sampled.

    Raises:
      TypeError: a field has the wrong type.
      ValueError: a field is out of range; the message names the field.

    Example:
      >>> run = CharLMRun(n_hidden=16, num_steps=100)
      >>> run.decay_step, run.init_state().step.tolist()
      (50, 0)
    """

    model: str = "mlp"
    block_size: int = 3
    n_embd: int = 10
    n_hidden: int = 200
    init: str = "seed"
    batch_size: int = 32
    num_steps: int = 200_000
    seed: int = 0
    learning_rate: float = 0.1
    lr_decay_at: float = 0.5
    lr_decay_factor: float = 0.1
    n_layer: int = 4
    n_head: int = 4
    head_dim: int = 0
    optim: str = "sgd"
    dropout: float = 0.0
    weight_decay: float = 0.01
    ema_decay: float = 0.0

    SHAPE_FIELDS: ClassVar[tuple[str, ...]] = (
        "model",
        "block_size",
        "n_embd",
        "n_hidden",
        "init",
        "batch_size",
        "num_steps",
        "n_layer",
        "n_head",
        "head_dim",
        "optim",
        "dropout",
        "weight_decay",
        "ema_decay",
    )
    VMAP_FIELDS: ClassVar[tuple[str, ...]] = (
        "seed",
        "learning_rate",
        "lr_decay_at",
        "lr_decay_factor",
    )

    def __post_init__(self):
        ints = ("block_size", "n_embd", "n_hidden", "batch_size", "num_steps", "seed")
        for name in (*ints, "n_layer", "n_head", "head_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} is {value!r}, expected an int.")
            object.__setattr__(self, name, int(value))
        for name in ("learning_rate", "lr_decay_at", "lr_decay_factor", "dropout", "weight_decay",
                     "ema_decay"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name} is {value!r}, expected a float.")
            object.__setattr__(self, name, float(value))
        if self.model not in MODELS:
            raise ValueError(
                f"model is {self.model!r}, expected 'mlp', 'wavenet' or 'transformer'."
            )
        if self.optim not in OPTIMIZERS:
            raise ValueError(f"optim is {self.optim!r}, expected one of {OPTIMIZERS}.")
        if self.init not in INITS:
            raise ValueError(f"init is {self.init!r}, expected one of {INITS}.")
        for name in ("block_size", "n_embd", "n_hidden", "batch_size", "num_steps", "n_layer"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} is {getattr(self, name)}, expected >= 1.")
        if self.model == "wavenet" and 2 ** round(math.log2(self.block_size)) != max(
            self.block_size, 2
        ):
            raise ValueError(
                f"block_size is {self.block_size}, expected a power of two >= 2 for the "
                "'wavenet' model."
            )
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay is {self.ema_decay}, expected a value in [0, 1).")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout is {self.dropout}, expected a value in [0, 1).")
        if self.n_head < 1 or self.head_dim < 0:
            raise ValueError(
                f"n_head is {self.n_head} and head_dim {self.head_dim}, expected >= 1 and >= 0."
            )
        if self.model == "transformer" and self.head_dim == 0 and self.n_embd % self.n_head:
            raise ValueError(
                f"n_embd is {self.n_embd}, expected a multiple of n_head ({self.n_head}) for "
                "narrow heads (head_dim 0)."
            )
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate is {self.learning_rate}, expected > 0.")
        for name in ("lr_decay_at", "lr_decay_factor", "weight_decay"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} is {getattr(self, name)}, expected >= 0.")

    @property
    def decay_step(self) -> int:
        """The first update at the decayed step size."""
        return int(self.lr_decay_at * self.num_steps)

    @property
    def shape_key(self) -> tuple[Any, ...]:
        """The values of :data:`SHAPE_FIELDS`: runs with equal keys can be vmapped."""
        return tuple(getattr(self, f) for f in self.SHAPE_FIELDS)

    def hyperparams(self) -> dict[str, Any]:
        """The optimiser's injected hyperparameters (:func:`~jaxdl.charlm.make_optimizer`)."""
        return {
            "learning_rate": self.learning_rate,
            "decay_step": self.decay_step,
            "decay_factor": self.lr_decay_factor,
        }

    def model_fn(self) -> Callable[..., nnx.Module]:
        """``model_fn(rngs=...)`` builds this run's (untrained) model."""
        return partial(
            build_char_lm,
            self.model,
            block_size=self.block_size,
            n_embd=self.n_embd,
            n_hidden=self.n_hidden,
            init=self.init,
            n_layer=self.n_layer,
            n_head=self.n_head,
            head_dim=self.head_dim,
            dropout=self.dropout,
        )

    def optimizer(self) -> optax.GradientTransformation:
        """This run's step-decay SGD or AdamW, hyperparameters injected."""
        decay = {"weight_decay": self.weight_decay} if self.optim == "adamw" else {}
        return make_optimizer(
            **self.hyperparams(), kind=self.optim, ema_decay=self.ema_decay, **decay
        )

    def init_state(self) -> TrainState:
        """The initial train state (model, optimiser and keys from this run)."""
        return create_state(self.model_fn(), self.optimizer(), jax.random.key(self.seed))


def create_state(
    model_fn: Callable[..., nnx.Module],
    tx: optax.GradientTransformation,
    key: jax.Array,
) -> TrainState:
    """A train state whose model is ``model_fn(rngs=nnx.Rngs(params=init_key))``.

    ``key`` is split into the initialisation key and the run key, so one key fixes the
    whole run. Works under ``jax.vmap`` over ``key``.
    """
    init_key, run_key = jax.random.split(key)
    return TrainState.create(model_fn(rngs=nnx.Rngs(params=init_key)), tx, key=run_key)


def init_states(runs: Sequence[CharLMRun]) -> TrainState:
    """The initial states of runs with one :attr:`~CharLMRun.shape_key`, stacked on axis 0.

    Row ``i`` equals ``runs[i].init_state()`` leaf by leaf.

    Raises:
      ValueError: ``runs`` is empty or its runs differ in a shape field.
    """
    shapes = {r.shape_key for r in runs}
    if len(shapes) != 1:
        raise ValueError(
            f"runs have {len(shapes)} shapes ({sorted(map(str, shapes))}), expected one: "
            f"they may differ only in {', '.join(CharLMRun.VMAP_FIELDS)}."
        )
    first = runs[0]
    keys = jnp.stack([jax.random.key(r.seed) for r in runs])
    states = jax.vmap(lambda k: create_state(first.model_fn(), first.optimizer(), k))(keys)
    # jnp, not np: under vmap a NumPy float64 leaf would pass through as float64.
    hyper = {k: jnp.asarray([r.hyperparams()[k] for r in runs]) for k in first.hyperparams()}
    return jax.vmap(lambda st, h: with_hyperparams(st, **h))(states, hyper)


def group_by_shape(runs: Sequence[CharLMRun]) -> list[list[int]]:
    """Indices of ``runs`` grouped by :attr:`~CharLMRun.shape_key`, in first-seen order."""
    return group_by(runs, key=lambda r: r.shape_key)


def scan_unroll(chunk_steps: int) -> int:
    """The ``unroll`` of :func:`jaxdl.training.train` for chunks of ``chunk_steps`` steps.

    8 steps per loop iteration for chunks of at least 1,000 steps, none for shorter
    ones: for a model this small the per-step cost is mostly loop and RNG overhead, and
    on a 2-core CPU unrolling makes the default MLP's chunks about 10% faster but
    doubles the compile time, which only long chunks pay back.
    """
    return 8 if chunk_steps >= 1000 else 1


def train_char_lm(
    state: TrainState, spec: CharLMRun, train_data: Data, *, chunk_steps: int, **kwargs: Any
) -> TrainResult:
    """Trains ``state`` for ``spec.num_steps`` steps of :func:`~jaxdl.charlm.lm_loss` on
    minibatches drawn from ``train_data`` (a :class:`~jaxdl.training.Sampled` source of
    ``spec.batch_size`` rows), in epochs of ``chunk_steps`` steps, the last one partial.

    Args:
      state: the run's train state (``spec.init_state()``), or :func:`init_states`'
        stack of runs with ``vmapped=True``.
      spec: the run; its ``num_steps`` and ``batch_size`` are used.
      train_data: the training windows, as :func:`~jaxdl.charlm.as_device_data` gives.
      chunk_steps: steps per epoch (one compiled chunk, one log line, one checkpoint).
      **kwargs: passed on to :func:`jaxdl.training.train` (``run``, ``evaluate``,
        ``progress``, ``vmapped``, ``mesh`` ...). With a ``mesh``, each step's batch
        is split over its batch axes (``train_data`` should be replicated on it) and a
        vmapped stack over its ``runs`` axis.

    A ``"transformer"`` run draws whole words (:func:`whole_words`) and learns every
    position of them (:func:`seq_lm_loss`), as GPTs are trained; the others learn the
    last position of every window.

    Returns:
      :func:`jaxdl.training.train`'s result.
    """
    loss_fn = lm_loss
    if spec.model == "transformer":
        train_data, loss_fn = whole_words(train_data), seq_lm_loss
    chunk = min(chunk_steps, spec.num_steps)
    sharding = None
    if (mesh := kwargs.get("mesh")) is not None:
        from jaxdl.parallel import batch_sharding, check_batch_size

        check_batch_size(spec.batch_size, mesh)
        sharding = batch_sharding(mesh)
    return train(
        state,
        Sampled(train_data, spec.batch_size, steps_per_epoch=chunk, batch_sharding=sharding),
        loss_fn=loss_fn,
        num_epochs=-(-spec.num_steps // chunk),
        num_steps=spec.num_steps,
        # A GPT's steps are matmul-bound: unrolling would only multiply its compile time.
        unroll=1 if spec.model == "transformer" else scan_unroll(chunk),
        **kwargs,
    )
