"""SimCLR on Fashion-MNIST: a conv encoder (32-64-128 channels, global average pool: a
128-d representation) and an MLP projection head trained with NT-Xent on two augmented views
(crop, flip, brightness/contrast; on the device inside the step), then linear probes.

Run:      python -m train simclr --workdir=runs/simclr
Expect:   measured at this config (summary.json; probes on the 128-d representation, test
          accuracy, all labels / 100 labels per class):
            SimCLR encoder   0.867 / 0.804
            random encoder   0.822 / 0.728
            raw pixels       0.840 / 0.783
          The issue's target (>= 0.88 with all labels, >= 3 points over both baselines) is
          NOT met: 0.8671 beats the random encoder (0.8220) by 4.5 points, raw pixels (0.8395)
          by 2.8.
Time:     training 31 min 50 s (16 epochs, about 2 steps/s), 34.9 min in all with the
          probes and figures, on a shared, busy 2-core CPU (run under `nice -n 5`).
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.channels = (32, 64, 128)  # the representation is the last block's 128 channels
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
    c.num_epochs = 16
    c.batch_size = 256
    c.steps_per_dispatch = 50
    c.probe_steps = 1000
    c.probe_labels_per_class = 100
    c.gallery_images = 4  # rows of augmentations.png
    c.seed = 0
    c.train_examples = 0
    c.test_examples = 0
    c.data_dir = ""
    c.resume = False
    c.progress = True
    return c
