"""Generative models on Fashion-MNIST: the gan model (see configs/default.py).

Run:      python -m train generative --config=gan --workdir=runs/gan
Expect:   gan_samples_epochNN.png after each epoch and gan_samples.png: after 5 epochs rough
          garment silhouettes with grid artefacts (measured: last-epoch losses D 1.357, G
          0.723); see train/generative/README.md.
Time:     9 minutes on a 2-core CPU (518 s measured, about 105 s per epoch).
"""

import ml_collections

from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.model = "gan"
    c.learning_rate = 2e-4  # Adam(2e-4, b1=0.5), as DCGAN
    c.num_epochs = 5
    return c
