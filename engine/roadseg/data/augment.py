"""Augmentation: geometric transforms on image and mask together, photometric on the image.

Parameters are drawn per sample from the sample's own random generator
(:func:`sample_params`, a small float vector), so a sample's augmentation is the
same on any worker, rank or backend and after a resume. Two backends apply them:

* ``batch`` — :func:`apply_batch`: torch + kornia on a whole batch, on the
  training device (GPU, or CPU) after the batch is transferred;
* ``workers`` — :func:`apply_numpy`: numpy/scipy per sample inside the
  DataLoader workers.

Geometry (flips, 90° rotations, small rotation and scale, random crop = zoom
with a random offset) is one affine map per sample: the image is interpolated
bilinearly, the mask with nearest neighbour, and pixels coming from outside the
tile become the ignore index. Photometric changes (brightness, contrast,
saturation, hue, gamma, a per-band colour cast, a smooth illumination field for
shadow and uneven light, haze, greyscale, blur, noise) touch the image only; hue,
saturation and greyscale need at least three bands (the first three are taken as
RGB). Together they move imagery across sensors, seasons and palettes: pale desert
concrete, dark asphalt, hazy or shadowed scenes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import numpy as np
import torch

from roadseg.errors import ConfigError
from roadseg.options import check_range

IGNORE_INDEX = 255
N_PARAMS = 23
# Parameter vector layout.
(
    HFLIP,
    VFLIP,
    ROT90,
    ANGLE,
    SCALE,
    TX,
    TY,
    BRIGHT,
    CONTRAST,
    SAT,
    HUE,
    BLUR,
    NOISE,
    NOISE_SEED,
    GAMMA,
    CAST_R,
    CAST_G,
    CAST_B,
    HAZE,
    HAZE_LEVEL,
    GRAY,
    SHADOW,
    SHADOW_SEED,
) = range(N_PARAMS)
#: Side of the coarse random grid of an illumination (shadow) field.
SHADOW_GRID = 5

Backend = Literal["auto", "batch", "workers"]


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation settings (config section ``augment:``); 0 turns an item off.

    Attributes:
        enabled: Master switch.
        backend: ``batch`` (torch/kornia on the device), ``workers`` (numpy in the
            DataLoader workers) or ``auto`` (batch on GPU; on CPU the faster one
            measured by ``bench/bench_train.py``: workers).
        hflip: Probability of a horizontal flip.
        vflip: Probability of a vertical flip.
        rot90: Probability of a random multiple of 90°.
        affine_p: Probability of the small rotation/scale/crop below.
        rotate_deg: Maximum absolute rotation in degrees.
        scale: (min, max) zoom factor (>1 zooms in), log-uniform.
        crop: Random offset of a zoomed-in window (a random resized crop).
        color_p: Probability of the brightness/contrast/saturation/hue change.
        brightness: Maximum absolute brightness shift (image in [0, 1]).
        contrast: Maximum relative contrast change.
        saturation: Maximum relative saturation change.
        hue: Maximum hue shift as a fraction of the colour circle.
        blur_p: Probability of a Gaussian blur.
        blur_sigma: (min, max) blur sigma in pixels.
        noise_p: Probability of Gaussian noise.
        noise_std: Maximum noise standard deviation.
        gamma_p: Probability of a gamma change.
        gamma: Largest gamma factor (gamma drawn log-uniformly in [1/gamma, gamma]).
        cast_p: Probability of a colour cast (an independent gain per band).
        cast: Largest relative gain change per band.
        haze_p: Probability of haze (a blend towards a bright grey).
        haze: Largest haze blend weight.
        gray_p: Probability of turning the RGB bands grey.
        shadow_p: Probability of a smooth illumination field (shadows, uneven light).
        shadow: Largest darkening of that field (0.5: down to half the light).

    """

    enabled: bool = True
    backend: Backend = "auto"
    hflip: float = 0.5
    vflip: float = 0.5
    rot90: float = 0.5
    affine_p: float = 0.3
    rotate_deg: float = 10.0
    scale: tuple[float, float] = (0.9, 1.25)
    crop: bool = True
    color_p: float = 0.8
    brightness: float = 0.1
    contrast: float = 0.2
    saturation: float = 0.2
    hue: float = 0.03
    blur_p: float = 0.1
    blur_sigma: tuple[float, float] = field(default=(0.3, 1.2))
    noise_p: float = 0.1
    noise_std: float = 0.03
    gamma_p: float = 0.3
    gamma: float = 1.5
    cast_p: float = 0.3
    cast: float = 0.12
    haze_p: float = 0.1
    haze: float = 0.35
    gray_p: float = 0.05
    shadow_p: float = 0.2
    shadow: float = 0.45

    def __post_init__(self) -> None:
        for f in (
            "hflip",
            "vflip",
            "rot90",
            "affine_p",
            "color_p",
            "blur_p",
            "noise_p",
            "gamma_p",
            "cast_p",
            "haze_p",
            "gray_p",
            "shadow_p",
        ):
            check_range(f"augment.{f}", getattr(self, f), 0, 1, unit="(a probability)", example=0.5)
        if self.backend not in ("auto", "batch", "workers"):
            raise ConfigError(
                f"`augment.backend` must be auto, batch or workers, got {self.backend!r}",
                param="augment.backend",
                value=self.backend,
                hint="e.g. `augment.backend` auto",
            )
        check_range("augment.gamma", self.gamma, 1, 10, example=1.5)
        for f in ("cast", "haze", "shadow"):
            check_range(f"augment.{f}", getattr(self, f), 0, 1, high_open=True, example=0.2)
        for f in ("rotate_deg", "brightness", "contrast", "saturation", "hue", "noise_std"):
            check_range(f"augment.{f}", getattr(self, f), 0, example=0.1)
        for f in ("scale", "blur_sigma"):
            v = getattr(self, f)
            if len(v) != 2 or not 0 < v[0] <= v[1] or not all(math.isfinite(x) for x in v):
                raise ConfigError(
                    f"`augment.{f}` must be [min, max] with 0 < min <= max, got {list(v)}",
                    param=f"augment.{f}",
                    value=list(v),
                    hint=f"e.g. `augment.{f}` [0.9, 1.25]",
                )

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> AugmentConfig:
        """Build from a config section; unknown keys are an error naming the valid ones."""
        d = dict(d or {})
        names = {f.name for f in fields(cls)}
        bad = sorted(set(d) - names)
        if bad:
            raise ConfigError(f"unknown augment key(s) {bad}; valid: {', '.join(sorted(names))}")
        for k in ("scale", "blur_sigma"):
            if k in d:
                d[k] = tuple(float(v) for v in d[k])
        return cls(**d)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for the run's config.yaml)."""
        d = asdict(self)
        d["scale"] = list(self.scale)
        d["blur_sigma"] = list(self.blur_sigma)
        return d


