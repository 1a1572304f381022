"""Generative models on a slice of the data, 1 epoch: for tests (any --config.model).

Run:      python -m train generative --config=quick --config.model=vqvae --workdir=/tmp/g
Expect:   finishes; the numbers mean little.
Time:     about 15 seconds on a 2-core CPU, mostly compilation.
"""

import ml_collections

from ..._common import quick_run
from . import default


def get_config() -> ml_collections.ConfigDict:
    return quick_run(default.get_config())
