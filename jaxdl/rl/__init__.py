"""Reinforcement learning: PPO on gymnax environments, whole runs compiled."""

from jaxdl.rl.ppo import CONFIG_FIELDS, make_env, make_train, random_policy_return

__all__ = ["CONFIG_FIELDS", "make_env", "make_train", "random_policy_return"]
