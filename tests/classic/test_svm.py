"""The SMO kernel SVM: KKT conditions, the C trade-off, agreement with libsvm."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.classic import decision_function, fit_svc, kernel_matrix, solve_dual

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 2)).astype(np.float32)
Y = (X[:, 0] * X[:, 1] + 0.3 * RNG.normal(size=60) > 0).astype(np.int32)  # XOR-like, noisy
Q = RNG.normal(size=(25, 2)).astype(np.float32)
KERNELS = {
    "linear": {},
    "rbf": {"gamma": 0.5},
    "poly": {"gamma": 0.5, "degree": 3, "coef0": 1.0},
}


@pytest.mark.parametrize("kernel", KERNELS)
def test_solution_satisfies_the_kkt_conditions(kernel):
    kw = KERNELS[kernel]
    k = kernel_matrix(X, X, kernel=kernel, **kw)
    y = np.where(Y > 0, 1.0, -1.0)
    c = 1.0
    sol = solve_dual(k, y, c=c, tol=1e-5)
    a = np.asarray(sol.alpha)
    assert float(sol.gap) <= 1e-5
    assert np.all((a >= 0) & (a <= c)) and abs(a @ y) < 1e-4
    # Margins y f(x): >= 1 where a = 0, == 1 on free vectors, <= 1 where a = C.
    margin = y * (np.asarray(k) @ (a * y) + float(sol.bias))
    eps = 1e-3
    assert np.all(margin[a < 1e-6] >= 1 - eps)
    free = (a > 1e-6) & (a < c - 1e-6)
    assert free.any() and np.allclose(margin[free], 1, atol=eps)
    assert np.all(margin[a > c - 1e-6] <= 1 + eps)


def test_larger_c_fits_the_training_data_harder():
    def train_errors(c):
        m = fit_svc(X, Y, kernel="rbf", c=c, gamma=0.5)
        return np.sum((np.asarray(decision_function(m, X)) > 0) != Y)

    assert train_errors(100.0) < train_errors(0.1)


def test_separable_linear_problem_has_the_maximum_margin():
    x = jnp.array([[-2.0, 0.0], [-1.0, 1.0], [1.0, 1.0], [2.0, 0.0]])
    m = fit_svc(x, jnp.array([0, 0, 1, 1]), kernel="linear", c=100.0)
    assert np.asarray(m.support).tolist() == [False, True, True, False]
    w = np.asarray(m.dual_coef @ m.x)
    np.testing.assert_allclose(w, [1.0, 0.0], atol=1e-4)  # margin 1 at x = -1 and 1
    assert abs(float(m.bias)) < 1e-4


def test_unknown_kernel_is_one_clear_error():
    with pytest.raises(ValueError, match="kernel='sigmoid'"):
        kernel_matrix(X, X, kernel="sigmoid")


@pytest.mark.parametrize("kernel", KERNELS)
def test_decision_function_matches_scikit_learn(kernel):
    svm = pytest.importorskip("sklearn.svm")
    kw = KERNELS[kernel]
    ours = fit_svc(X, Y, kernel=kernel, c=1.0, **kw)
    got = decision_function(ours, Q)
    # libsvm's default tol=1e-3 leaves its own answer about that far from the optimum.
    want = svm.SVC(kernel=kernel, C=1.0, tol=1e-8, **kw).fit(X, Y).decision_function(Q)
    np.testing.assert_allclose(got, want, atol=1e-3)
