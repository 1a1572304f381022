"""Few-shot on Fashion-MNIST: train on classes 0-4 (clothes), test 5-way on 5-9 (sandal,
shirt, sneaker, bag, ankle boot), which the network never saw.

Run:      python -m train fewshot --workdir=runs/fewshot
Expect:   test_5way_1shot 0.702 +- 0.005, test_5way_5shot 0.841 (measured, 1000 episodes of 15
          queries per class, eval_seed 42); val_5way_1shot 0.696, val_5way_5shot 0.846 (the
          same on the training split's images of classes 5-9); raw pixels give 0.596 and
          0.723 (pixels_*). The issue's target, 1-shot >= 0.70, is met on test by less than the
          95% interval (val: just under). --config.seed=1 gave test 0.702 / 0.844,
          val 0.697 / 0.848.
Time:     about 4 minutes on a 2-core CPU (255 s measured on a machine shared with another
          training, so inflated; training 118 s, the 9 shifted views of the evaluation
          most of the rest).
Scale:    --config.mesh=data=2 splits each class-balanced batch over the devices (data
          parallel; --config.mesh=fsdp=2 shards the network's state too); precision,
          remat, accum_steps and multi-host runs are rejected (see get_config).

The network is a classifier of (class, quarter turn), 20 classes, with instance norm,
trained on jittered images; images are compared through its last conv block, max-pooled
2x2 at stride 1, and each shot is also matched moved 2 pixels in 8 directions (the best
of the 9 cosines to a query counts; queries are not moved). The settings were chosen on
the val episodes (training-split images of classes 5-9, never trained on); the test
figures were printed beside them and ranked the variants the same way.

Measured, 1-shot / 5-shot in %, val | test (the same 1000 episodes each). Batch norm,
64/128 channels, 1500 steps, no shift unless said. The old default's network, evaluated
differently:
  as it was (batch norm, pool 2)                      65.8 / 82.0 | 67.0 / 82.1
  CL2N (minus the base-class mean, SimpleShot)        54.5 / 71.5 | 55.7 / 72.3
  L2, then CL2N                                       56.4 / 73.8 | 57.9 / 74.5
  square root (Tukey), then L2                        65.0 / 81.6 | 66.3 / 82.1
  square root, then CL2N                              55.4 / 72.6 | 56.8 / 73.3
  features averaged over the image and its mirror     62.1 / 78.6 | 63.6 / 79.2
  ... with the mirror's maps flipped back             63.9 / 79.9 | 65.4 / 80.2
  features averaged over the 4 quarter turns          56.0 / 69.8 | 56.8 / 70.6
  + block 1's maps (3x3 max-pool, stride 2)           64.9 / 80.4 | 65.9 / 80.2
  pool 1 | pool 3 | 2x2 average pool (val)            64.5 | 63.4 | 65.2 (1-shot)
  each location's channels scaled to unit length      64.9 / 81.3 | 66.1 / 81.9
  shot shifted by 1 px, best of 9                     66.4 / 82.3 | 67.5 / 82.6
  shot shifted by 2 px, best of 9                     66.2 / 82.3 | 67.4 / 82.8
  shot shifted by 2 px, mean of the 9 cosines         65.7 / 82.0 | 67.1 / 82.5
Other training:
  seed 1                                              65.7 / 82.0 | 66.9 / 82.1
  seeds 0 and 1, features side by side                65.9 / 82.1 | 67.1 / 82.1
  no flip in the jitter                               65.6 / 81.6 | 66.7 / 81.7
  no augmentation                                     66.4 / 82.2 | 67.2 / 82.2
  mixup (alpha 1)                                     64.6 / 81.3 | 65.9 / 81.7
  + supervised-contrastive loss on these features     61.5 / 77.2 | 63.0 / 77.4
  two convs per block, no augmentation (2.5x time)    67.7 / 84.0 | 68.5 / 84.2
  group norm (8 groups)                               67.6 / 83.0 | 68.2 / 82.8
  layer norm                                          67.4 / 83.4 | 68.4 / 83.2
  instance norm                                       68.1 / 83.9 | 68.7 / 83.5
  instance norm, CL2N                                 58.9 / 76.2 | 60.3 / 76.4
  instance norm, shot shifted by 1 px                 68.7 / 84.4 | 69.3 / 83.9
  instance norm, shot shifted by 2 px                 68.8 / 84.4 | 69.5 / 84.0
  instance norm, 2500 steps, 2 px                     69.4 / 85.0 | 69.9 / 84.6
  instance norm, 96/192 channels, 2 px (this config)  69.6 / 84.6 | 70.2 / 84.1
CL2N hurts here, probably because the base classes (clothes) are far from the new ones
(shoes, bags): after subtracting the clothes' mean, every new feature carries the same
large "not a garment" component, which swamps what tells the new classes apart.
Earlier (through the old recipe, batch norm, no pool): cross-entropy on the 5
classes 61.0 / 76.3 (strong augmentation); with quarter-turn labels 63.9 / 78.8;
prototypical episodes 63.6 / 79.0; eight orientations 63.8 / 78.8; the head and the hidden
layer 45-60 / 52-70; pair-contrastive training 32.9 / 37.5 on the head.
"""

import ml_collections

from ..._common import add_scale_fields


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.train_classes = (0, 1, 2, 3, 4)
    c.test_classes = (5, 6, 7, 8, 9)
    # Training (train.py, through the engine): loss is cross_entropy, prototypical,
    # contrastive or triplet; rotations is 1, 2 or 4 (cross_entropy only).
    c.loss = "cross_entropy"
    c.rotations = 4
    c.augment = True
    c.num_steps = 1500
    c.chunk_steps = 100
    c.examples_per_class = 16
    c.embed_dim = 64
    c.channels = (96, 192)
    c.hidden = (128,)
    c.norm = "instance"
    c.margin = 1.0
    c.temperature = 0.1
    c.learning_rate = 1e-3
    c.seed = 0
    # Evaluation: features of `layer` (conv, hidden or head), cosine to class prototypes.
    c.layer = "conv"
    c.pool = 2  # max-pool window (stride 1) over the conv maps; 1 = none
    # Also match each shot moved by this many pixels (8 directions), best of the 9; 0 = off.
    c.support_shift = 2
    # "l2": unit length; "cl2n": minus the base classes' mean feature, then unit length.
    c.feature_transform = "l2"
    c.ways = 5
    c.shots = (1, 5)
    c.queries = 15
    c.num_episodes = 1000
    c.eval_seed = 42
    # Limits for quick runs; 0 means all.
    c.train_per_class = 0
    c.test_per_class = 0
    c.data_dir = ""
    c.progress = True
    # Scaling: mesh is honoured (the engine splits each generated batch of classes x
    # examples_per_class rows over the data axes: keep that a multiple of the devices).
    # Rejected: precision and remat (the network and the evaluation are float32 and not
    # checkpointed here), accum_steps (the metric losses compare the rows of one batch
    # with each other: micro-batches would change what each row is compared with) and
    # multi-host runs (the features are gathered on one host).
    return add_scale_fields(c)
