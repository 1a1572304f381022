"""What the recipes share on the config side: the run, data and scaling fields of their
configs, quick-config overrides, and turning those fields into library objects (the
``jaxdl.parallel`` objects, the run, ``fit``'s options, the Fashion-MNIST splits), plus
the fashion_mnist recipe's CNN and warm-up-cosine optimiser that other Fashion-MNIST
recipes build from the same fields.

Recipes import only this module and :mod:`train.cli_config` from outside their own
folder; the library (``jaxdl``) never sees a config, only the typed values read here.
"""

from __future__ import annotations

from typing import Any

import jax
import ml_collections
import optax
from flax import nnx
from jax.sharding import Mesh

from jaxdl import parallel
from jaxdl.data import load_fashion_mnist_split
from jaxdl.nn import CNNClassifier
from jaxdl.training import Run, warmup_cosine_optimizer

from .cli_config import LIFECYCLE_FIELDS, ConfigError, add_lifecycle_fields

__all__ = [
    "QUICK_RUN",
    "LIFECYCLE_FIELDS",
    "add_data_fields",
    "add_lifecycle_fields",
    "add_run_fields",
    "add_scale_fields",
    "cnn_classifier",
    "check_scale_support",
    "cpu_runs_mesh",
    "fashion_mnist_splits",
    "fit_options",
    "open_run",
    "initialize_from_config",
    "loss_scale",
    "override",
    "quick_run",
    "request_cpu_devices",
    "setup",
    "warmup_cosine",
]


def _add(c: ml_collections.ConfigDict, fields: dict[str, Any]) -> ml_collections.ConfigDict:
    for name, value in fields.items():
        if value is not None:  # None: the recipe has no such field
            c[name] = value
    return c


def add_run_fields(
    c: ml_collections.ConfigDict,
    *,
    num_epochs: int,
    batch_size: int,
    eval_batch_size: int | None = 1000,
    steps_per_dispatch: int | None = 0,
    seed: int | None = 0,
    max_to_keep: int | None = 2,
    progress: bool | None = True,
) -> ml_collections.ConfigDict:
    """Adds the fields of an epoch-based run; returns ``c``. ``None``: leave the field out.

    Args:
      c: the config to extend.
      num_epochs: passes over the training set.
      batch_size: the training batch size.
      eval_batch_size: the batch size of evaluations.
      steps_per_dispatch: steps compiled into one call; 0: a whole epoch per call.
      seed: the run's one seed (model, data order, dropout).
      max_to_keep: how many checkpoints stay on disk.
      progress: show the progress bar.

    Returns:
      ``c``, with the fields added in the order above.
    """
    return _add(
        c,
        dict(
            num_epochs=num_epochs,
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            steps_per_dispatch=steps_per_dispatch,
            seed=seed,
            max_to_keep=max_to_keep,
            progress=progress,
        ),
    )


def add_data_fields(
    c: ml_collections.ConfigDict,
    *,
    train_examples: int | None = 0,
    test_examples: int | None = 0,
    data_dir: str | None = "",
) -> ml_collections.ConfigDict:
    """Adds the fields that say where the data is and how much of it to use; returns ``c``.

    Args:
      c: the config to extend.
      train_examples: use only the first ones of the training split (quick runs,
        tests); 0: the whole split. ``None``: leave the field out.
      test_examples: the same for the test split.
      data_dir: a folder holding the data; ``""``: the loader's own search order.

    Returns:
      ``c``, with the fields added in the order above.
    """
    return _add(
        c, dict(train_examples=train_examples, test_examples=test_examples, data_dir=data_dir)
    )


