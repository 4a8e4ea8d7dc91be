"""Windows stream from rasters: window-sized reads, labels per window, nodata/padding, workers."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from rasterio.windows import Window
from road_scenes import road_scene
from roadseg.data import (
    IGNORE_INDEX,
    Scene,
    TrainWindows,
    ValWindows,
    WindowPlan,
    WindowSampler,
    split_scene,
)
from roadseg.data.augment import AugmentConfig, identity_params
from roadseg.data.sampler import worker_init
from roadseg.geo.classes import ClassScheme
from roadseg.geo.labels import VectorLabels
from roadseg.geo.raster import RasterSource
from torch.utils.data import DataLoader


class CountingRaster(RasterSource):
    """A RasterSource that records the shape of every read and the process that opened it."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.reads: list[tuple[int, int]] = []
        self.opened_in = os.getpid()

    def __setstate__(self, state):
        super().__setstate__(state)
        self.opened_in = os.getpid()

    def read_raw(self, grid, resampling="nearest"):
        self.reads.append(grid.shape)
        return super().read_raw(grid, resampling)


def _scene(tmp_path, size=256, gsd=0.5, **kw):
    tif, gpkg = road_scene(tmp_path, size=size, **kw)
    src = CountingRaster(tif)
    lab = VectorLabels(gpkg, ClassScheme.preset("synth"), src.grid)
    return Scene(src, lab, gsd, "s"), lab


def test_reads_are_window_sized(tmp_path):
    scene, _ = _scene(tmp_path, size=512)
    blocks = split_scene(scene.width, scene.height, 64, "split", 0.25, "checkerboard", 0, 0)
    plan = WindowPlan([blocks], [scene.road_points(16, 1000)], 64, 0.5)
    ds = TrainWindows([scene], plan, 32, seed=0)
    for k in range(16):
        item = ds[k]
        assert item["image"].shape == (3, 64, 64) and item["mask"].shape == (64, 64)
    assert len(scene.raster.reads) == 16
    assert all(r == (64, 64) for r in scene.raster.reads)  # never the 512x512 raster


def test_window_labels_match_full_rasterisation(tmp_path):
    scene, lab = _scene(tmp_path, size=128)
    full = lab.rasterize(scene.grid)
    s = scene.read(32, 64, 64)
    assert np.array_equal(s.mask, full[64:128, 32:96])
    assert s.mask.max() > 0  # roads present
    # imagery is bright on roads
    assert s.image[0][s.mask > 0].mean() > s.image[0][s.mask == 0].mean() + 0.3


def test_padding_and_nodata_are_ignored(tmp_path):
    scene, _ = _scene(tmp_path, size=96, nodata_corner=16)
    s = scene.read(64, 64, 64)  # overhangs the 96-px raster by 32 px right and bottom
    assert (s.mask[32:, :] == IGNORE_INDEX).all() and (s.mask[:, 32:] == IGNORE_INDEX).all()
    assert (s.mask[:32, :32] != IGNORE_INDEX).all()
    assert (s.image[:, 32:, :] == 0).all()
    corner = scene.read(0, 0, 64)
    assert (corner.mask[:16, :16] == IGNORE_INDEX).all()
    assert (corner.mask[16:, 16:] != IGNORE_INDEX).all()


def test_resampled_to_model_gsd(tmp_path):
    scene, lab = _scene(tmp_path, size=128, gsd=1.0)  # raster at 0.5 m, model at 1 m
    assert (scene.width, scene.height) == (64, 64)
    s = scene.read(0, 0, 64)
    native = lab.rasterize(scene.raster.grid)
    # road pixels halve per axis: a quarter of the count (± edge effects)
    ratio = (s.mask > 0).sum() / (native > 0).sum()
    assert 0.2 < ratio < 0.3


