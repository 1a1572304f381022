"""PPO on Acrobot-v1 (reward -1 per step until the tip swings up; -500 is a failure).

Run:      python -m train ppo --config=acrobot --workdir=runs/ppo_acrobot
Expect:   mean return over the last 10 updates about -80 to -90 (target >= -100); a
          random policy scores about -500.
Time:     about 2 minutes on a 2-core CPU (4 seeds x 1,000,000 steps).
"""

import ml_collections

from train.ppo.configs import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.env_name = "Acrobot-v1"
    c.num_seeds = 4
    c.num_envs = 16
    c.total_timesteps = 1_000_000
    c.num_minibatches = 8
    c.normalize_obs = True
    c.solved_return = -100.0
    return c
