"""Pure resampling of probability strips from the working grid back to the input grid.

Probabilities (not classes) are resampled, then the caller takes the argmax:
upsampling (input finer than the model) gets smooth sub-pixel class boundaries
instead of blocky nearest-neighbour steps, and downsampling (input coarser than
the model) averages the footprint of each output pixel instead of picking one
working pixel at random (aliasing that breaks thin roads). The kernel is a
triangle (bilinear) whose radius is one working pixel when upsampling and one
output pixel when downsampling (antialiased, like PIL's resize). Separable:
columns with a gather, rows streamed strip by strip with :class:`RowResampler`,
so any output row is computed from the same global coordinates as a whole-raster
resize would use. At scale 1 the taps are the identity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class AxisTaps:
    """Source indexes and weights for each output pixel along one axis.

    Attributes:
        index: int array (n_out, taps), clamped to the source.
        weight: float32 array (n_out, taps); each row sums to 1.

    """

    index: np.ndarray
    weight: np.ndarray

    @property
    def lo(self) -> np.ndarray:
        """Lowest source index with a non-zero weight, per output pixel."""
        masked = np.where(self.weight > 0, self.index, np.iinfo(np.int64).max)
        return masked.min(axis=1)

    @property
    def hi(self) -> np.ndarray:
        """Highest source index with a non-zero weight, per output pixel."""
        masked = np.where(self.weight > 0, self.index, -1)
        return masked.max(axis=1)

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def rows(self, a: int, b: int) -> AxisTaps:
        """The taps of output pixels ``a..b-1``."""
        return AxisTaps(self.index[a:b], self.weight[a:b])


@dataclass(frozen=True, slots=True)
class TapRows:
    """The taps of output pixels ``first..stop-1`` of an axis, made on demand.

    Like :func:`axis_taps` (the same values) without per-pixel arrays for the whole
    range: a raster a million rows tall streams in constant memory. Source indexes
    are given relative to ``src0``.

    >>> t = TapRows(8, 4, 2.0, first=2, stop=6, src0=1)
    >>> len(t), t.rows(0, 2).index.tolist() == (axis_taps(8, 4, 2.0).index[2:4] - 1).tolist()
    (4, True)
    """

    n_out: int
    n_src: int
    scale: float
    first: int = 0
    stop: int = -1
    src0: int = 0

    def __len__(self) -> int:
        return (self.n_out if self.stop < 0 else self.stop) - self.first

    def rows(self, a: int, b: int) -> AxisTaps:
        """The taps of pixels ``first + a .. first + b - 1``."""
        t = axis_taps(self.n_out, self.n_src, self.scale, self.first + a, self.first + b)
        return AxisTaps(t.index - self.src0, t.weight) if self.src0 else t


def axis_taps(
    n_out: int, n_src: int, scale: float, first: int = 0, stop: int | None = None
) -> AxisTaps:
    """Triangle-kernel taps mapping ``n_src`` source pixels to ``n_out`` outputs.

    ``scale`` is the size of one source pixel in output pixels (the working grid
    is the output grid scaled by ``scale``: source pixel ``j`` covers output
    coordinates ``[j*scale, (j+1)*scale)``). ``first``/``stop`` give the taps of
    output pixels ``first..stop-1`` only (the same values as those rows of the whole).

    >>> t = axis_taps(4, 4, 1.0)
    >>> t.index[:, 0].tolist(), t.weight[:, 0].tolist()
    ([0, 1, 2, 3], [1.0, 1.0, 1.0, 1.0])
    >>> t = axis_taps(4, 2, 2.0)  # upsampling x2
    >>> np.round((t.weight * t.index).sum(1), 2).tolist()
    [0.0, 0.25, 0.75, 1.0]
    """
    radius = max(1.0, 1.0 / scale)  # in source pixels
    ntaps = int(math.ceil(2 * radius)) + 1
    stop = n_out if stop is None else stop
    centre = (np.arange(first, stop) + 0.5) / scale - 0.5  # output centres in source index space
    lo = np.floor(centre - radius).astype(np.int64) + 1
    idx = lo[:, None] + np.arange(ntaps)[None, :]
    w = np.maximum(0.0, 1.0 - np.abs(idx - centre[:, None]) / radius)
    idx = np.clip(idx, 0, n_src - 1)
    w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return AxisTaps(idx, w.astype(np.float32))


def resample_columns(data: np.ndarray, taps: AxisTaps) -> np.ndarray:
    """Resample the last axis of ``data`` (..., n_src) to (..., n_out)."""
    if _is_identity(taps, data.shape[-1]):
        return data
    out = np.zeros((*data.shape[:-1], taps.index.shape[0]), dtype=np.float32)
    for t in range(taps.index.shape[1]):
        w = taps.weight[:, t]
        if not w.any():
            continue
        out += data[..., taps.index[:, t]] * w
    return out


def _is_identity(taps: AxisTaps, n_src: int) -> bool:
    n = taps.index.shape[0]
    return (
        n == n_src
        and bool(np.all(taps.index[:, 0] == np.arange(n)))
        and bool(np.all(taps.weight[:, 0] == 1.0))
    )


class RowResampler:
    """Streams rows of a (bands, rows, cols) array through row taps.

    Feed consecutive source rows with :meth:`push`; it returns every output row
    whose taps are all available, and keeps only the source rows still needed.

    >>> import numpy as np
    >>> rr = RowResampler(axis_taps(4, 2, 2.0))
    >>> a = rr.push(np.zeros((1, 1, 1), dtype=np.float32))  # source row 0 = 0.0
    >>> b = rr.push(np.ones((1, 1, 1), dtype=np.float32))  # source row 1 = 1.0
    >>> (a[0], a[1].shape[1], b[0]), np.concatenate([a[1], b[1]], axis=1).ravel().tolist()
    ((0, 1, 1), [0.0, 0.25, 0.75, 1.0])
    """

    #: Output rows whose bounds are computed at a time (lazy taps).
    CHUNK = 1024

    def __init__(self, taps: AxisTaps | TapRows) -> None:
        self.taps = taps
        self._n_out = len(taps)
        self._next_out = 0  # next output row to emit
        self._buf: np.ndarray | None = None  # source rows [buf_start, src_end)
        self._buf_start = 0
        self._src_end = 0
        self._c0 = self._c1 = 0  # output rows whose lo/hi are cached
        self._lo = self._hi = np.zeros(0, dtype=np.int64)

    @property
    def buffered_rows(self) -> int:
        """Source rows held."""
        return 0 if self._buf is None else self._buf.shape[1]

    def _bounds(self, o: int) -> tuple[int, int]:
        """(lowest, highest) source row output row ``o`` reads."""
        if not self._c0 <= o < self._c1:
            self._c0, self._c1 = o, min(self._n_out, o + self.CHUNK)
            t = self.taps.rows(self._c0, self._c1)
            self._lo, self._hi = t.lo, t.hi
        return int(self._lo[o - self._c0]), int(self._hi[o - self._c0])

    def push(self, rows: np.ndarray, last: bool = False) -> tuple[int, np.ndarray]:
        """Add the next source rows (bands, n, cols); return (first output row, rows out).

        With ``last`` every remaining output row is emitted.
        """
        buf = rows if self._buf is None else np.concatenate([self._buf, rows], axis=1)
        self._src_end += rows.shape[1]
        first = self._next_out
        end = first
        while end < self._n_out and (last or self._bounds(end)[1] < self._src_end):
            end += 1
        out = np.zeros((buf.shape[0], end - first, buf.shape[2]), dtype=np.float32)
        if end > first:
            taps = self.taps.rows(first, end)
            idx = taps.index - self._buf_start
            w = taps.weight
            for t in range(idx.shape[1]):
                wt = w[:, t]
                if not wt.any():
                    continue
                out += buf[:, np.clip(idx[:, t], 0, buf.shape[1] - 1), :] * wt[None, :, None]
        self._next_out = end
        keep_from = self._bounds(end)[0] if end < self._n_out else self._src_end
        keep_from = max(self._buf_start, min(keep_from, self._src_end))
        self._buf = buf[:, keep_from - self._buf_start :, :]
        self._buf_start = keep_from
        return first, out


def argmax_u8(proba: np.ndarray) -> np.ndarray:
    """Argmax over axis 0 as uint8, without an int64 temporary (K is small).

    Ties go to the lower class, like :func:`numpy.argmax`.

    >>> argmax_u8(np.array([[[0.2, 0.5]], [[0.7, 0.5]]], dtype=np.float32)).tolist()
    [[1, 0]]
    """
    best = proba[0].copy()
    out = np.zeros(best.shape, dtype=np.uint8)
    for k in range(1, proba.shape[0]):
        better = proba[k] > best
        out[better] = k
        np.maximum(best, proba[k], out=best)
    return out


def road_sum(proba: np.ndarray) -> np.ndarray:
    """The road classes' probabilities together (K, ...) → (...): the road probability.

    >>> [round(float(v), 2) for v in road_sum(np.array([[0.36], [0.33], [0.31]]))]
    [0.64]
    """
    road = proba[1].copy()
    for k in range(2, proba.shape[0]):
        road += proba[k]
    return road


def decide_u8(
    proba: np.ndarray, threshold: float = 0.5, road: np.ndarray | None = None
) -> np.ndarray:
    """Class ids (uint8) from probabilities (K, ...): road, then the likeliest road class.

    A pixel is road where the road classes' probabilities together reach
    ``threshold``; it takes the likeliest road class; elsewhere background. ``road`` is
    :func:`road_sum` of ``proba`` when the caller has it already.

    A pixel whose road probability is split between two road classes (0.35 + 0.32)
    is road, although background (0.33) is the likeliest single class.

    >>> p = np.array([[0.33, 0.6], [0.35, 0.3], [0.32, 0.1]], dtype=np.float32)[:, None, :]
    >>> decide_u8(p).tolist(), argmax_u8(p).tolist()
    ([[1, 0]], [[1, 0]])
    >>> p = np.array([[0.36], [0.33], [0.31]], dtype=np.float32)[:, None, :]
    >>> decide_u8(p).tolist(), argmax_u8(p).tolist()
    ([[1]], [[0]])
    """
    if road is None:
        road = road_sum(proba)
    out = argmax_u8(proba[1:])
    out += 1
    out[road < threshold] = 0
    return out


def to_u8(proba: np.ndarray) -> np.ndarray:
    """Probabilities in [0, 1] → uint8 0–255 (rounded).

    >>> to_u8(np.array([0.0, 0.5, 1.0], dtype=np.float32)).tolist()
    [0, 128, 255]
    """
    tmp = np.multiply(proba, 255.0, dtype=np.float32)
    np.rint(tmp, out=tmp)
    np.clip(tmp, 0, 255, out=tmp)
    return tmp.astype(np.uint8)
