"""Finishing accumulated rows of a region: normalise, resample to the output grid, decide classes.

Pure numpy (arrays in, arrays out). Float temporaries are bounded by ``chunk``
output columns, not by the region's width.
"""

from __future__ import annotations

import numpy as np

from roadseg.prediction.resample import (
    AxisTaps,
    RowResampler,
    decide_u8,
    resample_columns,
    road_sum,
    to_u8,
)
from roadseg.prediction.tiles2d import RegionPlan


class RegionFinisher:
    """Turns final rows of a region's working-grid accumulator into output rows (uint8).

    Normalises the blended sums, resamples probabilities to the output grid
    (columns in chunks, rows streamed), then decides the classes (:func:`decide_u8`).

    Args:
        plan: The region (its taps and working pixels).
        col_norm: Sum of blending weights per working column of ``plan.work_cols``.
        probabilities: Also return uint8 probabilities.
        chunk: Output columns processed at a time.
        road_threshold: The model's road threshold (see :func:`decide_u8`).

    """

    def __init__(
        self,
        plan: RegionPlan,
        col_norm: np.ndarray,
        probabilities: bool,
        chunk: int = 2048,
        road_threshold: float = 0.5,
    ) -> None:
        self.out_w = plan.region.cols.size
        self.road_threshold = float(road_threshold)
        self.probabilities = probabilities
        self._rows_identity = plan.rows_identity
        self._inv_col = (1.0 / col_norm).astype(np.float32)
        col = plan.col_taps.rows(0, self.out_w)  # bounded by the panel's width
        self.chunks: list[tuple[int, int, int, int, AxisTaps, RowResampler]] = []
        for c0 in range(0, self.out_w, chunk):
            c1 = min(self.out_w, c0 + chunk)
            part = col.rows(c0, c1)
            lo, hi = int(part.lo.min()), int(part.hi.max()) + 1
            # Zero-weight taps may point outside [lo, hi): clip them (they add nothing).
            sub = AxisTaps(np.clip(part.index - lo, 0, hi - lo - 1), part.weight)
            self.chunks.append((c0, c1, lo, hi, sub, RowResampler(plan.row_taps)))
        self._next = 0

    def push(
        self, acc: np.ndarray, a: int, b: int, row_norm: np.ndarray, last: bool
    ) -> tuple[int, np.ndarray, np.ndarray | None, np.ndarray]:
        """Finish working rows held at ``acc[:, a:b]``: the next ones of the region, in order.

        ``acc`` is the accumulator (K, rows, the region's working columns), ``row_norm``
        the sums of blending weights of those rows. Returns (first output row of the
        region, classes (n, W) uint8, probabilities (K, n, W) uint8 or None, the road
        probability (n, W) uint8).
        """
        row0 = self._next
        self._next += b - a
        inv_row = (1.0 / row_norm.astype(np.float32))[None, :, None]
        classes: np.ndarray | None = None
        proba: np.ndarray | None = None
        road: np.ndarray | None = None
        first = 0
        for c0, c1, lo, hi, sub, rr in self.chunks:
            data = acc[:, a:b, lo:hi] * inv_row
            data *= self._inv_col[None, None, lo:hi]
            data = resample_columns(data, sub)
            if self._rows_identity:
                first, out = row0, data
            else:
                first, out = rr.push(data, last=last)
            if classes is None:
                n = out.shape[1]
                classes = np.empty((n, self.out_w), dtype=np.uint8)
                road = np.empty((n, self.out_w), dtype=np.uint8)
                if self.probabilities:
                    proba = np.empty((acc.shape[0], n, self.out_w), dtype=np.uint8)
            if out.shape[1]:
                total = road_sum(out)
                classes[:, c0:c1] = decide_u8(out, self.road_threshold, total)
                assert road is not None
                road[:, c0:c1] = to_u8(total)
                if proba is not None:
                    proba[:, :, c0:c1] = to_u8(out)
        assert classes is not None and road is not None
        return first, classes, proba, road
