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
:func:`fill_margin` pixels around the rows they decide.
"""

from __future__ import annotations

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


def fill_margin(size_px: int) -> int:
    """Pixels to read around a region so that :func:`fill_mask` decides it exactly.

    >>> fill_margin(33)
    33
    """
    return int(size_px)


def pure_pixels(data: np.ndarray) -> np.ndarray:
    """Pixels whose bands are all 0, or (8-bit data) all 255.

    >>> a = np.array([[[0, 255, 7]], [[0, 255, 255]]], dtype=np.uint8)
    >>> pure_pixels(a).tolist()
    [[True, True, False]]
    """
    out = np.all(data == 0, axis=0)
    if data.dtype == np.uint8:
        out |= np.all(data == 255, axis=0)
    return np.asarray(out)


def fill_mask(data: np.ndarray, size_px: int) -> np.ndarray:
    """Fill pixels of a (bands, rows, cols) array: pure pixels in a pure square of ``size_px``.

    Outside the array counts as continuing its edge values (``nearest``), so fill that
    reaches the raster's edge stays fill up to that edge.

    >>> a = np.full((3, 8, 8), 90, np.uint8)
    >>> a[:, :, 4:] = 255                      # a white fill band, 4 columns wide
    >>> a[:, 0, 0] = 0                         # one black pixel: imagery
    >>> m = fill_mask(a, 3)
    >>> int(m.sum()), bool(m[:, 4:].all()), bool(m[0, 0])
    (32, True, False)
    """
    return open_pure(pure_pixels(data), size_px)


def open_pure(pure: np.ndarray, size_px: int) -> np.ndarray:
    """Fill pixels from a "pure" mask: its opening by a centred square of ``size_px``.

    >>> m = np.zeros((6, 6), bool); m[:, 3:] = True; m[0, 0] = True
    >>> int(open_pure(m, 3).sum()), bool(open_pure(m, 3)[0, 0])
    (18, False)
    """
    if not pure.any():
        return pure
    k = int(size_px) | 1  # odd: erosion and dilation by the same centred square
    inner = ndi.minimum_filter(pure.view(np.uint8), size=k, mode="nearest")
    return np.asarray(ndi.maximum_filter(inner, size=k, mode="nearest") > 0) & pure
