"""PPO's hyperparameters as one frozen, validated dataclass.

A :class:`PPOConfig` is checked once, when it is built, so the compiled run never meets
an impossible setting, and it is hashable, so it can be a static argument:

>>> config = PPOConfig(total_timesteps=8 * 4 * 128, hidden=(16, 16))
>>> config.num_updates, config.minibatch_size
(8, 128)
>>> PPOConfig(num_minibatches=3)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: num_minibatches is 3, which does not divide the 512 transitions ...
>>> PPOConfig(env_name="CartPole")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: env_name is 'CartPole', which is not a gymnax environment; expected one of: ...
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import gymnax


def check_env_name(name: str, *, field: str = "name") -> None:
    """Raises unless ``name`` is a registered gymnax environment.

    Args:
      name: the environment's gymnax name, e.g. ``"CartPole-v1"``.
      field: the argument name the error message gives.

    Raises:
      ValueError: ``name`` is not registered; the message lists the registered ones.
    """
    if name not in gymnax.registered_envs:
        raise ValueError(
            f"{field} is {name!r}, which is not a gymnax environment; expected one of: "
            f"{', '.join(gymnax.registered_envs)}."
        )


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """Hyperparameters of one PPO training run (one seed); the defaults are purejaxrl's
    CartPole-v1 settings.

    Attributes:
      env_name: gymnax environment, e.g. ``"CartPole-v1"``, ``"Breakout-MinAtar"``.
      num_envs: environments stepped in parallel.
      num_steps: rollout length per environment; a rollout holds
        ``num_envs * num_steps`` transitions.
      total_timesteps: environment steps of the run (per seed); the run makes
        ``total_timesteps // (num_envs * num_steps)`` updates.
      update_epochs: passes over each rollout.
      num_minibatches: minibatches per pass; must divide the rollout.
      learning_rate: Adam's learning rate (the initial one when annealed).
      anneal_lr: decay the learning rate linearly to 0 over the updates.
      gamma: discount factor, in [0, 1].
      gae_lambda: GAE's lambda, in [0, 1].
      clip_eps: PPO's ratio clip (and the value clip when ``clip_value``).
      clip_value: clip the value update around the rollout's values.
      ent_coef: weight of the entropy bonus.
      vf_coef: weight of the value loss.
      max_grad_norm: global gradient norm clip.
      hidden: widths of the hidden layers of the actor's and the critic's MLPs.
      normalize_obs: normalise observations with running statistics.
      rollout_unroll: rollout steps per loop iteration of the compiled scan; a speed
        knob only (the numbers do not change).

    Raises:
      ValueError: a field is out of range (the message names the field, the value it
        got and what it expects), ``num_minibatches`` does not divide the rollout,
        ``total_timesteps`` is less than one rollout, or ``env_name`` is not a gymnax
        environment.
    """

    env_name: str = "CartPole-v1"
    num_envs: int = 4
    num_steps: int = 128
    total_timesteps: int = 500_000
    update_epochs: int = 4
    num_minibatches: int = 4
    learning_rate: float = 2.5e-4
    anneal_lr: bool = True
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    clip_value: bool = True
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: Sequence[int] = (64, 64)
    normalize_obs: bool = False
    rollout_unroll: int = 1

    def __post_init__(self) -> None:
        counts = ("num_envs", "num_steps", "total_timesteps", "update_epochs")
        for name in (*counts, "num_minibatches", "rollout_unroll"):
            _check(name, getattr(self, name), "a positive integer", _positive_int)
        for name in ("gamma", "gae_lambda"):
            _check(name, getattr(self, name), "a number in [0, 1]", lambda v: 0 <= v <= 1)
        _check("clip_eps", self.clip_eps, "a number >= 0", lambda v: v >= 0)
        for name in ("learning_rate", "max_grad_norm"):
            _check(name, getattr(self, name), "a number > 0", lambda v: v > 0)
        _check("hidden", self.hidden, "a sequence of positive integers", _positive_ints)
        object.__setattr__(self, "hidden", tuple(self.hidden))  # a tuple stays hashable
        batch = self.batch_size
        if batch % self.num_minibatches:
            raise ValueError(
                f"num_minibatches is {self.num_minibatches}, which does not divide the "
                f"{batch} transitions of a rollout (num_envs * num_steps = {self.num_envs} "
                f"* {self.num_steps}); expected a divisor of {batch}."
            )
        if self.total_timesteps < batch:
            raise ValueError(
                f"total_timesteps is {self.total_timesteps}, less than one rollout; "
                f"expected at least num_envs * num_steps = {batch}."
            )
        check_env_name(self.env_name, field="env_name")

    @property
    def batch_size(self) -> int:
        """Transitions per rollout: ``num_envs * num_steps``."""
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        """Rollouts (each followed by an update) in the run."""
        return int(self.total_timesteps) // self.batch_size

    @property
    def minibatch_size(self) -> int:
        """Transitions per minibatch."""
        return self.batch_size // self.num_minibatches


def _positive_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def _positive_ints(value: object) -> bool:
    return not isinstance(value, str) and all(map(_positive_int, value))


def _check(name: str, value: object, expected: str, ok: Callable[[Any], bool]) -> None:
    try:
        good = bool(ok(value))
    except TypeError:  # e.g. a string where a number belongs
        good = False
    if not good:
        raise ValueError(f"{name} is {value!r}, expected {expected}.")
