"""Learning curves on Fashion-MNIST: MLP and CNN, with and without dropout, and a small
MLP, each trained on 500 ... 50,000 examples; bias/variance diagnosis per model.

Run:      python -m train learning_curves --workdir=runs/learning_curves
Expect:   learning_curves.png, results.md and one diagnosis line per model. Measured:
          validation error at 500 -> 50,000 examples 0.212 -> 0.125 (MLP), 0.206 ->
          0.116 (CNN); every model "high bias" at 50,000 (1,000 steps are 1.3 epochs of
          it) and "high variance" at 500-2,000 (train/learning_curves/README.md).
Time:     1,132 s measured on the shared 2-core CPU (load average about 11); the MLPs
          train every size in one vmapped program, the CNNs one size after another on
          CPU (config.vmap).
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    # Training-set sizes: run r trains on the first sizes[r] examples of one fixed
    # shuffle of the training split; the last val_examples of that shuffle are held out.
    c.sizes = (500, 1000, 2000, 5000, 10000, 20000, 50000)
    c.val_examples = 5000
    # The training error is measured on the first min(n, train_eval_examples) examples
    # a run trained on (in evaluation mode: no dropout).
    c.train_eval_examples = 2000
    # Each name is a model of train/learning_curves/train.py's MODELS: mlp, mlp_dropout,
    # mlp_small (the "smaller model"), cnn, cnn_dropout.
    c.models = ("mlp", "mlp_dropout", "mlp_small", "cnn", "cnn_dropout")
    c.mlp_hidden = (512, 256)
    c.small_hidden = (32,)
    c.channels = (8, 16)  # a quarter of the fashion_mnist recipe's CNN's width
    c.cnn_hidden = (128,)
    c.norm = "batch"
    c.dropout = 0.3  # the *_dropout models' rate; the others have none
    # The same number of steps for every size: small sets are seen many times (they
    # overfit), 50,000 examples about 1.3 times.
    c.num_steps = 1000
    c.eval_every = 250  # steps between two points of the error-against-epochs curves
    c.batch_size = 64
    c.eval_batch_size = 500
    c.learning_rate = 1e-3
    c.weight_decay = 1e-4
    c.warmup_steps = 50
    # Ng's rule (jaxdl.training.diagnostics.diagnose): high bias when the training
    # error at the largest size exceeds target_error + bias_margin; high variance when
    # the validation error exceeds the training error by more than variance_margin.
    # 0.08: about what the fashion_mnist recipe's CNN reaches (0.072 test error).
    c.target_error = 0.08
    c.bias_margin = 0.02
    c.variance_margin = 0.02
    # "auto": all sizes in one vmapped program, except CNNs on CPU (vmap turns the
    # per-run kernels into grouped convolutions, slow on XLA:CPU); "on" / "off" force it.
    c.vmap = "auto"
    c.seed = 0
    c.data_dir = ""
    c.progress = True
    # "" one device; "runs=N" splits the vmapped sizes over N devices (N divides the
    # number of sizes).
    c.mesh = ""
    return c
