"""PyTorch ``state_dict`` s into jaxdl modules: the seed's neural-ODE MLP and
torch_geometric's ``GCNConv``.

The same name-table pattern as the Hugging Face loaders (:mod:`jaxdl.pretrained`): a
table ``{torch_name: (nnx_path, kind)}`` and :func:`~jaxdl.pretrained._mapping.assign`,
which transposes ``torch.nn.Linear`` weights (``(out, in)``) into Flax kernels
(``(in, out)``) and names every missing, unexpected or wrong-shaped tensor. torch is never
imported here: a ``state_dict`` holds tensors, read through ``.detach().cpu().numpy()``,
and a dict of NumPy arrays (e.g. from safetensors) works the same.

Example:
  >>> import numpy as np
  >>> from flax import nnx
  >>> from jaxdl.ode import NeuralODE
  >>> sd = {"net.0.weight": np.ones((16, 2)), "net.0.bias": np.zeros(16),
  ...       "net.2.weight": np.ones((2, 16)), "net.2.bias": np.zeros(2)}
  >>> model = load_neural_ode(NeuralODE(2, (16,), rngs=nnx.Rngs(0)), sd)
  >>> model.layers[0].kernel[...].shape  # the transpose of net.0.weight
  (2, 16)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from jaxdl.pretrained._mapping import COPY, LINEAR, assign


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, possibly on a GPU or requiring grad
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _tensors(state_dict: Mapping[str, Any], prefix: str) -> dict[str, np.ndarray]:
    """The entries under ``prefix``, as NumPy; others (the rest of a bigger model) are
    left out, so a whole model's ``state_dict`` can be passed with the layer's prefix."""
    return {k: _numpy(v) for k, v in state_dict.items() if k.startswith(prefix)}


def load_neural_ode(model, state_dict: Mapping[str, Any], *, prefix: str = "net."):
    """Loads the seed's ``MyNeuralODE`` weights into a :class:`~jaxdl.ode.NeuralODE`.

    The seed's vector field is ``self.net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(),
    nn.Linear(16, 2))``: linear layers at the even indices of ``net``, activations
    between them. ``model`` must have the same widths (``NeuralODE(2, (16,))`` there) and
    the activation the Sequential uses; it is changed in place and returned.

    Raises:
      CheckpointMismatchError: tensors missing, unexpected (under ``prefix``) or of the
        wrong shape, all listed.
    """
    names = {}
    for i in range(len(model.layers)):
        names[f"{prefix}{2 * i}.weight"] = (("layers", i, "kernel"), LINEAR)
        names[f"{prefix}{2 * i}.bias"] = (("layers", i, "bias"), COPY)
    assign(model, _tensors(state_dict, prefix), names, what="the NeuralODE's layers")
    return model


def load_gcn_conv(model, state_dict: Mapping[str, Any], *, prefix: str = ""):
    """Loads a torch_geometric ``GCNConv`` ``state_dict`` into a
    :class:`~jaxdl.graph.GCNConv`: ``lin.weight`` (``(out, in)``) becomes ``kernel``
    (``(in, out)``) and ``bias`` the bias. ``prefix`` selects one layer of a bigger
    model's ``state_dict`` (e.g. ``"conv1."``). ``model`` is changed in place and returned.

    Raises:
      CheckpointMismatchError: tensors missing, unexpected (under ``prefix``) or of the
        wrong shape, all listed.
    """
    # torch_geometric's lin has no bias of its own; the layer's bias is "bias".
    names = {f"{prefix}lin.weight": (("kernel",), LINEAR)}
    if model.bias is not None:
        names[f"{prefix}bias"] = (("bias",), COPY)
    assign(model, _tensors(state_dict, prefix), names, what="the GCNConv")
    return model
