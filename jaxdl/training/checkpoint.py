"""Orbax checkpoints of a :class:`~jaxdl.training.TrainState` (or any pytree of arrays)
by epoch or step, with a JSON record of the run's progress."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from etils import epath

from jaxdl.errors import CheckpointCorruptError, CheckpointMismatchError, WorkdirError
from jaxdl.training import faults
from jaxdl.training.progress import read_meta


def is_prng_key(x: Any) -> bool:
    """Whether ``x`` is an array of typed PRNG keys (stored as their ``uint32`` data)."""
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def raw(x: Any) -> Any:
    """``x`` as stored: the ``uint32`` data of typed PRNG keys, anything else unchanged."""
    return jax.random.key_data(x) if is_prng_key(x) else x


def path_keys(path: tuple) -> tuple[str, ...]:
    """A leaf's tree path as the string keys of the nested checkpoint: ``.params['conv']
    ['kernel'].value`` becomes ``("params", "conv", "kernel")`` (a Variable's ``.value``
    is not a level of its own), list and tuple positions become ``"0"``, ``"1"``..."""
    keys = []
    for entry in path:
        if isinstance(entry, jax.tree_util.DictKey):
            keys.append(str(entry.key))
        elif isinstance(entry, jax.tree_util.GetAttrKey):
            keys.append(entry.name)
        elif isinstance(entry, jax.tree_util.SequenceKey):
            keys.append(str(entry.idx))
        else:  # FlattenedIndexKey of custom nodes
            keys.append(str(entry.key))
    if len(path) > 1 and isinstance(path[-1], jax.tree_util.GetAttrKey) and keys[-1] == "value":
        keys.pop()
    return tuple(keys)


def _nested(state: Any) -> dict[str, Any]:
    """Every leaf of ``state`` (a :class:`~jaxdl.training.TrainState` or any pytree of
    arrays) in nested dicts of strings, the layout plain orbax (or any reader of its
    checkpoints) sees: ``{"params": {"conv": {"kernel": ...}}, "opt_state": ..., "step":
    ...}``; typed PRNG keys become their raw ``uint32`` data.

    Raises:
      ValueError: two leaves would share a place (keys that differ only in type).
    """
    leaves = jax.tree_util.tree_flatten_with_path(state)[0]
    return _nest((path, raw(x)) for path, x in leaves)


def _abstract(template: Any, shardings: Any) -> dict[str, Any]:
    """The nested layout of :func:`_nested` with a ``jax.ShapeDtypeStruct`` per leaf of
    ``template`` at its sharding in ``shardings`` (a pytree of the same structure), which
    orbax restores into directly: each process reads only the shards it holds."""
    paths, treedef = jax.tree_util.tree_flatten_with_path(template)
    targets = treedef.flatten_up_to(shardings)
    pairs = []
    for (path, like), sharding in zip(paths, targets, strict=True):
        stored = raw(like)
        pairs.append((path, jax.ShapeDtypeStruct(stored.shape, stored.dtype, sharding=sharding)))
    return _nest(pairs)


def _partial(stored: Any, template: Any, wanted: Any) -> Any:
    """Orbax's restore target for the leaves of ``template`` in a checkpoint whose
    metadata tree is ``stored``: ``wanted``'s leaf where it has one, else the stored
    shape and dtype on this process's first device. The leaves ``template`` lacks are
    left out (and not read)."""
    paths = jax.tree_util.tree_flatten_with_path(template)[0]
    # Nested keys, and the flat names of checkpoints written before the nested layout.
    needed = {path_keys(p) or ("value",) for p, _ in paths}
    needed |= {(jax.tree_util.keystr(p),) for p, _ in paths}
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])

    def one(keys: tuple, meta: Any) -> Any:
        node = wanted
        for k in keys:
            node = node.get(k) if isinstance(node, Mapping) else None
        if node is not None:
            return node
        return jax.ShapeDtypeStruct(meta.shape, meta.dtype, sharding=device)

    leaves = jax.tree_util.tree_flatten_with_path(stored)[0]
    return _nest((p, one(path_keys(p), m)) for p, m in leaves if path_keys(p) in needed)


def _nest(pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, x in pairs:
        *parents, leaf = path_keys(path) or ("value",)
        node = out
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ValueError(f"state has a leaf and a subtree at {jax.tree_util.keystr(path)}")
        if leaf in node:
            raise ValueError(f"state has two leaves at {jax.tree_util.keystr(path)}")
        node[leaf] = x
    return out


def _stored(stored: Mapping[str, Any], path: tuple) -> Any:
    """The array a checkpoint holds for the leaf at ``path``, or ``None``. Checkpoints
    written before this layout were flat (``{".params['conv']['kernel'].value": ...}``);
    they still load."""
    flat = jax.tree_util.keystr(path)
    if flat in stored:
        return stored[flat]
    node: Any = stored
    for key in path_keys(path) or ("value",):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return None if isinstance(node, Mapping) else node


def _unflat(template: Any, stored: Mapping[str, Any], *, placed: bool = False) -> Any:
    """The checkpoint's arrays (see :func:`_nested`) shaped like ``template`` (a freshly
    built state, or any part of one with the same paths). ``placed``: the arrays are
    already global ``jax.Array`` s at their shardings; they are used as they are (no host
    copy)."""
    paths, treedef = jax.tree_util.tree_flatten_with_path(template)
    values = [_stored(stored, p) for p, _ in paths]
    missing = [
        jax.tree_util.keystr(p) for (p, _), v in zip(paths, values, strict=True) if v is None
    ]
    if missing:
        raise CheckpointMismatchError(
            f"The checkpoint has no {missing[0]} (and {len(missing) - 1} more); it was written "
            "by a different model or optimiser. Use a fresh --workdir or the config it used."
        )
    leaves = []
    for (path, like), value in zip(paths, values, strict=True):
        stored = raw(like)
        if value.shape != stored.shape:
            raise CheckpointMismatchError(
                f"The checkpoint's {jax.tree_util.keystr(path)} has shape {value.shape}, "
                f"expected {stored.shape}; it was written with another config. Use a fresh "
                "--workdir."
            )
        if not placed:
            # Through the host: orbax's arrays are committed to a device, a fresh state's
            # are not, and jit compiles another program for committed inputs, so a
            # resumed run would miss the persistent compilation cache.
            value = jax.numpy.asarray(np.asarray(value), stored.dtype)
        if is_prng_key(like):
            value = jax.random.wrap_key_data(value, impl=jax.random.key_impl(like))
        leaves.append(value)
    return jax.tree_util.tree_unflatten(treedef, leaves)


class Checkpointer:
    """Saves a :class:`~jaxdl.training.TrainState` (or any pytree of arrays) with a small
    JSON record of the run's progress, keeping the newest ``max_to_keep``.

    Orbax writes into a temporary folder and renames it when complete, so a run killed
    mid-save leaves the previous checkpoint intact; the half-written folder is removed
    the next time a manager opens the directory. A complete checkpoint that cannot be
    read (a truncated or deleted file) is moved aside as ``<step>.corrupt`` and the
    previous one is restored instead.

    Args:
      directory: the checkpoint folder (created if missing); a local path or a URI.
      max_to_keep: how many of the newest checkpoints stay on disk.
    """

    def __init__(self, directory: str | os.PathLike, *, max_to_keep: int = 3):
        self.directory = _absolute(directory)
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, create=True, cleanup_tmp_directories=True
        )
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def latest_epoch(self) -> int | None:
        """The newest complete checkpoint's key (an epoch or a step), or ``None``."""
        return self.manager.latest_step()

    latest_step = latest_epoch

    def save(self, key: int, state: Any, meta: Mapping[str, Any] | None = None) -> None:
        """Writes ``state`` (and the JSON-ready ``meta``) as checkpoint ``key`` and waits
        until it is on disk, so that nothing is logged for progress that is not saved.

        Raises:
          WorkdirError: the checkpoint could not be written (full disk, read-only).
        """
        args = {"state": ocp.args.StandardSave(_nested(state))}
        if meta is not None:
            args["meta"] = ocp.args.JsonSave(dict(meta))
        try:
            with _quiet_orbax():
                self.manager.save(key, args=ocp.args.Composite(**args), force=True)
                faults.event("save", os.path.basename(self.directory), key)
                self.manager.wait_until_finished()
        except OSError as e:
            raise WorkdirError(_os_sentence(e, self.directory, key)) from e
        except Exception as e:  # orbax wraps the OSError of its writer threads
            cause = _os_cause(e)
            if cause is None:
                raise
            raise WorkdirError(_os_sentence(cause, self.directory, key)) from e

    def meta(self, key: int | None = None) -> dict[str, Any] | None:
        """The JSON record saved with checkpoint ``key`` (default: the newest), or
        ``None`` when there is no such checkpoint or it has no record."""
        key = self.latest_epoch() if key is None else key
        if key is None:
            return None
        return read_meta(epath.Path(self.directory), key)

    def restore(
        self, template: Any, epoch: int | None = None, *, shardings: Any = None
    ) -> tuple[int, Any]:
        """Restores checkpoint ``epoch`` (default: the newest readable one) into the
        structure of ``template``.

        With ``shardings``, every array is read straight into its sharding: a process
        reads only the shards its devices hold, and no full copy of a sharded array is
        built on any host. The checkpoint may have been written under another mesh (or
        on one device): it is resharded as it is read.

        Without ``epoch``, a checkpoint that cannot be read is reported in one line on
        stderr, moved aside, and the next older one is tried.

        Args:
          template: a freshly built state of the same model and optimiser; its
            structure, shapes and dtypes are the target.
          epoch: which checkpoint (its key); ``None`` is the newest readable one.
          shardings: a pytree of the structure of ``template`` with a ``Sharding`` per
            leaf (e.g. :func:`~jaxdl.parallel.state_shardings`); ``None`` leaves the
            arrays on the default device.

        Returns:
          ``(key, state)``.

        Raises:
          FileNotFoundError: there is no checkpoint.
          CheckpointMismatchError: the checkpoint has other leaves or shapes.
          CheckpointCorruptError: no checkpoint can be read.
        """
        if epoch is not None:
            return epoch, self._load(epoch, template, shardings)
        keys = sorted(self.manager.all_steps(), reverse=True)
        if not keys:
            raise FileNotFoundError(f"There is no checkpoint in {self.directory} to resume from.")
        for key in keys:
            hook = sys.unraisablehook
            # A failed read leaves orbax's reader coroutines unawaited; Python would print
            # each one's traceback. The one line below says what happened instead.
            sys.unraisablehook = lambda *_: None
            try:
                state = self._load(key, template, shardings)
            except CheckpointMismatchError:
                raise
            except Exception as e:
                print(f"warning: {self._set_aside(key, e)}", file=sys.stderr)
                continue
            finally:
                gc.collect()  # the unawaited coroutines go now, while the hook is quiet
                sys.unraisablehook = hook
            return key, state
        raise CheckpointCorruptError(
            f"No checkpoint in {self.directory} can be read (all were moved aside as "
            "<step>.corrupt); start over with --config.overwrite=true or a fresh workdir."
        )

    def _load(self, key: int, template: Any, shardings: Any) -> Any:
        if shardings is not None:
            try:
                stored = self._read(key, template, _abstract(template, shardings))
            except Exception:
                # A flat checkpoint of an earlier version, one written for another model,
                # or an unreadable one: the plain read below says which.
                pass
            else:
                return _unflat(template, stored, placed=True)
        state = _unflat(template, self._read(key, template))
        if shardings is not None:
            from jaxdl.parallel import place

            state = place(state, shardings)
        return state

    def _read(self, key: int, template: Any, wanted: Any = None) -> dict[str, Any]:
        """The arrays of checkpoint ``key`` that ``template`` has, nested as stored.

        ``wanted`` (see :func:`_abstract`) gives each its shape, dtype and sharding; else
        each comes back whole on this process's first device, as stored, whatever mesh
        wrote it (orbax refuses to restore a checkpoint of other devices without a
        target). Leaves ``template`` lacks (the optimiser state, for the weights alone)
        are not read at all."""
        folder = epath.Path(self.directory) / str(key) / "state"
        # The pytree handler itself: the manager's standard restore cannot leave leaves out.
        handler = ocp.PyTreeCheckpointHandler()
        try:
            target = _partial(handler.metadata(folder).tree, template, wanted)
            if not target:  # another model's: nothing to read, _unflat says what is missing
                return {}
            restore_args = ocp.checkpoint_utils.construct_restore_args(target)
            return handler.restore(
                folder,
                args=ocp.args.PyTreeRestore(
                    item=target, restore_args=restore_args, partial_restore=True
                ),
            )
        finally:
            handler.close()

    def _set_aside(self, key: int, error: Exception) -> str:
        """Moves unreadable checkpoint ``key`` out of the manager's sight; says so."""
        folder = epath.Path(self.directory) / str(key)
        where = _file_in(error, folder) or folder
        target = folder.parent / f"{key}.corrupt"
        if target.exists():
            target.rmtree()
        folder.rename(target)
        self.manager.reload()
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        reason = reason.split(" See full")[0][:120]
        return (
            f"checkpoint {key} in {self.directory} cannot be read ({where}: {reason}); "
            f"moved it to {target.name} and trying the previous one."
        )

    def wait(self) -> None:
        """Blocks until pending saves are on disk."""
        self.manager.wait_until_finished()

    def close(self) -> None:
        """Waits for pending saves and releases the manager."""
        with _quiet_orbax():
            try:
                self.manager.wait_until_finished()
            finally:
                self.manager.close()


