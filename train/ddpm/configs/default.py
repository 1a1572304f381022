"""DDPM on Fashion-MNIST: a small class-conditional UNet, guided DDIM sample grids.

Run:      python -m train ddpm --workdir=runs/ddpm
          then the sample-quality table (domain FID, see README.md):
          python -m train.ddpm.evaluate --workdir=runs/ddpm --classifier=runs/fashion_mnist
Expect:   test_loss (noise MSE on 2,000 test images) 0.039 after 20 epochs (measured: 0.0394;
          0.0437 after 3), samples_epochNN.png with 8 rows x one column per class (guided
          DDIM-50, w = 3), and, from the evaluation, the table in train/ddpm/README.md.
Time:     40 minutes on an idle 2-core CPU (2371 s measured: 18,740 steps at batch 64,
          about 550 examples/s, plus 6 s per epoch for the sample grid).
"""

import ml_collections

from ..._common import add_data_fields, add_run_fields, add_scale_fields


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    # A deliberately small UNet: (32, 64, 128) costs ~5 s per step on 2 CPU cores.
    c.channels = (16, 32, 64)
    c.attention = False  # self-attention at 7x7; off for speed
    c.dropout = 0.0
    c.schedule = "linear"  # linear | cosine | seed
    c.num_timesteps = 1000
    c.p_uncond = 0.1  # label dropout for classifier-free guidance
    c.learning_rate = 1e-3
    c.warmup_steps = 200
    c.grad_clip = 1.0
    c.ema_decay = 0.999
    # The sample grid drawn after every epoch.
    c.grid_rows = 8
    c.grid_ddim_steps = 50
    c.guidance_scale = 3.0
    # 20 epochs: 3 left DDIM-50 at twice DDPM-1000's distance.
    add_run_fields(c, num_epochs=20, batch_size=64, steps_per_dispatch=50)
    add_data_fields(c, test_examples=2000)  # the test loss needs no more
    # --config.mesh / precision / remat / accum_steps: see docs/scale.md.
    return add_scale_fields(c)
