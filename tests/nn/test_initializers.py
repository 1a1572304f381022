"""jaxdl.nn.initializers: JAX's orthogonal initialiser's values, without batched QRs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdl.nn.actor_critic import ActorCritic
from jaxdl.nn.initializers import orthogonal, unbatched_under_vmap

KEYS = jax.random.split(jax.random.key(7), 6)


def _qr_operand_ranks(closed: jax.core.ClosedJaxpr) -> list[int]:
    """The rank of the operand of every QR in a jaxpr, sub-jaxprs (scan bodies) included."""
    ranks = []

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            if "qr" in eqn.primitive.name or "geqrf" in eqn.primitive.name:
                ranks.append(eqn.invars[0].aval.ndim)
            for value in eqn.params.values():
                for sub in value if isinstance(value, tuple | list) else (value,):
                    if hasattr(sub, "eqns"):
                        walk(sub)
                    elif hasattr(sub, "jaxpr") and hasattr(sub.jaxpr, "eqns"):
                        walk(sub.jaxpr)

    walk(closed.jaxpr)
    return ranks


@pytest.mark.parametrize("shape", [(4, 64), (64, 64), (64, 2), (3, 3, 8, 16), (5, 3)])
@pytest.mark.parametrize("scale,column_axis", [(1.0, -1), (2**0.5, -1), (0.01, 0)])
def test_orthogonal_is_jax_s_initialiser_bit_for_bit(shape, scale, column_axis):
    ours = orthogonal(scale, column_axis)
    theirs = jax.nn.initializers.orthogonal(scale, column_axis)
    np.testing.assert_array_equal(ours(KEYS[0], shape), theirs(KEYS[0], shape))
    batched = jax.jit(jax.vmap(lambda k: ours(k, shape)))(KEYS)
    expected = jax.jit(jax.vmap(lambda k: theirs(k, shape)))(KEYS)
    np.testing.assert_array_equal(batched, expected)
    nested = jax.vmap(jax.vmap(lambda k: ours(k, shape)))(KEYS.reshape(2, 3))
    np.testing.assert_array_equal(nested.reshape(expected.shape), expected)


def test_orthogonal_under_vmap_factorises_one_matrix_at_a_time():
    # The batched QR is what deadlocks XLA:CPU's pool (see the module docstring); JAX's
    # initialiser batches it, ours loops.
    def init(init_fn):
        return jax.make_jaxpr(jax.vmap(lambda k: init_fn(k, (64, 64))))(KEYS)

    assert _qr_operand_ranks(init(jax.nn.initializers.orthogonal())) == [3]  # batched
    assert _qr_operand_ranks(init(orthogonal())) == [2]


def test_actor_critic_has_no_batched_qr_when_seeds_are_vmapped():
    def make(key):
        return nnx.state(ActorCritic(4, 2, rngs=nnx.Rngs(params=key)), nnx.Param)

    ranks = _qr_operand_ranks(jax.make_jaxpr(jax.vmap(make))(KEYS))
    assert len(ranks) == 6 and set(ranks) == {2}  # 3 layers x actor and critic


def test_unbatched_under_vmap_keeps_values_and_unbatched_arguments():
    def f(x):
        return jnp.linalg.qr(x)[0]

    g = unbatched_under_vmap(f)
    x = jax.random.normal(KEYS[1], (4, 5, 5))
    np.testing.assert_array_equal(jax.vmap(g)(x), jax.vmap(f)(x))
    # An argument the vmap does not batch stays unbatched (broadcast by the caller).
    out = jax.vmap(lambda s, m: s * g(m), in_axes=(0, None))(jnp.arange(3.0), x[0])
    np.testing.assert_array_equal(out, jnp.arange(3.0)[:, None, None] * f(x[0]))
