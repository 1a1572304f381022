"""PyTorch state dicts into NeuralODE and GCNConv, checked against the torch modules."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from flax import nnx

from jaxdl.errors import CheckpointMismatchError
from jaxdl.pretrained import load_gcn_conv, load_neural_ode

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("hidden", [(16,), (8, 12)])
def test_neural_ode_matches_the_seeds_torch_module(hidden):
    pytest.importorskip("diffrax")
    from jaxdl.ode import NeuralODE

    torch.manual_seed(0)
    widths = [2, *hidden, 2]
    layers = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        layers += [torch.nn.Linear(a, b), torch.nn.Tanh()]

    class MyNeuralODE(torch.nn.Module):  # the seed's module, with its attribute name
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(*layers[:-1])

        def forward(self, _t, u):
            return self.net(u)

    ref = MyNeuralODE()
    model = load_neural_ode(NeuralODE(2, hidden, rngs=nnx.Rngs(0)), ref.state_dict())
    y = np.random.default_rng(0).normal(size=(7, 2)).astype(np.float32)
    with torch.no_grad():
        expected = ref(0.0, torch.from_numpy(y)).numpy()
    np.testing.assert_allclose(np.asarray(model(0.0, y)), expected, atol=1e-6, rtol=1e-6)

    wrong = NeuralODE(2, (5,), rngs=nnx.Rngs(0))
    with pytest.raises(CheckpointMismatchError, match=r"NeuralODE's layers: .*net.0.weight"):
        load_neural_ode(wrong, ref.state_dict())


def test_gcn_conv_matches_torch_geometric():
    pyg_nn = pytest.importorskip("torch_geometric.nn")
    from jaxdl.data import graphs
    from jaxdl.graph import GCNConv

    torch.manual_seed(1)
    pyg = pyg_nn.GCNConv(6, 4)
    with torch.no_grad():
        pyg.bias.normal_()  # torch_geometric starts it at zero
    conv = load_gcn_conv(GCNConv(6, 4, rngs=nnx.Rngs(0)), pyg.state_dict())
    rng = np.random.default_rng(2)
    s, r = graphs.radius_graph(rng.uniform(size=(30, 2)), 0.3)
    x = rng.normal(size=(30, 6)).astype(np.float32)
    edge_index = torch.from_numpy(np.stack([s, r]).astype(np.int64))
    expected = pyg(torch.from_numpy(x), edge_index).detach().numpy()
    np.testing.assert_allclose(
        np.asarray(conv(graphs.graphs_tuple(x, s, r))), expected, atol=1e-5, rtol=0
    )
    # One layer of a bigger model's state dict, by prefix; other layers are ignored.
    model = torch.nn.ModuleDict({"conv1": pyg, "conv2": pyg_nn.GCNConv(4, 2)})
    again = load_gcn_conv(GCNConv(6, 4, rngs=nnx.Rngs(3)), model.state_dict(), prefix="conv1.")
    np.testing.assert_array_equal(np.asarray(again.kernel[...]), np.asarray(conv.kernel[...]))
    with pytest.raises(CheckpointMismatchError, match=r"missing conv3.bias, conv3.lin.weight"):
        load_gcn_conv(GCNConv(6, 4, rngs=nnx.Rngs(3)), model.state_dict(), prefix="conv3.")


def test_loaders_do_not_import_torch():
    code = (
        "import sys, jaxdl.pretrained.torch_state, jaxdl.pretrained; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
