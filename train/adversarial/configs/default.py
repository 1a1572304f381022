"""Adversarial attacks on the foundation CNN: FGSM, PGD (L-inf) and the seed's targeted SGD.

The classifier is the fashion_mnist recipe's default CNN (its fields are repeated under
``classifier``), trained here for ``classifier.num_epochs`` (or restored from
``classifier_workdir`` if it holds a run with the same architecture, e.g. a
fashion_mnist run of the default config).

Run:      python -m train adversarial --workdir=runs/adversarial
Expect:   measured on 1000 correctly classified test images (classifier 0.913 after 4
          epochs): PGD (eps 0.1, 40 steps) fools 97.8%, FGSM (eps 0.1) 67.3%, and the seed's
          targeted attack reaches a random other class on 100% (median 2 steps, at most 7).
Time:     about 9 minutes on a busy 2-core CPU (562 s measured), most of it training.
Scale:    --config.mesh=data=2 trains the classifier data parallel (--config.mesh=fsdp=2:
          sharded state), --config.accum_steps=4 in micro-batches; the attacks run on one
          device. precision, remat and multi-host runs are rejected (see get_config).
"""

import ml_collections

from ..._common import add_data_fields, add_run_fields, add_scale_fields


def classifier_config() -> ml_collections.ConfigDict:
    """The fashion_mnist recipe's default CNN and its training, for 4 epochs."""
    c = ml_collections.ConfigDict()
    c.channels = (32, 64)
    c.block_depth = 1
    c.norm = "batch"  # the conv blocks' normalisation (see jaxdl.nn.norm)
    c.norm_groups = 8
    c.hidden = (128,)
    c.dropout = 0.3
    # AdamW with linear warm-up and cosine decay (jaxdl.training.warmup_cosine_optimizer).
    c.learning_rate = 2e-3
    c.weight_decay = 1e-4
    c.warmup_epochs = 1
    c.label_smoothing = 0.0
    add_run_fields(
        c,
        num_epochs=4,
        batch_size=128,
        steps_per_dispatch=100,
        max_to_keep=3,
        progress=False,
    )
    add_data_fields(c)  # limits for quick runs and tests; 0 means the whole split
    return c


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.classifier = classifier_config()
    c.classifier_workdir = ""  # "": train into WORKDIR/classifier
    c.num_images = 1000  # test images attacked (the first ones the classifier gets right)
    c.eps = 0.1  # L-inf budget of FGSM and PGD, in [0, 1] pixel units
    c.pgd_steps = 40
    c.pgd_step_size = 0.01
    c.targeted_lr = 1.0  # the seed's SGD learning rate on the input
    c.targeted_max_steps = 50_000  # the seed's limit
    c.seed = 0
    # Scaling (top level, for the classifier's training): mesh and accum_steps are
    # honoured (classifier.batch_size must split over the data axes and into the
    # micro-batches); the attacks run on the default device whatever the mesh. Rejected:
    # precision and remat (the classifier and the attacks are float32, not checkpointed)
    # and multi-host runs (the attacks gather the images on one host).
    return add_scale_fields(c)
