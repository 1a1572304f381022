"""Neural ODE, a tiny run for tests and smoke runs: two short stages, a small net.

Run:      python -m train neural_ode --config=quick --workdir=/tmp/neural_ode_quick
Expect:   finishes and writes every artefact; the loss is meaningless (40 iterations).
Time:     about 20 seconds on a 2-core CPU, mostly compilation.
"""

import ml_collections

from ..._common import override
from . import default


def get_config() -> ml_collections.ConfigDict:
    c = override(default.get_config(), num_points=101, hidden=(16,), warmup_iters=5)
    c = override(c, window_lengths=(11, 101), window_batches=(4, 1), stage_iters=(20, 20))
    return override(c, log_every=10, progress=False)
