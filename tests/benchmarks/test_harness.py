"""The benchmark harness: timing, ratios, records, the README table, a quick end-to-end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import pytest

from benchmarks import _harness, run

SLEEP = 0.05


class _Pending:
    """Stands in for an unfinished async result: only blocking on it takes time."""

    def __init__(self):
        self.blocked = False

    def block_until_ready(self):
        time.sleep(SLEEP)
        self.blocked = True
        return self


def _record(name: str, ratio_inputs=(300.0, 100.0), backend: str = "cpu", **extra):
    record = _harness.result_record(
        name, "training examples/s", *ratio_inputs, "examples/s", {"batch_size": 1024, **extra}
    )
    record["machine"]["backend"] = backend
    return record


def test_ratio_is_jaxdl_over_baseline_for_throughputs_and_inverse_for_times():
    assert _harness.speed_ratio(300.0, 100.0, higher_is_better=True) == pytest.approx(3.0)
    assert _harness.speed_ratio(50.0, 100.0, higher_is_better=True) == pytest.approx(0.5)
    # Times: jaxdl taking 1 s where the baseline takes 4 s is 4x faster.
    assert _harness.speed_ratio(1.0, 4.0, higher_is_better=False) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="expected both > 0"):
        _harness.speed_ratio(0.0, 1.0, higher_is_better=True)


def test_record_schema():
    record = _harness.result_record(
        "toy", "training examples/s", 200.0, 100.0, "examples/s", {"batch_size": 64}
    )
    for key in ("name", "metric", "jaxdl", "baseline", "ratio", "machine", "date", "versions"):
        assert key in record
    assert record["jaxdl"] == {"value": 200.0, "unit": "examples/s"}
    assert record["baseline"] == {"value": 100.0, "unit": "examples/s"}
    assert record["ratio"] == pytest.approx(2.0)
    assert record["batch_size"] == 64
    assert record["machine"]["cpu_count"] == os.cpu_count()
    assert record["machine"]["processor"]
    assert record["threads"]["jax"] == os.cpu_count()
    for lib in ("python", "jax", "jaxlib", "flax", "optax", "torch", "numpy"):
        assert lib in record["versions"]
    assert record["versions"]["jax"] == jax.__version__
    assert record["date"][:4].isdigit() and "T" in record["date"]
    json.dumps(record)  # must be writable as is
    with pytest.raises(ValueError, match="already defines"):
        _harness.result_record("toy", "m", 1.0, 1.0, "u", {"ratio": 5})


def test_write_result_round_trips(tmp_path):
    record = _record("toy")
    path = _harness.write_result(record, tmp_path)
    assert path == tmp_path / "toy.json"
    assert json.loads(path.read_text()) == record
    # A run at another batch size lands beside it instead of replacing it.
    other = _harness.write_result({**record, "result_file": "toy_b128"}, tmp_path)
    assert other == tmp_path / "toy_b128.json" and path.exists()


def test_time_fn_stops_the_clock_only_after_blocking():
    pending: list[_Pending] = []

    def fn():
        pending.append(_Pending())
        return {"out": pending[-1]}  # nested, as a train state would be

    times = _harness.time_fn(fn, warmup=1, repeats=2)
    assert len(times) == 2 and len(pending) == 3
    assert all(p.blocked for p in pending)
    assert min(times) >= SLEEP


def test_time_fn_blocks_on_jax_arrays():
    f = jax.jit(lambda x: (x @ x).sum())
    x = jnp.ones((64, 64))
    times = _harness.time_fn(lambda: f(x), warmup=1, repeats=3)
    assert len(times) == 3 and all(t > 0 for t in times)


def test_time_fn_with_custom_sync_and_a_plain_sleep():
    times = _harness.time_fn(lambda: time.sleep(SLEEP), warmup=0, repeats=2, sync=lambda _: None)
    assert min(times) >= SLEEP


def test_time_interleaved_alternates_sides():
    calls: list[str] = []
    times = _harness.time_interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, warmup=1, repeats=2
    )
    assert calls == ["a", "b"] * 3
    assert set(times) == {"a", "b"} and all(len(v) == 2 for v in times.values())


def test_median():
    assert _harness.median([3.0, 1.0, 100.0]) == 3.0
    assert _harness.median([1.0, 2.0]) == 1.5
    with pytest.raises(ValueError):
        _harness.median([])


def test_set_threads_matches_torch_to_jax():
    torch = pytest.importorskip("torch")
    counts = _harness.set_threads()
    assert counts["jax"] == os.cpu_count()
    assert counts["torch"] == torch.get_num_threads() == os.cpu_count()


def test_readme_table_is_rewritten_between_markers_only(tmp_path):
    results = tmp_path / "results"
    _harness.write_result(_record("b_cpu"), results)
    _harness.write_result(_record("a_gpu", (2000.0, 1000.0), backend="gpu"), results)
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nintro\n\n{run.START}\nold table\n{run.END}\n\nfooter\n")

    run.update_readme(readme, results)
    text = readme.read_text()
    assert text.startswith("# Title\n\nintro\n\n") and text.endswith(f"{run.END}\n\nfooter\n")
    assert "old table" not in text
    table = text[text.index(run.START) + len(run.START) : text.index(run.END)]
    rows = [line for line in table.strip().splitlines() if line.startswith("| `")]
    assert [r.split("|")[1].strip() for r in rows] == ["`a_gpu`", "`b_cpu`"]  # sorted by name
    header = table.strip().splitlines()[0]
    for col in ("name", "metric", "jaxdl", "baseline", "ratio", "batch", "machine", "date"):
        assert col in header
    assert "2.00x" in rows[0] and "2,000 examples/s" in rows[0]
    # On a CPU only the ratio is quoted.
    assert "3.00x" in rows[1] and "300" not in rows[1].split("|")[3] and "1024" in rows[1]

    run.update_readme(readme, results)
    assert readme.read_text() == text  # idempotent


def test_other_load_counts_other_processes_not_this_one():
    burn = "import time\nt = time.time()\nwhile time.time() - t < 0.5: pass"
    with _harness.OtherLoad() as other:
        # Started here but not waited for inside the block: another process's load.
        proc = subprocess.Popen([sys.executable, "-c", burn])
        time.sleep(0.6)
    proc.wait()
    if other.cores is None:
        pytest.skip("no /proc/stat on this platform")
    assert other.cores > 0.3  # the process burned about one core for most of the block


def test_other_load_counts_a_finished_child_as_this_process():
    # A baseline run as a subprocess (the fastText binary) is part of the measurement: its
    # CPU time, once it has ended, is this process's own, not other load.
    burn = "import time\nwhile time.process_time() < 0.5: pass"
    before = _harness.OtherLoad._sample()
    subprocess.run([sys.executable, "-c", burn], check=True)
    after = _harness.OtherLoad._sample()
    if before is None or after is None:
        pytest.skip("no /proc/stat on this platform")
    assert after[2] - before[2] >= 0.45  # the child's 0.5 s of CPU time, in this process's


def test_busy_runs_are_flagged_in_the_table(tmp_path):
    clean = _record("clean", other_cpu_load=0.01)
    busy = _record("busy", other_cpu_load=1.5)
    table = run.render_table([busy, clean])
    busy_row, clean_row = table.splitlines()[2:4]
    assert "†" in busy_row and "†" not in clean_row
    assert "rerun" in table.splitlines()[-1]


def test_readme_without_markers_is_an_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="lacks the markers"):
        run.update_readme(readme, tmp_path)


@pytest.mark.slow  # over 10 s on 2 cores (CI's durations)
def test_quick_mlp_end_to_end():
    pytest.importorskip("torch")
    from benchmarks import fashion_mnist_mlp
    from jaxdl.data.fashion_mnist import DataNotFoundError

    before = sorted(_harness.RESULTS_DIR.glob("*")) if _harness.RESULTS_DIR.exists() else []
    try:
        record = fashion_mnist_mlp.run(quick=True)
    except DataNotFoundError as e:
        pytest.skip(f"Fashion-MNIST is not installed: {e}")
    assert record["name"] == "fashion_mnist_mlp" and record["quick"] is True
    assert record["jaxdl"]["value"] > 0 and record["baseline"]["value"] > 0
    assert record["ratio"] == pytest.approx(record["jaxdl"]["value"] / record["baseline"]["value"])
    params = record["num_params"]
    assert params["jaxdl"] == params["baseline"] == 784 * 512 + 512 + 512 * 256 + 256 + 2570
    assert record["examples_per_epoch"] == record["steps_per_epoch"] * record["batch_size"]
    for side in ("jaxdl", "baseline"):
        assert 0.0 <= record["sanity"]["test_accuracy"][side] <= 1.0
    # XLA's count of one training step: forward 2 B P, weight gradients 2 B P, input
    # gradients 2 B P less the first layer's (the images need none), plus a little for
    # the optimiser, softmax and dropout.
    flops, batch = record["flops"], record["batch_size"]
    matmuls = batch * (6 * params["jaxdl"] - 2 * 784 * 512)
    assert matmuls < flops["per_step"] < 1.1 * matmuls
    assert flops["steps_per_unit"] == record["steps_per_epoch"]
    assert flops["flops_per_s"] == pytest.approx(
        flops["per_step"] * flops["steps_per_unit"] / flops["seconds_per_unit"]
    )
    after = sorted(_harness.RESULTS_DIR.glob("*")) if _harness.RESULTS_DIR.exists() else []
    assert after == before  # quick runs write nowhere
