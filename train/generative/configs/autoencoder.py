"""Generative models on Fashion-MNIST: a plain autoencoder, the VAE's networks without the KL.

Run:      python -m train generative --config=autoencoder --workdir=runs/autoencoder
Expect:   test_recon_nll (Bernoulli reconstruction NLL, nats per image) below the VAE's
          reconstruction term (the VAE's test_nelbo minus test_kl), since nothing pulls
          its latents towards the prior; autoencoder_samples.png (decoded N(0, I) draws)
          shows that it is no generator. Measured values: train/generative/README.md.
Time:     about as long per epoch as the VAE (same networks); 3 epochs here.
"""

import ml_collections

from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.model = "autoencoder"
    c.num_epochs = 3
    return c
