"""The machine's limit: XLA's FLOP counts, the roofline benchmark and the table's
fraction-of-peak column (computed only from figures of one session)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from benchmarks import _harness, roofline, run


def _record(name, session=_harness.SESSION, flops_per_s=None, **extra):
    record = _harness.result_record(name, "examples/s", 2.0, 1.0, "examples/s", extra)
    record["session"] = session
    if flops_per_s is not None:
        record["flops"] = _harness.flops_record({"flops": flops_per_s}, 1, 1.0)
    return record


def _peak(session=_harness.SESSION, peak=4e10):
    return _record("roofline", session, peak=_harness_peak(peak), flops_per_s=peak)


def _harness_peak(peak):
    return {"matmul_flops_per_s": peak, "bandwidth_bytes_per_s": 1e10}


def test_step_cost_counts_a_matmul_and_refuses_loops():
    x = jnp.ones((64, 32))
    cost = _harness.step_cost(lambda a, b: a @ b, x, x.T)
    assert cost["flops"] == 2 * 64 * 32 * 64
    assert cost["bytes_accessed"] > 0

    def scan(a, b, length):
        return jax.lax.scan(lambda c, _: (c @ b @ a, None), a, None, length=length)[0]

    with pytest.raises(ValueError, match="while loop"):
        _harness.step_cost(lambda a, b: scan(a, b, 3), x, x.T)
    # A loop that runs once per call is one step, counted once: right.
    once = _harness.step_cost(lambda a, b: scan(a, b, 1), x, x.T, single_trip_loops=True)
    assert once["flops"] >= 2 * (2 * 64 * 32 * 64)


def test_flops_record_scales_by_steps_over_seconds():
    rec = _harness.flops_record({"flops": 1e9, "bytes_accessed": 1e6}, 8, 2.0)
    assert rec["flops_per_s"] == pytest.approx(4e9)
    assert rec["bytes_per_s"] == pytest.approx(4e6)
    with pytest.raises(ValueError, match="expected both > 0"):
        _harness.flops_record({"flops": 1.0}, 0, 1.0)


def test_fraction_of_peak_only_from_one_session():
    peak = _peak(peak=4e10)
    assert _harness.peak_fraction(_record("a", flops_per_s=1e10), peak) == pytest.approx(0.25)
    assert _harness.peak_fraction(_record("a", "other", flops_per_s=1e10), peak) is None
    assert _harness.peak_fraction(_record("a"), peak) is None  # no FLOP count
    assert _harness.peak_fraction(_record("a", flops_per_s=1e10), None) is None


def test_table_has_a_fraction_of_peak_column():
    records = [
        _peak(peak=4e10),
        _record("now", flops_per_s=1e10),
        _record("old", "20250101T000000-1", flops_per_s=1e10),
        _record("remat_memory"),
    ]
    table = run.render_table(records)
    lines = table.splitlines()
    column = [c.strip() for c in lines[0].split("|")].index("fraction of peak")
    cells = {line.split("|")[1].strip(): line.split("|")[column].strip() for line in lines[2:6]}
    assert cells == {
        "`roofline`": "100.0%",
        "`now`": "25.0%",
        "`old`": "rerun ‡",
        "`remat_memory`": "n/a",
    }
    assert lines[-1].startswith("‡ ")


def test_quick_roofline_measures_a_peak():
    record = roofline.run(quick=True)
    peak = record["peak"]
    assert peak["matmul_flops_per_s"] >= record["jaxdl"]["value"] > 0
    assert peak["bandwidth_bytes_per_s"] > 0
    (matmul,) = record["matmul"]
    # XLA's own count of the matmul agrees with 2 n^3.
    assert matmul["xla_cost_analysis_flops"] == matmul["flops_per_call"] == 2 * 256**3
    assert record["bandwidth"]["xla_cost_analysis_bytes"] == record["bandwidth"]["bytes_per_call"]
    assert record["session"] == _harness.SESSION
    assert _harness.peak_fraction(record, record) == pytest.approx(
        record["jaxdl"]["value"] / peak["matmul_flops_per_s"]
    )


def test_a_benchmark_that_cannot_count_shows_n_a_and_its_reason():
    records = [_peak(), _record("ode"), _record("now", flops_per_s=1e10)]
    records[1]["flops"] = {"not_counted": "adaptive steps are not reported"}
    lines = run.render_table(records).splitlines()
    column = [c.strip() for c in lines[0].split("|")].index("fraction of peak")
    cells = {line.split("|")[1].strip(): line.split("|")[column].strip() for line in lines[2:5]}
    assert cells["`ode`"] == "n/a §" and cells["`now`"] == "25.0%"
    assert lines[-1] == "§ `ode` has no FLOP count: adaptive steps are not reported."
    assert not any(line.startswith("‡") for line in lines)  # nothing to rerun
