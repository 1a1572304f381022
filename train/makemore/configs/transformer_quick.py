"""makemore's character GPT on a tiny budget: for tests and smoke runs.

Run:      python -m train makemore --config=transformer_quick --workdir=/tmp/gpt_quick
Expect:   finishes; the losses are far from converged (200 steps).
Time:     about 20 seconds on a 2-core CPU, mostly loading names and compiling.
"""

import ml_collections

from ..._common import override
from . import transformer


def get_config() -> ml_collections.ConfigDict:
    c = override(transformer.get_config(), n_embd=16, n_hidden=32, n_layer=1, n_head=2)
    # No dropout and the gentler step size: 200 steps of a small model need neither.
    c = override(c, learning_rate=1e-3, dropout=0.0)
    return override(c, num_steps=200, chunk_steps=100, num_samples=5, progress=False)
