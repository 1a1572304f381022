"""Kernel support vector machine: the C-SVC dual solved by SMO with second-order selection.

Dual problem (labels ``y in {-1, +1}``, ``Q_ij = y_i y_j K(x_i, x_j)``)::

    min_a  1/2 a^T Q a - 1^T a    s.t.  0 <= a_i <= C,  y^T a = 0

Sequential minimal optimisation (Platt 1998) changes two multipliers at a time, which keeps
``y^T a = 0`` exactly and has a closed-form, box-clipped solution. The pair is chosen as
libsvm does (Fan, Chen & Lin 2005, "WSS3"): the maximal violator ``i`` and the ``j`` with
the largest second-order decrease. The loop is a ``lax.while_loop`` over a precomputed
kernel matrix, so it suits the small and medium problems a kernel SVM is for. The bias is
libsvm's: the mean of ``-y_i grad_i`` over free support vectors. ``C`` trades margin
width (small C) against training errors (large C).
"""

from __future__ import annotations

import functools
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct
from jaxtyping import Array, ArrayLike, Float, Int

from jaxdl._checks import check_rank

Kernel = Literal["linear", "rbf", "poly"]
_TAU = 1e-12  # libsvm's floor on the curvature of a non-positive-definite pair


def kernel_matrix(
    a: Float[ArrayLike, " n d"],
    b: Float[ArrayLike, " m d"],
    *,
    kernel: Kernel = "rbf",
    gamma: float = 1.0,
    degree: int = 3,
    coef0: float = 0.0,
) -> Float[Array, " n m"]:
    """``K(a_i, b_j)`` for scikit-learn's kernels.

    linear ``a.b``; rbf ``exp(-gamma |a - b|^2)``; poly ``(gamma a.b + coef0)^degree``.

    >>> kernel_matrix(jnp.zeros((1, 2)), jnp.ones((1, 2)), kernel="rbf", gamma=0.5)
    Array([[0.36787945]], dtype=float32)
    """
    a, b = jnp.asarray(a), jnp.asarray(b)
    check_rank("a", a, rank=2)
    check_rank("b", b, rank=2)
    dot = jnp.matmul(a, b.T, precision=jax.lax.Precision.HIGHEST)
    if kernel == "linear":
        return dot
    if kernel == "poly":
        return (gamma * dot + coef0) ** degree
    if kernel == "rbf":
        sq = jnp.sum(a * a, 1)[:, None] - 2 * dot + jnp.sum(b * b, 1)[None, :]
        return jnp.exp(-gamma * jnp.maximum(sq, 0.0))
    raise ValueError(f"kernel={kernel!r}, expected one of 'linear', 'rbf', 'poly'.")


class SVMDual(NamedTuple):
    alpha: Float[Array, " n"]  # dual multipliers, 0 <= alpha <= C
    bias: Float[Array, ""]  # the intercept (libsvm's -rho)
    gap: Float[Array, ""]  # final maximal KKT violation m(a) - M(a); <= tol when converged
    num_iters: Int[Array, ""]


def _free_bias(alpha, grad, y, c):
    """libsvm's rho: mean of y_i grad_i over free vectors, else the middle of its bounds."""
    yg = y * grad
    up = ((y > 0) & (alpha < c)) | ((y < 0) & (alpha > 0))
    low = ((y > 0) & (alpha > 0)) | ((y < 0) & (alpha < c))
    free = (alpha > 0) & (alpha < c)
    nfree = jnp.sum(free)
    ub = jnp.min(jnp.where(low, -yg, jnp.inf))  # libsvm: bounds on rho from the two sets
    lb = jnp.max(jnp.where(up, -yg, -jnp.inf))
    rho = jnp.where(
        nfree > 0, jnp.sum(jnp.where(free, yg, 0.0)) / jnp.maximum(nfree, 1), -(ub + lb) / 2
    )
    return -rho