@contextlib.contextmanager
def _quiet_orbax():
    """Orbax's writer threads log each failure with its traceback through absl; the
    caller turns the failure into one sentence, so those logs stay off meanwhile, and
    after a failure for good (threads that outlive the error still log it)."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


def _absolute(directory: str | os.PathLike) -> str:
    """A URI stays as it is; a local path becomes absolute (orbax needs one)."""
    text = os.fspath(directory)
    return text if "://" in text else os.path.abspath(text)


def _os_cause(error: BaseException) -> OSError | None:
    """The first ``OSError`` in ``error``'s chain, if any."""
    seen = error
    while seen is not None:
        if isinstance(seen, OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    text = str(error)
    if "No space left" in text or "Read-only file system" in text or "Permission denied" in text:
        return OSError(text.splitlines()[0] if text else type(error).__name__)
    return None


def _os_sentence(error: OSError, directory: str, key: int) -> str:
    reason = error.strerror or str(error).splitlines()[0]
    where = error.filename or directory
    return f"Could not write checkpoint {key} to {where}: {reason}."


def _file_in(error: BaseException, folder: Any) -> str | None:
    """The first path under ``folder`` that ``error``'s chain names, for the message."""
    prefix = os.fspath(folder)
    seen: BaseException | None = error
    while seen is not None:
        for word in str(seen).replace("'", " ").replace('"', " ").split():
            if word.startswith(prefix):
                return word.rstrip(".,:;)")
        seen = seen.__cause__ or seen.__context__
    return None
