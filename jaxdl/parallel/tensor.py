"""Tensor (model) parallelism: Megatron-style ``PartitionSpec``s from parameter paths.

A mesh with a ``model`` axis (``"model=2"``, ``"data=4,model=2"``) splits the weights of
each transformer block over that axis, as Megatron-LM does (Shoeybi et al. 2019):

* attention's q/k/v projections and the MLP's first linear are *column parallel*: each
  device holds ``1/M`` of the output features (whole heads, so attention stays local)
  and the matching slice of their biases;
* attention's output projection and the MLP's second linear are *row parallel*: each
  device holds ``1/M`` of the input features; the partial products are summed by one
  all-reduce, and their biases, added after it, are replicated.

Everything else (embeddings, norms, the task heads) is replicated over ``model``: the
embedding tables of the recipes are small, and a vocabulary split (Megatron's
``VocabParallelEmbedding``) would need a vocabulary size the axis divides.

Which leaf gets which spec is a rule table: ``(regex, PartitionSpec)`` pairs searched in
order against each leaf's path (``"params/encoder/layers/0/ffn/lin1/kernel"``), the
first match wins, as flax's logical axis rules and t5x's partitioning rules do. The
optimiser moments live under ``opt_state`` with the same path suffix, so they get the
same specs as their parameters. Pass your own table for your own model.

The batch is not split over ``model`` (see :func:`~jaxdl.parallel.batch_axes`): every
device of a ``model`` group sees the same examples and computes its slice of each layer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import jax
from flax import nnx
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

#: A tensor-parallel rule: a regex searched in a leaf's ``/``-joined path, and the spec
#: of the leaf's trailing axes (leading axes, e.g. a vmapped stack's, stay whole).
Rule = tuple[str, P]

#: The Megatron rules for :mod:`jaxdl.nn.transformer` (DistilBERT, BERT, name_sex).
TRANSFORMER_RULES: tuple[Rule, ...] = (
    (r"attention/(q_lin|k_lin|v_lin)/kernel$", P(None, "model")),  # column parallel
    (r"attention/(q_lin|k_lin|v_lin)/bias$", P("model")),
    (r"attention/out_lin/kernel$", P("model", None)),  # row parallel
    (r"ffn/lin1/kernel$", P(None, "model")),  # column parallel
    (r"ffn/lin1/bias$", P("model")),
    (r"ffn/lin2/kernel$", P("model", None)),  # row parallel
)

MODEL = "model"


def path_name(path: Sequence[Any]) -> str:
    """A pytree key path as ``"a/b/0/c"`` (dict keys, attributes and indices alike), less
    the ``value`` attribute an NNX variable adds at the end.

    Example:
      >>> path_name(jax.tree_util.tree_flatten_with_path({"a": [0, {"b": 1}]})[0][1][0])
      'a/1/b'
    """
    parts = []
    for k in path:
        for attr in ("key", "name", "idx"):
            if hasattr(k, attr):
                parts.append(str(getattr(k, attr)))
                break
        else:
            parts.append(str(k))
    if len(path) > 1 and parts[-1] == "value" and hasattr(path[-1], "name"):
        parts.pop()
    return "/".join(parts)


def check_rules(rules: Sequence[Rule]) -> None:
    """Raises ValueError unless every rule is a ``(regex, PartitionSpec)`` pair."""
    for i, rule in enumerate(rules):
        if not (isinstance(rule, tuple) and len(rule) == 2 and isinstance(rule[1], P)):
            raise ValueError(
                f"rules[{i}] is {rule!r}, expected a (regex, PartitionSpec) pair such as "
                "(r'ffn/lin1/kernel$', P(None, 'model'))."
            )


def leaf_spec(name: str, shape: tuple[int, ...], mesh: Mesh, rules: Sequence[Rule]) -> P:
    """The tensor-parallel spec of one leaf: the first rule whose regex is in ``name``.

    The rule's spec names the leaf's trailing axes (it is padded with ``None`` in front
    for stacked leaves); axes the mesh lacks are dropped, so the same rules serve any mesh.

    Args:
      name: the leaf's path, e.g. ``"params/encoder/layers/0/ffn/lin1/kernel"``.
      shape: the leaf's shape.
      mesh: the device mesh.
      rules: ``(regex, PartitionSpec)`` pairs, the first match wins.

    Returns:
      A ``PartitionSpec`` of ``len(shape)`` entries, or ``P()`` when no rule matches.

    Raises:
      ValueError: when the matching rule has more axes than the leaf, or an axis it
        splits is not a multiple of the mesh axes' size.

    Example:
      >>> from jaxdl.parallel import make_mesh
      >>> leaf_spec("ffn/lin1/kernel", (16, 32), make_mesh("model=1"), TRANSFORMER_RULES)
      P(None, 'model')
      >>> leaf_spec("ffn/lin1/kernel", (16, 32), make_mesh(""), TRANSFORMER_RULES)  # no model
      P(None, None)
    """
    for pattern, spec in rules:
        if re.search(pattern, name) is None:
            continue
        if len(spec) > len(shape):
            raise ValueError(
                f"{name} has shape {shape}, expected at least {len(spec)} axes for the "
                f"rule {pattern!r} -> {spec}."
            )
        entries = []
        for dim, axes in zip(shape[len(shape) - len(spec) :], spec, strict=True):
            axes = (axes,) if isinstance(axes, str) else tuple(axes or ())
            axes = tuple(a for a in axes if a in mesh.shape)
            size = 1
            for a in axes:
                size *= mesh.shape[a]
            if dim % size:
                raise ValueError(
                    f"{name} has shape {shape}: its axis of {dim} does not split over "
                    f"{' x '.join(f'{a}={mesh.shape[a]}' for a in axes)}; expected a "
                    f"multiple of {size}."
                )
            entries.append(None if not axes else axes[0] if len(axes) == 1 else axes)
        return P(*([None] * (len(shape) - len(spec)) + entries))
    return P(*([None] * len(shape)))


def tensor_specs(tree: Any, mesh: Mesh, rules: Sequence[Rule] = TRANSFORMER_RULES) -> Any:
    """A tensor-parallel ``PartitionSpec`` for every leaf of ``tree``, from its path.

    Args:
      tree: a pytree of arrays (a :class:`~jaxdl.training.TrainState`, an ``nnx.State``).
      mesh: the device mesh (its ``model`` axis, if any).
      rules: ``(regex, PartitionSpec)`` pairs (see :func:`leaf_spec`); default
        :data:`TRANSFORMER_RULES`.

    Returns:
      A pytree of the structure of ``tree`` with a ``PartitionSpec`` at every leaf
      (``P(None, ...)``, whole, where no rule matches).

    Raises:
      ValueError: when a rule is malformed or does not fit its leaf (see :func:`leaf_spec`).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxdl.parallel import make_mesh
      >>> tree = {"ffn": {"lin2": {"kernel": jnp.zeros((8, 4))}}}
      >>> tensor_specs(tree, make_mesh("model=1"))["ffn"]["lin2"]["kernel"]
      P('model', None)
    """
    check_rules(rules)

    def one(path, x):
        return leaf_spec(path_name(path), tuple(getattr(x, "shape", ())), mesh, rules)

    return jax.tree_util.tree_map_with_path(one, tree)


def check_heads(tree: Any, mesh: Mesh) -> None:
    """Checks that every attention module's heads split evenly over the ``model`` axis.

    A column split of q/k/v that cuts a head in two would still compute the right
    numbers (XLA regathers the head), but not the Megatron pattern, so it is refused.

    Args:
      tree: an ``nnx.Module`` or a :class:`~jaxdl.training.TrainState` (its modules are
        searched for an integer ``n_heads``); anything else is not checked.
      mesh: the device mesh.

    Raises:
      ValueError: when a module's ``n_heads`` is not a multiple of the ``model`` size.

    Example:
      >>> from jaxdl.parallel import make_mesh
      >>> check_heads(None, make_mesh(""))  # nothing to check
    """
    size = mesh.shape.get(MODEL, 1)
    if size <= 1:
        return
    if isinstance(tree, nnx.Module):
        module = tree
    elif hasattr(tree, "graphdef") and hasattr(tree, "params"):
        module = nnx.merge(tree.graphdef, tree.params, tree.model_state)
    else:
        return
    for path, node in nnx.iter_graph(module):
        heads = getattr(node, "n_heads", None)
        if isinstance(node, nnx.Module) and isinstance(heads, int) and heads % size:
            where = "/".join(map(str, path)) or "the model"
            raise ValueError(
                f"n_heads is {heads} at {where}, expected a multiple of the mesh's "
                f"model={size} (each device holds whole attention heads)."
            )
