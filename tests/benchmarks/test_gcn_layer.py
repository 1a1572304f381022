"""The GCN-layer benchmark, quick: three sides agree, the record is consistent."""

from __future__ import annotations

import json

import pytest

from benchmarks import _harness, run

pytest.importorskip("torch")
pytest.importorskip("torch_geometric")

from benchmarks import gcn_layer  # noqa: E402  (needs torch, checked above)


def test_quick_gcn_layer_end_to_end():
    before = sorted(_harness.RESULTS_DIR.glob("*"))
    record = gcn_layer.run(quick=True)
    assert sorted(_harness.RESULTS_DIR.glob("*")) == before  # quick runs write nowhere
    assert gcn_layer.NAME in run.BENCHMARKS and record["name"] == "gcn_layer"
    assert record["num_nodes"] == gcn_layer.QUICK["num_nodes"] and record["quick"] is True
    json.dumps(record)
    ms = record["ms_per_call"]
    assert record["jaxdl"]["value"] == ms["jaxdl"] > 0
    assert record["baseline"]["value"] == ms["corrected"] > 0
    assert record["ratio"] == pytest.approx(ms["corrected"] / ms["jaxdl"])
    assert record["ratio_vs_torch_geometric"] == pytest.approx(ms["torch_geometric"] / ms["jaxdl"])
    assert set(record["reference_ratios_torch_1_thread"]) == {"corrected", "torch_geometric"}
    for side in record["sanity"]["relative_max_difference"].values():
        assert max(side.values()) <= gcn_layer.RTOL
    # A radius graph with self-loops: every node has at least its own loop.
    assert record["num_edges"] >= record["num_nodes"]
    # FLOPs per call: at least the three (N, F) x (F, F) products of the dense part
    # (forward, input and weight gradients); the rest is per edge, about E * F each.
    flops, n, f = record["flops"], record["num_nodes"], gcn_layer.FEATURES
    assert flops["steps_per_unit"] == record["steps"]
    assert (
        3 * 2 * n * f * f <= flops["per_step"] <= 3 * 2 * n * f * f + 10 * record["num_edges"] * f
    )
