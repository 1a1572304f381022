"""Small generative models for 28x28x1 images: autoencoder, VAE, in-painting autoencoder,
DCGAN, VQ-VAE.

Encoders halve the resolution twice (28 -> 14 -> 7) with stride-2 convolutions; decoders
mirror them with nearest-neighbour upsampling and convolutions. Decoders return logits
(pixel intensities are ``sigmoid(logits)`` in [0, 1]).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Float

from jaxdl._checks import check_rank
from jaxdl.losses import bernoulli_nll, gaussian_log_density
from jaxdl.nn.conv import Conv


def _check_images(x: jax.Array) -> None:
    check_rank("x", x, rank=4)
    if x.shape[1:] != (28, 28, 1):
        raise ValueError(f"x has shape {x.shape}, expected (batch, 28, 28, 1).")


def _up(x: jax.Array) -> jax.Array:
    b, h, w, c = x.shape
    return jax.image.resize(x, (b, 2 * h, 2 * w, c), "nearest")


class ConvEncoder(nnx.Module):
    """``(B, 28, 28, 1) -> (B, 7, 7, channels[1])``: two stride-2 convs with SiLU."""

    def __init__(self, channels: tuple[int, int] = (32, 64), *, rngs: nnx.Rngs):
        self.conv1 = Conv(1, channels[0], (3, 3), strides=2, rngs=rngs)
        self.conv2 = Conv(channels[0], channels[1], (3, 3), strides=2, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        _check_images(x)
        return jax.nn.silu(self.conv2(jax.nn.silu(self.conv1(x))))


class ConvDecoder(nnx.Module):
    """``(B, 7, 7, c_in) -> (B, 28, 28, 1)`` logits: upsample + conv twice."""

    def __init__(self, c_in: int, channels: tuple[int, int] = (64, 32), *, rngs: nnx.Rngs):
        self.conv1 = Conv(c_in, channels[0], (3, 3), rngs=rngs)
        self.conv2 = Conv(channels[0], channels[1], (3, 3), rngs=rngs)
        self.out = Conv(channels[1], 1, (3, 3), rngs=rngs)

    def __call__(self, h: jax.Array) -> jax.Array:
        h = jax.nn.silu(self.conv1(_up(h)))
        h = jax.nn.silu(self.conv2(_up(h)))
        return self.out(h)


class VAE(nnx.Module):
    """A convolutional VAE with a Gaussian latent and a Bernoulli decoder.

    ``__call__(x, *, train, key)`` returns ``(logits, mean, logvar)``; the latent is
    sampled with the reparameterisation :math:`z = \\mu + \\sigma \\epsilon` using ``key``
    (the mean is used when ``key`` is None).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from flax import nnx
      >>> vae = VAE(latent_dim=4, rngs=nnx.Rngs(0))
      >>> logits, mean, logvar = vae(jnp.zeros((2, 28, 28, 1)), key=jax.random.key(1))
      >>> logits.shape, mean.shape
      ((2, 28, 28, 1), (2, 4))
    """

    def __init__(self, latent_dim: int = 16, *, rngs: nnx.Rngs):
        self.latent_dim = latent_dim
        self.encoder = ConvEncoder(rngs=rngs)
        self.to_stats = nnx.Linear(7 * 7 * 64, 2 * latent_dim, rngs=rngs)
        self.from_latent = nnx.Linear(latent_dim, 7 * 7 * 64, rngs=rngs)
        self.decoder = ConvDecoder(64, rngs=rngs)

    def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = self.encoder(x).reshape(x.shape[0], -1)
        mean, logvar = jnp.split(self.to_stats(h), 2, axis=-1)
        return mean, logvar

    def decode(self, z: jax.Array) -> jax.Array:
        h = jax.nn.silu(self.from_latent(z)).reshape(z.shape[0], 7, 7, 64)
        return self.decoder(h)

    def __call__(
        self, x: Float[Array, "batch 28 28 1"], *, train: bool = False, key: jax.Array | None = None
    ):
        del train
        mean, logvar = self.encode(x)
        z = (
            mean
            if key is None
            else mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape)
        )
        return self.decode(z), mean, logvar

    def sample(self, key: jax.Array, num: int) -> jax.Array:
        """Images (intensities in [0, 1]) decoded from prior samples."""
        return jax.nn.sigmoid(self.decode(jax.random.normal(key, (num, self.latent_dim))))

    def log_importance_weights(
        self,
        x: Float[Array, "batch 28 28 1"],
        key: jax.Array,
        *,
        num_samples: int,
        proposal: str = "posterior",
        chunk: int | None = None,
    ) -> Float[Array, "batch samples"]:
        r"""``(B, K)`` log importance weights of ``K`` latents per image, in nats.

        With ``proposal="posterior"`` (importance sampling from the encoder):
        :math:`z_k \sim q(z \mid x)`,
        :math:`\log w_k = \log p(x \mid z_k) + \log p(z_k) - \log q(z_k \mid x)`;
        their mean is a Monte-Carlo ELBO and
        :func:`jaxdl.losses.importance_weighted_bound` of them the IWAE bound. With
        ``proposal="prior"`` (plain Monte Carlo): :math:`z_k \sim p(z)`,
        :math:`\log w_k = \log p(x \mid z_k)`, so :math:`\tfrac1K \sum_k w_k` is still
        unbiased for :math:`p(x)` but its variance is enormous (the prior rarely proposes
        a latent that explains ``x``). ``x`` holds intensities in [0, 1].

        ``chunk`` latents are decoded at once (all ``K`` by default): decoding is
        ``K`` images per input, so bound it for large ``K``.

        Example:
          >>> import jax, jax.numpy as jnp
          >>> from flax import nnx
          >>> vae = VAE(latent_dim=4, rngs=nnx.Rngs(0))
          >>> vae.log_importance_weights(jnp.zeros((2, 28, 28, 1)), jax.random.key(1),
          ...                            num_samples=3).shape
          (2, 3)
        """
        if proposal not in ("posterior", "prior"):
            raise ValueError(f"proposal is {proposal!r}, expected 'posterior' or 'prior'.")
        if num_samples < 1:
            raise ValueError(f"num_samples is {num_samples}, expected at least 1.")
        mean, logvar = self.encode(x)
        if proposal == "prior":
            mean, logvar = jnp.zeros_like(mean), jnp.zeros_like(logvar)

        def one(k: jax.Array) -> jax.Array:
            z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(k, mean.shape)
            log_lik = -bernoulli_nll(self.decode(z), x)
            if proposal == "prior":
                return log_lik
            return log_lik + gaussian_log_density(z) - gaussian_log_density(z, mean, logvar)

        keys = jax.random.split(key, num_samples)
        return jax.lax.map(one, keys, batch_size=chunk).T


class Autoencoder(nnx.Module):
    r"""The VAE's encoder and decoder around a deterministic latent (a plain autoencoder).

    ``__call__(x)`` returns reconstruction logits ``(B, 28, 28, 1)``; train it on
    :func:`jaxdl.losses.bernoulli_nll` alone. Without the VAE's KL term nothing shapes
    the latent space, so decoding a draw from :math:`\mathcal N(0, I)` need not give an
    image: the comparison the ``generative`` recipe's autoencoder config makes.

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> ae = Autoencoder(latent_dim=4, rngs=nnx.Rngs(0))
      >>> ae(jnp.zeros((2, 28, 28, 1))).shape, ae.encode(jnp.zeros((2, 28, 28, 1))).shape
      ((2, 28, 28, 1), (2, 4))
    """

    def __init__(self, latent_dim: int = 16, *, rngs: nnx.Rngs):
        self.latent_dim = latent_dim
        self.encoder = ConvEncoder(rngs=rngs)
        self.to_latent = nnx.Linear(7 * 7 * 64, latent_dim, rngs=rngs)
        self.from_latent = nnx.Linear(latent_dim, 7 * 7 * 64, rngs=rngs)
        self.decoder = ConvDecoder(64, rngs=rngs)

    def encode(self, x: jax.Array) -> jax.Array:
        return self.to_latent(self.encoder(x).reshape(x.shape[0], -1))

    def decode(self, z: jax.Array) -> jax.Array:
        h = jax.nn.silu(self.from_latent(z)).reshape(z.shape[0], 7, 7, 64)
        return self.decoder(h)

    def __call__(
        self, x: Float[Array, "batch 28 28 1"], *, train: bool = False, key: jax.Array | None = None
    ) -> Float[Array, "batch 28 28 1"]:
        del train, key
        return self.decode(self.encode(x))


class InpaintingAutoencoder(nnx.Module):
    """The seed's in-painting model: encode the masked image, decode the whole image.

    The input has a second channel, the mask (1 inside the missing patch), so the model
    knows which pixels to invent. Returns logits ``(B, 28, 28, 1)``.
    """

    def __init__(self, bottleneck: int = 128, *, rngs: nnx.Rngs):
        self.conv_in = Conv(2, 1, (1, 1), rngs=rngs)
        self.encoder = ConvEncoder(rngs=rngs)
        self.bottleneck = nnx.Linear(7 * 7 * 64, bottleneck, rngs=rngs)
        self.expand = nnx.Linear(bottleneck, 7 * 7 * 64, rngs=rngs)
        self.decoder = ConvDecoder(64, rngs=rngs)

    def __call__(self, x, mask, *, train: bool = False, key: jax.Array | None = None):
        del train, key
        _check_images(x)
        h = self.encoder(self.conv_in(jnp.concatenate([x * (1 - mask), mask], -1)))
        h = jax.nn.silu(self.bottleneck(h.reshape(x.shape[0], -1)))
        h = jax.nn.silu(self.expand(h)).reshape(x.shape[0], 7, 7, 64)
        return self.decoder(h)


class Generator(nnx.Module):
    """DCGAN-style generator: noise ``(B, z_dim)`` -> image logits ``(B, 28, 28, 1)``."""

    def __init__(self, z_dim: int = 64, *, rngs: nnx.Rngs):
        self.z_dim = z_dim
        self.fc = nnx.Linear(z_dim, 7 * 7 * 128, rngs=rngs)
        self.norm0 = nnx.BatchNorm(128, momentum=0.9, rngs=rngs)
        self.conv1 = Conv(128, 64, (3, 3), rngs=rngs)
        self.norm1 = nnx.BatchNorm(64, momentum=0.9, rngs=rngs)
        self.conv2 = Conv(64, 32, (3, 3), rngs=rngs)
        self.norm2 = nnx.BatchNorm(32, momentum=0.9, rngs=rngs)
        self.out = Conv(32, 1, (3, 3), rngs=rngs)

    def __call__(self, z, *, train: bool = False, key: jax.Array | None = None):
        del key
        ura = not train
        h = self.fc(z).reshape(z.shape[0], 7, 7, 128)
        h = jax.nn.relu(self.norm0(h, use_running_average=ura))
        h = jax.nn.relu(self.norm1(self.conv1(_up(h)), use_running_average=ura))
        h = jax.nn.relu(self.norm2(self.conv2(_up(h)), use_running_average=ura))
        return self.out(h)


class Discriminator(nnx.Module):
    """DCGAN-style discriminator: strided convs with leaky ReLU, one logit per image."""

    def __init__(self, *, rngs: nnx.Rngs):
        self.encoder = ConvEncoder(rngs=rngs)
        self.fc = nnx.Linear(7 * 7 * 64, 1, rngs=rngs)

    def __call__(self, x, *, train: bool = False, key: jax.Array | None = None):
        del train, key
        h = self.encoder(x)
        return self.fc(jax.nn.leaky_relu(h, 0.2).reshape(x.shape[0], -1))[:, 0]


class CodebookEMA(nnx.Variable):
    """Exponential moving averages of an EMA codebook (model state, not parameters)."""


class VectorQuantizer(nnx.Module):
    """Nearest-code quantisation with a straight-through gradient (VQ-VAE).

    ``__call__(z)`` with ``z`` of shape ``(..., dim)`` returns ``(z_q, codes)`` where
    ``z_q = z + stop_gradient(e[codes] - z)``: the forward pass uses the code vectors,
    the backward pass copies the decoder's gradient to the encoder. With ``ema=True`` the
    codebook follows moving averages of the vectors assigned to each code (van den Oord
    et al. 2017, appendix), updated in training mode, instead of a loss term.
    """

    def __init__(
        self, num_codes: int, dim: int, *, ema: bool = False, decay: float = 0.99, rngs: nnx.Rngs
    ):
        init = jax.random.uniform(rngs.params(), (num_codes, dim), minval=-1, maxval=1)
        init = init / num_codes
        self.ema, self.decay = ema, decay
        if ema:
            self.codebook = CodebookEMA(init)
            self.ema_count = CodebookEMA(jnp.ones((num_codes,)))
            self.ema_sum = CodebookEMA(init)
        else:
            self.codebook = nnx.Param(init)

    def __call__(self, z: jax.Array, *, train: bool = False):
        book = self.codebook[...]
        flat = z.reshape(-1, z.shape[-1])
        d = jnp.sum(flat**2, -1, keepdims=True) - 2 * flat @ book.T + jnp.sum(book**2, -1)[None]
        codes = jnp.argmin(d, -1)
        if self.ema and train:
            onehot = jax.nn.one_hot(codes, book.shape[0])
            count = self.decay * self.ema_count[...] + (1 - self.decay) * onehot.sum(0)
            total = self.decay * self.ema_sum[...] + (1 - self.decay) * onehot.T @ flat
            n = count.sum()
            # Laplace smoothing keeps rarely used codes from dividing by zero.
            smoothed = (count + 1e-5) / (n + book.shape[0] * 1e-5) * n
            self.ema_count[...], self.ema_sum[...] = count, total
            self.codebook[...] = total / smoothed[:, None]
            book = jax.lax.stop_gradient(self.codebook[...])
        z_q = book[codes].reshape(z.shape)
        return z + jax.lax.stop_gradient(z_q - z), codes.reshape(z.shape[:-1]), z_q


def perplexity(codes: jax.Array, num_codes: int) -> jax.Array:
    """``exp(entropy)`` of the code usage: 1 if one code takes everything, ``num_codes``
    if all are used equally."""
    p = jnp.bincount(codes.reshape(-1), length=num_codes) / codes.size
    return jnp.exp(-jnp.sum(jnp.where(p > 0, p * jnp.log(p), 0.0)))


class VQVAE(nnx.Module):
    """Encoder -> (7, 7, dim) -> vector quantiser -> decoder.

    ``__call__`` returns ``(logits, z_e, z_q, codes)``; the loss is the reconstruction
    plus :func:`jaxdl.losses.vq_loss` of ``(z_e, z_q)``.
    """

    def __init__(self, num_codes: int = 64, dim: int = 16, *, ema: bool = False, rngs: nnx.Rngs):
        self.num_codes = num_codes
        self.encoder = ConvEncoder(rngs=rngs)
        self.pre = Conv(64, dim, (1, 1), rngs=rngs)
        self.quantizer = VectorQuantizer(num_codes, dim, ema=ema, rngs=rngs)
        self.decoder = ConvDecoder(dim, rngs=rngs)

    def __call__(self, x, *, train: bool = False, key: jax.Array | None = None):
        del key
        z_e = self.pre(self.encoder(x))
        z_st, codes, z_q = self.quantizer(z_e, train=train)
        return self.decoder(z_st), z_e, z_q, codes
