"""What one block of a vectorisation yields, and its file form (for blocks done elsewhere).

A block's *pieces* are the centreline edges it owns, its polygon pieces per class
(finished ones and those touching a seam, to be joined with the neighbours'), its
histogram of class values and the counts of its mask-cleaning steps. Merging the
pieces of every block in block order gives exactly what vectorising the raster in
one process gives (:func:`~roadseg.vectorization.extract.merge_pieces`), so blocks
can be vectorised by other processes or machines and merged later.

The file form is a ``.npz`` archive of plain arrays (geometries as WKB, no pickles:
it loads without executing code), written atomically.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from roadseg.errors import DataError
from roadseg.geo.atomic import atomic_output
from roadseg.vectorization.pixelgraph import BlockEdges
from roadseg.vectorization.polygons import Pieces

_EDGE_ARRAYS = ("u", "v", "counts", "wsum", "npix", "cut_ids", "cut_cls", "cut_w", "border_ids")


@dataclass
class BlockPieces:
    """The pieces of one block.

    Attributes:
        histogram: Pixels per value 0..255 in the block's core.
        edges: Centreline edges owned by the block (None: no road in the block).
        done: Polygons per class not touching a seam.
        seam: Polygon pieces per class touching a seam.
        counts: Carriageways merged and loops filled in the block.
        timings: Seconds per step.

    """

    histogram: np.ndarray
    edges: BlockEdges | None = None
    done: Pieces = field(default_factory=dict)
    seam: Pieces = field(default_factory=dict)
    counts: dict[str, int] = field(
        default_factory=lambda: {"carriageways_merged": 0, "loops_filled": 0}
    )
    timings: dict[str, float] = field(default_factory=dict)


def _pack(geoms: list[object] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Geometries → (WKB bytes as uint8, offsets)."""
    wkb = shapely.to_wkb(np.asarray(geoms, dtype=object)) if len(geoms) else []
    sizes = np.array([len(b) for b in wkb], dtype=np.int64)
    data = np.frombuffer(b"".join(wkb), dtype=np.uint8) if len(wkb) else np.zeros(0, np.uint8)
    return data, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def _unpack(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    raw = data.tobytes()
    wkb = [raw[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    return shapely.from_wkb(np.array(wkb, dtype=object)) if wkb else np.zeros(0, dtype=object)


def _polys(prefix: str, pieces: Pieces, arrays: dict[str, np.ndarray]) -> None:
    ids = [cid for cid, polys in pieces.items() for _ in polys]
    geoms = [p for polys in pieces.values() for p in polys]
    arrays[f"{prefix}_cls"] = np.array(ids, dtype=np.int64)
    arrays[f"{prefix}_wkb"], arrays[f"{prefix}_off"] = _pack(geoms)


def _unpolys(prefix: str, z: np.lib.npyio.NpzFile) -> Pieces:
    out: Pieces = {}
    geoms = _unpack(z[f"{prefix}_wkb"], z[f"{prefix}_off"])
    for cid, g in zip(z[f"{prefix}_cls"].tolist(), geoms, strict=True):
        out.setdefault(int(cid), []).append(g)
    return out


def save_pieces(path: str | os.PathLike[str], pieces: BlockPieces) -> Path:
    """Write a block's pieces to ``path`` (``.npz``), atomically."""
    arrays: dict[str, np.ndarray] = {"histogram": pieces.histogram.astype(np.int64)}
    arrays["counts"] = np.array(
        [pieces.counts["carriageways_merged"], pieces.counts["loops_filled"]], dtype=np.int64
    )
    arrays["has_edges"] = np.array(pieces.edges is not None)
    if pieces.edges is not None:
        for name in _EDGE_ARRAYS:
            arrays[f"e_{name}"] = np.asarray(getattr(pieces.edges, name))
        arrays["e_wkb"], arrays["e_off"] = _pack(pieces.edges.geoms)
    _polys("done", pieces.done, arrays)
    _polys("seam", pieces.seam, arrays)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return Path(path)


#: Arrays every pieces file holds.
_REQUIRED = ("histogram", "counts", "has_edges")
#: What reading a damaged ``.npz`` raises (a truncated zip, a bad CRC, a missing array...).
_DAMAGED = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


def pieces_readable(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a complete pieces file: it opens and lists the arrays it must hold.

    Cheap (the archive's index only): a file damaged inside an array is caught by
    :func:`load_pieces`.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            return set(_REQUIRED) <= set(z.files)
    except _DAMAGED:
        return False


def load_pieces(path: str | os.PathLike[str]) -> BlockPieces:
    """Read a block's pieces written by :func:`save_pieces` (no pickles are loaded).

    Raises:
        DataError: The file is missing or damaged (naming it; deleting it makes a blocked
            run vectorise that block again).

    """
    try:
        return _load(path)
    except _DAMAGED as exc:
        raise DataError(
            f"the block pieces {str(path)!r} are damaged ({type(exc).__name__}: {exc})",
            param="pieces",
            value=str(path),
            hint="delete the file and rerun the same command: that block is vectorised again",
        ) from None


def _load(path: str | os.PathLike[str]) -> BlockPieces:
    with np.load(path, allow_pickle=False) as z:
        counts = z["counts"].tolist()
        out = BlockPieces(
            z["histogram"].copy(),
            counts={"carriageways_merged": int(counts[0]), "loops_filled": int(counts[1])},
        )
        if bool(z["has_edges"]):
            kw = {name: z[f"e_{name}"].copy() for name in _EDGE_ARRAYS}
            out.edges = BlockEdges(geoms=_unpack(z["e_wkb"], z["e_off"]), **kw)
        out.done = _unpolys("done", z)
        out.seam = _unpolys("seam", z)
    return out
