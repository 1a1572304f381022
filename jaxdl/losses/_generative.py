r"""Losses of generative models: VAE, GAN, VQ-VAE, diffusion, in-painting. Per example.

Images are ``(B, ...)``; every loss sums (or averages, where said) over the non-batch
axes and returns ``(B,)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, ArrayLike, Float

from jaxdl._checks import check_same_shape


def _sum_per_example(x: jax.Array) -> jax.Array:
    return x.reshape(x.shape[0], -1).sum(-1)


def gaussian_kl(
    mean: Float[ArrayLike, " batch latent"], logvar: Float[ArrayLike, " batch latent"]
) -> Float[Array, " batch"]:
    r"""Analytic :math:`\mathrm{KL}(\mathcal N(\mu, \sigma^2) \,\|\, \mathcal N(0, I))`.

    .. math:: \tfrac12 \sum_j \big(\sigma_j^2 + \mu_j^2 - 1 - \log \sigma_j^2\big)

    Example:
      >>> import jax.numpy as jnp
      >>> gaussian_kl(jnp.zeros((1, 3)), jnp.zeros((1, 3)))
      Array([0.], dtype=float32)
    """
    mean, logvar = jnp.asarray(mean), jnp.asarray(logvar)
    check_same_shape("logvar", logvar, "mean", mean)
    return 0.5 * _sum_per_example(jnp.exp(logvar) + mean**2 - 1.0 - logvar)


def bernoulli_nll(
    logits: Float[ArrayLike, " batch *dims"], targets: Float[ArrayLike, " batch *dims"]
) -> Float[Array, " batch"]:
    r"""Negative log-likelihood of targets in [0, 1] under Bernoulli(sigmoid(logits)),
    summed over pixels: :math:`-\sum [x \log p + (1 - x) \log(1 - p)]`."""
    logits, targets = jnp.asarray(logits), jnp.asarray(targets)
    check_same_shape("targets", targets, "logits", logits)
    return _sum_per_example(optax.sigmoid_binary_cross_entropy(logits, targets))


def negative_elbo(
    recon_logits: Float[ArrayLike, " batch *dims"],
    images: Float[ArrayLike, " batch *dims"],
    mean: Float[ArrayLike, " batch latent"],
    logvar: Float[ArrayLike, " batch latent"],
    *,
    beta: float = 1.0,
) -> Float[Array, " batch"]:
    r"""The VAE objective to minimise, in nats per image (Kingma & Welling 2014):

    .. math:: -\mathrm{ELBO} = -\log p(x \mid z) + \beta\, \mathrm{KL}(q(z \mid x) \,\|\, p(z))

    with a Bernoulli decoder (see :func:`bernoulli_nll`) and :func:`gaussian_kl`.
    """
    return bernoulli_nll(recon_logits, images) + beta * gaussian_kl(mean, logvar)


def gaussian_log_density(
    z: Float[ArrayLike, " batch latent"],
    mean: Float[ArrayLike, " batch latent"] | float = 0.0,
    logvar: Float[ArrayLike, " batch latent"] | float = 0.0,
) -> Float[Array, " batch"]:
    r""":math:`\log \mathcal N(z;\, \mu, \operatorname{diag}\sigma^2)`, summed over the
    latent axis:

    .. math:: -\tfrac12 \sum_j \Big(\frac{(z_j - \mu_j)^2}{\sigma_j^2}
              + \log \sigma_j^2 + \log 2\pi\Big)

    The defaults give the standard normal prior :math:`\log p(z)`.

    Example:
      >>> import jax.numpy as jnp
      >>> float(gaussian_log_density(jnp.zeros((1, 2)))[0])  # -log(2 pi)
      -1.837...
    """
    z = jnp.asarray(z)
    mean = jnp.broadcast_to(jnp.asarray(mean, z.dtype), z.shape)
    logvar = jnp.broadcast_to(jnp.asarray(logvar, z.dtype), z.shape)
    terms = jnp.square(z - mean) * jnp.exp(-logvar) + logvar + jnp.log(2 * jnp.pi)
    return -0.5 * _sum_per_example(terms)


def importance_weighted_bound(
    log_weights: Float[ArrayLike, " batch samples"],
) -> Float[Array, " batch"]:
    r"""The Monte-Carlo estimate of :math:`\log p(x)` from ``K`` importance weights
    :math:`w_k = p(x, z_k) / q(z_k \mid x)`, :math:`z_k \sim q(\cdot \mid x)`
    (Burda et al. 2016, the IWAE bound):

    .. math:: \mathcal L_K = \log \frac1K \sum_{k=1}^{K} w_k

    :math:`\tfrac1K \sum_k w_k` is an unbiased estimate of :math:`p(x)`; its log is a
    lower bound in expectation that tightens as ``K`` grows,
    :math:`\mathrm{ELBO} = \mathbb E[\mathcal L_1] \le \mathbb E[\mathcal L_K]
    \le \mathbb E[\mathcal L_{K'}] \le \log p(x)` for :math:`K \le K'`. The ELBO
    itself is the *mean* of the log weights, ``log_weights.mean(-1)``. Computed with
    ``logsumexp``: log weights of images are hundreds of nats.

    Args:
      log_weights: ``(B, K)`` log importance weights (see
        :meth:`jaxdl.nn.generative.VAE.log_importance_weights`).

    Returns:
      ``(B,)`` estimates in nats (the negative is a bound on the NLL).

    Example:
      >>> import jax.numpy as jnp
      >>> importance_weighted_bound(jnp.log(jnp.array([[1.0, 3.0]]))).round(4)  # log 2
      Array([0.6931], dtype=float32)
    """
    log_weights = jnp.asarray(log_weights)
    if log_weights.ndim != 2:
        raise ValueError(
            f"log_weights has shape {log_weights.shape}, expected (batch, num_samples)."
        )
    k = log_weights.shape[-1]
    return jax.nn.logsumexp(log_weights, axis=-1) - jnp.log(jnp.asarray(k, log_weights.dtype))


def gan_discriminator_loss(
    real_logits: Float[ArrayLike, " batch"], fake_logits: Float[ArrayLike, " batch"]
) -> Float[Array, " batch"]:
    r""":math:`-\log D(x) - \log(1 - D(G(z)))` with :math:`D = \sigma(\text{logit})`
    (Goodfellow et al. 2014), computed as softplus for stability.

    Example:
      >>> import jax.numpy as jnp
      >>> gan_discriminator_loss(jnp.zeros(1), jnp.zeros(1)).round(4)  # 2 log 2
      Array([1.3863], dtype=float32)
    """
    real, fake = jnp.asarray(real_logits), jnp.asarray(fake_logits)
    check_same_shape("fake_logits", fake, "real_logits", real)
    return jax.nn.softplus(-real) + jax.nn.softplus(fake)


def gan_generator_loss(fake_logits: Float[ArrayLike, " batch"]) -> Float[Array, " batch"]:
    r"""The non-saturating generator loss :math:`-\log D(G(z))`: strong gradients early,
    when the discriminator easily rejects the samples."""
    return jax.nn.softplus(-jnp.asarray(fake_logits))


def vq_loss(
    z_e: Float[ArrayLike, " batch *dims"],
    z_q: Float[ArrayLike, " batch *dims"],
    *,
    commitment: float = 0.25,
    codebook: bool = True,
) -> Float[Array, " batch"]:
    r"""VQ-VAE's codebook and commitment terms (van den Oord et al. 2017):

    .. math:: \|\operatorname{sg}(z_e) - z_q\|^2 + \beta\,\|z_e - \operatorname{sg}(z_q)\|^2

    averaged over the non-batch axes. With an EMA codebook the first term is dropped
    (``codebook=False``): the codebook is then moved by averages, not gradients.
    """
    z_e, z_q = jnp.asarray(z_e), jnp.asarray(z_q)
    check_same_shape("z_q", z_q, "z_e", z_e)
    sg = jax.lax.stop_gradient
    commit = jnp.square(z_e - sg(z_q)).reshape(z_e.shape[0], -1).mean(-1)
    book = jnp.square(sg(z_e) - z_q).reshape(z_e.shape[0], -1).mean(-1)
    return commitment * commit + (book if codebook else 0.0)


def epsilon_loss(
    eps_pred: Float[ArrayLike, " batch *dims"], eps: Float[ArrayLike, " batch *dims"]
) -> Float[Array, " batch"]:
    r"""Ho et al.'s simple diffusion loss :math:`\|\epsilon - \hat\epsilon(x_t, t)\|^2`,
    averaged over the non-batch axes."""
    eps_pred, eps = jnp.asarray(eps_pred), jnp.asarray(eps)
    check_same_shape("eps", eps, "eps_pred", eps_pred)
    return jnp.square(eps_pred - eps).reshape(eps.shape[0], -1).mean(-1)


def masked_mse(
    pred: Float[ArrayLike, " batch *dims"],
    target: Float[ArrayLike, " batch *dims"],
    mask: ArrayLike,
) -> Float[Array, " batch"]:
    r"""Mean squared error over the pixels where ``mask`` is true (e.g. the in-painted
    patch): :math:`\sum m (\hat x - x)^2 / \sum m` per example.

    Example:
      >>> import jax.numpy as jnp
      >>> masked_mse(jnp.ones((1, 4)), jnp.zeros((1, 4)), jnp.array([[1, 1, 0, 0]]))
      Array([1.], dtype=float32)
    """
    pred, target = jnp.asarray(pred), jnp.asarray(target)
    check_same_shape("target", target, "pred", pred)
    mask = jnp.broadcast_to(jnp.asarray(mask, pred.dtype), pred.shape)
    se = _sum_per_example(mask * jnp.square(pred - target))
    return se / jnp.maximum(_sum_per_example(mask), 1.0)
