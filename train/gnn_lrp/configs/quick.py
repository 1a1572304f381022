"""GNN-LRP recipe on a few small graphs: for tests and smoke runs.

Run:      python -m train gnn_lrp --config=quick --workdir=/tmp/gnn_lrp_quick
Expect:   finishes; accuracy is meaningless, conservation still holds.
Time:     about 10 seconds on a 2-core CPU, mostly compilation.
"""

import ml_collections

from ..._common import override
from . import default


def get_config() -> ml_collections.ConfigDict:
    c = override(default.get_config(), num_train=80, num_test=40, min_nodes=6, max_nodes=10)
    return override(c, hidden=8, num_epochs=3, batch_size=20, progress=False)
