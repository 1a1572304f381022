"""PPO on Breakout-MinAtar (10x10x4 binary frames flattened into the MLP).

Run:      python -m train ppo --config=breakout --workdir=runs/ppo_breakout
Expect:   a mean return far above a random policy's (about 0.5); see the recipe's notes
          for the measured value. purejaxrl trains 10x longer (1e7 steps) for ~30.
Time:     several minutes on a 2-core CPU (2 seeds x 2,000,000 steps).
"""

import ml_collections

from train.ppo.configs import default


def get_config() -> ml_collections.ConfigDict:
    c = default.get_config()
    c.env_name = "Breakout-MinAtar"
    c.num_seeds = 2
    c.num_envs = 64
    c.total_timesteps = 2_000_000
    c.num_minibatches = 8
    c.learning_rate = 5e-4
    c.hidden = (256, 256)
    c.solved_return = 10.0
    return c
