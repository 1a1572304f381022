"""Few-shot on Fashion-MNIST: train on classes 0-4 (clothes), test 5-way on 5-9 (sandal,
shirt, sneaker, bag, ankle boot), which the network never saw.

Run:      python -m train fewshot --workdir=runs/fewshot
Expect:   test_5way_1shot 0.670 +- 0.005, test_5way_5shot 0.821 +- 0.003 (measured, 1000
          episodes of 15 queries per class); raw pixels give 0.596 and 0.723 (pixels_*).
          The issue's target for 1-shot is 0.70: not reached.
Time:     about 4 minutes on a 2-core CPU (251 s measured on a shared machine; training
          198 s).

The network is a classifier of (class, quarter turn), 20 classes, trained on jittered
images; test images are compared through its last conv block, max-pooled 2x2 at stride 1.
Measured on the same split (1-shot / 5-shot, flattened last conv block without the pool
unless said): cross-entropy on the 5 classes 61.0 / 76.3 (strong augmentation); the same
with quarter-turn labels 63.9 / 78.8; prototypical episodes 63.6 / 79.0; eight
orientations (turns and mirror images) 63.8 / 78.8; 64 and 128 channels instead of 32 and
64, 64.9 / 80.1, and with the 2x2 max-pool 67.0 / 82.1 (this config). Through this
recipe: --config.num_steps=3000 gave 67.5 / 82.9 and --config.channels="(96, 192)"
67.8 / 82.7, each about twice the compute for less than one point. The head and the
hidden layer carry over far worse (45-60 / 52-70), and pair-contrastive training gave
32.9 / 37.5 on the head.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.train_classes = (0, 1, 2, 3, 4)
    c.test_classes = (5, 6, 7, 8, 9)
    # Training (jaxdl.fewshot.train_siamese): loss is cross_entropy, prototypical,
    # contrastive or triplet; rotations is 1, 2 or 4 (cross_entropy only).
    c.loss = "cross_entropy"
    c.rotations = 4
    c.augment = True
    c.num_steps = 1500
    c.chunk_steps = 100
    c.examples_per_class = 16
    c.embed_dim = 64
    c.channels = (64, 128)
    c.hidden = (128,)
    c.norm = "batch"
    c.margin = 1.0
    c.temperature = 0.1
    c.learning_rate = 1e-3
    c.seed = 0
    # Evaluation: features of `layer` (conv, hidden or head), cosine to class prototypes.
    c.layer = "conv"
    c.pool = 2  # max-pool window (stride 1) over the conv maps; 1 = none
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
    return c