def identity_params() -> np.ndarray:
    """The parameter vector that changes nothing."""
    p = np.zeros(N_PARAMS, dtype=np.float64)
    p[SCALE] = p[CONTRAST] = p[SAT] = p[GAMMA] = 1.0
    p[CAST_R] = p[CAST_G] = p[CAST_B] = 1.0
    return p


def sample_params(cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Draw one sample's augmentation parameters."""
    p = identity_params()
    if not cfg.enabled:
        return p
    p[HFLIP] = float(rng.random() < cfg.hflip)
    p[VFLIP] = float(rng.random() < cfg.vflip)
    p[ROT90] = float(rng.integers(1, 4)) if rng.random() < cfg.rot90 else 0.0
    if rng.random() < cfg.affine_p:
        p[ANGLE] = rng.uniform(-cfg.rotate_deg, cfg.rotate_deg)
        lo, hi = cfg.scale
        s = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        p[SCALE] = s
        if cfg.crop and s > 1:
            m = 1.0 - 1.0 / s
            p[TX], p[TY] = rng.uniform(-m, m, 2)
    if rng.random() < cfg.color_p:
        p[BRIGHT] = rng.uniform(-cfg.brightness, cfg.brightness)
        p[CONTRAST] = rng.uniform(1 - cfg.contrast, 1 + cfg.contrast)
        p[SAT] = rng.uniform(1 - cfg.saturation, 1 + cfg.saturation)
        p[HUE] = rng.uniform(-cfg.hue, cfg.hue)
    if rng.random() < cfg.blur_p:
        p[BLUR] = rng.uniform(*cfg.blur_sigma)
    if rng.random() < cfg.noise_p:
        p[NOISE] = rng.uniform(0, cfg.noise_std)
        p[NOISE_SEED] = float(rng.integers(2**31))
    # Drawn after the older parameters so their draws are unchanged.
    if rng.random() < cfg.gamma_p:
        p[GAMMA] = math.exp(rng.uniform(-math.log(cfg.gamma), math.log(cfg.gamma)))
    if rng.random() < cfg.cast_p:
        p[CAST_R : CAST_B + 1] = rng.uniform(1 - cfg.cast, 1 + cfg.cast, 3)
    if rng.random() < cfg.haze_p:
        p[HAZE] = rng.uniform(0, cfg.haze)
        p[HAZE_LEVEL] = rng.uniform(0.65, 1.0)
    if rng.random() < cfg.gray_p:
        p[GRAY] = 1.0
    if rng.random() < cfg.shadow_p:
        p[SHADOW] = rng.uniform(0.1 * cfg.shadow, cfg.shadow)
        p[SHADOW_SEED] = float(rng.integers(2**31))
    return p


def illumination_field(p: np.ndarray, h: int, w: int) -> np.ndarray:
    """The smooth multiplicative light field of a sample (H, W) float32 in [1 − shadow, 1].

    A coarse grid of random values interpolated bilinearly: broad shadows and uneven
    light, the same in both backends.

    >>> q = identity_params(); q[SHADOW] = 0.5; q[SHADOW_SEED] = 3
    >>> f = illumination_field(q, 64, 64); bool(f.min() >= 0.5 and f.max() <= 1.0)
    True
    """
    rng = np.random.default_rng(int(p[SHADOW_SEED]))
    coarse = rng.random((SHADOW_GRID, SHADOW_GRID))
    ys = np.linspace(0, SHADOW_GRID - 1, h)
    xs = np.linspace(0, SHADOW_GRID - 1, w)
    rows = np.stack([np.interp(xs, np.arange(SHADOW_GRID), r) for r in coarse])
    full = np.stack([np.interp(ys, np.arange(SHADOW_GRID), rows[:, j]) for j in range(w)], axis=1)
    return (1.0 - p[SHADOW] * full).astype(np.float32)


def _has_tone(p: np.ndarray) -> bool:
    return bool(
        p[GAMMA] != 1.0
        or np.any(p[CAST_R : CAST_B + 1] != 1.0)
        or p[HAZE] > 0
        or p[GRAY] > 0
        or p[SHADOW] > 0
    )


def _tone_numpy(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Gamma, colour cast, illumination field, haze and greyscale on one (C, H, W) image."""
    if not _has_tone(p):
        return x
    x = x.astype(np.float32, copy=True)
    if p[GAMMA] != 1.0:
        np.power(np.clip(x, 0, 1), np.float32(p[GAMMA]), out=x)
    c = x.shape[0]
    gains = np.ones(c, dtype=np.float32)
    gains[: min(3, c)] = p[CAST_R : CAST_R + min(3, c)]
    x *= gains[:, None, None]
    if p[SHADOW] > 0:
        x *= illumination_field(p, x.shape[1], x.shape[2])[None]
    if p[HAZE] > 0:
        x = x * np.float32(1 - p[HAZE]) + np.float32(p[HAZE] * p[HAZE_LEVEL])
    if p[GRAY] > 0 and c >= 3:
        y = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
        x[:3] = y[None]
    return np.clip(x, 0, 1)


def _tone_batch(x: torch.Tensor, p: np.ndarray) -> torch.Tensor:
    """Batch version of :func:`_tone_numpy` (same formulas)."""
    todo = [i for i in range(x.shape[0]) if _has_tone(p[i])]
    if not todo:
        return x
    x = x.clone()
    for i in todo:
        xi = x[i]
        q = p[i]
        if q[GAMMA] != 1.0:
            xi = xi.clamp(0, 1) ** float(q[GAMMA])
        c = xi.shape[0]
        gains = torch.ones(c, dtype=xi.dtype, device=xi.device)
        gains[: min(3, c)] = torch.as_tensor(q[CAST_R : CAST_R + min(3, c)], dtype=xi.dtype)
        xi = xi * gains.view(c, 1, 1)
        if q[SHADOW] > 0:
            field = illumination_field(q, xi.shape[1], xi.shape[2])
            xi = xi * torch.from_numpy(field).to(xi.device)[None]
        if q[HAZE] > 0:
            xi = xi * float(1 - q[HAZE]) + float(q[HAZE] * q[HAZE_LEVEL])
        if q[GRAY] > 0 and c >= 3:
            y = 0.299 * xi[0] + 0.587 * xi[1] + 0.114 * xi[2]
            xi = torch.cat([y.expand(3, *y.shape), xi[3:]], dim=0)
        x[i] = xi.clamp(0, 1)
    return x


def affine_matrix(p: np.ndarray) -> np.ndarray:
    """2×3 map from output to input normalised coordinates ``[-1, 1]`` (x, y), as affine_grid wants.

    >>> m = identity_params(); m[HFLIP] = 1
    >>> affine_matrix(m).tolist()
    [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    f = np.diag([-1.0 if p[HFLIP] else 1.0, -1.0 if p[VFLIP] else 1.0])
    r90 = np.linalg.matrix_power(np.array([[0.0, -1.0], [1.0, 0.0]]), int(p[ROT90]) % 4)
    a = math.radians(p[ANGLE])
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]) / p[SCALE]
    m = rot @ r90 @ f
    m[np.abs(m) < 1e-12] = 0.0
    return np.column_stack([m, [p[TX], p[TY]]])


def _is_identity_geometry(p: np.ndarray) -> bool:
    return not (p[HFLIP] or p[VFLIP] or p[ROT90] or p[ANGLE] or p[TX] or p[TY]) and p[SCALE] == 1.0


# --------------------------------------------------------------------------- batch (torch/kornia)
def apply_batch(
    images: torch.Tensor, masks: torch.Tensor, params: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a batch on its device.

    Args:
        images: (B,C,H,W) float in [0, 1].
        masks: (B,H,W) class ids (255 = ignore).
        params: (B,14) parameters from :func:`sample_params`.

    """
    import torch.nn.functional as F

    p = params.detach().to("cpu", torch.float64).numpy()
    b, c, h, w = images.shape
    images = images.float()
    geo = [i for i in range(b) if not _is_identity_geometry(p[i])]
    if geo:
        theta = torch.as_tensor(
            np.stack([affine_matrix(p[i]) for i in geo]), dtype=torch.float32, device=images.device
        )
        grid = F.affine_grid(theta, [len(geo), c, h, w], align_corners=False)
        images = images.clone()
        images[geo] = F.grid_sample(
            images[geo], grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        m1 = (masks[geo].float() + 1.0).unsqueeze(1)
        warped = F.grid_sample(m1, grid, mode="nearest", padding_mode="zeros", align_corners=False)[
            :, 0
        ]
        warped = torch.where(warped < 0.5, torch.full_like(warped, IGNORE_INDEX + 1), warped) - 1.0
        masks = masks.clone()
        masks[geo] = warped.round().to(masks.dtype)
    return _photometric_batch(images, p), masks


def _photometric_batch(x: torch.Tensor, p: np.ndarray) -> torch.Tensor:
    from kornia.enhance import adjust_hue, adjust_saturation
    from kornia.filters import gaussian_blur2d

    dev = x.device
    b, c = x.shape[:2]
    bright = torch.as_tensor(p[:, BRIGHT], dtype=torch.float32, device=dev).view(b, 1, 1, 1)
    contr = torch.as_tensor(p[:, CONTRAST], dtype=torch.float32, device=dev).view(b, 1, 1, 1)
    if np.any(p[:, CONTRAST] != 1.0) or np.any(p[:, BRIGHT] != 0.0):
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - mean) * contr + mean + bright).clamp_(0, 1)
    if c >= 3 and (np.any(p[:, SAT] != 1.0) or np.any(p[:, HUE] != 0.0)):
        rgb = x[:, :3]
        rgb = adjust_saturation(rgb, torch.as_tensor(p[:, SAT], dtype=torch.float32, device=dev))
        rgb = adjust_hue(
            rgb, torch.as_tensor(p[:, HUE] * 2 * math.pi, dtype=torch.float32, device=dev)
        )
        x = torch.cat([rgb.clamp(0, 1), x[:, 3:]], dim=1)
    x = _tone_batch(x, p)
    blur = np.flatnonzero(p[:, BLUR] > 0)
    if blur.size:
        s = torch.as_tensor(p[blur, BLUR], dtype=torch.float32, device=dev)
        k = 2 * int(math.ceil(3 * float(p[blur, BLUR].max()))) + 1
        x = x.clone()
        x[blur] = gaussian_blur2d(x[blur], (k, k), torch.stack([s, s], dim=1))
    noisy = np.flatnonzero(p[:, NOISE] > 0)
    for i in noisy:
        g = torch.Generator(device=dev).manual_seed(int(p[i, NOISE_SEED]))
        n = torch.randn(x.shape[1:], generator=g, device=dev) * float(p[i, NOISE])
        x[i] = (x[i] + n).clamp_(0, 1)
    return x


# --------------------------------------------------------------------------- per sample (numpy)
def apply_numpy(
    image: np.ndarray, mask: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Augment one sample in numpy: image (C,H,W) float32 in [0,1], mask (H,W) uint8."""
    if not _is_identity_geometry(p):
        image, mask = _warp_numpy(image, mask, affine_matrix(p))
    return _photometric_numpy(image, p), mask


def _warp_numpy(
    image: np.ndarray, mask: np.ndarray, theta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    from scipy import ndimage

    c, h, w = image.shape
    # Normalised (align_corners=False) → pixel coordinates: in = A·out + (ctr − A·ctr + t·size/2).
    a = theta[:, :2] * np.array([[1.0, w / h], [h / w, 1.0]])
    ctr = np.array([(w - 1) / 2, (h - 1) / 2])
    off = ctr - a @ ctr + theta[:, 2] * np.array([w / 2, h / 2])
    is_perm = np.allclose(np.abs(a), np.round(np.abs(a))) and np.allclose(off, np.round(off))
    if is_perm:
        ys, xs = np.mgrid[0:h, 0:w]
        xi = np.rint(a[0, 0] * xs + a[0, 1] * ys + off[0]).astype(np.intp)
        yi = np.rint(a[1, 0] * xs + a[1, 1] * ys + off[1]).astype(np.intp)
        return np.ascontiguousarray(image[:, yi, xi]), np.ascontiguousarray(mask[yi, xi])
    # scipy works in (row, col): swap the axes of the map.
    m_rc = a[::-1, ::-1]
    off_rc = off[::-1]
    out = np.empty_like(image)
    for i in range(c):
        ndimage.affine_transform(
            image[i], m_rc, off_rc, output=out[i], order=1, mode="grid-constant", cval=0.0
        )
    # ndimage's nearest rounds half up; masks of small integers warp exactly.
    m = ndimage.affine_transform(
        mask, m_rc, off_rc, order=0, mode="grid-constant", cval=IGNORE_INDEX, prefilter=False
    )
    return out, m


def _photometric_numpy(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    if p[CONTRAST] != 1.0 or p[BRIGHT] != 0.0:
        mean = x.mean(dtype=np.float64)
        x = np.clip((x - mean) * p[CONTRAST] + mean + p[BRIGHT], 0, 1).astype(np.float32)
    if x.shape[0] >= 3 and (p[SAT] != 1.0 or p[HUE] != 0.0):
        from skimage.color import hsv2rgb, rgb2hsv

        hsv = rgb2hsv(np.moveaxis(x[:3], 0, -1))
        hsv[..., 0] = (hsv[..., 0] + p[HUE]) % 1.0
        hsv[..., 1] = np.clip(hsv[..., 1] * p[SAT], 0, 1)
        rgb = np.moveaxis(hsv2rgb(hsv), -1, 0).astype(np.float32)
        x = np.concatenate([np.clip(rgb, 0, 1), x[3:]], axis=0)
    x = _tone_numpy(x, p)
    if p[BLUR] > 0:
        from scipy import ndimage

        x = ndimage.gaussian_filter(x, sigma=(0, p[BLUR], p[BLUR]), mode="reflect", truncate=3.0)
    if p[NOISE] > 0:
        rng = np.random.default_rng(int(p[NOISE_SEED]))
        x = np.clip(x + rng.normal(0, p[NOISE], x.shape).astype(np.float32), 0, 1)
    return x.astype(np.float32, copy=False)
