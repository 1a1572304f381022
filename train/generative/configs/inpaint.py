"""Generative models on Fashion-MNIST: the inpaint model (see configs/default.py).

Run:      python -m train generative --config=inpaint --workdir=runs/inpaint
Expect:   see the metrics in summary.json and the PNG grids in the workdir.
Time:     a few minutes on a 2-core CPU.
"""

import ml_collections

from train.generative.configs import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.model = "inpaint"
    return c
