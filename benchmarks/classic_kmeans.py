"""k-means on Fashion-MNIST: jaxdl vs scikit-learn, same restarts; plus a GMM agreement check.

Data: the 10k test images as (10000, 784) pixels in [0, 1]. Both sides run k-means with 10
clusters and 10 k-means++ restarts, keeping the best: jaxdl's ``kmeans`` (restarts as one
vmap) against ``sklearn.cluster.KMeans(n_init=10, algorithm="lloyd")``. The metric is
whole fits per second, timed interleaved after a warm-up (jaxdl's compile excluded). The
record holds both inertias and their relative gap (the acceptance test: within 1%).

Not timed, agreement only: a full-covariance GMM with 10 components and 3 restarts on the
20 leading principal components of the same images, jaxdl's ``fit_gmm`` against
``sklearn.mixture.GaussianMixture``, mean log-likelihood per image on both sides.

Needs the ``bench`` extra (scikit-learn). Run: ``python -m benchmarks.run classic_kmeans``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import _flops, _harness
from benchmarks.classic_knn import flat_split
from jaxdl.classic import fit_gmm, kmeans
from jaxdl.classic.kmeans import kmeans_plus_plus, lloyd

NAME = "classic_kmeans"
CLUSTERS, RESTARTS, GMM_DIMS, GMM_RESTARTS = 10, 10, 20, 3


@jax.jit
def restart_iterations(x: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Lloyd iterations of each of ``kmeans(x, key=key)``'s restarts, and the index of the
    best one: the same seeding and Lloyd runs, vmapped as ``kmeans`` does. The fit
    itself returns only the best restart's count, but its vmapped ``while_loop`` runs
    until the slowest restart converges, every restart computing each trip."""
    xc = x - jnp.mean(x, axis=0)

    def one(k):
        return lloyd(xc, kmeans_plus_plus(xc, num_clusters=CLUSTERS, key=k))

    runs = jax.vmap(one)(jax.random.split(key, RESTARTS))
    return runs.num_iters, jnp.argmin(runs.inertia)


def kmeans_cost(x: jax.Array, trips: float) -> dict[str, Any]:
    """FLOPs of one ``kmeans`` fit whose Lloyd loop ran ``trips`` times (the seeding's
    ``fori_loop`` has a static count and is counted as such)."""
    fit = lambda x, k: kmeans(x, num_clusters=CLUSTERS, key=k, num_restarts=RESTARTS)  # noqa: E731
    return _flops.program_cost(fit, x, jax.random.key(0), while_trips=[trips])


def run(
    *, repeats: int | None = None, train_examples: int | None = None, quick: bool = False, **_: Any
) -> dict[str, Any]:
    from sklearn.cluster import KMeans
    from sklearn.mixture import GaussianMixture

    threads = _harness.set_threads()
    repeats = repeats or (1 if quick else 3)
    x, _ = flat_split("test", 1_000 if quick else (train_examples or None))
    x_dev = jax.device_put(x)
    keys = iter(jax.random.split(jax.random.key(0), 1 + repeats * 2))
    ours_runs, ours_keys, theirs_runs = [], [], []

    def ours():
        ours_keys.append(next(keys))
        r = kmeans(x_dev, num_clusters=CLUSTERS, key=ours_keys[-1], num_restarts=RESTARTS)
        ours_runs.append(r)
        return r

    def theirs():
        seed = len(theirs_runs)
        r = KMeans(CLUSTERS, n_init=RESTARTS, algorithm="lloyd", random_state=seed).fit(x)
        theirs_runs.append(r)
        return r.inertia_

    load_before = list(os.getloadavg())
    with _harness.OtherLoad() as other:
        times = _harness.time_interleaved(
            {"jaxdl": ours, "sklearn": theirs}, warmup=1, repeats=repeats
        )
    ours_inertia = [float(r.inertia) for r in ours_runs]
    # The timed fits' Lloyd trips (the warm-up's excluded): the slowest restart's count.
    iters = [restart_iterations(x_dev, k) for k in ours_keys[-repeats:]]
    trips = [int(jnp.max(i)) for i, _ in iters]
    # The recount must agree with what the fit reported for its best restart.
    recount_ok = all(
        int(i[b]) == int(r.num_iters) for (i, b), r in zip(iters, ours_runs[-repeats:], strict=True)
    )
    theirs_inertia = [float(r.inertia_) for r in theirs_runs]

    # GMM on principal components: agreement of the fitted likelihoods.
    xc = x - x.mean(0)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    z = (xc @ vt[:GMM_DIMS].T).astype(np.float32)
    tic = time.perf_counter()
    g = fit_gmm(z, num_components=CLUSTERS, key=jax.random.key(1), num_restarts=GMM_RESTARTS)
    ours_ll = float(jax.block_until_ready(g.mean_log_likelihood))
    ours_gmm_s = time.perf_counter() - tic
    tic = time.perf_counter()
    sk = GaussianMixture(CLUSTERS, n_init=GMM_RESTARTS, random_state=0).fit(z)
    theirs_ll = float(sk.score(z))
    theirs_gmm_s = time.perf_counter() - tic

    extra = {
        "quick": quick,
        "examples": len(x),
        "clusters": CLUSTERS,
        "restarts": RESTARTS,
        "seconds": times,
        "sanity": {
            "kmeans_inertia": {"jaxdl": ours_inertia, "baseline": theirs_inertia},
            # Positive: jaxdl's best-of-10 is worse than scikit-learn's, as a fraction.
            "kmeans_inertia_gap": min(ours_inertia) / min(theirs_inertia) - 1,
            "kmeans_inertia_gap_worst": max(ours_inertia) / min(theirs_inertia) - 1,
            "gmm_mean_log_likelihood": {"jaxdl": ours_ll, "baseline": theirs_ll},
            # Positive: jaxdl's fit is worse, relative to |scikit-learn's|.
            "gmm_log_likelihood_gap": (theirs_ll - ours_ll) / abs(theirs_ll),
            "gmm_dims": GMM_DIMS,
            "gmm_restarts": GMM_RESTARTS,
            "gmm_seconds_untimed_single_run": {
                "jaxdl_incl_compile": ours_gmm_s,
                "baseline": theirs_gmm_s,
            },  # fmt: skip
        },
        "set_threads": threads,
        "other_cpu_load": other.cores,
        "load_average_before": load_before,
        # Mean FLOPs of the timed fits (seeding, then as many Lloyd trips as the slowest
        # restart needed) over their median time.
        "flops": _flops.program_record(
            kmeans_cost(x_dev, float(np.mean(trips))),
            _harness.median(times["jaxdl"]),
            note=f"Lloyd trips per timed fit {trips} (slowest of {RESTARTS} restarts); "
            f"recount matches the fits' best restart: {recount_ok}",
        ),
    }
    return _harness.result_record(
        NAME,
        f"k-means fits/s ({CLUSTERS} clusters, best of {RESTARTS} restarts, 10k images)",
        1 / _harness.median(times["jaxdl"]),
        1 / _harness.median(times["sklearn"]),
        "fits/s",
        extra,
    )


if __name__ == "__main__":
    from benchmarks.run import main

    main([NAME])
