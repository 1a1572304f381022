"""Fixed positional encodings: sinusoidal (added to the inputs) and rotary (applied to q, k).

Both use the frequencies of Vaswani et al. (2017), "Attention is all you need":
``theta_i = base^(-2i/d)`` for ``i = 0 .. d/2 - 1``, so feature pair ``(2i, 2i+1)`` turns at
``theta_i`` radians per position, from one turn per ``2 pi`` positions (``i = 0``) to one
per ``2 pi * base`` positions.

- :func:`sinusoidal_positions` is the table ``PE`` that DistilBERT (with
  ``sinusoidal_pos_embds``) and the original transformer add to the token embeddings.
- :func:`apply_rotary` is RoPE (Su et al. 2021, "RoFormer"): each pair is rotated by the
  angle ``p * theta_i`` of its position ``p``. Applied to queries and keys, the score
  ``q_m . k_n`` then depends on the positions only through ``m - n``.

The learned alternative is an ``nnx.Embed`` table (:class:`jaxdl.nn.TransformerConfig`'s
``position_embedding_type`` chooses between the three).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int


def _check_base(base: float) -> None:
    if not base > 1.0:
        raise ValueError(f"base is {base}, expected a number > 1 (10000.0 in the papers).")


def sinusoidal_positions(
    length: int, dim: int, *, base: float = 10000.0
) -> Float[Array, "length dim"]:
    r"""The fixed sinusoidal position table of Vaswani et al. (2017).

    .. math::

        PE_{p, 2i} = \sin(p / \text{base}^{2i/d}), \qquad
        PE_{p, 2i+1} = \cos(p / \text{base}^{2i/d})

    for positions ``p = 0 .. length - 1``. An odd ``dim`` ends with a sine column. The
    table is computed in float64 (as transformers' DistilBERT does) and returned as
    float32; under ``jit`` it is a constant.

    Args:
      length: number of positions (rows).
      dim: model width ``d`` (columns).
      base: the frequency base (10000 in the paper).

    Returns:
      ``(length, dim)`` float32 array.

    Raises:
      ValueError: ``length`` < 0, ``dim`` < 1 or ``base`` <= 1.

    Example:
      >>> pe = sinusoidal_positions(4, 6)
      >>> pe.shape, pe.dtype
      ((4, 6), dtype('float32'))
      >>> [round(float(v), 4) for v in pe[1, :2]]  # sin(1), cos(1)
      [0.8415, 0.5403]
    """
    if int(length) != length or length < 0:
        raise ValueError(f"length is {length}, expected an integer >= 0.")
    if int(dim) != dim or dim < 1:
        raise ValueError(f"dim is {dim}, expected an integer >= 1.")
    _check_base(base)
    j = np.arange(dim)
    angles = np.arange(length, dtype=np.float64)[:, None] / np.power(base, 2 * (j // 2) / dim)
    table = np.where(j % 2 == 0, np.sin(angles), np.cos(angles))
    return jnp.asarray(table, jnp.float32)


def apply_rotary(
    x: Float[ArrayLike, "*batch seq dim"],
    positions: Int[ArrayLike, "*#batch seq"],
    *,
    base: float = 10000.0,
) -> Float[Array, "*batch seq dim"]:
    r"""Rotary position embedding (RoPE): rotates feature pairs by position-dependent angles.

    For feature pair ``(x_{2i}, x_{2i+1})`` at position ``p`` and ``\theta_i =
    \text{base}^{-2i/d}``:

    .. math::

        \begin{pmatrix} y_{2i} \\ y_{2i+1} \end{pmatrix} =
        \begin{pmatrix} \cos p\theta_i & -\sin p\theta_i \\
                        \sin p\theta_i & \cos p\theta_i \end{pmatrix}
        \begin{pmatrix} x_{2i} \\ x_{2i+1} \end{pmatrix}

    (the interleaved pairs of the RoFormer paper). Rotations preserve norms, and
    ``R(m)^T R(n) = R(n - m)``, so after rotating queries at positions ``m`` and keys at
    ``n``, ``q . k`` depends on the positions only through ``n - m``. Apply it to ``q`` and
    ``k`` (per head), never to ``v``.

    Nothing is tabulated, so no maximum length applies: any integer positions work,
    including traced ones (a KV cache's offset). The angles are computed in float32, so
    their absolute error grows with the position (about ``p * 6e-8`` radians) and positions
    above ``2**24`` are no longer exact; ``x`` of a lower precision is rotated in float32
    and cast back.

    Args:
      x: queries or keys whose last axis (``dim``, even) holds the features; the axis
        before it is usually the sequence, e.g. ``(batch, heads, seq, head_dim)``.
      positions: integer position of each feature vector; broadcast against
        ``x.shape[:-1]``. A ``(seq,)`` vector suits ``(..., seq, dim)``; for a
        ``(batch, seq, heads, head_dim)`` layout pass ``positions[:, None]``.
      base: the frequency base (10000 in the paper).

    Returns:
      the rotated ``x``, same shape and dtype.

    Raises:
      ValueError: an odd ``dim``, ``positions`` that do not broadcast against
        ``x.shape[:-1]``, non-integer ``positions``, or ``base`` <= 1.

    Example:
      >>> import jax.numpy as jnp
      >>> q = jnp.array([[1.0, 0.0, 1.0, 0.0]] * 3)  # 3 positions, dim 4
      >>> y = apply_rotary(q, jnp.arange(3))
      >>> [round(float(v), 3) for v in y[1]]  # pair 0 turned by 1 rad, pair 1 by 0.01 rad
      [0.54, 0.841, 1.0, 0.01]
      >>> jnp.allclose(jnp.linalg.norm(y, axis=-1), jnp.linalg.norm(q, axis=-1)).item()
      True
    """
    x, positions = jnp.asarray(x), jnp.asarray(positions)
    dim = x.shape[-1] if x.ndim else 0
    if x.ndim < 1 or dim % 2:
        raise ValueError(f"x has shape {x.shape}, expected an even last axis (feature pairs).")
    if not jnp.issubdtype(positions.dtype, jnp.integer):
        raise ValueError(f"positions has dtype {positions.dtype}, expected integer positions.")
    try:
        shape = jnp.broadcast_shapes(positions.shape, x.shape[:-1])
    except ValueError:
        shape = None
    if shape != x.shape[:-1]:
        raise ValueError(
            f"positions has shape {positions.shape}, expected one that broadcasts against "
            f"x's leading axes {x.shape[:-1]}, e.g. ({x.shape[-2] if x.ndim > 1 else 1},)."
        )
    _check_base(base)
    inv_freq = jnp.asarray(np.power(base, -np.arange(0, dim, 2) / dim), jnp.float32)
    angles = positions.astype(jnp.float32)[..., None] * inv_freq  # (*batch, seq, dim/2)
    cos, sin = jnp.cos(angles), jnp.sin(angles)
    pairs = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    pairs = pairs.reshape(*x.shape[:-1], dim // 2, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    rotated = jnp.stack([even * cos - odd * sin, even * sin + odd * cos], axis=-1)
    return rotated.reshape(x.shape).astype(x.dtype)
