"""Image augmentations as pure per-example functions ``(key, image) -> image``.

``image`` is ``(H, W, C)`` float. Each function is deterministic for a key, keeps the
shape and dtype, and jits; :func:`batch` vmaps one over a batch with one key per image,
so augmentation runs on the device inside a training step (the torchvision v2 pipeline
of the seed runs on the host, per image, in the data loader).

Compose them with :func:`compose`, :func:`random_apply` and :func:`two_views`; fix
parameters with ``functools.partial``::

    aug = compose(partial(random_resized_crop, scale=(0.1, 1.0)), horizontal_flip)
    view1, view2 = batch(two_views(aug), key, images)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
from jax.scipy.ndimage import map_coordinates

Augment = Callable[[jax.Array, jax.Array], jax.Array]


def _check_image(image: jax.Array) -> None:
    if image.ndim != 3:
        raise ValueError(f"image has shape {image.shape}, expected (height, width, channels).")


def _resample(image: jax.Array, rows: jax.Array, cols: jax.Array, order: int = 1) -> jax.Array:
    """``image`` read at fractional ``(rows, cols)`` (each ``(H, W)``), zeros outside."""

    def one(channel):
        return map_coordinates(channel, [rows, cols], order=order, mode="constant", cval=0.0)

    return jax.vmap(one, in_axes=-1, out_axes=-1)(image).astype(image.dtype)


def random_affine(
    key: jax.Array,
    image: jax.Array,
    *,
    degrees: float = 15.0,
    translate: float = 0.1,
    scale: tuple[float, float] = (0.8, 1.1),
) -> jax.Array:
    """Rotation in ``[-degrees, degrees]``, translation up to ``translate`` of the size,
    zoom in ``scale``, about the centre (torchvision's ``RandomAffine``); bilinear."""
    _check_image(image)
    h, w, _ = image.shape
    k1, k2, k3 = jax.random.split(key, 3)
    angle = jnp.deg2rad(jax.random.uniform(k1, minval=-degrees, maxval=degrees))
    shift = jax.random.uniform(k2, (2,), minval=-translate, maxval=translate) * jnp.array([h, w])
    zoom = jax.random.uniform(k3, minval=scale[0], maxval=scale[1])
    rr, cc = jnp.meshgrid(
        jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32), indexing="ij"
    )
    cy, cx = (h - 1) / 2, (w - 1) / 2
    # Inverse map: each output pixel reads the input where the forward transform sent it.
    y, x = rr - cy - shift[0], cc - cx - shift[1]
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    src_r = (cos * y + sin * x) / zoom + cy
    src_c = (-sin * y + cos * x) / zoom + cx
    return _resample(image, src_r, src_c)


def _gaussian_kernel(sigma: float) -> jax.Array:
    # torchvision's kernel size, int(8 sigma + 1) made odd: a radius of about 4 sigma.
    size = int(8 * sigma + 1)
    size += 1 - size % 2
    x = jnp.arange(size, dtype=jnp.float32) - (size - 1) / 2
    k = jnp.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _blur(field: jax.Array, sigma: float) -> jax.Array:
    """Separable Gaussian blur with reflected borders (the kernel may exceed the image)."""
    k = _gaussian_kernel(sigma)
    r = (k.shape[0] - 1) // 2

    def line(v):  # reflect as far as the kernel reaches, then a "valid" convolution
        idx = jnp.abs(jnp.arange(-r, v.shape[0] + r))
        idx = jnp.where(idx > v.shape[0] - 1, 2 * (v.shape[0] - 1) - idx, idx)
        return jnp.convolve(v[jnp.clip(idx, 0, v.shape[0] - 1)], k, mode="valid")

    field = jax.vmap(line)(field)
    return jax.vmap(line, in_axes=1, out_axes=1)(field)


def elastic_displacement(noise: jax.Array, *, alpha: float, sigma: float) -> jax.Array:
    """The displacement in pixels that :func:`elastic_transform` draws, from its noise:
    ``noise`` ``(2, H, W)`` uniform in [-1, 1] (rows, then columns), blurred by a Gaussian
    of ``sigma`` pixels (none if ``sigma`` is 0) and scaled by ``alpha / 2``."""
    if sigma < 0:
        raise ValueError(f"sigma is {sigma}, expected >= 0 (pixels).")
    if sigma > 0:
        noise = jax.vmap(lambda f: _blur(f, sigma))(noise)
    return (alpha / 2) * noise


