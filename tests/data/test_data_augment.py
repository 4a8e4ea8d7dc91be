"""Augmentation: image and mask stay aligned, masks use nearest + ignore fill, backends agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from roadseg.data.augment import (
    ANGLE,
    BLUR,
    BRIGHT,
    HFLIP,
    NOISE,
    ROT90,
    SCALE,
    TX,
    VFLIP,
    AugmentConfig,
    apply_batch,
    apply_numpy,
    identity_params,
    sample_params,
)
from roadseg.errors import ConfigError

TONE_OFF = {"gamma_p": 0, "cast_p": 0, "haze_p": 0, "gray_p": 0, "shadow_p": 0}
GEOMETRY_ONLY = AugmentConfig(
    color_p=0, blur_p=0, noise_p=0, affine_p=1.0, rotate_deg=20, scale=(0.8, 1.3), **TONE_OFF
)


def _encoded(n=4, size=64, seed=0):
    """Masks of blocky classes and images whose band 0 encodes the mask value (value / 10)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 4, (n, size // 8, size // 8))
    masks = np.kron(coarse, np.ones((8, 8), dtype=np.int64)).astype(np.uint8)
    images = np.stack(
        [np.stack([m / 10.0, rng.random(m.shape), rng.random(m.shape)]) for m in masks]
    ).astype(np.float32)
    return images, masks


def _decode(image: np.ndarray) -> np.ndarray:
    return np.rint(image[0] * 10).astype(np.int64)


def test_flips_and_rot90_exactly_aligned():
    images, masks = _encoded()
    params = np.stack([identity_params() for _ in range(4)])
    params[0, HFLIP] = 1
    params[1, VFLIP] = 1
    params[2, ROT90] = 1
    params[3, [HFLIP, ROT90]] = [1, 3]
    im, mk = apply_batch(
        torch.from_numpy(images), torch.from_numpy(masks).long(), torch.from_numpy(params)
    )
    assert torch.equal(mk[0], torch.from_numpy(masks[0]).long().flip(-1))
    assert torch.equal(mk[1], torch.from_numpy(masks[1]).long().flip(-2))
    for i in range(4):
        assert np.array_equal(_decode(im[i].numpy()), mk[i].numpy())
        # numpy backend: the same result
        ni, nm = apply_numpy(images[i], masks[i], params[i])
        assert np.array_equal(nm, mk[i].numpy())
        assert np.allclose(ni, im[i].numpy(), atol=1e-5)


@pytest.mark.parametrize("backend", ["batch", "numpy"])
def test_random_geometry_keeps_alignment_and_fills_ignore(backend):
    images, masks = _encoded(n=8, seed=1)
    rng = np.random.default_rng(2)
    params = np.stack([sample_params(GEOMETRY_ONLY, rng) for _ in range(8)])
    params[0, [ANGLE, SCALE, TX]] = [0.0, 0.7, 0.0]  # zoom out: borders come from outside the tile
    if backend == "batch":
        im, mk = apply_batch(
            torch.from_numpy(images), torch.from_numpy(masks).long(), torch.from_numpy(params)
        )
        im, mk = im.numpy(), mk.numpy()
    else:
        pairs = [apply_numpy(images[i], masks[i], params[i]) for i in range(8)]
        im, mk = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
    assert (mk[0][:2] == 255).all() and (mk[0][:, -2:] == 255).all()
    for i in range(8):
        valid = mk[i] != 255
        assert set(np.unique(mk[i][valid])) <= {0, 1, 2, 3}  # nearest: no blended class values
        agree = (_decode(im[i]) == mk[i])[valid].mean()
        assert agree > 0.9, (i, agree)  # only block edges differ (bilinear image vs nearest mask)


def test_backends_agree_on_random_geometry():
    images, masks = _encoded(n=6, seed=3)
    rng = np.random.default_rng(4)
    params = np.stack([sample_params(GEOMETRY_ONLY, rng) for _ in range(6)])
    im, mk = apply_batch(
        torch.from_numpy(images), torch.from_numpy(masks).long(), torch.from_numpy(params)
    )
    for i in range(6):
        ni, nm = apply_numpy(images[i], masks[i], params[i])
        assert (nm == mk[i].numpy()).mean() > 0.999
        assert np.allclose(ni, im[i].numpy(), atol=1e-4)


def test_photometric_changes_image_only():
    images, masks = _encoded(n=3, seed=5)
    params = np.stack([identity_params() for _ in range(3)])
    params[0, BRIGHT] = 0.1
    params[1, BLUR] = 1.0
    params[2, [NOISE, NOISE + 1]] = [0.05, 123]
    for p, img, m in zip(params, images, masks, strict=True):
        ni, nm = apply_numpy(img, m, p)
        assert np.array_equal(nm, m) and not np.allclose(ni, img)
    im, mk = apply_batch(
        torch.from_numpy(images), torch.from_numpy(masks).long(), torch.from_numpy(params)
    )
    assert torch.equal(mk, torch.from_numpy(masks).long())
    assert not torch.allclose(im, torch.from_numpy(images))
    assert float(im.min()) >= 0 and float(im.max()) <= 1


def test_everything_can_be_switched_off():
    rng = np.random.default_rng(0)
    assert np.array_equal(sample_params(AugmentConfig(enabled=False), rng), identity_params())
    off = AugmentConfig(
        hflip=0,
        vflip=0,
        rot90=0,
        affine_p=0,
        color_p=0,
        blur_p=0,
        noise_p=0,
        gamma_p=0,
        cast_p=0,
        haze_p=0,
        gray_p=0,
        shadow_p=0,
    )
    for _ in range(20):
        assert np.array_equal(sample_params(off, rng), identity_params())


def test_config_validation():
    with pytest.raises(ConfigError, match="probability"):
        AugmentConfig(hflip=2)
    with pytest.raises(ConfigError, match="valid: "):
        AugmentConfig.from_dict({"flip": 0.5})
    assert AugmentConfig.from_dict({"scale": [0.5, 2]}).scale == (0.5, 2.0)


@pytest.mark.parametrize("which", ["gamma", "cast", "haze", "gray", "shadow"])
def test_tone_changes_image_only_and_backends_agree(which):
    """Gamma, colour cast, haze, greyscale and illumination: image only, both backends alike."""
    images, masks = _encoded(n=2, seed=9)
    only = {**TONE_OFF, f"{which}_p": 1.0}
    cfg = AugmentConfig(
        hflip=0, vflip=0, rot90=0, affine_p=0, color_p=0, blur_p=0, noise_p=0, **only
    )
    rng = np.random.default_rng(3)
    params = np.stack([sample_params(cfg, rng) for _ in range(2)])
    outs = []
    for p, img, m in zip(params, images, masks, strict=True):
        ni, nm = apply_numpy(img, m, p)
        assert np.array_equal(nm, m) and not np.allclose(ni, img)
        assert ni.min() >= 0 and ni.max() <= 1
        outs.append(ni)
    im, mk = apply_batch(
        torch.from_numpy(images), torch.from_numpy(masks).long(), torch.from_numpy(params)
    )
    assert torch.equal(mk, torch.from_numpy(masks).long())
    np.testing.assert_allclose(im.numpy(), np.stack(outs), atol=1e-5)
