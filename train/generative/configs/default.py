"""Generative models on Fashion-MNIST: the VAE (other models: --config=inpaint|vqvae|gan).

Run:      python -m train generative --workdir=runs/vae
Expect:   test_nelbo (negative ELBO, nats per image) about 242 and test_kl about 18 in
          summary.json (measured after 10 epochs: 242.38 and 17.95), plus vae_samples.png and
          vae_reconstructions.png; see train/generative/README.md.
Time:     20 minutes on a 2-core CPU (1193 s measured, about 530 examples/s, while a
          diffusion evaluation shared the machine).
Scale:    --config.mesh=data=2 trains any of the models data parallel (--config.mesh=fsdp=2:
          sharded state), --config.accum_steps=4 the autoencoders in micro-batches;
          precision, remat and multi-host runs are rejected (see get_config).
"""

import ml_collections

from ..._common import add_data_fields, add_run_fields, add_scale_fields


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.model = "vae"  # vae | autoencoder | inpaint | vqvae | gan
    c.latent_dim = 16  # vae, autoencoder
    c.beta = 1.0  # vae: weight of the KL term
    c.bottleneck = 128  # inpaint
    c.patch_size = 6  # inpaint
    c.num_codes = 64  # vqvae
    c.code_dim = 16  # vqvae
    c.ema_codebook = False  # vqvae
    c.commitment = 0.25  # vqvae
    c.z_dim = 64  # gan
    c.learning_rate = 1e-3
    add_run_fields(c, num_epochs=10, batch_size=128, steps_per_dispatch=100, max_to_keep=None)
    add_data_fields(c)
    # Scaling: mesh is honoured by every model (the GAN's two states are placed together,
    # its batches split over the data axes like the autoencoders'); accum_steps by the
    # autoencoders only (the GAN's step updates two networks on one batch). Rejected:
    # precision and remat (the networks are float32 and not checkpointed) and multi-host
    # runs (the grids and code counts are computed on one host).
    return add_scale_fields(c)
