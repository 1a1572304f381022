"""Fashion-MNIST, a tiny CNN on a slice of the data: for tests and smoke runs.

Run:      python -m train fashion_mnist --config=quick --workdir=/tmp/fmnist_quick
Expect:   finishes; accuracy is meaningless (a few hundred examples, 2 epochs).
Time:     about 15 seconds on a 2-core CPU, mostly compilation.
"""

import ml_collections

from ..._common import quick_run
from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    return quick_run(c, channels=(4, 8), hidden=(16,), num_epochs=2, warmup_epochs=0)