@functools.partial(jax.jit, static_argnames=("max_iters",))
def solve_dual(
    k: Float[ArrayLike, " n n"],
    y: Float[ArrayLike, " n"],
    *,
    c: float = 1.0,
    tol: float = 1e-6,
    max_iters: int = 100_000,
) -> SVMDual:
    """Solves the C-SVC dual for kernel matrix ``k`` and labels ``y`` in {-1, +1} by SMO.

    Stops when the maximal KKT violation ``max_up(-y g) - min_low(-y g)`` is below ``tol``
    (scikit-learn's ``tol``, default 1e-3 there) or after ``max_iters`` pair updates.
    """
    k, y = jnp.asarray(k, jnp.float32), jnp.asarray(y, jnp.float32)
    check_rank("k", k, rank=2)
    check_rank("y", y, rank=1)
    n = y.shape[0]
    if k.shape != (n, n):
        raise ValueError(f"k has shape {k.shape}, expected ({n}, {n}) to match y {y.shape}.")
    qd = jnp.diagonal(k)

    def select(alpha, grad):
        up = ((y > 0) & (alpha < c)) | ((y < 0) & (alpha > 0))
        low = ((y > 0) & (alpha > 0)) | ((y < 0) & (alpha < c))
        v = -y * grad
        i = jnp.argmax(jnp.where(up, v, -jnp.inf))
        gmax = v[i]
        gmin = jnp.min(jnp.where(low, v, jnp.inf))
        b = gmax - v  # > 0 for candidates
        curv = jnp.maximum(qd[i] + qd - 2 * k[i], _TAU)
        cand = low & (b > 0)
        j = jnp.argmin(jnp.where(cand, -(b**2) / curv, jnp.inf))
        return i, j, gmax - gmin

    def update(alpha, grad, i, j):
        ai, aj = alpha[i], alpha[j]
        yi, yj = y[i], y[j]
        # Move along the feasible line y_i da_i + y_j da_j = 0 to the unconstrained minimum,
        # then clip to the box.
        curv = jnp.maximum(qd[i] + qd[j] - 2 * k[i, j], _TAU)
        # In terms of t = da_j * y_j: the objective falls by (b t - curv t^2 / 2).
        t = (-yi * grad[i] + yj * grad[j]) / curv  # = (gmax - v_j) / curv >= 0
        # da_i = y_i t, da_j = -y_j t; bounds from 0 <= a <= C on both.
        lo_i, hi_i = jnp.where(yi > 0, -ai, ai - c), jnp.where(yi > 0, c - ai, ai)
        lo_j, hi_j = jnp.where(yj > 0, aj - c, -aj), jnp.where(yj > 0, aj, c - aj)
        t = jnp.clip(t, jnp.maximum(lo_i, lo_j), jnp.minimum(hi_i, hi_j))
        dai, daj = yi * t, -yj * t
        grad = grad + y * (k[:, i] * yi * dai + k[:, j] * yj * daj)
        alpha = alpha.at[i].add(dai).at[j].add(daj)
        return jnp.clip(alpha, 0.0, c), grad

    def cond(state):
        _, _, gap, it = state
        return (gap > tol) & (it < max_iters)

    def body(state):
        alpha, grad, _, it = state
        i, j, _ = select(alpha, grad)
        alpha, grad = update(alpha, grad, i, j)
        _, _, gap = select(alpha, grad)
        return alpha, grad, gap, it + 1

    alpha0 = jnp.zeros(n)
    grad0 = -jnp.ones(n)
    _, _, gap0 = select(alpha0, grad0)
    alpha, grad, gap, it = jax.lax.while_loop(cond, body, (alpha0, grad0, gap0, 0))
    return SVMDual(alpha, _free_bias(alpha, grad, y, c), gap, it)


class SVC(struct.PyTreeNode):
    """A fitted kernel SVM: its training data, dual coefficients and kernel (a pytree).

    ``kernel`` and ``degree`` are static (they choose the code), the rest are arrays.
    """

    x: Float[Array, " n d"]
    dual_coef: Float[Array, " n"]  # alpha_i y_i; zero for non-support vectors
    bias: Float[Array, ""]
    gamma: Float[Array, ""]
    coef0: Float[Array, ""]
    kernel: str = struct.field(pytree_node=False, default="rbf")
    degree: int = struct.field(pytree_node=False, default=3)

    @property
    def support(self) -> Array:
        """Boolean mask of the support vectors (alpha > 0)."""
        return self.dual_coef != 0


@functools.partial(jax.jit, static_argnames=("kernel", "degree", "max_iters"))
def fit_svc(
    x: Float[ArrayLike, " n d"],
    y: Int[ArrayLike, " n"],
    *,
    kernel: Kernel = "rbf",
    c: float = 1.0,
    gamma: float = 1.0,
    degree: int = 3,
    coef0: float = 0.0,
    tol: float = 1e-6,
    max_iters: int = 100_000,
) -> SVC:
    """Fits a two-class SVM; ``y`` holds 0/1 (or -1/+1) labels, class 1 is the positive one.

    ``gamma`` is a number (scikit-learn's default ``"scale"`` is ``1 / (d * x.var())``).
    ``tol`` bounds the final KKT violation; scikit-learn's default 1e-3 is looser.

    >>> x = jnp.array([[-2.0], [-1.0], [1.0], [2.0]]); y = jnp.array([0, 0, 1, 1])
    >>> m = fit_svc(x, y, kernel="linear", c=10.0)
    >>> decision_function(m, jnp.array([[0.0], [1.0]])).round(3).tolist()
    [0.0, 1.0]
    """
    x = jnp.asarray(x, jnp.float32)
    check_rank("x", x, rank=2)
    y = jnp.asarray(y)
    check_rank("y", y, rank=1)
    ys = jnp.where(y > 0, 1.0, -1.0)
    kmat = kernel_matrix(x, x, kernel=kernel, gamma=gamma, degree=degree, coef0=coef0)
    sol = solve_dual(kmat, ys, c=c, tol=tol, max_iters=max_iters)
    g, c0 = jnp.asarray(gamma, jnp.float32), jnp.asarray(coef0, jnp.float32)
    return SVC(x, sol.alpha * ys, sol.bias, g, c0, kernel=kernel, degree=degree)


def decision_function(model: SVC, queries: Float[ArrayLike, " q d"]) -> Float[Array, " q"]:
    """``sum_i alpha_i y_i K(x_i, q) + b``; positive means class 1 (scikit-learn's sign)."""
    kq = kernel_matrix(
        queries,
        model.x,
        kernel=model.kernel,
        gamma=model.gamma,
        degree=model.degree,
        coef0=model.coef0,
    )
    return jnp.matmul(kq, model.dual_coef, precision=jax.lax.Precision.HIGHEST) + model.bias