def elastic_transform(
    key: jax.Array, image: jax.Array, *, alpha: float = 20.0, sigma: float = 6.0
) -> jax.Array:
    """Elastic distortion (Simard et al. 2003) with torchvision v2's ``ElasticTransform``
    parameters, which the seed used (``alpha=20.0, sigma=6.0``); bilinear, zeros outside.

    A random field uniform in [-1, 1] per pixel and axis is blurred by a Gaussian of
    ``sigma`` pixels (kernel size ``int(8 sigma + 1)`` made odd, as torchvision) and
    scaled so that each pixel moves by ``alpha / 2`` pixels per unit of blurred noise
    (:func:`elastic_displacement`). That is torchvision's ``alpha / size`` in
    ``grid_sample``'s [-1, 1] coordinates; torchvision divides the horizontal part by
    the height (pytorch/vision#9299), so the two agree on square images. Before this
    matched torchvision, jaxdl moved pixels by ``alpha`` (twice as far) and cut the
    kernel at 3 sigma; ``alpha=2 * a`` gives about the old strength.
    """
    _check_image(image)
    h, w, _ = image.shape
    noise = jax.random.uniform(key, (2, h, w), minval=-1, maxval=1)
    dy, dx = elastic_displacement(noise, alpha=alpha, sigma=sigma)
    rr, cc = jnp.meshgrid(
        jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32), indexing="ij"
    )
    return _resample(image, rr + dy, cc + dx)


def random_resized_crop(
    key: jax.Array,
    image: jax.Array,
    *,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    method: str = "cubic",
) -> jax.Array:
    """A crop of random area fraction in ``scale`` and aspect ratio in ``ratio`` (log-
    uniform), resized back to the image size with ``method`` (``"linear"`` or ``"cubic"``,
    torchvision's bilinear/bicubic)."""
    _check_image(image)
    if method not in ("linear", "cubic"):
        raise ValueError(f"method is {method!r}, expected 'linear' or 'cubic'.")
    h, w, _ = image.shape
    k1, k2, k3 = jax.random.split(key, 3)
    area = jax.random.uniform(k1, minval=scale[0], maxval=scale[1]) * h * w
    log_r = jax.random.uniform(k2, minval=math.log(ratio[0]), maxval=math.log(ratio[1]))
    aspect = jnp.exp(log_r)
    ch = jnp.clip(jnp.sqrt(area / aspect), 1.0, h)
    cw = jnp.clip(jnp.sqrt(area * aspect), 1.0, w)
    pos = jax.random.uniform(k3, (2,)) * jnp.array([h - ch, w - cw])
    sy, sx = h / ch, w / cw
    out = jax.image.scale_and_translate(
        image,
        image.shape,
        (0, 1),
        jnp.array([sy, sx]),
        -pos * jnp.array([sy, sx]),
        method=method,
        antialias=False,
    )
    return out.astype(image.dtype)


def horizontal_flip(key: jax.Array, image: jax.Array, *, p: float = 0.5) -> jax.Array:
    """Mirrors left-right with probability ``p``."""
    _check_image(image)
    return jnp.where(jax.random.bernoulli(key, p), image[:, ::-1], image)


def brightness_contrast(
    key: jax.Array, image: jax.Array, *, brightness: float = 0.4, contrast: float = 0.4
) -> jax.Array:
    """Scales intensities by a factor in ``[1 - brightness, 1 + brightness]``, then blends
    with the image's mean by a factor in ``[1 - contrast, 1 + contrast]``, clipped to
    ``[0, 1]`` (torchvision's ``ColorJitter`` brightness and contrast, the parts of
    SimCLR's colour distortion that apply to grayscale). For images in ``[0, 1]``."""
    _check_image(image)
    k1, k2 = jax.random.split(key)
    b = jax.random.uniform(k1, minval=1 - brightness, maxval=1 + brightness)
    c = jax.random.uniform(k2, minval=1 - contrast, maxval=1 + contrast)
    x = jnp.clip(image * b, 0.0, 1.0)
    x = jnp.clip((x - x.mean()) * c + x.mean(), 0.0, 1.0)
    return x.astype(image.dtype)


def normalize(key: jax.Array, image: jax.Array, *, mean: float, std: float) -> jax.Array:
    """``(image - mean) / std``; ``key`` is unused (so it composes like the others)."""
    del key
    return ((image - mean) / std).astype(image.dtype)


def random_apply(fn: Augment, p: float) -> Augment:
    """``fn`` with probability ``p``, else the image unchanged."""

    def apply(key: jax.Array, image: jax.Array) -> jax.Array:
        k_coin, k_fn = jax.random.split(key)
        return jnp.where(jax.random.bernoulli(k_coin, p), fn(k_fn, image), image)

    return apply


