"""The data module from a config (no training): classes, split roles, weights; atomic checkpoint."""

from __future__ import annotations

import pytest
import torch
from road_scenes import road_scene
from roadseg.training.callbacks import AtomicCheckpointIO
from roadseg.training.config import TrainConfig
from roadseg.training.datamodule import RoadDataModule
from roadseg.training.setup import class_weights_for


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    return road_scene(root / "a", size=128, seed=1), road_scene(root / "b", size=96, seed=2)


def _dm(**over):
    cfg = TrainConfig.resolve(overrides={"tile": 64, "workers": 0, **over})
    return cfg, RoadDataModule(cfg.data, cfg.augment, False, seed=0)


def test_block_split_and_auto_class_weights(scenes):
    (a_tif, a_gpkg), _ = scenes
    cfg, dm = _dm(image=[str(a_tif)], labels=[str(a_gpkg)], class_weights="auto", road_bias=0.0)
    assert dm.scheme.names == ("background", "major", "minor", "track") and dm.in_channels == 3
    assert dm.gsd_m == 0.5 and dm.summary.train_blocks == 3 and dm.summary.val_windows == 1
    counts = dm.estimate_class_counts(32)
    assert counts[0] > counts[1:].max() > 0
    w = class_weights_for(cfg, dm)
    assert len(w) == 4 and w[0] == min(w)  # background is the most frequent class
    batch = next(iter(dm.train_dataloader()))
    assert (
        batch["image"].shape == (cfg.data.batch_size, 3, 64, 64)
        and batch["mask"].dtype == torch.uint8
    )


def test_separate_validation_rasters_and_binary(scenes):
    (a_tif, a_gpkg), (b_tif, b_gpkg) = scenes
    _, dm = _dm(
        image=[str(a_tif)],
        labels=[str(a_gpkg)],
        val_image=[str(b_tif)],
        val_labels=[str(b_gpkg)],
        classes="binary",
        gsd=1.0,
    )
    assert dm.scheme.names == ("background", "road")
    assert dm.summary.images == [str(a_tif)]  # validation imagery is not in the training summary
    # all of A trains (64 px at 1 m: one block), all of B (48 px) validates
    assert dm.summary.train_blocks == 1 and {s for s, _, _ in dm.val_refs} == {1}
    assert len(dm.val_set) == 1 and dm.val_set[0]["mask"].max() == 255  # padded past B's edge


def test_atomic_checkpoint_keeps_old_file_on_failure(tmp_path):
    io = AtomicCheckpointIO()
    p = tmp_path / "ck" / "last.ckpt"
    io.save_checkpoint({"a": torch.ones(3)}, p)
    before = p.read_bytes()

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        io.save_checkpoint({"a": torch.zeros(3), "b": Unpicklable()}, p)
    assert p.read_bytes() == before  # the previous checkpoint is intact
    assert [f.name for f in p.parent.iterdir()] == ["last.ckpt"]  # no temporary file left
    assert torch.equal(io.load_checkpoint(p)["a"], torch.ones(3))
