"""Actor-critic networks for PPO: separate tanh MLPs, categorical and Gaussian policies.

The distributions are small pytrees with hand-written log-probabilities, so they pass
through ``jit``/``vmap``/``scan`` and need no extra dependency (tests check them against
``torch.distributions``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx, struct
from jaxtyping import Array, Float

from jaxdl.nn.initializers import orthogonal


@struct.dataclass
class Categorical:
    """A categorical distribution over the last axis of ``logits``."""

    logits: jax.Array

    def log_prob(self, actions: jax.Array) -> jax.Array:
        logp = jax.nn.log_softmax(self.logits)
        return jnp.take_along_axis(logp, actions[..., None].astype(jnp.int32), -1)[..., 0]

    def entropy(self) -> jax.Array:
        logp = jax.nn.log_softmax(self.logits)
        return -jnp.sum(jnp.exp(logp) * logp, -1)

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.categorical(key, self.logits)

    def mode(self) -> jax.Array:
        return jnp.argmax(self.logits, -1)


@struct.dataclass
class DiagGaussian:
    """Independent normal distributions over the last axis; ``log_std`` has ``mean``'s shape."""

    mean: jax.Array
    log_std: jax.Array

    def log_prob(self, actions: jax.Array) -> jax.Array:
        z = (actions - self.mean) * jnp.exp(-self.log_std)
        return jnp.sum(-0.5 * z**2 - self.log_std - 0.5 * math.log(2 * math.pi), -1)

    def entropy(self) -> jax.Array:
        return jnp.sum(self.log_std + 0.5 * math.log(2 * math.pi * math.e), -1)

    def sample(self, key: jax.Array) -> jax.Array:
        return self.mean + jnp.exp(self.log_std) * jax.random.normal(key, self.mean.shape)

    def mode(self) -> jax.Array:
        return self.mean


def _dense(n_in: int, n_out: int, scale: float, rngs: nnx.Rngs) -> nnx.Linear:
    # Orthogonal weights with a per-layer gain and zero biases: the PPO implementation
    # details (Engstrom et al. 2020; Huang et al. 2022) that make small MLPs train well.
    return nnx.Linear(
        n_in,
        n_out,
        kernel_init=orthogonal(scale),
        bias_init=nnx.initializers.zeros_init(),
        rngs=rngs,
    )


class _TanhMLP(nnx.Module):
    def __init__(self, n_in: int, hidden: Sequence[int], n_out: int, out_scale: float, *, rngs):
        sizes = [n_in, *hidden]
        self.hidden = nnx.List(
            [_dense(a, b, math.sqrt(2), rngs) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        )
        self.out = _dense(sizes[-1], n_out, out_scale, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self.hidden:
            x = jnp.tanh(layer(x))
        return self.out(x)


class ActorCritic(nnx.Module):
    """A policy network and a value network that share nothing.

    ``__call__(obs)`` returns ``(distribution, value)``. ``action_dim`` is the number of
    discrete actions (``continuous=False``) or the size of a continuous action
    (``continuous=True``, a Gaussian with a state-independent learned ``log_std``).

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> pi, v = ActorCritic(4, 2, rngs=nnx.Rngs(0))(jnp.zeros((3, 4)))
      >>> pi.logits.shape, v.shape
      ((3, 2), (3,))
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        *,
        hidden: Sequence[int] = (64, 64),
        continuous: bool = False,
        rngs: nnx.Rngs,
    ):
        self.obs_dim = obs_dim
        self.continuous = continuous
        # A near-zero policy head starts from an almost uniform policy.
        self.actor = _TanhMLP(obs_dim, hidden, action_dim, 0.01, rngs=rngs)
        self.critic = _TanhMLP(obs_dim, hidden, 1, 1.0, rngs=rngs)
        if continuous:
            self.log_std = nnx.Param(jnp.zeros((action_dim,)))

    def __call__(
        self, obs: Float[Array, "*batch obs"]
    ) -> tuple[Categorical | DiagGaussian, Float[Array, "*batch"]]:
        return self.policy(obs), self.value(obs)

    def policy(self, obs: Float[Array, "*batch obs"]) -> Categorical | DiagGaussian:
        """The action distribution alone (what acting needs; the critic is not run)."""
        self._check(obs)
        out = self.actor(obs)
        if self.continuous:
            return DiagGaussian(out, jnp.broadcast_to(self.log_std[...], out.shape))
        return Categorical(out)

    def value(self, obs: Float[Array, "*batch obs"]) -> Float[Array, "*batch"]:
        """The critic's state value alone."""
        self._check(obs)
        return self.critic(obs)[..., 0]

    def _check(self, obs: jax.Array) -> None:
        if obs.shape[-1:] != (self.obs_dim,):
            raise ValueError(f"obs has shape {obs.shape}, expected (..., {self.obs_dim}).")
