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

#: Rows per band of white noise (fields are drawn and painted band by band).
STRIP = 512


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

    def rng(self, name: str, scale_m: float = 0.0, part: int = 0) -> np.random.Generator:
        """Return a generator that depends only on the seed, ``name``, ``scale_m`` and ``part``."""
        key = [self.seed, zlib.crc32(name.encode()), int(round(scale_m * 1000)), int(part)]
        return np.random.default_rng(key)

    def field(self, name: str, scale_m: float, rows: tuple[int, int] | None = None) -> np.ndarray:
        """Zero-mean, unit-variance float32 noise with features of ``scale_m`` metres.

        Features several pixels wide come from a coarse lattice in metres
        (smoothly interpolated); smaller ones are filtered white noise at the
        pixel size, drawn per band of :data:`STRIP` rows. ``rows`` (start, stop)
        asks for a band of rows only (the same values as in the whole field
        when the band starts on a multiple of :data:`STRIP`).
        """
        h, w = self.shape
        r0, r1 = rows if rows is not None else (0, h)
        px = scale_m / self.gsd
        if px < 3.0:
            return np.concatenate(
                [
                    self._white(name, scale_m, px, a, min(a + STRIP, r1))
                    for a in range(r0 - r0 % STRIP, r1, STRIP)
                ]
            )[r0 % STRIP :][: r1 - r0]
        rng = self.rng(name, scale_m)
        ny = int(np.ceil(h * self.gsd / scale_m)) + 3
        nx = int(np.ceil(w * self.gsd / scale_m)) + 3
        coarse = rng.standard_normal((ny, nx)).astype(np.float32)
        coarse = gaussian_filter(coarse, sigma=0.6, mode="nearest")
        coarse /= max(float(coarse.std()), 1e-6)
        return _upsample(coarse, (h, w), self.gsd / scale_m, r0, r1)

    def _white(self, name: str, scale_m: float, px: float, a: int, b: int) -> np.ndarray:
        """Rows a..b of filtered white noise (own generator per band, unit variance)."""
        w = self.shape[1]
        sigma = px / 2.0 if px > 0.6 else 0.0
        halo = int(np.ceil(3 * sigma))
        out = self.rng(name, scale_m, a).standard_normal((b - a + 2 * halo, w), dtype=np.float32)
        if sigma > 0:
            out = gaussian_filter(out, sigma=sigma, mode="wrap")[halo : halo + b - a]
            x = np.arange(-halo, halo + 1, dtype=np.float64)
            k = np.exp(-0.5 * (x / sigma) ** 2)
            k /= k.sum()
            out /= np.float32((k * k).sum())  # std of separable filtered unit white noise
        return out

    def fbm(
        self,
        name: str,
        scales_m: tuple[float, ...],
        gains: tuple[float, ...],
        rows: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """Sum of fields at several scales (fractal noise), renormalised to unit variance."""
        r0, r1 = rows if rows is not None else (0, self.shape[0])
        out = np.zeros((r1 - r0, self.shape[1]), dtype=np.float32)
        total = 0.0
        for s, g in zip(scales_m, gains, strict=True):
            out += np.float32(g) * self.field(f"{name}:{s}", s, (r0, r1))
            total += g * g
        out /= np.float32(np.sqrt(total) if total > 0 else 1.0)
        return out


def _upsample(
    coarse: np.ndarray, shape: tuple[int, int], step: float, r0: int, r1: int
) -> np.ndarray:
    """Separable smoothstep interpolation of a lattice onto pixel centres (rows r0..r1).

    ``step`` is the pixel size in lattice units; lattice node 1 sits at the
    scene's top-left corner (node 0 is padding).
    """
    h, w = shape

    def axis(n: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
        f = (np.arange(start, n, dtype=np.float64) + 0.5) * step + 1.0
        i0 = np.floor(f).astype(np.intp)
        t = smoothstep(f - i0).astype(np.float32)
        return i0, t

    ix, tx = axis(w)
    iy, ty = axis(r1, r0)
    rows = coarse[:, ix] * (1.0 - tx) + coarse[:, ix + 1] * tx  # (ny, w)
    out = rows[iy] * (1.0 - ty)[:, None]
    out += rows[iy + 1] * ty[:, None]
    return out.astype(np.float32, copy=False)
