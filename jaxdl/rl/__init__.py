"""Reinforcement learning: PPO on gymnax environments, compiled updates.

- :mod:`jaxdl.rl.config`: :class:`PPOConfig`, the validated hyperparameters.
- :mod:`jaxdl.rl.rollout`: :class:`VecEnv` and :func:`rollout` (acting in ``lax.scan``).
- :mod:`jaxdl.rl.ppo`: :func:`make_train` (a whole run in one program),
  :func:`init_runner` and :func:`make_step` (one update as a step of
  :func:`jaxdl.training.train`, which logs, checkpoints and resumes), and the pieces of
  one update.
"""

from jaxdl._extras import missing_extra

try:
    import gymnax  # noqa: F401  (checked first: a missing extra fails with its install line)
except ImportError as e:
    raise missing_extra("jaxdl.rl", "rl", e, "gymnax") from e

from jaxdl.rl.config import PPOConfig
from jaxdl.rl.ppo import Runner, init_runner, make_step, make_train, num_params
from jaxdl.rl.rollout import VecEnv, make_env, random_policy_return

__all__ = [
    "PPOConfig",
    "Runner",
    "VecEnv",
    "init_runner",
    "make_env",
    "make_step",
    "make_train",
    "num_params",
    "random_policy_return",
]
