"""Reinforcement learning: PPO on gymnax environments, whole runs compiled.

- :mod:`jaxdl.rl.config`: :class:`PPOConfig`, the validated hyperparameters.
- :mod:`jaxdl.rl.rollout`: :class:`VecEnv` and :func:`rollout` (acting in ``lax.scan``).
- :mod:`jaxdl.rl.ppo`: :func:`make_train` and the pieces of one update.
"""

from jaxdl.rl.config import PPOConfig
from jaxdl.rl.ppo import make_train, num_params
from jaxdl.rl.rollout import VecEnv, make_env, random_policy_return

__all__ = ["PPOConfig", "VecEnv", "make_env", "make_train", "num_params", "random_policy_return"]
