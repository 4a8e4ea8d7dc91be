"""Undeclared no-data fill: large areas of pure black or pure white that are not imagery.

Orthophoto tiles and mosaics often pad the area they do not cover with black (0) or,
like the Massachusetts Roads tiles, white (255) pixels without declaring a nodata value,
an alpha band or a mask. The network has never been taught what the border of such a
fill looks like and traces "roads" along it (measured on a Massachusetts tile: 3.3 of its
9.7 km of centrelines ran along the white fill and the raster's edge inside it). When a
raster declares no nodata, alpha or mask, prediction treats as nodata every pixel that
belongs to a square of :data:`FILL_SIZE_M` metres a side in which every band is 0, or
every band is the largest value of an 8-bit raster (255): a morphological opening of the
"pure" pixels. Real imagery rarely holds a 32 m square of exactly saturated or exactly
black pixels in all bands; a smaller patch (a white roof, a shadow) stays imagery.

The rule is local (the opening needs ``size`` pixels around each pixel), so rows are
decided the same way whatever strip or block they are read in: callers read a margin of
the square's side around the rows they decide.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import ndimage as ndi

#: Side (metres) of the smallest square of pure pixels taken as fill.
FILL_SIZE_M = 32.0


def fill_size_px(gsd_m: float, size_m: float = FILL_SIZE_M) -> int:
    """The fill square's side in pixels of ``gsd_m`` metres (odd, at least 3).

    Odd, so the square centres on a pixel and the opening is symmetric.

    >>> fill_size_px(1.0), fill_size_px(0.3), fill_size_px(30.0)
    (33, 107, 3)
    """
    return max(3, int(round(size_m / gsd_m)) | 1)


def pure_pixels(bands: Iterable[np.ndarray]) -> np.ndarray:
    """Pixels whose bands are all 0, or (all bands 8-bit) all 255; bands one at a time.

    Takes any iterable of 2-D bands, so a reader can hand them over one by one and
    hold a single band in memory.

    >>> a = np.array([[[0, 255, 7]], [[0, 255, 255]]], dtype=np.uint8)
    >>> pure_pixels(a).tolist()
    [[True, True, False]]
    """
    black: np.ndarray | None = None
    white: np.ndarray | None = None
    all_8bit = True
    for band in bands:
        black = band == 0 if black is None else black & (band == 0)
        all_8bit = all_8bit and band.dtype == np.uint8
        if all_8bit:
            white = band == 255 if white is None else white & (band == 255)
    if black is None:
        raise ValueError("pure_pixels needs at least one band")
    return black | white if all_8bit and white is not None else black


def fill_mask(pure: np.ndarray, size_px: int) -> np.ndarray:
    """Fill pixels: the opening of the ``pure`` mask by a centred square of ``size_px``.

    Deciding a pixel needs the mask ``size_px`` pixels around it (callers read that
    margin). Outside the array counts as continuing its edge values (``nearest``), so
    fill that reaches the raster's edge stays fill up to that edge.

    >>> m = np.zeros((6, 6), bool); m[:, 3:] = True; m[0, 0] = True
    >>> int(fill_mask(m, 3).sum()), bool(fill_mask(m, 3)[0, 0])
    (18, False)
    """
    if not pure.any():
        return pure
    k = int(size_px) | 1  # odd: erosion and dilation by the same centred square
    inner = ndi.minimum_filter(pure.view(np.uint8), size=k, mode="nearest")
    return np.asarray(ndi.maximum_filter(inner, size=k, mode="nearest") > 0) & pure
