"""Gradient attacks: FGSM, PGD and the seed's targeted SGD attack.

Every attack takes ``logits_fn(x) -> logits`` on a batch and works in the input space
``x`` lives in (e.g. pixels in [0, 1]), with ``clip`` the valid range. Batched and
jit-compatible; the targeted attack stops example by example.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

LogitsFn = Callable[[jax.Array], jax.Array]


def _loss_grad(logits_fn: LogitsFn, x: jax.Array, labels: jax.Array) -> jax.Array:
    def loss(x):
        return optax.softmax_cross_entropy_with_integer_labels(logits_fn(x), labels).sum()

    return jax.grad(loss)(x)


def _check(x: jax.Array, labels: jax.Array, name: str = "labels") -> None:
    if labels.shape != x.shape[:1]:
        raise ValueError(f"{name} has shape {labels.shape}, expected ({x.shape[0]},).")


def fgsm(
    logits_fn: LogitsFn,
    x: jax.Array,
    labels: jax.Array,
    *,
    eps: float,
    clip: tuple[float, float] = (0.0, 1.0),
) -> jax.Array:
    r"""Fast gradient sign method (Goodfellow et al. 2015), untargeted:
    :math:`x' = \operatorname{clip}(x + \epsilon \operatorname{sign} \nabla_x \ell(x, y))`."""
    _check(x, labels)
    return jnp.clip(x + eps * jnp.sign(_loss_grad(logits_fn, x, labels)), *clip)


def pgd(
    logits_fn: LogitsFn,
    x: jax.Array,
    labels: jax.Array,
    *,
    eps: float,
    step_size: float,
    num_steps: int,
    key: jax.Array | None = None,
    targeted: bool = False,
    clip: tuple[float, float] = (0.0, 1.0),
) -> jax.Array:
    r"""Projected gradient descent in the :math:`L_\infty` ball (Madry et al. 2018).

    ``num_steps`` signed-gradient steps of ``step_size``, each projected back into
    :math:`\|x' - x\|_\infty \le \epsilon` and ``clip``. With ``key`` the start is a
    uniform point of the ball. ``targeted=True`` moves towards ``labels`` instead of away.
    """
    _check(x, labels)
    sign = -1.0 if targeted else 1.0
    adv = x if key is None else x + jax.random.uniform(key, x.shape, minval=-eps, maxval=eps)
    adv = jnp.clip(adv, *clip)

    def step(adv, _):
        adv = adv + sign * step_size * jnp.sign(_loss_grad(logits_fn, adv, labels))
        return jnp.clip(jnp.clip(adv, x - eps, x + eps), *clip), None

    adv, _ = jax.lax.scan(step, adv, length=num_steps)
    return adv


def targeted_sgd(
    logits_fn: LogitsFn,
    x: jax.Array,
    targets: jax.Array,
    *,
    learning_rate: float = 1.0,
    max_steps: int = 50_000,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The seed's attack: SGD on the input (learning rate 1, no norm bound) until the
    model predicts ``targets``, or ``max_steps``.

    Every example stops as soon as its own prediction is the target (the seed attacks one
    image at a time); the loop ends when all have, in one ``lax.while_loop``.

    Returns:
      ``(x_adv, steps, success)``: the perturbed inputs, the steps each took, and whether
      each reached its target.
    """
    _check(x, targets, "targets")

    def hit(adv):
        return jnp.argmax(logits_fn(adv), -1) == targets

    def cond(carry):
        _, done, _, i = carry
        return (~jnp.all(done)) & (i < max_steps)

    def body(carry):
        adv, done, steps, i = carry
        g = _loss_grad(logits_fn, adv, targets)
        mask = (~done).reshape((-1,) + (1,) * (x.ndim - 1))
        adv = adv - learning_rate * g * mask
        done_now = hit(adv)
        steps = steps + (~done).astype(jnp.int32)
        return adv, done | done_now, steps, i + 1

    done0 = hit(x)
    init = (x, done0, jnp.zeros(x.shape[0], jnp.int32), jnp.int32(0))
    adv, done, steps, _ = jax.lax.while_loop(cond, body, init)
    return adv, steps, done
