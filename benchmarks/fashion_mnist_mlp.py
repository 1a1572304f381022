"""Fashion-MNIST MLP (784-512-256-10, dropout 0.2): training examples/s, jaxdl vs PyTorch.

jaxdl: the ``mlp`` recipe config, data on the device, one compiled scan per epoch.
Baseline: the seed's PyTorch style (``nn.Sequential``, ``DataLoader``, Adam, a Python loop).

Run: ``python -m benchmarks.run fashion_mnist_mlp`` (or ``python -m benchmarks.fashion_mnist_mlp``).
"""

from __future__ import annotations

from typing import Any

import ml_collections

from benchmarks import _fashion_mnist
from train.fashion_mnist.configs import mlp

NAME = "fashion_mnist_mlp"


def torch_model(config: ml_collections.ConfigDict) -> Any:
    """The recipe's ``MLPClassifier`` as the seed would write it: one ``nn.Sequential``."""
    from torch import nn

    return nn.Sequential(nn.Flatten(), *_fashion_mnist.torch_classifier_head(28 * 28, config))


def run(**kwargs: Any) -> dict[str, Any]:
    """Times both sides; keywords (batch_size, repeats, train_examples, quick) as in
    ``_fashion_mnist.run``."""
    return _fashion_mnist.run(NAME, mlp.get_config(), torch_model, **kwargs)


if __name__ == "__main__":
    from benchmarks.run import main

    main([NAME])
