"""ArrayRecord folders (jaxdl.data.records) and the grain-backed Streamed source: round
trips, atomic and idempotent writes, seeded per-epoch orders, per-process shares,
reading ahead, and fit over a Streamed source."""

from __future__ import annotations

import os

import jax
import numpy as np
import pytest

pytest.importorskip("grain")

from jaxdl.data import fashion_mnist as fm  # noqa: E402
from jaxdl.data import records  # noqa: E402
from jaxdl.data.streaming import Streamed, epoch_seed  # noqa: E402

N, B = 100, 8  # 12 steps per epoch, 4 examples dropped


def indexed(tmp_path, n=N):
    """A records folder whose record i holds ``index == i`` and a small image."""
    arrays = {
        "index": np.arange(n, dtype=np.int32),
        "image": (np.arange(n * 6) % 251).astype(np.uint8).reshape(n, 2, 3),
    }
    return records.write_records(tmp_path / "rec", arrays), arrays


def test_fashion_mnist_records_round_trip_the_idx_arrays(tmp_path):
    if not fm.resolve_data_dir(None):
        pytest.skip("Fashion-MNIST IDX files not installed")
    folder = records.fashion_mnist_records("test", tmp_path)
    assert folder == tmp_path / "fashion_mnist" / "test"
    images, labels = fm.load_fashion_mnist("test")
    back = records.read_records(folder)
    assert back["image"].dtype == np.uint8 and back["label"].dtype == np.int32
    np.testing.assert_array_equal(back["image"], images)
    np.testing.assert_array_equal(back["label"], labels)


def test_write_is_idempotent_and_checks_what_is_there(tmp_path):
    folder, arrays = indexed(tmp_path)
    stamp = os.stat(folder / records.FEATURES).st_mtime_ns
    assert records.write_records(folder, arrays) == folder  # nothing written
    assert os.stat(folder / records.FEATURES).st_mtime_ns == stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec"]  # no temporary left
    with pytest.raises(ValueError, match="holds 100 records .* expected 99"):
        records.write_records(folder, {k: v[:99] for k, v in arrays.items()})


def test_write_is_atomic(tmp_path, monkeypatch):
    class Failing:
        def __init__(self, path, options):
            self.written = 0

        def write(self, data):
            self.written += 1
            if self.written == 5:
                raise OSError("disk full")

    monkeypatch.setattr(records, "ArrayRecordWriter", Failing)
    with pytest.raises(OSError, match="disk full"):
        indexed(tmp_path)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a partial one


def test_shards_read_back_in_order(tmp_path):
    arrays = {"x": np.arange(10, dtype=np.int64)}
    folder = records.write_records(tmp_path / "r", arrays, num_shards=3)
    assert len(list(folder.glob("*.array_record"))) == 3
    np.testing.assert_array_equal(records.read_records(folder)["x"], arrays["x"])


def test_write_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="leading dimensions"):
        records.write_records(tmp_path / "a", {"x": np.zeros(3), "y": np.zeros(4)})
    with pytest.raises(ValueError, match="num_shards is 0"):
        records.write_records(tmp_path / "b", {"x": np.zeros(3)}, num_shards=0)


