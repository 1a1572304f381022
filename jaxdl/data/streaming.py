"""A batch source that streams records from disk through grain: data larger than memory.

:class:`Streamed` is a :class:`~jaxdl.training.sources.BatchSource` over a records folder
(:mod:`jaxdl.data.records`). Its epochs are grain ``MapDataset`` pipelines::

    records folder --MapDataset.source--> [:limit] --shuffle(epoch seed)--> epoch order
    chunk of steps start..stop: this process's positions in the order (its share of
        every global batch) --one batched read--> records --decode--> (S, b, ...) arrays

so step ``s`` of epoch ``e`` is a pure function of ``(seed, e, s)``: the pipeline is
random access, never an iterator that must be replayed. The engine already saves where
training stands, the epoch and the steps done in it, in every checkpoint (see
:mod:`jaxdl.training.progress`); that pair *is* this source's iterator state, and a
resumed run asks for ``inputs(epoch, done, ...)`` and gets the very batches the
interrupted run would have seen. No grain iterator state needs saving beside it.

While the device trains on one chunk, a background thread reads and decodes the next
chunk's batches on the host (one chunk ahead), so the host pipeline overlaps the device.

Needs the ``data`` extra (``pip install 'jaxdl[data]'``).
"""

from __future__ import annotations

import dataclasses
import os
import threading
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, Sharding

from jaxdl._extras import missing_extra

try:
    import grain
except ImportError as e:
    raise missing_extra("jaxdl.data.streaming", "data", e, "grain") from e

from jaxdl.data.records import decode, open_records

Key = tuple[int, int, int]  # (epoch, start, stop)


def epoch_seed(seed: int, epoch: int) -> int:
    """The shuffle seed of epoch ``epoch`` of a run seeded ``seed``: a 32-bit number
    drawn from both by ``numpy.random.SeedSequence``, so neighbouring seeds and epochs
    give unrelated orders.

    Example:
      >>> epoch_seed(0, 1) != epoch_seed(0, 2) != epoch_seed(1, 1)
      True
    """
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


