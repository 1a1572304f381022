"""Mixed precision: a compute dtype over float32 master weights, and dynamic loss scaling.

``precision="bfloat16"`` builds the model with ``dtype=bfloat16`` (the compute dtype of
its layers) and ``param_dtype=float32`` (the stored weights the optimiser updates), so
matmuls and convolutions run in bfloat16 while the update stays exact; bfloat16 has
float32's exponent range and needs no loss scaling. ``precision="float16"`` has a
5-bit exponent: small gradients underflow to zero unless the loss is multiplied by a
large scale before differentiation, and a scale too large overflows. The
:class:`DynamicLossScale` finds the largest scale that does not overflow.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

PRECISIONS = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


def compute_dtype(precision: str) -> Any:
    """The layers' compute dtype for a ``precision`` name.

    Args:
      precision: ``"float32"``, ``"bfloat16"`` or ``"float16"`` (:data:`PRECISIONS`).

    Returns:
      The matching ``jnp`` dtype.

    Raises:
      ValueError: when ``precision`` is not one of :data:`PRECISIONS`.

    Example:
      >>> compute_dtype("bfloat16")
      <class 'jax.numpy.bfloat16'>
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision is {precision!r}, expected one of {', '.join(PRECISIONS)}.")
    return PRECISIONS[precision]


def needs_loss_scale(precision: str) -> bool:
    """Whether ``precision`` needs a :class:`DynamicLossScale`: only float16 does
    (bfloat16 keeps float32's exponent range).

    Args:
      precision: ``"float32"``, ``"bfloat16"`` or ``"float16"`` (:data:`PRECISIONS`).

    Returns:
      ``True`` for ``"float16"``, else ``False``.

    Raises:
      ValueError: when ``precision`` is not one of :data:`PRECISIONS`.

    Example:
      >>> needs_loss_scale("float16"), needs_loss_scale("bfloat16")
      (True, False)
    """
    return compute_dtype(precision) == jnp.float16


class DynamicLossScale(struct.PyTreeNode):
    """A loss scale that halves on overflow and doubles after a run of good steps.

    A pure pytree: it lives in the train state, is donated and checkpointed with it.

    * :meth:`scale` multiplies the loss before ``jax.grad``;
    * :meth:`unscale` divides the gradients back;
    * :meth:`adjust` takes whether the gradients were finite: if not, the step must be
      skipped and the scale is multiplied by ``backoff``; after ``growth_interval``
      finite steps in a row it is multiplied by ``growth``.

    Example:
      >>> s = DynamicLossScale.create(2.0**15)
      >>> s = s.adjust(jnp.array(False))
      >>> float(s.loss_scale), int(s.good_steps)
      (16384.0, 0)
    """

    loss_scale: jax.Array
    good_steps: jax.Array
    growth_interval: int = struct.field(pytree_node=False, default=2000)
    growth: float = struct.field(pytree_node=False, default=2.0)
    backoff: float = struct.field(pytree_node=False, default=0.5)
    min_scale: float = struct.field(pytree_node=False, default=1.0)

    @classmethod
    def create(
        cls,
        initial: float = 2.0**15,
        *,
        growth_interval: int = 2000,
        growth: float = 2.0,
        backoff: float = 0.5,
        min_scale: float = 1.0,
    ) -> DynamicLossScale:
        """A loss scale starting at ``initial`` with no good steps counted yet.

        Args:
          initial: the first scale; 2**15 is PyTorch's ``GradScaler`` default.
          growth_interval: finite steps in a row before the scale grows.
          growth: the factor it grows by.
          backoff: the factor it shrinks by after a non-finite step.
          min_scale: the scale never shrinks below this.

        Returns:
          The scale as a pytree (float32 ``loss_scale``, int32 ``good_steps``).
        """
        return cls(
            loss_scale=jnp.asarray(initial, jnp.float32),
            good_steps=jnp.zeros((), jnp.int32),
            growth_interval=growth_interval,
            growth=growth,
            backoff=backoff,
            min_scale=min_scale,
        )

    def scale(self, loss: jax.Array) -> jax.Array:
        return loss * self.loss_scale.astype(loss.dtype)

    def unscale(self, grads: Any) -> Any:
        inv = 1.0 / self.loss_scale
        return jax.tree.map(lambda g: (g.astype(jnp.float32) * inv).astype(g.dtype), grads)

    def adjust(self, finite: jax.Array) -> DynamicLossScale:
        grown = self.good_steps + 1 >= self.growth_interval
        scale = jnp.where(
            finite,
            jnp.where(grown, self.loss_scale * self.growth, self.loss_scale),
            jnp.maximum(self.loss_scale * self.backoff, self.min_scale),
        )
        good = jnp.where(finite & ~grown, self.good_steps + 1, 0)
        return self.replace(loss_scale=scale, good_steps=good.astype(jnp.int32))
