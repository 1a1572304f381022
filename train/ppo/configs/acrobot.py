"""PPO on Acrobot-v1 (reward -1 per step until the tip swings up; -500 is a failure).

Run:      python -m train ppo --config=acrobot --workdir=runs/ppo_acrobot
Expect:   mean return over the last 10 updates -85.4 (measured; per seed -87.9 to -83.2,
          target >= -100); a uniformly random policy scores -499.
Time:     about 2 minutes on a 2-core CPU (4 seeds x 1,000,000 steps; 110 s measured
          before the engine; 240 s, 77 of them compiling, on a machine shared at load 6).
"""

import ml_collections

from ..._common import override
from . import default


def get_config() -> ml_collections.ConfigDict:
    c = override(default.get_config(), env_name="Acrobot-v1", num_seeds=4, num_envs=16)
    c = override(c, total_timesteps=1_000_000, num_minibatches=8, normalize_obs=True)
    return override(c, solved_return=-100.0)