@dataclasses.dataclass
class Streamed:
    """Batches read from a records folder on the host, shuffled per epoch, fed per chunk.

    Epoch ``e`` (from 1) visits the first ``limit`` records (0: all) in the order of
    ``MapDataset.shuffle(seed=epoch_seed(seed, e))`` cut into global batches of
    ``batch_size``; the last ``n % batch_size`` records of the order are dropped, as
    :class:`~jaxdl.training.sources.Permuted` drops them. Of global batch ``s`` process
    ``p`` of ``P`` reads rows ``[p * b, (p + 1) * b)`` with ``b = batch_size / P``: the
    processes read disjoint shares that together make the batch, the convention of
    :func:`jaxdl.parallel.global_batches`, so 1 or many processes train on the same
    global batches.

    Args:
      folder: a records folder (:func:`jaxdl.data.records.write_records`).
      batch_size: the global batch.
      seed: the seed of the per-epoch orders.
      mesh: with a mesh the chunks become global arrays split over its batch axes
        (:func:`jaxdl.parallel.global_batches`); without, they go to the default device.
      limit: use only the first ``limit`` records (0: all).
      prefetch: read the next chunk in a background thread while the device computes.

    Raises:
      ValueError: if ``batch_size`` does not split over the processes or exceeds the
        records, or ``limit`` is negative.

    Example:
      >>> source = Streamed(folder, 128, seed=0)  # doctest: +SKIP
      >>> fit(state, source, test_data, loss_fn=..., num_epochs=12)  # doctest: +SKIP
    """

    folder: str | os.PathLike
    batch_size: int
    seed: int
    mesh: Mesh | None = None
    limit: int = 0
    prefetch: bool = True
    data = None  # nothing device-resident: the batches arrive as chunk inputs

    def __post_init__(self):
        from jaxdl.parallel import batch_sharding, local_batch_size

        if self.limit < 0:
            raise ValueError(f"limit is {self.limit}, expected 0 (all records) or a count.")
        records, self._dtype = open_records(self.folder)
        n = len(records)
        self.num_examples = min(self.limit, n) if self.limit else n
        self._dataset = grain.MapDataset.source(records)[: self.num_examples]
        if not 0 < self.batch_size <= self.num_examples:
            raise ValueError(
                f"batch_size is {self.batch_size}, expected 1 <= batch_size <= "
                f"{self.num_examples} (the records used)."
            )
        self.local_batch_size = local_batch_size(self.batch_size)
        self.steps_per_epoch = self.num_examples // self.batch_size
        self.batch_sharding: Sharding | None = None
        if self.mesh is not None:
            self.batch_sharding = batch_sharding(self.mesh)
        self._lock = threading.Lock()  # one reader at a time
        self._ahead: tuple[Key, threading.Thread, dict[str, Any]] | None = None
        self._chunk = 0  # the longest chunk asked for: the next one's length

    def epoch(self, epoch: int) -> grain.MapDataset:
        """Epoch ``epoch``'s order of the records: a random-access dataset whose item
        ``i`` is the bytes of the ``i``-th record the epoch visits (all processes)."""
        return self._dataset.shuffle(seed=epoch_seed(self.seed, epoch))

    def positions(self, start: int, stop: int) -> np.ndarray:
        """Where this process's rows of steps ``start..stop`` stand in an epoch's order:
        ``(stop - start, local_batch_size)`` ints, row ``s`` holding ``(start + s) *
        batch_size + process_index * local_batch_size + arange(local_batch_size)``."""
        b = self.local_batch_size
        first = np.arange(start, stop)[:, None] * self.batch_size + jax.process_index() * b
        return first + np.arange(b)

    def host_batches(self, epoch: int, start: int, stop: int) -> dict[str, np.ndarray]:
        """Steps ``start..stop`` of ``epoch``: ``{name: (stop - start, local_batch_size,
        ...)}`` host arrays, this process's rows of each global batch."""
        if not 0 <= start < stop <= self.steps_per_epoch:
            raise ValueError(
                f"steps are {start}..{stop}, expected 0 <= start < stop <= "
                f"{self.steps_per_epoch} (the steps of an epoch)."
            )
        where = self.positions(start, stop)
        with self._lock:
            # One batched read of the whole chunk, decoded in one np.frombuffer.
            records = self.epoch(epoch)._getitems(where.ravel().tolist())
        return {
            k: v.reshape(*where.shape, *v.shape[1:])
            for k, v in decode(records, self._dtype).items()
        }

    def inputs(self, epoch: int, start: int, stop: int) -> dict[str, jax.Array]:
        key = (epoch, start, stop)
        local = self._take_ahead(key)
        if local is None:
            local = self.host_batches(epoch, start, stop)
        self._chunk = max(self._chunk, stop - start)
        if self.prefetch:
            self._read_ahead(self._next(key))
        if self.mesh is None:
            return {k: jnp.asarray(v) for k, v in local.items()}
        from jaxdl.parallel import global_batches

        return global_batches(local, self.mesh)

    def scan_inputs(self, state, data, inputs, length):
        return inputs

    def batch(self, state, data, x):
        return x

    # -- reading ahead ----------------------------------------------------------------

    def _next(self, key: Key) -> Key:
        """The chunk the engine asks for after ``key``: the rest of the epoch in chunks
        as long as the longest so far, then the next epoch's first."""
        epoch, _, stop = key
        if stop >= self.steps_per_epoch:
            epoch, stop = epoch + 1, 0
        return epoch, stop, min(stop + self._chunk, self.steps_per_epoch)

    def _read_ahead(self, key: Key) -> None:
        out: dict[str, Any] = {}

        def work():
            try:
                out["value"] = self.host_batches(*key)
            except BaseException as e:  # noqa: BLE001 - re-raised by the caller that waits
                out["error"] = e

        # Not a daemon: a read ahead past the last epoch that is still running when the
        # interpreter exits would be torn down inside array_record's C++ reader threads,
        # which aborts the process ("terminate called without an active exception",
        # SIGABRT, seen on 2026-12-03). The exit waits for that one chunk instead.
        thread = threading.Thread(target=work, name="jaxdl-streamed", daemon=False)
        thread.start()
        self._ahead = (key, thread, out)

    def _take_ahead(self, key: Key) -> dict[str, np.ndarray] | None:
        """The chunk read ahead if it is ``key``'s, else ``None`` (after the read ends)."""
        if self._ahead is None:
            return None
        ahead, thread, out = self._ahead
        self._ahead = None
        thread.join()
        if ahead != key:
            return None
        if "error" in out:
            raise out["error"]
        return out["value"]
