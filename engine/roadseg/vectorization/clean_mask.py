"""Network cleaning on the road mask, before skeletonising (pure: arrays in, arrays out).

Two named steps, both in metres (converted to pixels by the caller):

* **merge carriageways** — the two sides of a divided road, and other roads running
  side by side closer than ``gap_px``, become one road: a morphological closing
  with a disk of radius ``gap_px / 2`` fills the median, so the skeleton gives one
  centreline down the middle instead of two lines and a loop at every gap in the
  median.
* **collapse loops** — enclosed background pieces (holes in the road mask) that
  are not city blocks are filled: smaller than ``area_px`` pixels, or narrower than
  ``width_px`` (twice their largest inscribed radius: parking rows between two
  aisles, medians, traffic islands), as long as they are no longer than
  ``extent_px``. Holes touching the array's border or nodata are left alone
  (their extent is unknown). Each filled hole removes one loop from the network.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import disk


def merge_carriageways(
    mask: np.ndarray, gap_px: float, core: tuple[slice, slice] | None = None
) -> tuple[np.ndarray, int]:
    """Close gaps narrower than ``gap_px`` between roads.

    Returns:
        The merged mask and the number of medians filled: pieces of added road at
        least ``gap_px`` long whose first pixel lies in ``core`` (the whole array
        when None).

    >>> m = np.zeros((20, 40), bool); m[4:8] = True; m[11:15] = True
    >>> out, n = merge_carriageways(m, 6)
    >>> bool(out[9, 20]), n
    (True, 1)

    """
    r = int(round(gap_px / 2.0))
    if r < 1 or not mask.any():
        return mask, 0
    pad = r + 1
    big = np.pad(mask, pad, mode="edge")
    closed = ndi.binary_closing(big, structure=disk(r))[pad:-pad, pad:-pad] | mask
    added = closed & ~mask
    return closed, _count(added, core, min_len=gap_px)


def collapse_loops(
    mask: np.ndarray,
    invalid: np.ndarray | None,
    area_px: float,
    width_px: float,
    extent_px: float,
    core: tuple[slice, slice] | None = None,
) -> tuple[np.ndarray, int]:
    """Fill the holes of ``mask`` that are small or narrow (see the module docstring).

    Args:
        mask: Road mask.
        invalid: Nodata pixels (holes touching them are kept), or None.
        area_px: Holes smaller than this many pixels are filled.
        width_px: Holes narrower than this (pixels) are filled...
        extent_px: ...when their bounding box is at most this long.
        core: Holes are counted when their first pixel lies here.

    Returns:
        The filled mask and the number of holes filled.

    >>> m = np.ones((30, 60), bool); m[10:14, 5:55] = False   # a 4 px wide, 50 px long hole
    >>> out, n = collapse_loops(m, None, area_px=100, width_px=6, extent_px=60)
    >>> bool(out.all()), n
    (True, 1)
    >>> collapse_loops(m, None, area_px=100, width_px=3, extent_px=60)[1]
    0

    """
    if area_px <= 0 and width_px <= 0:
        return mask, 0
    lab, n = ndi.label(~mask)
    if n == 0:
        return mask, 0
    edge = np.zeros(n + 1, dtype=bool)
    edge[np.unique(np.r_[lab[0], lab[-1], lab[:, 0], lab[:, -1]])] = True
    if invalid is not None and invalid.any():
        edge[np.unique(lab[invalid])] = True
    idx = np.arange(1, n + 1)
    area = np.bincount(lab.ravel(), minlength=n + 1)
    fill = np.zeros(n + 1, dtype=bool)
    fill[1:] = area[1:] < area_px
    if width_px > 0:
        # Largest inscribed radius: distance to the nearest road pixel, maximised per hole.
        dist = ndi.distance_transform_edt(lab > 0)
        radius = np.zeros(n + 1)
        radius[1:] = ndi.maximum(dist, lab, idx)
        long = np.zeros(n + 1)
        for k, sl in enumerate(ndi.find_objects(lab), start=1):
            if sl is not None:
                long[k] = max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
        fill |= (2.0 * radius - 1.0 < width_px) & (long <= extent_px)
    fill[0] = False
    fill &= ~edge
    if not fill.any():
        return mask, 0
    filled = fill[lab]
    return mask | filled, _count_labels(lab, fill, core)


def _count_labels(lab: np.ndarray, chosen: np.ndarray, core: tuple[slice, slice] | None) -> int:
    """Chosen labels whose first pixel (row-major) lies in ``core``."""
    flat = lab.ravel()
    ks = np.flatnonzero(chosen)
    first = np.full(chosen.size, flat.size, dtype=np.int64)
    hit = chosen[flat]
    np.minimum.at(first, flat[hit], np.flatnonzero(hit))
    if core is None:
        return int(ks.size)
    r, c = np.divmod(first[ks], lab.shape[1])
    rs, cs = core
    inside = (r >= rs.start) & (r < rs.stop) & (c >= cs.start) & (c < cs.stop)
    return int(inside.sum())


def _count(added: np.ndarray, core: tuple[slice, slice] | None, min_len: float) -> int:
    lab, n = ndi.label(added, structure=np.ones((3, 3), bool))
    if n == 0:
        return 0
    big = np.zeros(n + 1, dtype=bool)
    for k, sl in enumerate(ndi.find_objects(lab), start=1):
        if sl is not None:
            big[k] = max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start) >= min_len
    return _count_labels(lab, big, core)
