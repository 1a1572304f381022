"""Augmentations: deterministic per key, shape and dtype kept, identities at zero strength."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.data.augment import (
    _resample,
    batch,
    brightness_contrast,
    compose,
    elastic_displacement,
    elastic_transform,
    horizontal_flip,
    normalize,
    random_affine,
    random_apply,
    random_resized_crop,
    two_views,
)

IMAGES = jax.random.uniform(jax.random.key(0), (4, 28, 28, 1))
ALL = {
    "affine": random_affine,
    "elastic": elastic_transform,
    "crop_cubic": random_resized_crop,
    "crop_linear": partial(random_resized_crop, method="linear"),
    "flip": horizontal_flip,
    "brightness_contrast": brightness_contrast,
    "normalize": partial(normalize, mean=0.5, std=0.5),
    "random_apply": random_apply(random_affine, 0.5),
    "compose": compose(random_resized_crop, horizontal_flip),
}


@pytest.mark.parametrize("name", list(ALL))
def test_deterministic_shape_and_dtype(name):
    fn = jax.jit(partial(batch, ALL[name]))
    a, b = fn(jax.random.key(1), IMAGES), fn(jax.random.key(1), IMAGES)
    np.testing.assert_array_equal(a, b)
    assert a.shape == IMAGES.shape and a.dtype == IMAGES.dtype
    if name != "normalize":
        c = fn(jax.random.key(2), IMAGES)
        assert not np.array_equal(a, c)


def test_zero_strength_is_the_identity():
    key, img = jax.random.key(3), IMAGES[0]
    np.testing.assert_allclose(
        random_affine(key, img, degrees=0, translate=0, scale=(1, 1)), img, atol=1e-5
    )
    np.testing.assert_allclose(elastic_transform(key, img, alpha=0.0), img, atol=1e-6)
    np.testing.assert_allclose(
        random_resized_crop(key, img, scale=(1, 1), ratio=(1, 1), method="linear"), img, atol=1e-5
    )
    np.testing.assert_array_equal(horizontal_flip(key, img, p=1.0), img[:, ::-1])
    np.testing.assert_allclose(
        brightness_contrast(key, img, brightness=0.0, contrast=0.0), img, atol=1e-6
    )
    np.testing.assert_array_equal(random_apply(partial(horizontal_flip, p=1.0), 0.0)(key, img), img)


def test_rotation_by_90_degrees_moves_pixels_as_expected():
    img = jnp.zeros((5, 5, 1)).at[0, 2, 0].set(1.0)  # top middle
    out = random_affine(jax.random.key(0), img, degrees=0.0, translate=0.0, scale=(1, 1))
    np.testing.assert_allclose(out, img, atol=1e-6)
    # With degrees fixed to 90 (a range of one value) the pixel lands on a side.
    out = random_affine(jax.random.key(0), img, degrees=90.0, translate=0.0, scale=(1, 1))
    assert float(out.sum()) > 0


def test_two_views_differ_and_random_apply_probability():
    v1, v2 = batch(two_views(random_resized_crop), jax.random.key(4), IMAGES)
    assert v1.shape == IMAGES.shape and not np.allclose(v1, v2)
    flips = batch(
        random_apply(partial(horizontal_flip, p=1.0), 0.3),
        jax.random.key(5),
        jnp.tile(IMAGES[:1], (2000, 1, 1, 1)),
    )
    rate = float(jnp.mean(jnp.any(flips != IMAGES[:1], axis=(1, 2, 3))))
    assert abs(rate - 0.3) < 0.04


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"image has shape \(28, 28\), expected \(height"):
        random_affine(jax.random.key(0), jnp.zeros((28, 28)))
    with pytest.raises(ValueError, match=r"images has shape \(28, 28, 1\), expected \(batch"):
        batch(horizontal_flip, jax.random.key(0), jnp.zeros((28, 28, 1)))
    with pytest.raises(ValueError, match="method is 'nearest'"):
        random_resized_crop(jax.random.key(0), jnp.zeros((4, 4, 1)), method="nearest")


def test_simclr_augment_is_the_composed_pipeline():
    from jaxdl.data.augment import simclr_augment

    image = jax.random.uniform(jax.random.key(0), (28, 28, 1))
    ours = simclr_augment(crop_scale=(0.3, 1.0), jitter=0.4, jitter_p=0.8)
    jitter = partial(brightness_contrast, brightness=0.4, contrast=0.4)
    theirs = compose(
        partial(random_resized_crop, scale=(0.3, 1.0), method="cubic"),
        horizontal_flip,
        random_apply(jitter, 0.8),
    )
    key = jax.random.key(1)
    np.testing.assert_array_equal(ours(key, image), theirs(key, image))
    with pytest.raises(ValueError, match="crop_method is 'nearest'"):
        simclr_augment(crop_method="nearest")


def test_gallery_covers_the_module():
    from jaxdl.data.augment import gallery

    names = list(gallery(pipeline=lambda key, image: image, pipeline_name="mine"))
    assert names[0] == "random_affine" and names[-2:] == ["compose: mine\npipeline", "two_views"]
    assert len(gallery()) == 7


def torchvision_elastic_displacement(torch, noise, alpha, sigma):
    """torchvision v2 ``ElasticTransform``'s displacement, transcribed: ``(2, H, W)``
    noise (dx first, as torchvision draws it) -> grid_sample offsets in [-1, 1] units."""
    size = int(8 * sigma + 1)
    size += 1 - size % 2
    half = (size - 1) * 0.5
    x = torch.linspace(-half, half, size)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    kernel = (k[:, None] * k[None, :])[None, None]
    h, w = noise.shape[1:]
    padded = torch.nn.functional.pad(noise[:, None], [size // 2] * 4, mode="reflect")
    blurred = torch.nn.functional.conv2d(padded, kernel)[:, 0]
    return blurred[0] * alpha / h, blurred[1] * alpha / w  # dx / size[0], dy / size[1]


@pytest.mark.parametrize(("alpha", "sigma"), [(20.0, 6.0), (34.0, 4.0), (5.0, 1.3)])
def test_elastic_matches_torchvision_v2(alpha, sigma):
    """Same noise -> the same displacement as torchvision v2, and the same warp as its
    bilinear ``grid_sample`` (align_corners=False, zeros outside)."""
    torch = pytest.importorskip("torch")
    h = w = 28
    noise = torch.rand((2, h, w), generator=torch.Generator().manual_seed(0)) * 2 - 1
    tv_dx, tv_dy = torchvision_elastic_displacement(torch, noise, alpha, sigma)
    # jaxdl takes (rows, columns): dy first. Pixels = normalised offset * size / 2.
    ours = elastic_displacement(jnp.asarray(noise.numpy()[::-1]), alpha=alpha, sigma=sigma)
    np.testing.assert_allclose(ours[0], tv_dy.numpy() * h / 2, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(ours[1], tv_dx.numpy() * w / 2, atol=1e-5, rtol=1e-5)
    assert float(jnp.abs(ours).max()) > 0.05 * alpha / 2  # a real displacement

    image = torch.rand((1, 1, h, w), generator=torch.Generator().manual_seed(1))
    lin_x = torch.linspace((1 - w) / w, (w - 1) / w, w)  # torchvision's identity grid
    lin_y = torch.linspace((1 - h) / h, (h - 1) / h, h)
    grid = torch.stack(torch.meshgrid(lin_x, lin_y, indexing="xy"), -1)[None]
    grid = grid + torch.stack([tv_dx, tv_dy], -1)[None]
    warped = torch.nn.functional.grid_sample(
        image, grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    rr, cc = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    got = _resample(jnp.asarray(image.numpy()[0, 0, :, :, None]), rr + ours[0], cc + ours[1])
    np.testing.assert_allclose(got[..., 0], warped.numpy()[0, 0], atol=1e-5)


def test_elastic_convention_is_half_the_old_displacement():
    # Pinned: alpha moves pixels by alpha / 2 per unit of blurred noise (torchvision);
    # jaxdl used to move them by alpha. With no blur the noise is scaled as is.
    noise = jax.random.uniform(jax.random.key(0), (2, 5, 5), minval=-1, maxval=1)
    np.testing.assert_allclose(elastic_displacement(noise, alpha=20.0, sigma=0.0), 10.0 * noise)
    with pytest.raises(ValueError, match="sigma is -1.0, expected >= 0"):
        elastic_displacement(noise, alpha=1.0, sigma=-1.0)


@pytest.mark.parametrize(("alpha", "sigma"), [(20.0, 6.0), (50.0, 5.0)])
def test_elastic_matches_torchvision_itself(alpha, sigma):
    """torchvision v2's own ElasticTransform, when torchvision is installed: its
    displacement from the same torch noise, and its output image."""
    torch = pytest.importorskip("torch")
    v2 = pytest.importorskip("torchvision.transforms.v2")
    h = w = 28
    image = torch.rand((1, h, w), generator=torch.Generator().manual_seed(2))
    transform = v2.ElasticTransform(alpha=alpha, sigma=sigma)
    torch.manual_seed(0)
    params = transform.make_params([image])
    torch.manual_seed(0)  # the two draws make_params makes: dx, then dy
    u_x, u_y = (torch.rand([1, 1, h, w]) * 2 - 1 for _ in range(2))
    noise = jnp.asarray(np.stack([u_y.numpy()[0, 0], u_x.numpy()[0, 0]]))
    ours = elastic_displacement(noise, alpha=alpha, sigma=sigma)
    theirs = params["displacement"].numpy()[0]  # (H, W, 2): x then y, in [-1, 1] units
    np.testing.assert_allclose(ours[1], theirs[..., 0] * w / 2, atol=1e-5)
    np.testing.assert_allclose(ours[0], theirs[..., 1] * h / 2, atol=1e-5)
    rr, cc = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    got = np.asarray(
        _resample(jnp.asarray(image.numpy()[0, :, :, None]), rr + ours[0], cc + ours[1])
    )
    expected = transform.transform(image, params).numpy()[0]
    # torchvision multiplies by a resampled all-ones mask where it fills with 0, which
    # dims pixels sampled partly from outside; elsewhere the two are the same warp.
    inside = (
        (rr + ours[0] >= 0)
        & (rr + ours[0] <= h - 1)
        & (cc + ours[1] >= 0)
        & (cc + ours[1] <= w - 1)
    )
    assert float(np.mean(np.asarray(inside))) > 0.5  # most of the image is compared
    np.testing.assert_allclose(
        got[..., 0][np.asarray(inside)], expected[np.asarray(inside)], atol=1e-5
    )
