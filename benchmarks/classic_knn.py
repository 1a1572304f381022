"""kNN on Fashion-MNIST (all 60k train, 10k test): jaxdl vs scikit-learn's brute force.

Both sides classify the 10k test images from the 60k training images (raw pixels scaled
to [0, 1]) with k = log N = 11 neighbours and inverse-distance votes. jaxdl:
``knn_predict`` (matmul distances, ``lax.top_k``, one jitted program). Baseline:
``KNeighborsClassifier(algorithm="brute", weights="distance")``, whose fit only stores
the data, so its predict is the same work. The metric is test images classified per
second, timed interleaved after a warm-up. The record also holds both accuracies, how
often the two agree, the uniform-vote accuracy and a vmapped sweep over k = 1..15.

Needs the ``bench`` extra (scikit-learn). Run: ``python -m benchmarks.run classic_knn``.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import _flops, _harness
from jaxdl.classic import default_k, knn_predict, knn_sweep_accuracy
from jaxdl.data import load_fashion_mnist

NAME = "classic_knn"


def flat_split(split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST ``split`` as (n, 784) float32 in [0, 1] and int32 labels."""
    images, labels = load_fashion_mnist(split)
    if limit:
        images, labels = images[:limit], labels[:limit]
    return images.reshape(len(images), -1).astype(np.float32) / 255.0, labels.astype(np.int32)


def run(
    *, repeats: int | None = None, train_examples: int | None = None, quick: bool = False, **_: Any
) -> dict[str, Any]:
    from sklearn.neighbors import KNeighborsClassifier
    from threadpoolctl import threadpool_info

    threads = _harness.set_threads()
    repeats = repeats or (1 if quick else 3)
    limit = 2_000 if quick else (train_examples or None)
    x_train, y_train = flat_split("train", limit)
    x_test, y_test = flat_split("test", 500 if quick else None)
    k = default_k(len(y_train))
    dev = [jax.device_put(a) for a in (x_train, y_train, x_test)]
    ours = functools.partial(knn_predict, num_classes=10, k=k, weighted=True)
    theirs = KNeighborsClassifier(k, algorithm="brute", weights="distance").fit(x_train, y_train)

    load_before = list(os.getloadavg())
    with _harness.OtherLoad() as other:
        times = _harness.time_interleaved(
            {"jaxdl": lambda: ours(*dev), "sklearn": lambda: theirs.predict(x_test)},
            warmup=1,
            repeats=repeats,
        )
    pred = np.asarray(ours(*dev))
    pred_sk = theirs.predict(x_test)
    uniform = np.asarray(knn_predict(*dev, num_classes=10, k=k))
    ks = jnp.arange(1, 16)
    sweep = knn_sweep_accuracy(*dev, y_test, ks, num_classes=10, weighted=True)
    n = len(y_test)
    extra = {
        "quick": quick,
        "train_examples": len(y_train),
        "test_examples": n,
        "k": k,
        "seconds": times,
        "sanity": {
            "test_accuracy": {
                "jaxdl": float(np.mean(pred == y_test)),
                "baseline": float(np.mean(pred_sk == y_test)),
            },
            "prediction_agreement": float(np.mean(pred == pred_sk)),
            "uniform_vote_accuracy": float(np.mean(uniform == y_test)),
            "distance_weighted_sweep": {int(a): float(b) for a, b in zip(ks, sweep, strict=True)},
        },
        "sklearn_threadpools": [
            {key: p.get(key) for key in ("user_api", "internal_api", "num_threads")}
            for p in threadpool_info()
        ],
        "set_threads": threads,
        "other_cpu_load": other.cores,
        "load_average_before": load_before,
        # The whole jitted predict: a lax.map over query chunks, counted once per chunk.
        "flops": _flops.program_record(
            _flops.program_cost(ours, *dev), _harness.median(times["jaxdl"])
        ),
    }
    return _harness.result_record(
        NAME,
        f"test images classified/s (k={k}, distance votes, {len(y_train) // 1000}k train)",
        n / _harness.median(times["jaxdl"]),
        n / _harness.median(times["sklearn"]),
        "images/s",
        extra,
    )


if __name__ == "__main__":
    from benchmarks.run import main

    main([NAME])
