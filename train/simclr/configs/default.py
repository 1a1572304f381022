"""SimCLR on Fashion-MNIST: a conv encoder (32-64-128 channels; its last block's 7x7 maps,
globally averaged, are the 128-d ``h`` the MLP projection head sees) trained with NT-Xent on
two augmented views (crop, flip, brightness/contrast; on the device inside the step), then
linear probes on the global average and the global maximum of those maps (256-d).

Run:      python -m train simclr --workdir=runs/simclr
Expect:   measured at this config (summary.json, test accuracy, all labels / 100 labels per
          class; the same readout for the trained and the random encoder):
            SimCLR encoder   0.882 / 0.799
            random encoder   0.842 / 0.738
            raw pixels       0.840 / 0.783
          i.e. >= 0.88 and 3.9 / 4.2 points above the random encoder / raw pixels.
          With readout="avg" (h alone): 0.870 / 0.799, random 0.822, pixels 0.840.
Time:     training 36 min (32 epochs, about 3.9 steps/s), 37 min in all with the probes, on
          the 2-core CPU with a second job running part of the time.
Scale:    --config.mesh=data=2 trains the encoder data parallel (NT-Xent and batch norm still
          see the whole global batch); --config.mesh=fsdp=2 shards its state. precision,
          remat, accum_steps and multi-host runs are rejected (see get_config)."""

import ml_collections

from ..._common import add_data_fields, add_run_fields, add_scale_fields


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.channels = (32, 64, 128)  # h is the global average of the last block's 128 channels
    c.block_depth = 1
    c.projection_hidden = 128
    c.projection_dim = 64
    c.temperature = 0.3
    c.crop_scale = (0.3, 1.0)  # the seed uses (0.1, 1.0); 0.3 keeps more of a 28x28 item
    c.crop_method = "cubic"
    c.flip = True
    c.jitter = 0.4  # brightness and contrast factors in [0.6, 1.4]
    c.jitter_p = 0.8
    c.learning_rate = 2e-3
    c.weight_decay = 1e-4
    c.warmup_epochs = 1
    c.probe_steps = 1000
    # What the probes see: "avg" (h, 128-d) or "avg_max" (h and the global max, 256-d).
    c.readout = "avg_max"
    c.probe_labels_per_class = 100
    c.gallery_images = 4  # rows of augmentations.png
    add_run_fields(
        c,
        num_epochs=32,
        batch_size=256,
        eval_batch_size=None,
        steps_per_dispatch=50,
        max_to_keep=None,
    )
    add_data_fields(c)
    # Scaling: mesh is honoured (batch_size must split over the data axes; the loss is
    # computed on the global batch, so every example's negatives are the whole batch as
    # on one device). Rejected: accum_steps (micro-batches would shrink NT-Xent's
    # negatives and change the loss), precision and remat (the encoder is float32 and not
    # checkpointed) and multi-host runs (the probes gather the features on one host).
    return add_scale_fields(c)
