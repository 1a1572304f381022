"""makemore on a tiny budget: for tests and smoke runs.

Run:      python -m train makemore --config=quick --workdir=/tmp/makemore_quick
Expect:   finishes; the losses are far from converged (600 steps).
Time:     about 10 seconds on a 2-core CPU, mostly loading names and compiling.
"""

import ml_collections

from ..._common import override
from . import default


def get_config() -> ml_collections.ConfigDict:
    c = override(default.get_config(), n_hidden=32, num_steps=600, chunk_steps=200)
    return override(c, lr_find_steps=50, num_samples=5, progress=False)
