r"""Reinforcement-learning targets and losses: returns, GAE, PPO's clipped objectives.

Time is the leading axis: arrays are ``(T, ...)`` with any batch dimensions after it
(environments, seeds). Episode ends come as two flags, because they mean different
things for the value of what comes next:

- ``terminated[t]``: the episode really ended at step ``t`` (the pole fell); there is
  no future, so nothing is bootstrapped.
- ``truncated[t]``: the episode was cut by a time limit; the state it was cut in still
  has a future worth ``V(s_{t+1})``, the value of the *final* observation (gymnax 1.0
  returns it as ``info["final_observation"]``), not of the reset one.

``next_values[t]`` is therefore :math:`V(s_{t+1})` with :math:`s_{t+1}` the true next
state (the final observation at an episode end). Its entry at a terminated step is
ignored.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float

from jaxdl._checks import check_rank


def _same_shape(**arrays: ArrayLike) -> dict[str, jax.Array]:
    out = {k: jnp.asarray(v) for k, v in arrays.items()}
    first_name, first = next(iter(out.items()))
    for name, a in out.items():
        if a.shape != first.shape:
            raise ValueError(f"{name} has shape {a.shape}, expected {first_name}'s {first.shape}.")
    return out


def _time_major(**arrays: ArrayLike) -> dict[str, jax.Array]:
    out = _same_shape(**arrays)
    name, first = next(iter(out.items()))
    check_rank(name, first, min_rank=1)
    return out


def discounted_returns(
    rewards: Float[ArrayLike, " time *batch"],
    next_values: Float[ArrayLike, " time *batch"] | None = None,
    terminated: Bool[ArrayLike, " time *batch"] | None = None,
    truncated: Bool[ArrayLike, " time *batch"] | None = None,
    *,
    discount: float,
) -> Float[Array, " time *batch"]:
    r"""Discounted returns, bootstrapped where the future is cut rather than over.

    .. math::
        G_t = r_t + \gamma \begin{cases}
            0 & \text{terminated}_t \\
            V(s_{t+1}) & \text{truncated}_t \text{ or } t = T - 1 \\
            G_{t+1} & \text{otherwise}
        \end{cases}

    computed as one reverse ``lax.scan``. ``next_values``, ``terminated`` and
    ``truncated`` are optional: left out, nothing is bootstrapped (zeros) and no episode
    ends, so ``discounted_returns(rewards, discount=g)`` is the seed's
    ``discount_rewards(rewards, g)`` (one episode that ends with the rollout).

    Example:
      >>> import jax.numpy as jnp
      >>> discounted_returns(jnp.ones(3), discount=0.5)
      Array([1.75, 1.5 , 1.  ], dtype=float32)
      >>> f = jnp.zeros(3, bool)  # the rollout cut with V = 2 beyond its end
      >>> discounted_returns(jnp.ones(3), jnp.full(3, 2.0), f, f, discount=0.5)
      Array([2., 2., 2.], dtype=float32)
    """
    rewards = jnp.asarray(rewards)
    if next_values is None:
        next_values = jnp.zeros_like(rewards)
    no_ends = jnp.zeros(rewards.shape, bool)
    terminated = no_ends if terminated is None else terminated
    truncated = no_ends if truncated is None else truncated
    a = _time_major(
        rewards=rewards, next_values=next_values, terminated=terminated, truncated=truncated
    )
    term, trunc = a["terminated"].astype(bool), a["truncated"].astype(bool)

    def body(future, xs):
        r, v_next, te, tr = xs
        cont = jnp.where(te, 0.0, jnp.where(tr, v_next, future))
        g = r + discount * cont
        return g, g

    last = a["next_values"][-1]  # bootstrap past the end of the rollout
    _, returns = jax.lax.scan(
        body, last, (a["rewards"], a["next_values"], term, trunc), reverse=True
    )
    return returns


def generalized_advantages(
    rewards: Float[ArrayLike, " time *batch"],
    values: Float[ArrayLike, " time *batch"],
    next_values: Float[ArrayLike, " time *batch"],
    terminated: Bool[ArrayLike, " time *batch"],
    truncated: Bool[ArrayLike, " time *batch"],
    *,
    discount: float,
    gae_lambda: float,
) -> Float[Array, " time *batch"]:
    r"""Generalised advantage estimates (Schulman et al. 2016), one reverse ``lax.scan``.

    .. math::
        \delta_t = r_t + \gamma (1 - \text{terminated}_t) V(s_{t+1}) - V(s_t), \qquad
        A_t = \delta_t + \gamma \lambda (1 - \text{done}_t) A_{t+1}

    with :math:`\text{done} = \text{terminated} \lor \text{truncated}` and
    :math:`A_T = 0`. A truncated step keeps its bootstrap in :math:`\delta_t` and only
    stops the recursion; a terminated step drops both. The value targets are
    ``advantages + values``; with :math:`\lambda = 1` they equal
    :func:`discounted_returns`.

    Example:
      >>> import jax.numpy as jnp
      >>> f = jnp.zeros(2, bool)
      >>> generalized_advantages(jnp.ones(2), jnp.zeros(2), jnp.zeros(2), f, f,
      ...                        discount=0.5, gae_lambda=1.0)
      Array([1.5, 1. ], dtype=float32)
    """
    a = _time_major(
        rewards=rewards,
        values=values,
        next_values=next_values,
        terminated=terminated,
        truncated=truncated,
    )
    term = a["terminated"].astype(bool)
    done = term | a["truncated"].astype(bool)
    deltas = a["rewards"] + discount * jnp.where(term, 0.0, a["next_values"]) - a["values"]

    def body(future, xs):
        delta, d = xs
        adv = delta + discount * gae_lambda * jnp.where(d, 0.0, future)
        return adv, adv

    _, advantages = jax.lax.scan(body, jnp.zeros_like(deltas[0]), (deltas, done), reverse=True)
    return advantages


def ppo_clip_loss(
    log_probs: Float[ArrayLike, " *batch"],
    old_log_probs: Float[ArrayLike, " *batch"],
    advantages: Float[ArrayLike, " *batch"],
    *,
    clip_eps: float = 0.2,
) -> Float[Array, " *batch"]:
    r"""PPO's clipped surrogate (Schulman et al. 2017), per example, to minimise.

    .. math::
        \ell = -\min\big(\rho A,\ \operatorname{clip}(\rho, 1 - \epsilon, 1 + \epsilon) A\big),
        \qquad \rho = \exp(\log \pi - \log \pi_\text{old})

    (The seed's ``clamp(frac, 1 + clip)`` is a lower bound only, not this objective.)

    Example:
      >>> import jax.numpy as jnp
      >>> new = jnp.log(jnp.array([2.0, 0.5]))  # probability ratios 2 and 0.5
      >>> ppo_clip_loss(new, jnp.zeros(2), jnp.ones(2), clip_eps=0.2)  # gain capped at 1.2
      Array([-1.2, -0.5], dtype=float32)
    """
    a = _same_shape(log_probs=log_probs, old_log_probs=old_log_probs, advantages=advantages)
    ratio = jnp.exp(a["log_probs"] - a["old_log_probs"])
    adv = a["advantages"]
    return -jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - clip_eps, 1 + clip_eps) * adv)


def value_loss(
    values: Float[ArrayLike, " *batch"],
    targets: Float[ArrayLike, " *batch"],
    *,
    old_values: Float[ArrayLike, " *batch"] | None = None,
    clip_eps: float | None = None,
) -> Float[Array, " *batch"]:
    r"""Squared error of the critic, halved; optionally PPO2's clipped version.

    .. math::
        \ell = \tfrac12 (V - G)^2, \qquad
        \ell_\text{clip} = \tfrac12 \max\big((V - G)^2,
            (V_\text{old} + \operatorname{clip}(V - V_\text{old}, -\epsilon, \epsilon) - G)^2\big)

    The factor 1/2 is OpenAI baselines' PPO2 and CleanRL's convention (their ``vf_coef``
    of 0.5 multiplies this halved error); the seed's ``critic_loss`` is
    ``(value - d_reward) ** 2``, twice this. To reproduce the seed's loss scale, double
    the value coefficient (or the result); the gradient direction is the same.

    Example:
      >>> import jax.numpy as jnp
      >>> value_loss(jnp.array([1.0, 3.0]), jnp.array([0.0, 0.0]))
      Array([0.5, 4.5], dtype=float32)
    """
    values, targets = jnp.asarray(values), jnp.asarray(targets)
    if values.shape != targets.shape:
        raise ValueError(f"targets has shape {targets.shape}, expected values' {values.shape}.")
    loss = jnp.square(values - targets)
    if clip_eps is not None:
        if old_values is None:
            raise ValueError("clip_eps needs old_values, the values the rollout predicted.")
        old = jnp.asarray(old_values)
        clipped = old + jnp.clip(values - old, -clip_eps, clip_eps)
        loss = jnp.maximum(loss, jnp.square(clipped - targets))
    return 0.5 * loss