def compose(*fns: Augment) -> Augment:
    """Applies ``fns`` in order, each with its own key split from the one given."""

    def apply(key: jax.Array, image: jax.Array) -> jax.Array:
        for k, fn in zip(jax.random.split(key, len(fns)), fns, strict=True):
            image = fn(k, image)
        return image

    return apply


def two_views(fn: Augment) -> Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
    """Two independent draws of ``fn`` of one image (SimCLR's positive pair)."""

    def apply(key: jax.Array, image: jax.Array) -> tuple[jax.Array, jax.Array]:
        k1, k2 = jax.random.split(key)
        return fn(k1, image), fn(k2, image)

    return apply


def batch(fn: Callable, key: jax.Array, images: jax.Array):
    """``fn`` on each image of ``(B, H, W, C)`` with its own key from ``key``."""
    if images.ndim != 4:
        raise ValueError(
            f"images has shape {images.shape}, expected (batch, height, width, channels)."
        )
    return jax.vmap(fn)(jax.random.split(key, images.shape[0]), images)


def simclr_augment(
    *,
    crop_scale: tuple[float, float] = (0.08, 1.0),
    crop_method: str = "cubic",
    flip: bool = True,
    jitter: float = 0.4,
    jitter_p: float = 0.8,
) -> Augment:
    """SimCLR's augmentation of a grey image (Chen et al. 2020), one view per call.

    A random resized crop, a horizontal flip with probability 1/2, then with probability
    ``jitter_p`` a brightness/contrast jitter: without it crops of one image can be matched
    by their grey levels alone, the shortcut SimCLR's colour distortion removes.

    Args:
        crop_scale: The crop's area fraction range (:func:`random_resized_crop`).
        crop_method: ``"linear"`` or ``"cubic"`` resizing of the crop.
        flip: Include the random horizontal flip.
        jitter: Brightness and contrast factors in ``[1 - jitter, 1 + jitter]``.
        jitter_p: Probability of the jitter; 0 leaves it out.

    Returns:
        ``(key, image) -> image`` for ``(H, W, C)`` images in ``[0, 1]``; pair it with
        :func:`two_views` and :func:`batch`.

    Raises:
        ValueError: If ``crop_method`` is not ``"linear"`` or ``"cubic"``.
    """
    if crop_method not in ("linear", "cubic"):
        raise ValueError(f"crop_method is {crop_method!r}, expected 'linear' or 'cubic'.")
    fns = [partial(random_resized_crop, scale=tuple(crop_scale), method=crop_method)]
    if flip:
        fns.append(horizontal_flip)
    if jitter_p:
        fns.append(
            random_apply(partial(brightness_contrast, brightness=jitter, contrast=jitter), jitter_p)
        )
    return compose(*fns)


def gallery(
    *,
    crop_scale: tuple[float, float] = (0.08, 1.0),
    crop_method: str = "cubic",
    jitter: float = 0.4,
    mean: float = 0.0,
    std: float = 1.0,
    pipeline: Augment | None = None,
    pipeline_name: str = "SimCLR",
) -> dict[str, Callable]:
    """Every augmentation of this module under a title, for pictures and checks.

    Titles hold line breaks so they fit above narrow figure columns.

    Args:
        crop_scale, crop_method: :func:`random_resized_crop`'s settings.
        jitter: :func:`brightness_contrast`'s factors.
        mean, std: :func:`normalize`'s statistics.
        pipeline: A composed augmentation to show as well, with :func:`two_views` of it.
        pipeline_name: Its title.

    Returns:
        Title -> ``(key, image) -> image`` (``two_views`` returns a pair).
    """
    out: dict[str, Callable] = {
        "random_affine": random_affine,
        "elastic_transform": elastic_transform,
        f"random_resized_crop\nscale {tuple(crop_scale)}": partial(
            random_resized_crop, scale=tuple(crop_scale), method=crop_method
        ),
        "horizontal_flip\n(p=1)": partial(horizontal_flip, p=1.0),
        f"brightness_contrast\n({jitter})": partial(
            brightness_contrast, brightness=jitter, contrast=jitter
        ),
        "normalize\n(own colour scale)": partial(normalize, mean=mean, std=std),
        "random_apply(\nelastic, p=0.5)": random_apply(elastic_transform, 0.5),
    }
    if pipeline is not None:
        out[f"compose: {pipeline_name}\npipeline"] = pipeline
        out["two_views"] = two_views(pipeline)
    return out
