"""Few-shot on tiny settings: for tests and smoke runs.

Run:      python -m train fewshot --config=quick --workdir=/tmp/fewshot_quick
Expect:   finishes; the accuracies are meaningless (a few steps of a tiny network).
Time:     about 10 seconds on a 2-core CPU, mostly compilation.
"""

import ml_collections

from train.fewshot.configs import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.num_steps = 6
    c.chunk_steps = 3
    c.examples_per_class = 4
    c.channels = (4, 8)
    c.hidden = (8,)
    c.train_per_class = 50
    c.test_per_class = 20
    c.shots = (1,)
    c.queries = 3
    c.num_episodes = 20
    c.support_shift = 0  # the shifted views are tested in tests/test_fewshot_episodes.py
    c.progress = False
    return c
