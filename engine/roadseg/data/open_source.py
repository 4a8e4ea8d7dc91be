"""Opening one training source: its image/label pairs, class mapping, scenes, split and windows.

:func:`source_pairs` lists a source's (image, labels, role) pairs — making synthetic
scenes first when the source asks for them — and :func:`open_source` opens them as
:class:`~roadseg.data.scene.Scene` s on the model's working grid, maps their label
classes onto the model's (:mod:`roadseg.data.labelmap`), splits them into train and
validation blocks and plans the source's windows.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from roadseg.data.catalog import MaskOptions, open_pair, resolve_scheme
from roadseg.data.labelmap import MappedLabels, class_lut
from roadseg.data.layouts import find_pairs
from roadseg.data.plan import WindowPlan, WindowRef, split_scene
from roadseg.data.scene import Scene
from roadseg.data.sources import SourceConfig
from roadseg.errors import DataError
from roadseg.geo.classes import ClassScheme
from roadseg.geo.labels import RASTER_SUFFIXES


@dataclass(frozen=True)
class PairRef:
    """One imagery/labels pair and its role: ``split``, ``train`` or ``val``."""

    image: Path
    labels: Path
    role: str


@dataclass
class OpenedSource:
    """A source ready to sample from.

    Attributes:
        config: The source's settings.
        scenes: Its scenes (train, split and validation ones).
        plan: Training draws and validation windows over its scenes (local indexes).
        val_refs: Its validation windows (local scene indexes).
        scheme: The classes its labels were read with (before mapping to the model's).
        layout: How its pairs were found (``rasters``, ``images+masks``, ``synthetic``...).
        pairs: Its pairs.
        road_points: Road locations per scene (working pixels).

    """

    config: SourceConfig
    scenes: list[Scene]
    plan: WindowPlan
    val_refs: list[WindowRef]
    scheme: ClassScheme
    layout: str
    pairs: list[PairRef] = field(default_factory=list)
    road_points: list[np.ndarray] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The source's name."""
        return self.config.name

    def summary(self) -> dict[str, Any]:
        """JSON-able description for the model file and the run's report."""
        return {
            "name": self.name,
            "kind": self.config.kind,
            "layout": self.layout,
            "weight": self.config.weight,
            "train_images": sum(1 for p in self.pairs if p.role != "val"),
            "val_images": sum(1 for p in self.pairs if p.role == "val"),
            "train_blocks": self.plan.num_train_blocks,
            "val_windows": len(self.val_refs),
            "road_points": self.plan.num_road_points,
            "classes": list(self.scheme.names),
        }


def source_pairs(
    src: SourceConfig,
    cache_dir: Path | None,
    report: Callable[[str], None] | None = None,
    held_out_only: bool = False,
) -> tuple[list[PairRef], str]:
    """The (image, labels, role) pairs of a source, and how they were found.

    ``held_out_only`` lists only the validation pairs (no training scene is made).
    """
    if src.kind == "synthetic":
        return _synthetic_pairs(src, cache_dir, report, held_out_only), "synthetic"
    role = "train" if src.has_own_validation else "split"
    pairs: list[PairRef] = []
    layout = "rasters"
    pairs += [PairRef(Path(i), Path(m), role) for i, m in zip(src.image, src.labels, strict=True)]
    if src.dataset:
        layout, found = find_pairs(src.dataset or "")
        root = Path(src.dataset or "")
        for p in found:
            rel = (
                p.image.relative_to(root).as_posix()
                if p.image.is_relative_to(root)
                else p.image.name
            )
            held = any(fnmatch.fnmatch(rel, pat) for pat in src.val_match)
            pairs.append(PairRef(p.image, p.mask, "val" if held else role))
        if src.val_match and not any(p.role == "val" for p in pairs):
            raise DataError(
                f"source {src.name!r}: val_match {list(src.val_match)} matches no image under "
                f"{str(root)!r}; patterns match paths relative to the dataset, e.g. 'Tile 5/*'"
            )
    pairs += [
        PairRef(Path(i), Path(m), "val") for i, m in zip(src.val_image, src.val_labels, strict=True)
    ]
    if src.val_dataset:
        _, found = find_pairs(src.val_dataset)
        pairs += [PairRef(p.image, p.mask, "val") for p in found]
    if held_out_only:
        return [p for p in pairs if p.role == "val"], layout
    if not any(p.role != "val" for p in pairs):
        raise DataError(
            f"source {src.name!r}: every pair is held out for validation; keep some to train on"
        )
    return pairs, layout


def _synthetic_pairs(
    src: SourceConfig,
    cache_dir: Path | None,
    report: Callable[[str], None] | None,
    held_out_only: bool = False,
) -> list[PairRef]:
    """Make (once) and list the synthetic scenes of a source."""
    from roadseg.synth import make_scene

    if cache_dir is None:
        raise DataError(
            f"source {src.name!r} makes synthetic scenes and needs a run folder to keep them in"
        )
    out = []
    for i in range(src.synthetic + src.synthetic_val):
        is_val = i >= src.synthetic
        if held_out_only and not is_val:
            continue
        seed = src.synthetic_seed + (100_000 if is_val else 0) + i
        style = src.synthetic_styles[i % len(src.synthetic_styles)]
        gsd = src.synthetic_gsd[i % len(src.synthetic_gsd)]
        d = cache_dir / src.name / f"{'val' if is_val else 'train'}_{seed}_{style}_{gsd:g}"
        if not (d / "roads.gpkg").exists():
            if report:
                report(f"making synthetic scene {d.name}")
            make_scene(d, size=src.synthetic_size, seed=seed, gsd=gsd, style=style, overwrite=True)
        out.append(PairRef(d / "image.tif", d / "roads.gpkg", "val" if is_val else "train"))
    return out


def source_scheme(
    src: SourceConfig, first_labels: Path, model: ClassScheme | None
) -> tuple[ClassScheme, MaskOptions]:
    """The classes a source's labels are read with, and its mask options."""
    is_mask = first_labels.suffix.lower() in RASTER_SUFFIXES
    classes = src.classes
    if classes == "auto" and src.kind == "synthetic":
        classes = "synth"
    if is_mask and not (src.mask_colors or src.mask_values) and classes == "auto":
        classes = "binary"
    return resolve_scheme(
        classes,
        first_labels,
        src.class_field,
        src.class_map,
        src.mask_colors,
        src.mask_values,
        src.mask_threshold,
        target=model,
    )


def open_source(
    src: SourceConfig,
    pairs: list[PairRef],
    layout: str,
    model: ClassScheme,
    gsd_m: float,
    tile: int,
    *,
    bands: tuple[int, ...] | None,
    scheme: ClassScheme | None = None,
    mask: MaskOptions | None = None,
    val_fraction: float = 0.2,
    split: str = "checkerboard",
    block: int | None = None,
    road_bias: float = 0.5,
    max_val_windows: int = 256,
    seed: int = 0,
    scene_offset: int = 0,
    report: Callable[[int, int, str], None] | None = None,
) -> OpenedSource:
    """Open a source's pairs as scenes with labels mapped to the model's classes; plan windows."""
    if scheme is None or mask is None:
        scheme, mask = source_scheme(src, pairs[0].labels, model)
    lut = class_lut(scheme.names, model.names, f"source {src.name!r}")
    scenes: list[Scene] = []
    for i, p in enumerate(pairs):
        if report:
            report(i, len(pairs), f"{src.name}: opening {p.image.name}")
        raster, labels = open_pair(
            p.image, p.labels, scheme, mask, bands, src.image_gsd, src.class_field
        )
        lab: Any = labels if lut is None else MappedLabels(labels, lut)
        scenes.append(Scene(raster, lab, gsd_m, _scene_name(p.image)))
    vf = src.val_fraction if src.val_fraction is not None else val_fraction
    pattern = src.split or split
    blocks = [
        split_scene(s.width, s.height, tile, p.role, vf, pattern, scene_offset + i, seed, block)  # type: ignore[arg-type]
        for i, (s, p) in enumerate(zip(scenes, pairs, strict=True))
    ]
    points = [
        s.road_points(tile / 4, 200_000, seed + scene_offset + i) for i, s in enumerate(scenes)
    ]
    bias = src.road_bias if src.road_bias is not None else road_bias
    plan = WindowPlan(blocks, points, tile, bias)
    if plan.num_train_blocks == 0:
        raise DataError(
            f"source {src.name!r}: the spatial split left no training block; lower its "
            "val_fraction or give separate validation data"
        )
    limit = src.max_val_windows if src.max_val_windows is not None else max_val_windows
    val_refs = plan.val_windows(limit)
    return OpenedSource(src, scenes, plan, val_refs, scheme, layout, pairs, points)


def _scene_name(path: Path) -> str:
    """A short scene name: the file name, with its folder when the name is generic."""
    if path.parent.name.lower() in ("images", "image", "imgs", "sat") and path.parent.parent.name:
        return f"{path.parent.parent.name}/{path.name}"
    return path.name
