"""Generative models on Fashion-MNIST: the seed's in-painting autoencoder (a 6x6 patch
near the centre is removed; the model sees the masked image and the mask).

Run:      python -m train generative --config=inpaint --workdir=runs/inpaint
Expect:   patch_mse_vs_mean_image 0.23 (measured: test patch MSE 0.0221 against 0.0946 for
          filling the patch with the mean training image), and inpainting.png (rows of
          originals, masked inputs, in-painted results).
Time:     about 20 minutes on a busy 2-core CPU (1234 s measured with other jobs running;
          3 epochs).
"""

import ml_collections

from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.model = "inpaint"
    c.num_epochs = 3
    return c