def test_same_samples_with_workers_and_after_pickling(tmp_path):
    scene, _ = _scene(tmp_path, size=128)
    blocks = split_scene(scene.width, scene.height, 64, "split", 0.25, "checkerboard", 0, 0)
    plan = WindowPlan([blocks], [scene.road_points(16, 1000)], 64, 0.7)
    ds = TrainWindows([scene], plan, 8, seed=5, augment=AugmentConfig(), in_workers=True)
    clone = pickle.loads(pickle.dumps(ds))  # what a spawned worker receives: files reopen
    for k in (0, 3, 7):
        a, b = ds[k], clone[k]
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["mask"], b["mask"])

    def batches(workers):
        dl = DataLoader(ds, batch_size=4, sampler=WindowSampler(8), num_workers=workers)
        return [(b["image"], b["mask"], b["key"]) for b in dl]

    for (i0, m0, k0), (i2, m2, k2) in zip(batches(0), batches(2), strict=True):
        assert torch.equal(k0, k2) and torch.equal(i0, i2) and torch.equal(m0, m2)


def test_val_windows_fixed(tmp_path):
    scene, _ = _scene(tmp_path, size=128)
    blocks = split_scene(scene.width, scene.height, 64, "split", 0.25, "checkerboard", 0, 0)
    plan = WindowPlan([blocks], [np.zeros((0, 2))], 64, 0.0)
    refs = plan.val_windows()
    ds = ValWindows([scene], refs, 64)
    assert len(ds) == len(refs) >= 1
    assert torch.equal(ds[0]["mask"], ds[0]["mask"])
    assert torch.equal(ds[0]["aug"], torch.from_numpy(identity_params()))
    assert ds[0]["source"] == 0
    assert ds[0]["key"] == 0
    pad = ds[len(ds) + 1]  # a sampler's padding index: a real window, marked key -1
    assert pad["key"] == -1 and pad["image"].shape == ds[0]["image"].shape


@pytest.mark.parametrize("bias", [0.0, 0.9])
def test_road_bias_raises_road_fraction(tmp_path, bias):
    tif, gpkg = road_scene(tmp_path, size=512, n_roads=1, classes=("track",))
    src = RasterSource(tif)
    scene = Scene(src, VectorLabels(gpkg, ClassScheme.preset("synth"), src.grid), 0.5)
    blocks = split_scene(
        scene.width, scene.height, 32, "train", 0.0, "checkerboard", 0, 0, block=128
    )
    plan = WindowPlan([blocks], [scene.road_points(8, 10_000)], 32, bias)
    rng = np.random.default_rng(0)
    frac = np.mean(
        [
            (scene.labels.rasterize(scene.grid.window_grid(Window(x, y, 32, 32))) > 0).mean()
            for _, x, y in (plan.draw(rng) for _ in range(100))
        ]
    )
    road_share = (scene.labels.rasterize(scene.grid) > 0).mean()
    if bias == 0.0:
        assert frac < 3 * road_share
    else:
        assert frac > 4 * road_share


class PidWindows(TrainWindows):
    def __getitem__(self, key):
        item = super().__getitem__(key)
        return {**item, "pid": os.getpid(), "opened_in": self.scenes[0].raster.opened_in}


def test_each_worker_reads_through_its_own_handles(tmp_path):
    scene, _ = _scene(tmp_path, size=128)
    blocks = split_scene(scene.width, scene.height, 64, "train", 0.0, "checkerboard", 0, 0)
    ds = PidWindows([scene], WindowPlan([blocks], [np.zeros((0, 2))], 64, 0.0), 8, seed=0)
    dl = DataLoader(
        ds, batch_size=2, sampler=WindowSampler(8), num_workers=2, worker_init_fn=worker_init
    )
    batches = list(dl)
    pids = {int(p) for b in batches for p in b["pid"]}
    assert len(pids) == 2 and os.getpid() not in pids
    assert all(torch.equal(b["pid"], b["opened_in"]) for b in batches)  # reopened in the worker
