"""What training reads: the labelled crops with the hold-out blanked, and one pair per block.

Per raster: a VRT of its labelled crop (no pixel is copied; the raster itself when the crop
is the whole raster) and its codes with the hold-out blocks set to ignored; per hold-out
block: a VRT of the block and its codes. Nothing is written for a raster whose labelled
blocks are all held out.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import rasterio
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from roadseg.adaptation.holdout import Holdout
from roadseg.adaptation.prepare import STRIP_ROWS, LabelledCrop
from roadseg.data.labelmap import IGNORE
from roadseg.errors import DataError
from roadseg.geo.vrt import write_window_vrt


@dataclass
class TrainingData:
    """What training reads: (image, codes) pairs to train on and hold-out pairs."""

    train: list[tuple[Path, Path]]
    val: list[tuple[Path, Path]]
    image_gsd: float | None


def write_training_data(
    crops: Sequence[LabelledCrop],
    holdout: Holdout,
    work: Path,
    image_gsd: float | None,
    report: Callable[[int, int, str], None] | None = None,
) -> TrainingData:
    """Write the training pairs (hold-out blanked) and one pair per hold-out block.

    Plain images (``dataset``) have no georeferencing: their codes are written and read
    without rasterio's warning about it (their pixel grid is all that matters here).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return _write(crops, holdout, work, image_gsd, report)


def _write(
    crops: Sequence[LabelledCrop],
    holdout: Holdout,
    work: Path,
    image_gsd: float | None,
    report: Callable[[int, int, str], None] | None,
) -> TrainingData:
    held: dict[int, set[tuple[int, int]]] = {}
    for b in holdout.blocks:
        held.setdefault(b.raster, set()).add((b.row, b.col))
    train: list[tuple[Path, Path]] = []
    val: list[tuple[Path, Path]] = []
    for k, crop in enumerate(crops):
        if report:
            report(k, len(crops), f"hold-out of {crop.image.name}")
        mine = held.get(crop.index, set())
        image = (
            crop.image
            if crop.full
            else write_window_vrt(crop.image, crop.window, work / f"image_{crop.index}.vrt")
        )
        kept = crop.labelled - sum(b.labelled for b in crop.blocks if (b.row, b.col) in mine)
        if kept > 0:
            mask = crop.codes if not mine else _blank(crop, mine, work / f"train_{crop.index}.tif")
            train.append((Path(image), mask))
        for r, c in sorted(mine):
            val.append(_val_pair(crop, r, c, work))
    if not train:
        raise DataError(
            "no labelled block is left to train on", param="labels", hint="label a larger area"
        )
    return TrainingData(train, val, image_gsd)


def _blank(crop: LabelledCrop, blocks: set[tuple[int, int]], out: Path) -> Path:
    """Copy the codes with the given blocks set to ignore."""
    bw, bh = crop.block_px
    with rasterio.open(crop.codes) as src:
        prof = src.profile
        with rasterio.open(out, "w", **prof) as dst:
            strip = bh * max(1, STRIP_ROWS // bh)
            for y in range(0, src.height, strip):
                sh = min(strip, src.height - y)
                win = Window(0, y, src.width, sh)
                a = src.read(1, window=win)
                for r, c in blocks:
                    if y <= r * bh < y + sh:
                        a[r * bh - y : r * bh - y + bh, c * bw : c * bw + bw] = IGNORE
                dst.write(a[None], window=win)
    return out


def _val_pair(crop: LabelledCrop, r: int, c: int, work: Path) -> tuple[Path, Path]:
    bw, bh = crop.block_px
    w = min(bw, int(crop.window.width) - c * bw)
    h = min(bh, int(crop.window.height) - r * bh)
    name = f"val_{crop.index}_{r}_{c}"
    src_win = Window(int(crop.window.col_off) + c * bw, int(crop.window.row_off) + r * bh, w, h)
    vrt = write_window_vrt(crop.image, src_win, work / f"{name}.vrt")
    with rasterio.open(crop.codes) as src:
        a = src.read(1, window=Window(c * bw, r * bh, w, h))
        prof = src.profile
        prof.update(width=w, height=h)
        for k in ("tiled", "blockxsize", "blockysize"):
            prof.pop(k, None)
        if src.crs is not None:
            prof["transform"] = src.window_transform(Window(c * bw, r * bh, w, h))
        with rasterio.open(work / f"{name}.tif", "w", **prof) as dst:
            dst.write(a[None])
    return vrt, work / f"{name}.tif"
