"""Generative models on Fashion-MNIST: the gan model (see configs/default.py).

Run:      python -m train generative --config=gan --workdir=runs/gan
Expect:   see the metrics in summary.json and the PNG grids in the workdir.
Time:     a few minutes on a 2-core CPU.
"""

import ml_collections

from train.generative.configs import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.model = "gan"
    c.learning_rate = 2e-4  # Adam(2e-4, b1=0.5), as DCGAN
    c.num_epochs = 5
    return c
