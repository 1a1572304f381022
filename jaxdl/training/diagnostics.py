"""Bias and variance from learning curves: Andrew Ng's recipe for debugging a model.

Train the model on growing training sets (see :mod:`jaxdl.training.subsets`) and, at
each size, measure the error on the examples it trained on and on held-out examples.
At the largest size:

* the training error far above the error you aim for (``target_error``, e.g. what a
  person or the best known model reaches) means **high bias**: the model cannot even fit
  the data it sees. More data will not fix it; a bigger model, more features, longer
  training or less regularisation may.
* the validation error far above the training error means **high variance**: the model
  fits its training set much better than new data. More data, a smaller model (fewer
  features) or more regularisation may fix it.

Both can hold at once; neither means the model is as good as the target asks.
"""

from __future__ import annotations

import dataclasses
import enum
import math

import numpy as np
from jax.typing import ArrayLike


class Verdict(enum.Enum):
    """What a pair of learning curves says about a model."""

    FINE = "fine"
    HIGH_BIAS = "high bias"
    HIGH_VARIANCE = "high variance"
    BOTH = "high bias and high variance"


_ADVICE = {
    Verdict.FINE: "none needed: training and validation error are near the target",
    Verdict.HIGH_BIAS: "a bigger model, more features, longer training or less "
    "regularisation (more data alone will not help)",
    Verdict.HIGH_VARIANCE: "more data, a smaller model (fewer features) or more regularisation",
    Verdict.BOTH: "first a model that fits the training set (bias), then more data or "
    "regularisation (variance)",
}


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """The verdict of :func:`diagnose` and the numbers it rests on.

    Attributes:
      verdict: the :class:`Verdict`.
      train_error: the training error at the largest training set.
      val_error: the validation error there.
      target_error: the error aimed for.
      bias_gap: ``train_error - target_error`` (how far the fit of the training set is
        from the target; negative: better than the target).
      variance_gap: ``val_error - train_error`` (the generalisation gap).
    """

    verdict: Verdict
    train_error: float
    val_error: float
    target_error: float
    bias_gap: float
    variance_gap: float

    @property
    def advice(self) -> str:
        """What usually helps for this verdict."""
        return _ADVICE[self.verdict]

    def __str__(self) -> str:
        return (
            f"{self.verdict.value} (train error {self.train_error:.4f}, validation "
            f"{self.val_error:.4f}, target {self.target_error:.4f}; bias gap "
            f"{self.bias_gap:+.4f}, variance gap {self.variance_gap:+.4f}); try: {self.advice}"
        )


def _curve(name: str, value: ArrayLike) -> np.ndarray:
    curve = np.asarray(value, dtype=np.float64)
    if curve.ndim > 1 or curve.size == 0:
        raise ValueError(
            f"{name} has shape {curve.shape}, expected a scalar or a non-empty 1-D curve "
            "(one error per training-set size, the sizes growing)."
        )
    if not np.all(np.isfinite(curve)):
        raise ValueError(f"{name} is {curve.tolist()}, expected finite errors.")
    return curve.reshape(-1)


def diagnose(
    train_error: ArrayLike,
    val_error: ArrayLike,
    *,
    target_error: float,
    bias_margin: float = 0.02,
    variance_margin: float = 0.02,
) -> Diagnosis:
    """High bias, high variance, both or neither, from training and validation error.

    With ``e_train`` and ``e_val`` the errors at the largest training set (the last
    entries of the curves), ``t`` the target error, ``m_b`` and ``m_v`` the margins::

        high bias      <=>  e_train - t     > m_b
        high variance  <=>  e_val - e_train > m_v

    Both true gives :attr:`Verdict.BOTH`, neither :attr:`Verdict.FINE`. Only the last
    point decides: a small training set always shows a large gap (high variance), so
    the question is whether the gap is still there with all the data one has.

    Args:
      train_error: the error on the examples trained on, a scalar or a ``(sizes,)``
        curve ordered by growing training-set size.
      val_error: the error on held-out examples, the same shape as ``train_error``.
      target_error: the error aimed for (the desired performance: a person's error,
        the best known model's, a product requirement).
      bias_margin: how far above ``target_error`` the training error may lie before it
        counts as high bias; non-negative.
      variance_margin: how far above the training error the validation error may lie
        before it counts as high variance; non-negative.

    Returns:
      A :class:`Diagnosis`.

    Raises:
      ValueError: a curve is not a scalar or a non-empty 1-D array of finite numbers;
        the two curves differ in shape; ``target_error`` is not finite; a margin is
        negative or not finite.

    Example:
      >>> d = diagnose([0.01, 0.02, 0.03], [0.30, 0.20, 0.15], target_error=0.05)
      >>> d.verdict.value, round(d.variance_gap, 2)
      ('high variance', 0.12)
      >>> diagnose(0.15, 0.16, target_error=0.05).verdict.value
      'high bias'

    References:
      Andrew Ng, "Advice for applying machine learning" (CS229 lecture notes and
      Machine Learning course, "Learning curves" and "Deciding what to do next").
    """
    train = _curve("train_error", train_error)
    val = _curve("val_error", val_error)
    if train.shape != val.shape:
        raise ValueError(
            f"val_error has shape {np.shape(val_error)}, expected the shape of train_error "
            f"{np.shape(train_error)}."
        )
    if not math.isfinite(target_error):
        raise ValueError(f"target_error is {target_error}, expected a finite number.")
    for name, margin in (("bias_margin", bias_margin), ("variance_margin", variance_margin)):
        if not (math.isfinite(margin) and margin >= 0):
            raise ValueError(f"{name} is {margin}, expected a finite number >= 0.")
    e_train, e_val = float(train[-1]), float(val[-1])
    bias_gap, variance_gap = e_train - target_error, e_val - e_train
    bias, variance = bias_gap > bias_margin, variance_gap > variance_margin
    if bias and variance:
        verdict = Verdict.BOTH
    elif bias:
        verdict = Verdict.HIGH_BIAS
    elif variance:
        verdict = Verdict.HIGH_VARIANCE
    else:
        verdict = Verdict.FINE
    return Diagnosis(verdict, e_train, e_val, float(target_error), bias_gap, variance_gap)