def add_scale_fields(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Adds the scaling fields with single-device defaults; returns ``c``.

    With them and :func:`setup` the same recipe runs on one CPU, on a mesh of devices and
    on many hosts through ``--config.mesh=...``, ``--config.precision=...``,
    ``--config.remat=...`` and ``--config.accum_steps=...`` only (docs/scale.md).
    """
    # "" trains on the default device as before; "data=8" is data parallel (DDP),
    # "fsdp=8" shards parameters and optimiser state (ZeRO-3), "data=4,fsdp=2" both.
    c.mesh = ""
    c.accum_steps = 1  # micro-batches per step, gradients averaged
    c.precision = "float32"  # or bfloat16 (float32 master weights), float16 (+ loss scaling)
    c.loss_scale = 2.0**15  # float16's initial dynamic loss scale
    c.remat = "off"  # off, nothing, dots or everything (checkpointing per block)
    # Multi-host: distributed=True lets JAX find the cluster (TPU pods, SLURM, Open MPI);
    # or give the coordinator and ids (or JAXDL_COORDINATOR / _NUM_PROCESSES / _PROCESS_ID).
    c.distributed = False
    c.coordinator_address = ""
    c.num_processes = 0
    c.process_id = -1
    return c


#: What :func:`quick_run` sets, where the config has the field: a tiny slice of the data
#: in small batches, a few steps per compiled call, one epoch, no progress bar.
QUICK_RUN: dict[str, Any] = dict(
    num_epochs=1,
    batch_size=32,
    eval_batch_size=64,
    steps_per_dispatch=4,
    train_examples=256,
    test_examples=100,
    progress=False,
)


def override(c: ml_collections.ConfigDict, **fields: Any) -> ml_collections.ConfigDict:
    """Sets existing fields of ``c`` (a quick or variant config); returns ``c``.

    Raises:
      ConfigError: when a field is not in ``c`` (a misspelt override would add a new one).
    """
    unknown = sorted(set(fields) - set(c.keys()))
    if unknown:
        raise ConfigError(f"The config has no field {', '.join(unknown)} to override.")
    c.update(fields)
    return c


def quick_run(c: ml_collections.ConfigDict, **fields: Any) -> ml_collections.ConfigDict:
    """Shrinks a default config to a quick run for tests; returns ``c``.

    Sets the :data:`QUICK_RUN` values of the fields ``c`` has (a recipe without, say,
    ``eval_batch_size`` does not get one), then ``fields``, which win.

    Raises:
      ConfigError: when one of ``fields`` is not in ``c``.
    """
    return override(c, **{k: v for k, v in QUICK_RUN.items() if k in c} | fields)


def initialize_from_config(config: ml_collections.ConfigDict) -> bool:
    """:func:`jaxdl.parallel.initialize` with the config's ``distributed`` fields, if any."""
    return parallel.initialize(
        coordinator_address=config.get("coordinator_address", ""),
        num_processes=config.get("num_processes", 0),
        process_id=config.get("process_id", -1),
        auto=config.get("distributed", False),
    )


def setup(config: ml_collections.ConfigDict) -> Mesh | None:
    """Joins a multi-process run if configured, checks the scaling fields, returns the mesh.

    Call it before any other JAX work of the process.

    Raises:
      ValueError: when ``mesh``, ``precision`` or ``remat`` is not valid.
    """
    request_cpu_devices(config)
    initialize_from_config(config)
    # Recipes that honour only some scaling fields (ppo: mesh) lack the others.
    parallel.compute_dtype(config.get("precision", "float32"))
    parallel.remat_policy(config.get("remat", "off"))  # checks the name before any work
    return parallel.make_mesh(config.mesh) if config.mesh else None


def request_cpu_devices(config: ml_collections.ConfigDict) -> bool:
    """Asks JAX for ``config.cpu_devices`` CPU devices (-1: one per core; 0 or absent:
    nothing), if its backends have not started; the CLI calls it before it imports the
    recipe (some imports start them). Returns whether the request was made.

    Raises:
      ConfigError: ``config.cpu_devices`` is not an integer >= -1.
    """
    n = config.get("cpu_devices", 0)
    if not (isinstance(n, int) and not isinstance(n, bool) and n >= -1):
        raise ConfigError(
            f"config.cpu_devices is {n!r}, expected -1 (one per core), 0 (JAX's default) "
            "or a positive integer."
        )
    return bool(n) and parallel.request_cpu_devices(parallel.cpu_cores() if n == -1 else n)


def cpu_runs_mesh(config: ml_collections.ConfigDict, num_runs: int) -> Mesh | None:
    """With ``config.cpu_devices`` set, no ``config.mesh`` and a one-process CPU run: a
    ``runs`` mesh splitting ``num_runs`` runs over as many of the CPU devices as divide
    them (see :mod:`jaxdl.parallel.cpu`); else ``None``. Call it after :func:`setup`."""
    if not config.get("cpu_devices", 0) or config.mesh or jax.process_count() > 1:
        return None
    if jax.default_backend() != "cpu":
        return None
    n = parallel.devices_for_runs(num_runs, len(jax.devices()))
    return parallel.make_mesh(f"runs={n}", devices=jax.devices()[:n]) if n > 1 else None


#: The multi-host fields of :func:`add_scale_fields`; ``check_scale_support``'s key
#: ``"processes"`` stands for all of them.
_PROCESS_FIELDS = ("distributed", "coordinator_address", "num_processes", "process_id")


def check_scale_support(config: ml_collections.ConfigDict, unsupported: dict[str, str]) -> None:
    """Rejects the scaling fields a recipe cannot honour, rather than ignoring them.

    Args:
      config: a config with :func:`add_scale_fields`'s fields (missing ones count as
        their defaults).
      unsupported: ``{field: why}``; a field (``"processes"``: the multi-host fields)
        that differs from its :func:`add_scale_fields` default is an error saying why.

    Raises:
      ConfigError: naming the first such field, its value and the reason.
    """
    defaults = add_scale_fields(ml_collections.ConfigDict())
    for name, why in unsupported.items():
        for field in _PROCESS_FIELDS if name == "processes" else (name,):
            value, default = config.get(field, defaults[field]), defaults[field]
            if value != default:  # (a config without the field has the default)
                raise ConfigError(f"config.{field} is {value!r}, expected {default!r}: {why}.")


def loss_scale(config: ml_collections.ConfigDict) -> parallel.DynamicLossScale | None:
    """A dynamic loss scale starting at ``config.loss_scale`` for float16, else ``None``."""
    if parallel.needs_loss_scale(config.precision):
        return parallel.DynamicLossScale.create(config.loss_scale)
    return None


def open_run(config: ml_collections.ConfigDict, workdir: Any, recipe: str, **kwargs: Any) -> Run:
    """The recipe's :class:`jaxdl.training.Run` in ``workdir`` with the config's lifecycle
    fields (:data:`LIFECYCLE_FIELDS`; their defaults where the config lacks them) and
    ``max_to_keep`` (default 3)."""
    get = lambda name: config.get(name, LIFECYCLE_FIELDS[name])  # noqa: E731
    options = dict(
        resume=get("resume"),
        overwrite=get("overwrite"),
        checkpoint_every_s=get("checkpoint_every_s"),
        checkpoint_every_steps=get("checkpoint_every_steps"),
        max_to_keep=config.get("max_to_keep", 3),
    )
    return Run(workdir, recipe=recipe, config=config.to_dict(), **(options | kwargs))


def fit_options(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The :func:`jaxdl.training.fit` arguments every epoch-based config names alike.

    ``fit(state, train, test, loss_fn=..., data_key=..., run=run, mesh=...,
    **fit_options(config))``; configs without ``accum_steps`` train on whole batches,
    those without ``eval_batch_size`` (no evaluation) keep ``fit``'s 1000.
    """
    return {
        "num_epochs": config.num_epochs,
        "batch_size": config.batch_size,
        "eval_batch_size": config.get("eval_batch_size", 1000),
        "steps_per_dispatch": config.steps_per_dispatch,
        "progress": config.progress,
        "accum_steps": config.get("accum_steps", 1),
    }


def fashion_mnist_splits(
    config: ml_collections.ConfigDict, *, name: str = "config"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Fashion-MNIST train and test splits as the data fields say (``data_dir``,
    ``train_examples``, ``test_examples``).

    Args:
      config: a config with the data fields and ``batch_size``.
      name: how errors call ``config`` (``"config.classifier"`` for a nested one).

    Returns:
      ``(train, test)``, dicts of ``"image"`` (uint8) and ``"label"`` arrays.

    Raises:
      ConfigError: when the training split holds fewer examples than one batch.
    """
    data_dir = config.data_dir or None
    train = load_fashion_mnist_split("train", data_dir=data_dir, limit=config.train_examples)
    test = load_fashion_mnist_split("test", data_dir=data_dir, limit=config.test_examples)
    n_train = int(train["label"].shape[0])
    if n_train < config.batch_size:
        raise ConfigError(
            f"{name}.batch_size is {config.batch_size}, expected at most the {n_train} "
            "training examples."
        )
    return train, test


def cnn_classifier(config: ml_collections.ConfigDict, *, key: jax.Array) -> CNNClassifier:
    """The fashion_mnist recipe's CNN from the config's fields (``channels``, ``hidden``,
    ``block_depth``, ``dropout``, ``norm``, ``norm_groups``; ``precision`` and
    ``conv_impl`` where the config has them), parameters drawn from ``key``."""
    return CNNClassifier(
        (28, 28, 1),
        channels=config.channels,
        hidden=config.hidden,
        block_depth=config.block_depth,
        dropout=config.dropout,
        dtype=parallel.compute_dtype(config.get("precision", "float32")),
        norm=config.norm,
        norm_groups=config.norm_groups,
        conv_impl=config.get("conv_impl", "auto"),
        rngs=nnx.Rngs(params=key),
    )


def warmup_cosine(
    config: ml_collections.ConfigDict, steps_per_epoch: int, *, name: str = "adamw"
) -> optax.GradientTransformation:
    """:func:`jaxdl.training.warmup_cosine_optimizer` ``name`` over the config's
    ``num_epochs`` of ``steps_per_epoch`` steps, ``warmup_epochs`` of them warm-up, with its
    ``learning_rate`` and ``weight_decay``."""
    return warmup_cosine_optimizer(
        name,
        learning_rate=config.learning_rate,
        num_steps=config.num_epochs * steps_per_epoch,
        warmup_steps=config.warmup_epochs * steps_per_epoch,
        weight_decay=config.weight_decay,
    )
