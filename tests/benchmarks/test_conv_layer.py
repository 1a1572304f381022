"""The conv-layer benchmark and the CNN profile: quick end-to-end runs on tiny batches."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks import _harness, run

pytest.importorskip("torch")

from benchmarks import conv_layer, profile_cnn  # noqa: E402  (needs torch, checked above)


def _results() -> list:
    return sorted(_harness.RESULTS_DIR.glob("*")) if _harness.RESULTS_DIR.exists() else []


@pytest.mark.slow
def test_quick_conv_layer_end_to_end():
    before = _results()
    record = conv_layer.run(quick=True)
    assert _results() == before  # quick runs write nowhere
    assert record["name"] == conv_layer.NAME == "conv_layer" and record["quick"] is True
    assert conv_layer.NAME in run.BENCHMARKS
    assert record["higher_is_better"] is False and record["jaxdl"]["unit"] == "ms/step"
    json.dumps(record)

    rows = record["shapes"]
    # Two recipe shapes and the stride-2 one, each forward and forward+backward.
    assert len(rows) == 3 * 2
    assert {r["metric"] for r in rows} == {"forward", "forward+backward"}
    assert {r["batch"] for r in rows} == {conv_layer.QUICK["batch"]}
    assert sum(r["stride"] == 2 for r in rows) == 2
    for r in rows:
        for key in ("shape", "batch", "metric", "jaxdl_ms", "xla_ms", "torch_ms", "ratio"):
            assert key in r
        assert r["jaxdl_ms"] > 0 and r["xla_ms"] > 0 and r["torch_ms"] > 0
        assert r["ratio"] == pytest.approx(r["torch_ms"] / r["jaxdl_ms"])
        assert r["jaxdl_ms"] == pytest.approx(_harness.median(r["step_ms"]["jaxdl"]))

    # The headline: the geometric mean of forward+backward ratios over the recipe shapes.
    recipe = [r for r in rows if r["recipe"] and r["metric"] == "forward+backward"]
    assert len(recipe) == 2 and all(r["stride"] == 1 for r in recipe)
    geomean = math.prod(r["ratio"] for r in recipe) ** (1 / len(recipe))
    assert record["ratio"] == pytest.approx(geomean)
    assert record["ratio"] == pytest.approx(record["baseline"]["value"] / record["jaxdl"]["value"])
    assert record["geometric_mean"]["forward+backward"]["ratio"] == pytest.approx(geomean)
    for diffs in record["sanity"]["relative_max_difference_vs_torch"].values():
        assert max(diffs.values()) <= conv_layer.RTOL
    assert record["other_cpu_load"] is None or record["other_cpu_load"] >= 0
    # Each row's FLOPs per step, and the headline's: their geometric mean over the recipe
    # rows, over the geometric-mean time.
    for r in rows:
        assert r["flops"]["per_step"] > 0
        assert r["flops"]["seconds_per_unit"] == pytest.approx(r["jaxdl_ms"] / 1e3)
    per_step = math.prod(r["flops"]["per_step"] for r in recipe) ** (1 / len(recipe))
    assert record["flops"]["per_step"] == pytest.approx(per_step)
    assert record["flops"]["seconds_per_unit"] == pytest.approx(record["jaxdl"]["value"] / 1e3)


def test_geomean():
    assert conv_layer.geomean([2.0, 8.0]) == pytest.approx(4.0)
    with pytest.raises(ValueError):
        conv_layer.geomean([])


def test_steps_for_lengthens_short_scans_only():
    assert conv_layer.steps_for(0.1, 10, 0.5) == 10  # 1 s per call already
    assert conv_layer.steps_for(0.001, 10, 0.5) == 500
    assert conv_layer.steps_for(0.0013, 10, 0.5) == 390  # rounded up to a multiple of 10
    assert conv_layer.steps_for(1e-7, 10, 0.5) == conv_layer.MAX_STEPS
    assert conv_layer.steps_for(0.001, 10, 0.0) == 10


@pytest.mark.slow
def test_profile_table_smoke(tmp_path):
    result = profile_cnn.profile(8, steps=2, repeats=1, min_call_s=0)
    rows = result["rows"]
    names = [r["part"] for r in rows]
    assert len(names) == 7 + 1 + 2  # seven layer parts, the optimiser, sum, whole step
    assert names[-2:] == [profile_cnn.SUM_OF_PARTS, profile_cnn.WHOLE_STEP]
    for r in rows:
        assert r["jaxdl_ms"] > 0 and r["torch_ms"] > 0
        assert r["ratio"] == pytest.approx(r["torch_ms"] / r["jaxdl_ms"])
        assert r.get("steps", 2) == 2  # no calibration with min_call_s=0
    assert rows[-2]["jaxdl_ms"] == pytest.approx(sum(r["jaxdl_ms"] for r in rows[:-2]))

    text = profile_cnn.render(result)
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert table[0] == "| part | jaxdl ms | torch ms | torch/jaxdl |"
    assert len(table) == 2 + len(rows)
    assert text.startswith("### Batch 8")

    # The README keeps other text and other batches' sections; a rerun replaces its own.
    readme = tmp_path / "README.md"
    old = "### Batch 4096\n\nold table"
    readme.write_text(
        f"# T\n\n{profile_cnn.HEADING}\n\n{profile_cnn.START}\n{old}\n{profile_cnn.END}\nend\n"
    )
    profile_cnn.update_readme([result], readme)
    profile_cnn.update_readme([result], readme)
    written = readme.read_text()
    assert written.startswith(f"# T\n\n{profile_cnn.HEADING}\n\n") and written.endswith("end\n")
    assert written.count("### Batch 8\n") == 1 and old in written
    assert written.index("### Batch 8") < written.index("### Batch 4096")
