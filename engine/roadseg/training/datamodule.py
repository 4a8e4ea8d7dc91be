"""The Lightning data module: scenes, spatial split, streaming loaders.

Built eagerly from a :class:`~roadseg.training.config.DataConfig` (the model needs
its bands, classes and resolution); the loaders use
:class:`~roadseg.data.sampler.WindowSampler` (DDP-aware, so Lightning's own
distributed sampler is switched off) and worker processes that each reopen the
files.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from torch.utils.data import DataLoader

from roadseg.data.augment import AugmentConfig
from roadseg.data.catalog import MaskOptions, raster_gsd, round_gsd
from roadseg.data.datasets import TrainWindows, ValWindows
from roadseg.data.layouts import find_pairs
from roadseg.data.mixture import SourceMixture
from roadseg.data.open_source import OpenedSource, PairRef, open_source, source_pairs, source_scheme
from roadseg.data.plan import WindowPlan
from roadseg.data.sampler import ShardSampler, WindowSampler, key_rng, worker_init
from roadseg.data.sources import SourceConfig, parse_sources
from roadseg.device import dataloader_workers
from roadseg.errors import ConfigError, DataError, warn
from roadseg.geo.classes import ClassScheme
from roadseg.geo.normalize import Scaling
from roadseg.geo.raster import open_raster
from roadseg.progress import Reporter


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
    sources: list[dict[str, Any]] = field(default_factory=list)

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
    """Streams training and validation windows from imagery + labels of one or more sources.

    Args:
        cfg: The data section.
        augment: Augmentation settings.
        aug_in_workers: Apply augmentation with numpy in the workers (else on the device).
        seed: Run seed.
        gsd_default: Model resolution when ``cfg.gsd`` is unset (e.g. the fine-tuned model's).
        reporter: Progress of the set-up.
        cache_dir: Folder for what the run makes itself (synthetic scenes).
        pin_memory: Pin batches in page-locked memory (only worth it when training on CUDA).

    """

    def __init__(
        self,
        cfg: Any,
        augment: AugmentConfig | None,
        aug_in_workers: bool,
        seed: int = 0,
        gsd_default: float | None = None,
        reporter: Reporter | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.pin_memory = bool(pin_memory)
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
        self.tile = int(cfg.tile)
        image_gsd = cfg.image_gsd or cfg.gsd or gsd_default
        listed = self._list_sources(cfg, image_gsd, cache_dir, rep)
        self.scheme, self.mask_options = self._model_scheme(cfg, listed)
        listed5 = [
            (src, pairs, layout, *self._source_scheme(src, pairs, cfg))
            for src, pairs, layout in listed
        ]
        self.multi_source = bool(cfg.sources)
        gsd_given = cfg.gsd or gsd_default
        if gsd_given:
            self.gsd_m = float(gsd_given)
        else:
            first = open_raster(listed[0][1][0].image, bands=cfg.bands, gsd=listed[0][0].image_gsd)
            self.gsd_m = round_gsd(raster_gsd(first))
            first.close()
        self.sources: list[OpenedSource] = []
        offset = 0
        for src, pairs, layout, scheme, mask in listed5:
            o = open_source(
                src,
                pairs,
                layout,
                self.scheme,
                self.gsd_m,
                self.tile,
                bands=cfg.bands,
                scheme=scheme,
                mask=mask,
                val_fraction=cfg.val_fraction,
                split=cfg.split,
                block=cfg.block,
                road_bias=cfg.road_bias,
                max_val_windows=cfg.max_val_windows,
                seed=self.seed,
                scene_offset=offset,
                report=lambda i, n, m: rep.update("data", i, n, m),
            )
            self.sources.append(o)
            offset += len(o.scenes)
        self.scenes = [sc for o in self.sources for sc in o.scenes]
        self.scene_source = [k for k, o in enumerate(self.sources) for _ in o.scenes]
        rep.update(
            "data", len(self.scenes), len(self.scenes), f"{len(self.scenes)} image(s) opened"
        )
        counts = {len(sc.raster.bands) for sc in self.scenes}
        if len(counts) > 1:
            raise DataError(
                f"the images have different band counts {sorted(counts)}",
                param="data.bands",
                hint="choose the same bands with `data.bands`, e.g. 1,2,3",
            )
        first_raster = self.scenes[0].raster
        self.in_channels = len(first_raster.bands)
        self.bands = tuple(first_raster.bands) if cfg.bands else None
        self.scaling: Scaling = first_raster.scaling
        offsets = np.cumsum([0] + [len(o.scenes) for o in self.sources[:-1]]).tolist()
        self.plan = SourceMixture(
            [o.plan for o in self.sources],
            offsets,
            [o.config.weight for o in self.sources],
            [
                o.config.scale_jitter if o.config.scale_jitter is not None else cfg.scale_jitter
                for o in self.sources
            ],
            self.tile,
        )
        self.val_refs = [
            (off + s, x, y)
            for o, off in zip(self.sources, offsets, strict=True)
            for s, x, y in o.val_refs
        ]
        if not self.val_refs:
            raise DataError(
                "the spatial split left no validation block (the imagery is too small for "
                f"{self.sources[0].plan.blocks[0].block}-px blocks)",
                param="data.val_fraction",
                value=cfg.val_fraction,
                hint="raise `data.val_fraction`, lower `data.tile` or give "
                "`data.val_image`/`data.val_labels`",
            )
        val_roads = 0
        for o in self.sources:
            n = val_road_points(o.road_points, o.plan, o.val_refs)
            val_roads += n
            if n == 0 and o.val_refs:
                names = sorted({o.scenes[s].name for s, _, _ in o.val_refs})
                where = (
                    f"source {o.name!r} ({', '.join(names[:5])})"
                    if self.multi_source
                    else ", ".join(names)
                )
                warn(
                    f"the labels have no road inside the validation area of {where}: "
                    "validation metrics will say nothing about roads; change `data.val_fraction` "
                    "or `data.split`, or give `data.val_image`/`data.val_labels` with roads"
                )
        all_pairs = [p for o in self.sources for p in o.pairs]
        self.summary = DataSummary(
            images=[str(p.image) for p in all_pairs if p.role != "val"],
            labels=[str(p.labels) for p in all_pairs if p.role != "val"],
            layout=self.sources[0].layout if len(self.sources) == 1 else "sources",
            train_blocks=self.plan.num_train_blocks,
            val_windows=len(self.val_refs),
            road_points=self.plan.num_road_points,
            val_road_points=val_roads,
            sources=[o.summary() for o in self.sources] if self.multi_source else [],
        )
        self.augment = augment if augment is not None and augment.enabled else None
        self.aug_in_workers = aug_in_workers
        self.train_set = TrainWindows(
            self.scenes,
            self.plan,
            cfg.samples_per_epoch,
            self.seed,
            self.augment,
            aug_in_workers,
            scene_source=self.scene_source,
        )
        self.val_set = ValWindows(
            self.scenes, self.val_refs, self.tile, scene_source=self.scene_source
        )
        self.train_sampler = WindowSampler(cfg.samples_per_epoch)
        self.workers = dataloader_workers(cfg.workers)

    def _source_scheme(
        self, src: SourceConfig, pairs: list[PairRef], cfg: Any
    ) -> tuple[ClassScheme, MaskOptions]:
        if not cfg.sources:
            return self.scheme, self.mask_options
        return source_scheme(src, pairs[0].labels, self.scheme)

    @property
    def source_names(self) -> list[str]:
        """Names of the sources (one per source; ``[]`` for a single unnamed source)."""
        return [o.name for o in self.sources] if self.multi_source else []

    @staticmethod
    def _list_sources(
        cfg: Any, image_gsd: float | None, cache_dir: Any, rep: Reporter
    ) -> list[tuple[SourceConfig, list[PairRef], str]]:
        """Every source with its pairs (the flat ``data`` keys form one source)."""
        if not cfg.sources:
            pairs, layout = collect_pairs(cfg)
            src = SourceConfig(
                name="data",
                image=tuple(str(p.image) for p in pairs[:1]),
                labels=tuple(str(p.labels) for p in pairs[:1]),
                image_gsd=image_gsd,
                classes=cfg.classes,
                class_field=cfg.class_field,
                class_map=cfg.class_map,
                mask_colors=cfg.mask_colors,
                mask_values=cfg.mask_values,
                mask_threshold=cfg.mask_threshold,
            )
            return [(src, pairs, layout)]
        out = []
        cache = Path(cache_dir) if cache_dir is not None else None
        for src in parse_sources(cfg.sources):
            if src.image_gsd is None and image_gsd is not None:
                src = dataclasses.replace(src, image_gsd=image_gsd)
            pairs, layout = source_pairs(src, cache, lambda m: rep.update("data", 0, 1, m))
            out.append((src, pairs, layout))
        return out

    @staticmethod
    def _model_scheme(
        cfg: Any, listed: list[tuple[SourceConfig, list[PairRef], str]]
    ) -> tuple[ClassScheme, MaskOptions]:
        """The model's classes: ``data.classes``, else the first source's with road classes."""
        if not cfg.sources:
            src, pairs, _ = listed[0]
            return source_scheme(src, pairs[0].labels, None)
        if cfg.classes not in (None, "auto"):
            return ClassScheme.preset(cfg.classes), MaskOptions()
        schemes = [source_scheme(src, pairs[0].labels, None)[0] for src, pairs, _ in listed]
        rich = [sc for sc in schemes if not sc.binary]
        return (rich[0] if rich else schemes[0]), MaskOptions()

    @property
    def class_scheme(self) -> ClassScheme:
        """The classes trained."""
        return self.scheme

    def estimate_class_counts(self, n: int = 64) -> np.ndarray:
        """Pixels per class over ``n`` drawn training windows (labels only)."""
        counts = np.zeros(self.scheme.num_classes, dtype=np.int64)
        for i in range(n):
            s, x, y, _ = self.plan.draw(key_rng(self.seed, 10**12 + i))
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
            pin_memory=self.pin_memory,
            drop_last=drop_last,
            prefetch_factor=2 if w > 0 else None,
        )

    def train_dataloader(self) -> DataLoader:
        """Random windows (keys from the DDP-aware sampler)."""
        return self._loader(self.train_set, self.train_sampler, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        """The validation grid, split over ranks."""
        return self._loader(self.val_set, ShardSampler(len(self.val_set)), drop_last=False)
