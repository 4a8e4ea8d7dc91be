"""Deterministic noise fields defined in metres (pure numpy/scipy).

Every field is drawn from its own generator seeded by (scene seed, field name,
scale), so fields do not depend on the order they are asked for, and a field
whose features are larger than a few pixels is the same on the ground whatever
the pixel size: the same scene rendered at 0.3 m and 0.6 m has the same
blotches in the same places.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy.ndimage import gaussian_filter


def smoothstep(t: np.ndarray) -> np.ndarray:
    """Cubic ease curve 3t² − 2t³ on [0, 1].

    >>> smoothstep(np.array([0.0, 0.5, 1.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    return t * t * (3.0 - 2.0 * t)


def sigmoid(x: np.ndarray, k: float = 1.0) -> np.ndarray:
    """Logistic curve 1 / (1 + exp(−k·x)) in float32.

    >>> float(sigmoid(np.zeros(1))[0])
    0.5
    """
    return (1.0 / (1.0 + np.exp(-k * np.asarray(x, dtype=np.float32)))).astype(np.float32)


class NoiseFactory:
    """Make noise fields for one scene (``shape`` pixels of ``gsd`` metres).

    Args:
        seed: Scene seed.
        shape: (height, width) in pixels.
        gsd: Pixel size in metres.
    """

    def __init__(self, seed: int, shape: tuple[int, int], gsd: float) -> None:
        self.seed = int(seed)
        self.shape = (int(shape[0]), int(shape[1]))
        self.gsd = float(gsd)

    def rng(self, name: str, scale_m: float = 0.0) -> np.random.Generator:
        """A generator that depends only on the seed, ``name`` and ``scale_m``."""
        key = [self.seed, zlib.crc32(name.encode()), int(round(scale_m * 1000))]
        return np.random.default_rng(key)

    def field(self, name: str, scale_m: float) -> np.ndarray:
        """Zero-mean, unit-variance float32 noise with features of ``scale_m`` metres.

        Features several pixels wide come from a coarse lattice in metres
        (smoothly interpolated); smaller ones are filtered white noise at the
        pixel size.
        """
        h, w = self.shape
        px = scale_m / self.gsd
        rng = self.rng(name, scale_m)
        if px < 3.0:
            out = rng.standard_normal((h, w), dtype=np.float32)
            if px > 0.6:
                out = gaussian_filter(out, sigma=px / 2.0, mode="wrap")
                out /= max(float(out.std()), 1e-6)
            return out
        ny = int(np.ceil(h * self.gsd / scale_m)) + 3
        nx = int(np.ceil(w * self.gsd / scale_m)) + 3
        coarse = rng.standard_normal((ny, nx)).astype(np.float32)
        coarse = gaussian_filter(coarse, sigma=0.6, mode="nearest")
        coarse /= max(float(coarse.std()), 1e-6)
        return _upsample(coarse, (h, w), self.gsd / scale_m)

    def fbm(self, name: str, scales_m: tuple[float, ...], gains: tuple[float, ...]) -> np.ndarray:
        """Sum of fields at several scales (fractal noise), renormalised to unit variance."""
        out = np.zeros(self.shape, dtype=np.float32)
        total = 0.0
        for s, g in zip(scales_m, gains, strict=True):
            out += np.float32(g) * self.field(f"{name}:{s}", s)
            total += g * g
        out /= np.float32(np.sqrt(total) if total > 0 else 1.0)
        return out


def _upsample(coarse: np.ndarray, shape: tuple[int, int], step: float) -> np.ndarray:
    """Separable smoothstep interpolation of a lattice onto pixel centres.

    ``step`` is the pixel size in lattice units; lattice node 1 sits at the
    scene's top-left corner (node 0 is padding).
    """
    h, w = shape

    def axis(n: int) -> tuple[np.ndarray, np.ndarray]:
        f = (np.arange(n, dtype=np.float64) + 0.5) * step + 1.0
        i0 = np.floor(f).astype(np.intp)
        t = smoothstep(f - i0).astype(np.float32)
        return i0, t

    ix, tx = axis(w)
    iy, ty = axis(h)
    rows = coarse[:, ix] * (1.0 - tx) + coarse[:, ix + 1] * tx  # (ny, w)
    out = rows[iy] * (1.0 - ty)[:, None]
    out += rows[iy + 1] * ty[:, None]
    return out.astype(np.float32, copy=False)