def test_each_epoch_is_a_permutation_drawn_from_the_seed(tmp_path):
    import grain

    folder, arrays = indexed(tmp_path)
    source = Streamed(folder, B, seed=3, prefetch=False)
    assert source.steps_per_epoch == N // B
    orders = {}
    for epoch in (1, 2):
        got = source.host_batches(epoch, 0, source.steps_per_epoch)
        assert got["index"].shape == (N // B, B) and got["image"].shape == (N // B, B, 2, 3)
        order = got["index"].ravel()
        # grain's permutation of range(N) for this epoch's seed, cut to whole batches.
        expected = grain.MapDataset.range(N).shuffle(seed=epoch_seed(3, epoch))
        np.testing.assert_array_equal(order, [expected[i] for i in range(order.size)])
        assert len(set(order.tolist())) == order.size and order.max() < N
        np.testing.assert_array_equal(got["image"].reshape(-1, 2, 3), arrays["image"][order])
        orders[epoch] = order
    assert not np.array_equal(orders[1], orders[2])
    again = Streamed(folder, B, seed=3, prefetch=False).host_batches(2, 0, source.steps_per_epoch)
    np.testing.assert_array_equal(again["index"].ravel(), orders[2])
    other = Streamed(folder, B, seed=4, prefetch=False).host_batches(2, 0, source.steps_per_epoch)
    assert not np.array_equal(other["index"].ravel(), orders[2])


def test_limit_uses_the_first_records_only(tmp_path):
    folder, _ = indexed(tmp_path)
    source = Streamed(folder, B, seed=0, limit=40, prefetch=False)
    order = source.host_batches(1, 0, source.steps_per_epoch)["index"].ravel()
    assert source.steps_per_epoch == 5 and set(order.tolist()) == set(range(40))


def test_chunks_cut_an_epoch_anywhere(tmp_path):
    # A resumed run asks for the rest of an epoch from where its checkpoint stood.
    folder, _ = indexed(tmp_path)
    source = Streamed(folder, B, seed=1, prefetch=False)
    whole = source.host_batches(2, 0, 12)["index"]
    parts = [source.host_batches(2, a, b)["index"] for a, b in ((0, 5), (5, 7), (7, 12))]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_processes_read_disjoint_shares_that_make_each_global_batch(tmp_path, monkeypatch):
    folder, _ = indexed(tmp_path)
    one = Streamed(folder, B, seed=5, prefetch=False).host_batches(1, 0, 12)["index"]
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    shares = []
    for p in (0, 1):
        monkeypatch.setattr(jax, "process_index", lambda p=p: p)
        source = Streamed(folder, B, seed=5, prefetch=False)
        assert source.local_batch_size == B // 2 and source.steps_per_epoch == N // B
        shares.append(source.host_batches(1, 0, 12)["index"])
    assert not set(shares[0].ravel().tolist()) & set(shares[1].ravel().tolist())
    # Process 0's rows, then process 1's: the one-process global batch, step by step.
    np.testing.assert_array_equal(np.concatenate(shares, axis=1), one)
    with pytest.raises(ValueError, match="does not split over the 2 processes"):
        Streamed(folder, 7, seed=5)


def test_reading_ahead_gives_the_same_chunks(tmp_path):
    folder, _ = indexed(tmp_path)
    ahead = Streamed(folder, B, seed=2, prefetch=True)
    plain = Streamed(folder, B, seed=2, prefetch=False)
    # Chunks of 5 steps over two epochs, then a jump (a resume elsewhere) and back.
    keys = [(1, 0, 5), (1, 5, 10), (1, 10, 12), (2, 0, 5), (2, 5, 10), (1, 5, 10), (1, 10, 12)]
    for key in keys:
        got, want = ahead.inputs(*key), plain.inputs(*key)
        assert isinstance(got["index"], jax.Array)
        np.testing.assert_array_equal(np.asarray(got["index"]), np.asarray(want["index"]))
    assert ahead._ahead is not None and ahead._ahead[0] == (2, 0, 5)  # read ahead


def test_bad_arguments_name_themselves(tmp_path):
    folder, _ = indexed(tmp_path)
    with pytest.raises(ValueError, match="batch_size is 101"):
        Streamed(folder, N + 1, seed=0)
    with pytest.raises(ValueError, match="limit is -1"):
        Streamed(folder, B, seed=0, limit=-1)
    with pytest.raises(ValueError, match="steps are 3..13"):
        Streamed(folder, B, seed=0).host_batches(1, 3, 13)


@pytest.mark.slow  # about 14 s on a shared 2-core machine
def test_fit_trains_on_a_streamed_source_and_resumes_identically(tmp_path):
    from jaxdl.training import classifier_loss, fit
    from tests.parallel.scenarios import classifier_data, classifier_state

    data = classifier_data(64)
    folder = records.write_records(tmp_path / "rec", data)

    def run(workdir, epochs):
        source = Streamed(folder, 16, seed=0)
        return fit(
            classifier_state(),
            source,
            loss_fn=classifier_loss,
            num_epochs=epochs,
            batch_size=16,
            steps_per_dispatch=2,
            progress=False,
            workdir=workdir,
        )

    straight = run(tmp_path / "a", 3)
    assert len(straight.history) == 3 and straight.state.step == 12
    losses = [r["train_loss"] for r in straight.history]
    assert losses[-1] < losses[0]
    run(tmp_path / "b", 1)
    resumed = run(tmp_path / "b", 3)  # epochs 2 and 3 after a restore
    assert resumed.resumed_at == 4
    for a, b in zip(
        jax.tree.leaves(straight.state.params), jax.tree.leaves(resumed.state.params), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="data_key is None"):
        fit(classifier_state(), data, loss_fn=classifier_loss, num_epochs=1, batch_size=16)
