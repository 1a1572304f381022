"""Few-shot on tiny settings: for tests and smoke runs.

Run:      python -m train fewshot --config=quick --workdir=/tmp/fewshot_quick
Expect:   finishes; the accuracies are meaningless (a few steps of a tiny network).
Time:     about 10 seconds on a 2-core CPU, mostly compilation.
"""

import ml_collections

from ..._common import override
from . import default


def get_config() -> ml_collections.ConfigDict:
    c = override(default.get_config(), num_steps=6, chunk_steps=3, examples_per_class=4)
    c = override(c, channels=(4, 8), hidden=(8,), train_per_class=50, test_per_class=20)
    c = override(c, shots=(1,), queries=3, num_episodes=20, progress=False)
    return override(c, support_shift=0)  # shifted views: tests/test_fewshot_episodes.py
