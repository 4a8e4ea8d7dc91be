"""The Lightning data module: scenes, spatial split, streaming loaders.

Built eagerly from a :class:`~roadseg.train.config.DataConfig` (the model needs
its bands, classes and resolution); the loaders use
:class:`~roadseg.data.sampler.WindowSampler` (DDP-aware, so Lightning's own
distributed sampler is switched off) and worker processes that each reopen the
files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from roadseg.data.augment import AugmentConfig
from roadseg.data.catalog import open_pair, raster_gsd, resolve_scheme, round_gsd
from roadseg.data.datasets import TrainWindows, ValWindows
from roadseg.data.layouts import find_pairs
from roadseg.data.plan import WindowPlan, split_scene
from roadseg.data.sampler import ShardSampler, WindowSampler, key_rng, worker_init
from roadseg.data.scene import Scene
from roadseg.device import dataloader_workers
from roadseg.errors import ConfigError, DataError, warn
from roadseg.geo.classes import ClassScheme
from roadseg.geo.normalize import Scaling
from roadseg.progress import Reporter


@dataclass(frozen=True)
class PairRef:
    """One imagery/labels pair and its role: ``split``, ``train`` or ``val``."""

    image: Path
    labels: Path
    role: str


@dataclass
class DataSummary:
    """What the data module found (for the model file and the report)."""

    images: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    layout: str = "rasters"
    train_blocks: int = 0
    val_windows: int = 0
    road_points: int = 0
    val_road_points: int = -1

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return dict(self.__dict__)


def collect_pairs(cfg: Any) -> tuple[list[PairRef], str]:
    """Every imagery/labels pair of a DataConfig, with its role, and the layout name."""
    if len(cfg.image) != len(cfg.labels):
        raise ConfigError(
            f"`data.image` was given {len(cfg.image)} time(s) and `data.labels` {len(cfg.labels)}",
            param="data.labels",
            value=list(cfg.labels),
            hint="give one `data.labels` per `data.image`",
        )
    if len(cfg.val_image) != len(cfg.val_labels):
        raise ConfigError(
            f"`data.val_image` was given {len(cfg.val_image)} time(s) and `data.val_labels` "
            f"{len(cfg.val_labels)}",
            param="data.val_labels",
            value=list(cfg.val_labels),
            hint="give one `data.val_labels` per `data.val_image`",
        )
    has_val = bool(cfg.val_image or cfg.val_dataset)
    role = "train" if has_val else "split"
    pairs = [
        PairRef(Path(i), Path(lab), role) for i, lab in zip(cfg.image, cfg.labels, strict=True)
    ]
    layout = "rasters"
    if cfg.dataset:
        layout, found = find_pairs(cfg.dataset)
        pairs += [PairRef(p.image, p.mask, role) for p in found]
    pairs += [
        PairRef(Path(i), Path(lab), "val")
        for i, lab in zip(cfg.val_image, cfg.val_labels, strict=True)
    ]
    if cfg.val_dataset:
        _, found = find_pairs(cfg.val_dataset)
        pairs += [PairRef(p.image, p.mask, "val") for p in found]
    if not pairs:
        raise ConfigError(
            "no training data",
            param="data.image",
            hint="give `data.image` RASTER and `data.labels` LABELS (repeatable) or "
            "`data.dataset` DIR",
        )
    if not any(p.role != "val" for p in pairs):
        raise ConfigError(
            "only validation data given",
            param="data.image",
            hint="add `data.image`/`data.labels` or `data.dataset` for training",
        )
    return pairs, layout


def val_road_points(
    points: list[np.ndarray], plan: WindowPlan, windows: list[tuple[int, int, int]]
) -> int:
    """Road locations inside the validation windows (0 → no road to validate on).

    Cheap: points are first kept only inside validation blocks, then counted in
    the listed (possibly thinned) windows.
    """
    t = plan.tile
    n = 0
    for s, b in enumerate(plan.blocks):
        p = points[s] if s < len(points) else np.zeros((0, 2))
        if not len(p) or not b.val:
            continue
        inb = np.zeros(len(p), dtype=bool)
        for r in b.val:
            inb |= (p[:, 0] >= r.x0) & (p[:, 0] < r.x1) & (p[:, 1] >= r.y0) & (p[:, 1] < r.y1)
        p = p[inb]
        if not len(p):
            continue
        inw = np.zeros(len(p), dtype=bool)
        for ws, x, y in windows:
            if ws == s:
                inw |= (p[:, 0] >= x) & (p[:, 0] < x + t) & (p[:, 1] >= y) & (p[:, 1] < y + t)
        n += int(inw.sum())
    return n


class RoadDataModule(L.LightningDataModule):
    """Streams training and validation windows from imagery + labels.

    Args:
        cfg: The data section.
        augment: Augmentation settings.
        aug_in_workers: Apply augmentation with numpy in the workers (else on the device).
        seed: Run seed.
        gsd_default: Model resolution when ``cfg.gsd`` is unset (e.g. the fine-tuned model's).
        reporter: Progress of the set-up.

    """

    def __init__(
        self,
        cfg: Any,
        augment: AugmentConfig | None,
        aug_in_workers: bool,
        seed: int = 0,
        gsd_default: float | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.seed = int(seed)
        rep = reporter or Reporter()
        if cfg.tile % 32 or cfg.tile < 32:
            raise ConfigError(
                f"`data.tile` {cfg.tile} must be a multiple of 32 (the encoders' output stride)",
                param="data.tile",
                value=cfg.tile,
                hint="e.g. 256",
            )
        if cfg.batch_size < 1 or cfg.samples_per_epoch < cfg.batch_size:
            raise ConfigError(
                f"`data.samples_per_epoch` ({cfg.samples_per_epoch}) must be at least "
                f"`data.batch_size` ({cfg.batch_size})",
                param="data.samples_per_epoch",
                value=cfg.samples_per_epoch,
            )
        pairs, layout = collect_pairs(cfg)
        self.scheme, self.mask_options = resolve_scheme(
            cfg.classes,
            pairs[0].labels,
            cfg.class_field,
            cfg.class_map,
            cfg.mask_colors,
            cfg.mask_values,
            cfg.mask_threshold,
        )
        image_gsd = cfg.image_gsd or cfg.gsd or gsd_default
        opened = []
        for i, p in enumerate(pairs):
            rep.update("data", i, len(pairs), f"opening {p.image.name}")
            opened.append(
                open_pair(
                    p.image,
                    p.labels,
                    self.scheme,
                    self.mask_options,
                    cfg.bands,
                    image_gsd,
                    cfg.class_field,
                )
            )
        rep.update("data", len(pairs), len(pairs), f"{len(pairs)} image(s) opened")
        first = opened[0][0]
        counts = {len(r.bands) for r, _ in opened}
        if len(counts) > 1:
            raise DataError(
                f"the images have different band counts {sorted(counts)}",
                param="data.bands",
                hint="choose the same bands with `data.bands`, e.g. 1,2,3",
            )
        self.in_channels = len(first.bands)
        self.bands = tuple(first.bands) if cfg.bands else None
        self.scaling: Scaling = first.scaling
        self.gsd_m = float(cfg.gsd or gsd_default or round_gsd(raster_gsd(first)))
        self.scenes = [
            Scene(r, lab, self.gsd_m, p.image.name)
            for (r, lab), p in zip(opened, pairs, strict=True)
        ]
        self.tile = int(cfg.tile)
        blocks = [
            split_scene(
                s.width,
                s.height,
                self.tile,
                p.role,
                cfg.val_fraction,
                cfg.split,
                i,
                self.seed,
                cfg.block,
            )
            for i, (s, p) in enumerate(zip(self.scenes, pairs, strict=True))
        ]
        points = [
            s.road_points(self.tile / 4, 200_000, self.seed + i) for i, s in enumerate(self.scenes)
        ]
        self.plan = WindowPlan(blocks, points, self.tile, cfg.road_bias)
        if self.plan.num_train_blocks == 0:
            raise DataError(
                "the spatial split left no training block",
                param="data.val_fraction",
                value=cfg.val_fraction,
                hint="lower `data.val_fraction` or give `data.val_image`",
            )
        self.val_refs = self.plan.val_windows(cfg.max_val_windows)
        if not self.val_refs:
            raise DataError(
                "the spatial split left no validation block (the imagery is too small for "
                f"{blocks[0].block}-px blocks)",
                param="data.val_fraction",
                value=cfg.val_fraction,
                hint="raise `data.val_fraction`, lower `data.tile` or give "
                "`data.val_image`/`data.val_labels`",
            )
        val_roads = val_road_points(points, self.plan, self.val_refs)
        if val_roads == 0:
            names = sorted({self.scenes[s].name for s, _, _ in self.val_refs})
            warn(
                f"the labels have no road inside the validation area of {', '.join(names)}: "
                "validation metrics will say nothing about roads; change `data.val_fraction` or "
                "`data.split`, or give `data.val_image`/`data.val_labels` with roads"
            )
        self.summary = DataSummary(
            images=[str(p.image) for p in pairs if p.role != "val"],
            labels=[str(p.labels) for p in pairs if p.role != "val"],
            layout=layout,
            train_blocks=self.plan.num_train_blocks,
            val_windows=len(self.val_refs),
            road_points=self.plan.num_road_points,
            val_road_points=val_roads,
        )
        self.augment = augment if augment is not None and augment.enabled else None
        self.aug_in_workers = aug_in_workers
        self.train_set = TrainWindows(
            self.scenes, self.plan, cfg.samples_per_epoch, self.seed, self.augment, aug_in_workers
        )
        self.val_set = ValWindows(self.scenes, self.val_refs, self.tile)
        self.train_sampler = WindowSampler(cfg.samples_per_epoch)
        self.workers = dataloader_workers(cfg.workers)

    @property
    def class_scheme(self) -> ClassScheme:
        """The classes trained."""
        return self.scheme

    def estimate_class_counts(self, n: int = 64) -> np.ndarray:
        """Pixels per class over ``n`` drawn training windows (labels only)."""
        counts = np.zeros(self.scheme.num_classes, dtype=np.int64)
        for i in range(n):
            s, x, y = self.plan.draw(key_rng(self.seed, 10**12 + i))
            counts += self.scenes[s].class_counts([(x, y)], self.tile, self.scheme.num_classes)
        return counts

    def _loader(self, ds: Any, sampler: Any, drop_last: bool) -> DataLoader:
        w = int(self.workers)
        return DataLoader(
            ds,
            batch_size=self.cfg.batch_size,
            sampler=sampler,
            num_workers=w,
            persistent_workers=w > 0,
            worker_init_fn=worker_init if w > 0 else None,
            pin_memory=torch.cuda.is_available(),
            drop_last=drop_last,
            prefetch_factor=2 if w > 0 else None,
        )

    def train_dataloader(self) -> DataLoader:
        """Random windows (keys from the DDP-aware sampler)."""
        return self._loader(self.train_set, self.train_sampler, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        """The validation grid, split over ranks."""
        return self._loader(self.val_set, ShardSampler(len(self.val_set)), drop_last=False)
