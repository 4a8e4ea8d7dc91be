"""Plain image/mask folder layouts (no georeferencing) found by name.

* **DeepGlobe**: ``NAME_sat.jpg`` beside ``NAME_mask.png`` in one folder.
* **images/ + masks/** (Massachusetts Roads, the Dubai "Semantic segmentation of
  aerial imagery" set: ``Tile N/images/image_part_00K.jpg`` +
  ``Tile N/masks/image_part_00K.png``): searched recursively; an ``images``
  folder pairs with a sibling ``masks`` (or ``mask``, ``labels``, ``gt``,
  ``<name>_labels``) folder, files matched by name without extension.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from roadseg.errors import DataError, InputNotFoundError

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".jp2"}
_IMAGE_DIRS = ("images", "image", "imgs", "sat")
_MASK_DIRS = ("masks", "mask", "labels", "label", "gt", "map")


@dataclass(frozen=True, slots=True)
class ImageMaskPair:
    """One plain image and its mask."""

    image: Path
    mask: Path


def _files(folder: Path) -> dict[str, Path]:
    return {
        p.stem.lower(): p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_EXT
    }


def _deepglobe(root: Path) -> list[ImageMaskPair]:
    out = []
    for sat in sorted(root.rglob("*_sat.*")):
        if sat.suffix.lower() not in IMAGE_EXT:
            continue
        stem = sat.name[: -len("_sat" + sat.suffix)]
        masks = [m for m in sat.parent.glob(f"{stem}_mask.*") if m.suffix.lower() in IMAGE_EXT]
        if masks:
            out.append(ImageMaskPair(sat, sorted(masks)[0]))
    return out


def _mask_dir_for(images: Path) -> Path | None:
    siblings = {p.name.lower(): p for p in images.parent.iterdir() if p.is_dir()}
    for name in (*_MASK_DIRS, f"{images.name.lower()}_labels", f"{images.name.lower()}_masks"):
        if name in siblings and siblings[name] != images:
            return siblings[name]
    return None


def _image_mask_dirs(root: Path) -> list[ImageMaskPair]:
    out = []
    for dirpath, dirnames, _ in os.walk(root):
        dirnames.sort()
        d = Path(dirpath)
        if d.name.lower() not in _IMAGE_DIRS:
            continue
        mdir = _mask_dir_for(d)
        if mdir is None:
            continue
        masks = _files(mdir)
        for stem, img in _files(d).items():
            m = masks.get(stem) or masks.get(stem.replace("_sat", "_mask"))
            if m is not None:
                out.append(ImageMaskPair(img, m))
    return out


def find_pairs(root: str | os.PathLike[str]) -> tuple[str, list[ImageMaskPair]]:
    """Find image/mask pairs under ``root``; return (layout name, pairs).

    Raises:
        InputNotFoundError: ``root`` does not exist.
        DataError: no pair found (the message lists the layouts understood).

    """
    r = Path(root)
    if not r.is_dir():
        raise InputNotFoundError(
            f"`dataset` {str(r)!r} is not a folder",
            param="dataset",
            value=str(r),
            hint="give the dataset's root folder",
        )
    pairs = _image_mask_dirs(r)
    if pairs:
        return "images+masks", pairs
    pairs = _deepglobe(r)
    if pairs:
        return "deepglobe", pairs
    raise DataError(
        f"`dataset` {str(r)!r}: no image/mask pairs found",
        param="dataset",
        value=str(r),
        hint="expected NAME_sat.jpg + NAME_mask.png (DeepGlobe) or images/ + masks/ folders "
        "with matching file names",
    )
