"""Where training stood at a checkpoint, and the per-step metrics saved beside it.

A checkpoint holds the state and a JSON progress record: the ``epoch`` it belongs to,
the ``done`` steps of that epoch, whether it is ``complete``, the epoch's partial metric
``sums``, the runs' first ``bad`` steps, the state's ``step``, and the number of
``records`` in ``metrics.jsonl`` that belong to it. From those a killed run resumes
bit-identically, mid-epoch too.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
from etils import epath

from jaxdl.training import workdir as wd


def state_step(state: Any) -> int:
    """The state's step counter (the furthest run's, for a vmapped stack)."""
    return int(np.max(jax.device_get(state.step)))


def position(progress: Mapping[str, Any] | None, epoch_offset: int):
    """``(completed epochs, steps done in the next one, its partial sums, bad steps)``
    of a train call whose epochs start after ``epoch_offset``, from a restored
    checkpoint's ``progress`` (``None``: from the start)."""
    if progress is None:
        return 0, 0, {}, None
    epoch = int(progress["epoch"]) - epoch_offset
    bad = progress.get("bad")
    bad = None if bad is None else np.asarray(bad, np.int32)
    if progress.get("complete", True):
        return max(epoch, 0), 0, {}, bad
    sums = {
        k: v if isinstance(v, float) else np.asarray(v, np.float64)
        for k, v in progress.get("sums", {}).items()
    }
    return epoch - 1, int(progress["done"]), sums, bad


def carry(sums: Mapping[str, Any], bad: np.ndarray | None, state: Any) -> dict[str, Any]:
    """What a checkpoint must hold besides the state to resume bit-identically: the
    epoch's partial metric sums, the bad steps so far, the state's step."""
    return {
        "sums": {k: v if isinstance(v, float) else np.asarray(v).tolist() for k, v in sums.items()},
        "bad": None if bad is None else np.asarray(bad).tolist(),
        "step": state_step(state),
    }


def stage_records(
    history: Sequence[Mapping[str, Any]], stage: str, epoch_offset: int, num_epochs: int
) -> list[dict[str, Any]]:
    """The records of one train call in a run's history, which holds other stages' too."""
    return [
        dict(r)
        for r in history
        if "epoch" in r
        and (r.get("stage", "") == stage or not isinstance(r.get("stage", ""), str))
        and epoch_offset < r["epoch"] <= epoch_offset + num_epochs
    ]


def stage_suffix(stage: str) -> str:
    """``""`` for the main stage, else ``-<stage>``: how file names tell stages apart."""
    return f"-{stage}" if stage else ""


def concat_steps(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-step metrics of consecutive chunks joined along the step (last) axis."""
    if not parts:
        return {}
    return {k: np.concatenate([np.asarray(p[k]) for p in parts], axis=-1) for k in parts[0]}


def write_step_metrics(
    workdir: epath.Path, stage: str, parts: Sequence[Mapping[str, np.ndarray]]
) -> None:
    """Writes ``step_metrics[-<stage>].npz`` aside and renames it into place, so that a
    kill mid-write leaves the old file whole."""
    name = f"step_metrics{stage_suffix(stage)}.npz"
    with wd.writing(workdir / name):
        buffer = io.BytesIO()
        np.savez(buffer, **concat_steps(parts))
        partial = workdir / f".{name}.partial"
        partial.write_bytes(buffer.getvalue())
        partial.replace(workdir / name)


def read_step_metrics(workdir: epath.Path, stage: str, steps: int) -> list[dict[str, np.ndarray]]:
    """The first ``steps`` per-step metrics of ``stage`` saved in ``workdir`` (as one
    part), or ``[]`` when there are none; a newer file than the checkpoint is cut back."""
    saved = workdir / f"step_metrics{stage_suffix(stage)}.npz"
    if not saved.exists():
        return []
    with saved.open("rb") as f, np.load(f) as data:
        return [{k: data[k][..., :steps] for k in data.files}]


def checkpoint_keys(folder: epath.Path) -> list[int]:
    """The keys of the finished checkpoints in ``folder`` (orbax renames a checkpoint to
    its key only once it is whole)."""
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


def read_meta(folder: epath.Path, key: int) -> dict[str, Any] | None:
    """The progress record saved with checkpoint ``key`` in ``folder``, or ``None`` when
    it is absent or unreadable. Read as a file: it works while a manager is broken."""
    try:
        return dict(json.loads((folder / str(key) / "meta" / "metadata").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def newest_progress(workdir: epath.Path) -> dict[str, Any] | None:
    """The progress record of the newest checkpoint of any stage in ``workdir`` (the one
    that accounts for the most records), or ``None`` when there is none to read (an
    unreadable one is left to the restore, which falls back and cuts the log further)."""
    found = []
    for folder in workdir.iterdir():
        keys = checkpoint_keys(folder) if folder.name.startswith("checkpoints") else []
        meta = read_meta(folder, keys[-1]) if keys else None
        if meta is not None:
            found.append(meta)
    return max(found, key=lambda m: m.get("records", 0), default=None)


def describe_kept(folders: Iterable[str | os.PathLike]) -> str:
    """A clause naming the newest checkpoint in each of ``folders``, for the error that
    ends a run."""
    kept = []
    for folder in map(epath.Path, folders):
        keys = checkpoint_keys(folder)
        if keys:
            meta = read_meta(folder, keys[-1]) or {"epoch": keys[-1]}
            part = "" if meta.get("complete", True) else " (part of it)"
            at = f", step {meta['step']}" if "step" in meta else ""
            kept.append(f"epoch {meta['epoch']}{part}{at}, in {folder}")
    if not kept:
        return "nothing had been checkpointed yet"
    return f"the last good checkpoint ({'; '.join(kept)}) is kept"
