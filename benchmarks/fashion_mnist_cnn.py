"""Fashion-MNIST CNN (the default recipe): training examples/s, jaxdl vs PyTorch.

jaxdl: the ``default`` recipe config, data on the device, one compiled scan per epoch.
Baseline: the seed's PyTorch style (``nn.Sequential``, ``DataLoader``, AdamW, a Python
loop) with the same architecture, checked by counting parameters on both sides.

Run: ``python -m benchmarks.run fashion_mnist_cnn`` (or ``python -m benchmarks.fashion_mnist_cnn``).
"""

from __future__ import annotations

from typing import Any

import ml_collections

from benchmarks import _fashion_mnist
from train.fashion_mnist.configs import default

NAME = "fashion_mnist_cnn"


def torch_model(config: ml_collections.ConfigDict) -> Any:
    """``jaxdl.nn.CNNClassifier`` mirrored in ``nn.Sequential`` (NCHW instead of NHWC).

    Per block: ``block_depth`` x (conv 3x3 'same' without bias, BatchNorm, ReLU), then a
    2x2 max-pool; then flatten, dropout, (Linear, ReLU, dropout) per hidden width and a
    linear head. BatchNorm momentum 0.1 in torch is Flax's 0.9.
    """
    from torch import nn

    layers: list[nn.Module] = []
    in_channels = 1
    for out_channels in config.channels:
        for _ in range(config.block_depth):
            layers += [
                nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(out_channels, momentum=0.1),
                nn.ReLU(),
            ]
            in_channels = out_channels
        layers.append(nn.MaxPool2d(2))
    side = 28 // 2 ** len(config.channels)
    layers += [nn.Flatten(), nn.Dropout(config.dropout)]
    layers += _fashion_mnist.torch_classifier_head(side * side * in_channels, config)
    return nn.Sequential(*layers)


def run(**kwargs: Any) -> dict[str, Any]:
    """Times both sides; keywords (batch_size, repeats, train_examples, quick) as in
    ``_fashion_mnist.run``."""
    return _fashion_mnist.run(NAME, default.get_config(), torch_model, **kwargs)


if __name__ == "__main__":
    from benchmarks.run import main

    main([NAME])
