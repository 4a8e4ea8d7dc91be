"""Road mask → cleaned mask → one-pixel skeleton and road width (pure, arrays in/out)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import disk, remove_small_holes, skeletonize

from roadseg.vectorize.classraster import NODATA


def road_mask(classes: np.ndarray) -> np.ndarray:
    """Pixels of any road class (not background, not nodata).

    >>> road_mask(np.array([[0, 1, 2, 255]], dtype=np.uint8)).tolist()
    [[False, True, True, False]]
    """
    return (classes > 0) & (classes != NODATA)


def clean_mask(mask: np.ndarray, close_px: int = 1, hole_px: int = 0) -> np.ndarray:
    """Close small notches (disk of radius ``close_px``) and fill holes up to ``hole_px`` pixels.

    Closing smooths ragged edges that would otherwise sprout skeleton spurs; filling
    small holes (cars, trees over the road) avoids tiny loops in the skeleton. The
    border of the array is not treated as background, so blocks agree at seams.

    >>> m = np.ones((5, 5), bool); m[2, 2] = False
    >>> bool(clean_mask(m, 0, 4)[2, 2])
    True
    """
    out = mask
    if close_px > 0:
        pad = close_px + 1
        big = np.pad(out, pad, mode="edge")
        big = ndi.binary_closing(big, structure=disk(close_px))
        out = big[pad:-pad, pad:-pad] | out
    if hole_px > 0:
        out = remove_small_holes(out, max_size=int(hole_px))
    return out


def skeleton(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide, 8-connected skeleton of a boolean mask.

    >>> m = np.zeros((7, 12), bool); m[2:5, 1:11] = True
    >>> int(skeleton(m).sum()) >= 8
    True
    """
    if not mask.any():
        return np.zeros_like(mask, dtype=bool)
    return skeletonize(mask)


def width_map(mask: np.ndarray, gsd: tuple[float, float]) -> np.ndarray:
    """Road width in metres at each road pixel: ``2 × distance to background − ½ pixel``.

    The distance from a road pixel's centre to the nearest background pixel's centre
    is between ``w/2`` and ``w/2 + ½`` pixels on the centreline of a road ``w``
    pixels wide, so half a pixel is taken off twice the distance.

    >>> m = np.zeros((30, 10), bool); m[10:20] = True
    >>> round(float(width_map(m, (0.5, 0.5))[15, 5]), 2)
    4.75
    """
    gx, gy = gsd
    if not mask.any():
        return np.zeros(mask.shape, dtype=np.float32)
    d = ndi.distance_transform_edt(mask, sampling=(gy, gx))
    w = 2.0 * d - 0.5 * (gx + gy) / 2.0
    return np.where(mask, np.maximum(w, 0.0), 0.0).astype(np.float32)
