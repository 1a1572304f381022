"""What the driver prints, measures and raises about training: epoch lines, the progress
bar, the memory a sharded state takes, compilation time and throughput without it, and the
error of a run that stopped being finite."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from jaxdl.errors import NonFiniteLossError

#: Shown first, in this order, and with 4 decimals (they are mostly in [0, 1]).
_FIRST = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")


def epoch_line(record: Mapping[str, Any]) -> str:
    """The one line printed per epoch: epoch, metrics, speed and compilation time.

    Args:
      record: the epoch's record; needs ``"epoch"`` (int). Its numbers named
        ``train_*`` and ``test_*`` are shown: ``train_loss``, ``train_accuracy``,
        ``test_loss``, ``test_accuracy`` first (4 decimals), then the others by name (4
        significant digits); then ``train_examples_per_s`` and ``compile_s`` when
        present.

    Returns:
      The line, its fields joined by ``" | "``.

    Example:
      >>> epoch_line({"epoch": 3, "train_loss": 0.5, "test_perplexity": 12.3456})
      'epoch   3 | train_loss 0.5000 | test_perplexity 12.35'
    """
    parts = [f"epoch {record['epoch']:3d}"]
    numbers = {
        k: v
        for k, v in record.items()
        if k.startswith(("train_", "test_"))
        and k != "train_examples_per_s"
        and isinstance(v, float | int)
        and not isinstance(v, bool)
    }
    parts += [f"{k} {numbers[k]:.4f}" for k in _FIRST if k in numbers]
    parts += [f"{k} {numbers[k]:.4g}" for k in sorted(numbers) if k not in _FIRST]
    if "train_examples_per_s" in record:
        parts.append(f"{record['train_examples_per_s']:.0f} examples/s")
    if "compile_s" in record:
        parts.append(f"compiled in {record['compile_s']:.1f} s")
    return " | ".join(parts)


def progress_bar(*, total: int, initial: int, show: bool, desc: str | None):
    """A tqdm bar over steps, shown only when ``show``."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=initial, unit="step", desc=desc, disable=not show, dynamic_ncols=True
    )


def report_memory(state: Any, mesh: Any) -> None:
    """Prints the bytes of ``state`` per device of ``mesh`` and in all."""
    from tqdm.auto import tqdm

    from jaxdl.parallel import bytes_per_device, total_bytes

    per_device = max(bytes_per_device(state).values())
    tqdm.write(
        f"mesh {dict(mesh.shape)}: the train state takes {per_device / 2**20:.2f} MiB "
        f"per device of {total_bytes(state) / 2**20:.2f} MiB in all"
    )


def fold_bad_steps(
    bad_step: np.ndarray,
    bad: np.ndarray | None,
    *,
    mode: str,
    epoch: int,
    kept: Callable[[], str],
) -> np.ndarray:
    """Folds a chunk's first non-finite steps into ``bad`` (``-1``: none yet).

    Args:
      bad_step: the chunk's first bad step per run, ``()`` or ``(runs,)``.
      bad: the earlier chunks' answer, or ``None`` before the first chunk.
      mode: ``"raise"`` or ``"record"``.
      epoch: the epoch, for the message.
      kept: returns a clause saying which checkpoint the run leaves
        (``Run.kept_checkpoint``); called only to raise, as it waits for checkpoints.

    Raises:
      NonFiniteLossError: in ``"raise"`` mode, when a step was not finite.
    """
    bad = bad_step if bad is None else np.where(bad >= 0, bad, bad_step)
    if mode == "raise" and (bad >= 0).any():
        step = int(bad[bad >= 0].min())
        raise NonFiniteLossError(
            f"Training stopped at step {step} (epoch {epoch}) because the loss or the "
            f"parameters became NaN or infinite; {kept()}. Lower the learning rate or check "
            "the inputs."
        )
    return bad


def as_float(v: Any) -> Any:
    """A Python float, or a float64 array of one value per run when vmapped."""
    v = np.asarray(v)
    return float(v) if v.ndim == 0 else v.astype(np.float64)


def mean(v: Any) -> float:
    """The mean over a vmapped stack of runs (the value itself for one run)."""
    v = np.asarray(v)
    return float(v) if v.ndim == 0 else float(v.mean())


def short(v: Any) -> str:
    """A metric as the progress bar shows it."""
    return f"{float(np.mean(v)):.4f}"


#: Seconds JAX has spent tracing, lowering and compiling, per thread: read before and
#: after a chunk call, so a checkpoint thread's compilation does not count against it.
_compile_seconds: dict[int, float] = {}
_COMPILE_EVENTS = frozenset(
    {
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
        "/jax/core/compile/backend_compile_duration",
    }
)
_listening = False


def listen_to_compilations() -> None:
    """Adds JAX's compilation durations to :data:`_compile_seconds` from now on (once
    per process; JAX keeps its listeners for the process's life)."""
    global _listening
    if not _listening:

        def add(event: str, seconds: float, **_: Any) -> None:
            if event in _COMPILE_EVENTS:
                me = threading.get_ident()
                _compile_seconds[me] = _compile_seconds.get(me, 0.0) + seconds

        jax.monitoring.register_event_duration_secs_listener(add)
        _listening = True


def compiling_s() -> float:
    """Seconds this thread has spent compiling since :func:`listen_to_compilations`."""
    return _compile_seconds.get(threading.get_ident(), 0.0)


def examples_per_s(
    batch_size: int, steady_steps: int, steady_s: float, steps: int, seconds: float
) -> float:
    """Examples per second without compilation: over the chunks that compiled nothing
    when there are any, else over all ``steps`` in ``seconds`` (the epoch's training
    time less its compilation)."""
    if steady_steps > 0 and steady_s > 0:
        return steady_steps * batch_size / steady_s
    return steps * batch_size / max(seconds, 1e-9)
