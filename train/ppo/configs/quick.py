"""PPO on CartPole-v1 on a tiny budget: for tests and smoke runs.

Run:      python -m train ppo --config=quick --workdir=/tmp/ppo_quick
Expect:   finishes; returns climb a little above random (about 20-60), nothing is solved.
Time:     about 15 seconds on a 2-core CPU, mostly compilation.
"""

import ml_collections

from ..._common import override
from . import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c = override(c, num_seeds=2, total_timesteps=8 * 4 * 128, hidden=(16, 16), progress=False)
    # One device: tests run it inside processes whose JAX has started (or that other
    # tests share); tests/train/test_ppo.py runs the split over cores in its own process.
    c = override(c, cpu_devices=0)
    return override(c, updates_per_epoch=2)  # 4 epochs of the 8 updates
