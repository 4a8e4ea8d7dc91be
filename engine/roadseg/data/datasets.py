"""PyTorch datasets that stream windows from scenes.

:class:`TrainWindows` is indexed by sample keys (see :mod:`roadseg.data.sampler`):
the key seeds the window draw and the augmentation, so samples are identical
across workers, ranks and resumes. :class:`ValWindows` serves the fixed
validation grid. Items are dicts: ``image`` float32 (C,T,T), ``mask`` uint8
(T,T) with 255 = ignore, ``aug`` float64 (14,) augmentation parameters still to
apply on the device (identity when they were applied in the worker), ``key``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from roadseg.data.augment import AugmentConfig, apply_numpy, identity_params, sample_params
from roadseg.data.mixture import Draw, SourceMixture
from roadseg.data.plan import WindowPlan, WindowRef
from roadseg.data.sampler import key_rng
from roadseg.data.scene import Scene


def _item(
    image: np.ndarray, mask: np.ndarray, aug: np.ndarray, key: int, source: int = 0
) -> dict[str, Any]:
    return {
        "image": torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)),
        "mask": torch.from_numpy(np.ascontiguousarray(mask, dtype=np.uint8)),
        "aug": torch.from_numpy(aug),
        "key": key,
        "source": source,
    }


class TrainWindows(Dataset):
    """Random training windows, a pure function of ``(seed, key)``.

    Args:
        scenes: The scenes (of every source).
        plan: Window draws over the scenes' train blocks (a :class:`SourceMixture`).
        samples_per_epoch: Nominal length (keys beyond it are valid too).
        seed: Run seed.
        augment: Augmentation settings (None: none).
        in_workers: Apply augmentation here with numpy (else only draw the parameters).
        scene_source: Source index of every scene (default: all 0).

    """

    def __init__(
        self,
        scenes: Sequence[Scene],
        plan: SourceMixture | WindowPlan,
        samples_per_epoch: int,
        seed: int = 0,
        augment: AugmentConfig | None = None,
        in_workers: bool = False,
        scene_source: Sequence[int] | None = None,
    ) -> None:
        self.scenes = list(scenes)
        self.scene_source = list(scene_source) if scene_source is not None else [0] * len(scenes)
        if isinstance(plan, WindowPlan):
            plan = SourceMixture([plan], [0], [1.0], [0.0], plan.tile)
        self.plan = plan
        self.samples_per_epoch = int(samples_per_epoch)
        self.seed = int(seed)
        self.augment = augment
        self.in_workers = in_workers

    def __len__(self) -> int:
        return self.samples_per_epoch

    def reopen(self) -> None:
        """Reopen every scene's files (called in each DataLoader worker)."""
        for sc in self.scenes:
            sc.reopen()

    def window(self, key: int) -> Draw:
        """The window of a sample key: (scene, x, y, side in working pixels)."""
        return self.plan.draw(key_rng(self.seed, key, 0))

    def __getitem__(self, key: int) -> dict[str, Any]:
        s, x, y, size = self.window(key)
        sample = self.scenes[s].read(x, y, self.plan.tile, size)
        image, mask = sample.image, sample.mask
        params = (
            sample_params(self.augment, key_rng(self.seed, key, 1))
            if self.augment
            else identity_params()
        )
        if self.in_workers:
            image, mask = apply_numpy(image, mask, params)
            params = identity_params()
        return _item(image, mask, params, int(key), self.scene_source[s])


class ValWindows(Dataset):
    """Fixed validation windows (no augmentation)."""

    def __init__(
        self,
        scenes: Sequence[Scene],
        windows: Sequence[WindowRef],
        tile: int,
        scene_source: Sequence[int] | None = None,
    ) -> None:
        self.scenes = list(scenes)
        self.windows = list(windows)
        self.tile = int(tile)
        self.scene_source = list(scene_source) if scene_source is not None else [0] * len(scenes)

    def __len__(self) -> int:
        return len(self.windows)

    def reopen(self) -> None:
        """Reopen every scene's files (called in each DataLoader worker)."""
        for sc in self.scenes:
            sc.reopen()

    def __getitem__(self, i: int) -> dict[str, Any]:
        """Window ``i``; an index ≥ ``len(self)`` is a sampler's padding: key ``-1``."""
        pad = i >= len(self.windows)
        s, x, y = self.windows[i % len(self.windows)]
        sample = self.scenes[s].read(x, y, self.tile)
        key = -1 if pad else int(i)
        return _item(sample.image, sample.mask, identity_params(), key, self.scene_source[s])
