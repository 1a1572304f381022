"""The optimizers recipe through the entry point."""

from __future__ import annotations

import json

from train.__main__ import main


def test_recipe_writes_the_plot(tmp_path):
    assert main(["optimizers", "--config=quick", f"--workdir={tmp_path}"]) == 0
    assert (tmp_path / "trajectories.png").stat().st_size > 5000
    metrics = json.loads((tmp_path / "summary.json").read_text())["metrics"]
    assert len(metrics) == 12  # 2 surfaces x 6 optimisers
    # From a mean starting loss of 49.8 on the bowl, every optimiser descends.
    assert all(v < 20 for k, v in metrics.items() if k.startswith("bowl_"))


def test_unknown_surface_is_one_sentence(tmp_path, capsys):
    args = ["optimizers", "--config=quick", f"--workdir={tmp_path}",
            "--config.surfaces=('bowl','beale')"]  # fmt: skip
    assert main(args) == 2
    assert "config.surfaces has ['beale']" in capsys.readouterr().err
