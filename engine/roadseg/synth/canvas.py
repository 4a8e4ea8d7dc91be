"""Rasterising scene geometry (metres) onto the pixel grid, and blending colours.

The image is kept as a float32 array of shape (3, H·W) in 0–255 so that any
set of pixels, given by flat indexes, can be read and written at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import shapely
from affine import Affine
from rasterio.enums import MergeAlg
from rasterio.features import rasterize
from shapely.geometry.base import BaseGeometry


class Canvas:
    """A pixel grid of ``shape`` pixels of ``gsd`` metres over scene metres (y down).

    Args:
        shape: (height, width) in pixels.
        gsd: Pixel size in metres.

    """

    def __init__(self, shape: tuple[int, int], gsd: float) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self.gsd = float(gsd)
        self.transform = Affine(self.gsd, 0.0, 0.0, 0.0, self.gsd, 0.0)
        self.size = self.shape[0] * self.shape[1]

    def _geoms(self, geoms: Iterable[BaseGeometry]) -> list[BaseGeometry]:
        return [g for g in geoms if g is not None and not g.is_empty]

    def mask(self, geoms: Iterable[BaseGeometry], all_touched: bool = False) -> np.ndarray:
        """Flat bool mask (H·W) of pixels whose centre lies in any of ``geoms``."""
        gs = self._geoms(geoms)
        if not gs:
            return np.zeros(self.size, dtype=bool)
        out = rasterize(
            ((g, 1) for g in gs),
            out_shape=self.shape,
            transform=self.transform,
            dtype="uint8",
            all_touched=all_touched,
        )
        return out.reshape(-1).view(bool)

    def ids(self, geoms: Sequence[BaseGeometry | None]) -> np.ndarray:
        """Flat int32 image: 1 + index of the last geometry covering each pixel, 0 elsewhere."""
        pairs = [(g, i + 1) for i, g in enumerate(geoms) if g is not None and not g.is_empty]
        if not pairs:
            return np.zeros(self.size, dtype=np.int32)
        out = rasterize(pairs, out_shape=self.shape, transform=self.transform, dtype="int32")
        return out.reshape(-1)

    def count(self, geoms: Iterable[BaseGeometry]) -> np.ndarray:
        """Flat uint8 image: how many of ``geoms`` cover each pixel."""
        gs = self._geoms(geoms)
        if not gs:
            return np.zeros(self.size, dtype=np.uint8)
        out = rasterize(
            ((g, 1) for g in gs),
            out_shape=self.shape,
            transform=self.transform,
            dtype="uint8",
            merge_alg=MergeAlg.add,
        )
        return out.reshape(-1)

    def xy(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scene coordinates (m, float64) of the centres of flat pixel indexes."""
        r, c = np.divmod(idx, self.shape[1])
        return (c + 0.5) * self.gsd, (r + 0.5) * self.gsd

    def line_pixels(
        self, geoms: Iterable[BaseGeometry], width_m: float
    ) -> tuple[np.ndarray, float]:
        """Pixels of painted lines ``width_m`` wide, and their coverage (0–1).

        Lines at least a pixel wide are rasterised as their buffer (coverage 1);
        thinner ones as one-pixel lines whose coverage is their width in pixels.
        """
        gs = self._geoms(geoms)
        if width_m >= self.gsd:
            m = self.mask([shapely.buffer(g, width_m / 2.0, cap_style="flat") for g in gs])
            return np.flatnonzero(m), 1.0
        return np.flatnonzero(self.mask(gs)), width_m / self.gsd


#: Pixels handled at once by per-pixel shading (bounds the memory of big scenes).
CHUNK = 1 << 19


def chunks(ids: np.ndarray, step: int = CHUNK) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(flat indexes, ids − 1) of the covered pixels of a flat id image, a chunk at a time.

    >>> [(i.tolist(), k.tolist()) for i, k in chunks(np.array([0, 2, 0, 1]), step=2)]
    [([1], [1]), ([3], [0])]
    """
    for a in range(0, ids.size, step):
        sub = ids[a : a + step]
        loc = np.flatnonzero(sub)
        if len(loc):
            yield loc + a, sub[loc] - 1


def blend(
    img: np.ndarray,
    idx: np.ndarray,
    colour: np.ndarray | Sequence[float],
    alpha: np.ndarray | float,
) -> None:
    """Blend ``colour`` over the pixels ``idx`` of ``img`` (3, N) with opacity ``alpha``.

    ``colour`` is an RGB triple or an array (3, len(idx)); ``alpha`` a scalar or (len(idx),).
    Works in chunks so that temporaries stay small.
    """
    col = np.asarray(colour, dtype=np.float32)
    if col.ndim == 1:
        col = col[:, None]
    a = np.asarray(alpha, dtype=np.float32)
    for c0 in range(0, len(idx), CHUNK):
        sl = slice(c0, c0 + CHUNK)
        i = idx[sl]
        cur = img[:, i]
        cc = col[:, sl] if col.shape[1] > 1 else col
        aa = a[sl] if a.ndim else a
        img[:, i] = cur + (cc - cur) * aa


def darken(
    img: np.ndarray,
    idx: np.ndarray,
    factor: np.ndarray | Sequence[float],
    alpha: np.ndarray | float,
) -> None:
    """Multiply the pixels ``idx`` by ``factor`` (RGB) with opacity ``alpha`` (chunked)."""
    f = 1.0 - np.asarray(factor, dtype=np.float32).reshape(3, 1)
    a = np.asarray(alpha, dtype=np.float32)
    for c0 in range(0, len(idx), CHUNK):
        sl = slice(c0, c0 + CHUNK)
        i = idx[sl]
        img[:, i] = img[:, i] * (1.0 - f * (a[sl] if a.ndim else a))
