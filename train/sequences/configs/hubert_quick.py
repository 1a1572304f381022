"""The HuBERT comparison on tiny settings: for tests and smoke runs.

Run:      python -m train sequences --config=hubert_quick --workdir=/tmp/seq_hubert_quick
Expect:   finishes; the metrics are meaningless (a few dozen steps).
Time:     80 s with an empty compilation cache on a 2-core CPU (some 150 programs to
          compile); 4 minutes while three other jobs shared the cores.
"""

import ml_collections

from . import hubert


def get_config() -> ml_collections.ConfigDict:
    c = hubert.get_config()
    c.progress = False
    c.ctc.update(num_steps=20, chunk_steps=10, batch_size=8, hidden=16, eval_size=32,
                 max_labels=3)  # fmt: skip
    c.hubert.update(num_clusters=6, kmeans_utterances=16, kmeans_restarts=2, dim=16,
                    n_layers=2, n_heads=2, hidden_dim=32, target_layer=1,
                    feature_layer=2, labelled_batches=(0,))  # fmt: skip
    c.hubert.pretrain.update(num_steps=20, chunk_steps=10, batch_size=8, eval_size=32)
    return c
