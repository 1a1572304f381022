"""Generative models on Fashion-MNIST: the VAE (other models: --config=inpaint|vqvae|gan).

Run:      python -m train generative --workdir=runs/vae
Expect:   test_nelbo (negative ELBO, nats per image) and test_kl in summary.json, plus
          vae_samples.png and vae_reconstructions.png. Not yet measured at this config.
Time:     roughly 5-10 minutes on an idle 2-core CPU (about 6 minutes per epoch was seen for
          the similar in-painting model on a heavily loaded one).
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.model = "vae"  # vae | inpaint | vqvae | gan
    c.latent_dim = 16  # vae
    c.beta = 1.0  # vae: weight of the KL term
    c.bottleneck = 128  # inpaint
    c.patch_size = 6  # inpaint
    c.num_codes = 64  # vqvae
    c.code_dim = 16  # vqvae
    c.ema_codebook = False  # vqvae
    c.commitment = 0.25  # vqvae
    c.z_dim = 64  # gan
    c.learning_rate = 1e-3
    c.num_epochs = 10
    c.batch_size = 128
    c.eval_batch_size = 1000
    c.steps_per_dispatch = 100
    c.seed = 0
    c.train_examples = 0  # 0: all
    c.test_examples = 0
    c.data_dir = ""
    c.resume = False
    c.progress = True
    return c
