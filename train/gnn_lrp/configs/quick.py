"""GNN-LRP recipe on a few small graphs: for tests and smoke runs.

Run:      python -m train gnn_lrp --config=quick --workdir=/tmp/gnn_lrp_quick
Expect:   finishes; accuracy is meaningless, conservation still holds.
Time:     about 10 seconds on a 2-core CPU, mostly compilation.
"""

import ml_collections

from train.gnn_lrp.configs import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.num_train = 80
    c.num_test = 40
    c.min_nodes = 6
    c.max_nodes = 10
    c.hidden = 8
    c.num_epochs = 3
    c.batch_size = 20
    c.progress = False
    return c
