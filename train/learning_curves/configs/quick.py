"""Learning curves, tiny: two small models, three sizes, 20 steps; for tests.

Run:      python -m train learning_curves --config=quick --workdir=/tmp/lc_quick
Expect:   finishes; the errors are meaningless (hundreds of examples, 20 steps).
Time:     42 s measured in its test on the shared, loaded 2-core CPU; mostly compilation.
"""

import ml_collections

from ..._common import override
from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    return override(
        c,
        sizes=(32, 64, 128),
        val_examples=64,
        train_eval_examples=64,
        models=("mlp_dropout", "cnn"),
        mlp_hidden=(16,),
        channels=(4, 8),
        cnn_hidden=(16,),
        num_steps=20,
        eval_every=10,
        batch_size=16,
        eval_batch_size=32,
        warmup_steps=0,
        progress=False,
    )
