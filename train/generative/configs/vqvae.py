"""Generative models on Fashion-MNIST: VQ-VAE (64 codes of 16 dims on a 7x7 grid).

Run:      python -m train generative --config=vqvae --workdir=runs/vqvae
Expect:   measured after 3 epochs: test reconstruction NLL 220.1 nats per image, 22 of
          64 codes in use, perplexity 10.3, the most used code taking 38% (no collapse to
          one code); vqvae_reconstructions.png. --config.ema_codebook=true switches to the
          EMA codebook (not yet measured).
Time:     about 12 minutes on a busy 2-core CPU (694 s measured with other jobs running).
"""

import ml_collections

from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.model = "vqvae"
    c.num_epochs = 3
    return c
