"""Road IoU of a model on an adaptation's hold-out blocks.

Each hold-out block is one window read exactly as validation reads it (imagery
resampled to the model's resolution, labels on the same grid); the model decides road
as prediction does (road where the road classes' summed probability reaches the
model's threshold). Road IoU pools all blocks: predicted road ∩ labelled road over
their union, ignored pixels left out. The same function scores the starting model
before training and the adapted model after, on the same windows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from roadseg.data.catalog import MaskOptions, open_pair
from roadseg.data.labelmap import IGNORE
from roadseg.data.scene import Scene
from roadseg.models import ModelMeta, RoadNet
from roadseg.training.road_stats import decide_classes


def holdout_scenes(
    pairs: Sequence[tuple[Path, Path]], meta: ModelMeta, image_gsd: float | None
) -> list[Scene]:
    """The hold-out blocks as scenes on the model's grid (codes read as they are)."""
    codes = {v: v for v in range(256)}
    scheme = meta.scheme
    out = []
    for image, mask in pairs:
        raster, labels = open_pair(
            image, mask, scheme, MaskOptions(values=codes), meta.bands, image_gsd
        )
        out.append(Scene(raster, labels, meta.gsd_m, image.name))
    return out


def road_iou(
    net: RoadNet,
    meta: ModelMeta,
    scenes: Sequence[Scene],
    tile: int,
    device: str = "cpu",
    batch_size: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> float:
    """Pooled road IoU of ``net`` (at ``meta.road_threshold``) over one window per scene.

    Returns NaN when the hold-out has neither labelled nor predicted road.
    """
    inter = union = 0
    net = net.eval().to(device)
    for k in range(0, len(scenes), batch_size):
        batch = [s.read(0, 0, tile) for s in scenes[k : k + batch_size]]
        x = torch.from_numpy(np.stack([b.image for b in batch])).to(device)
        with torch.no_grad():
            logits = net(x)
        pred = decide_classes(logits, meta.road_threshold).cpu().numpy() > 0
        for p, b in zip(pred, batch, strict=True):
            valid = b.mask != IGNORE
            truth = (b.mask > 0) & valid
            p = p & valid
            inter += int((p & truth).sum())
            union += int((p | truth).sum())
        if progress:
            progress(min(k + batch_size, len(scenes)), len(scenes))
    return inter / union if union else float("nan")
