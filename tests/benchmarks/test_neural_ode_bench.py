"""The neural-ODE benchmark pair (jaxdl vs torchdiffeq): a quick end-to-end run."""

from __future__ import annotations

import json

import pytest

from benchmarks import _harness, run

pytest.importorskip("torch")
pytest.importorskip("torchdiffeq")

from benchmarks import neural_ode  # noqa: E402  (needs torch, checked above)


@pytest.mark.slow
def test_quick_neural_ode_end_to_end():
    before = sorted(_harness.RESULTS_DIR.glob("*"))
    record = neural_ode.run(quick=True)
    assert sorted(_harness.RESULTS_DIR.glob("*")) == before  # quick runs write nowhere
    assert record["name"] == "neural_ode" and "neural_ode" in run.BENCHMARKS
    assert record["higher_is_better"] is False and record["jaxdl"]["unit"] == "s/iteration"
    json.dumps(record)
    per_iter = record["seconds_per_iteration"]
    assert record["jaxdl"]["value"] == pytest.approx(_harness.median(per_iter["jaxdl"]))
    assert record["baseline"]["value"] == pytest.approx(_harness.median(per_iter["torch"]))
    assert record["ratio"] == pytest.approx(record["baseline"]["value"] / record["jaxdl"]["value"])
    sanity = record["sanity"]
    init = sanity["initial_loss"]
    assert init["jaxdl"] == pytest.approx(init["torch"], rel=neural_ode.LOSS_RTOL)
    gap = sanity["max_loss_difference_first_iterations"]
    assert gap["iterations"] == 2 and gap["value"] <= neural_ode.LOSS_RTOL * init["torch"]
    # The same seed setup on both sides: backsolve adjoint, torchdiffeq's tolerances.
    assert record["setup"]["adjoint"] == "backsolve" and record["setup"]["rtol"] == 1e-7
    assert record["other_cpu_load"] is None or record["other_cpu_load"] >= 0
    # No FLOP count (adaptive steps not reported): the table says n/a and why.
    assert record["flops"] == {"not_counted": neural_ode.FLOPS_NOT_COUNTED}
    assert run._fraction_cell(record, None) == "n/a §"
