"""Several training sources in one run: config, label mapping, draws by weight, per-source validation."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from road_scenes import plain_pair, road_scene
from roadseg.data.labelmap import ANY_ROAD, IGNORE
from roadseg.data.mixture import SourceMixture
from roadseg.data.plan import WindowPlan, split_scene
from roadseg.data.sampler import key_rng
from roadseg.data.sources import parse_sources
from roadseg.errors import ConfigError, DataError
from roadseg.models import read_meta
from roadseg.training import train
from roadseg.training.config import TrainConfig
from roadseg.training.datamodule import RoadDataModule
from roadseg.training.losses import SegLoss

README = Path(__file__).resolve().parents[2] / "README.md"
FAST = {
    "encoder": "resnet18",
    "tile": 64,
    "batch_size": 2,
    "samples_per_epoch": 6,
    "workers": 0,
    "precision": "32",
    "deterministic": True,
    "checkpoint_every": 0,
    "trainer.progress": "none",
    "threads": 1,
}


def _mask_dataset(root: Path, n: int = 3, ignore_band: bool = True) -> Path:
    """images/ + masks/ with 0 background, 1 road, 255 no-data fill in the first rows."""
    for i in range(n):
        road = plain_pair(root / "images" / f"t{i}.jpg", root / "masks" / f"t{i}.png", seed=i)
        m = road.astype(np.uint8)
        if ignore_band:
            m[:8] = 255
        Image.fromarray(m).save(root / "masks" / f"t{i}.png")
    return root


# --------------------------------------------------------------------------- config
def test_readme_sources_example_is_a_valid_config():
    text = README.read_text()
    block = re.search(r"```yaml\n(  data:\n.*?)```", text, re.S)
    assert block, "the README's data.sources example is missing"
    cfg = TrainConfig.resolve(yaml.safe_load(textwrap.dedent(block.group(1))))
    names = [s.name for s in parse_sources(cfg.data.sources)]
    assert names == ["synthetic", "massachusetts", "vegas"]
    assert cfg.data.scale_jitter == 0.3


@pytest.mark.parametrize(
    ("items", "match"),
    [
        ([{"name": "a"}], "has no data"),
        ([{"name": "a", "synthetic": 2, "dataset": "d"}], "makes its own scenes"),
        ([{"name": "a", "synthetic": 1, "weight": 0}], "weight must be a positive"),
        ([{"name": "a b", "synthetic": 1}], "letters, digits"),
        ([{"name": "a", "synthetic": 1}, {"name": "a", "synthetic": 1}], "used twice"),
        ([{"name": "a", "synthetic": 1, "colour": 1}], r"unknown key\(s\) \['colour'\]"),
        ([{"name": "a", "image": ["x.tif"]}], "labels file per image"),
        ([{"name": "a", "synthetic": 1, "scale_jitter": 1.5}], r"scale_jitter must be in \[0, 1\)"),
        ([{"name": "a", "synthetic": 1, "synthetic_styles": ["alpine"]}], "valid: urban"),
    ],
)
def test_bad_sources_are_refused_with_the_key(items, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig.resolve(overrides={"data.sources": items})


def test_flat_inputs_and_sources_together_are_refused():
    with pytest.raises(ConfigError, match="data.image must be empty"):
        TrainConfig.resolve(
            overrides={
                "data.sources": [{"name": "s", "synthetic": 1}],
                "image": ["a.tif"],
                "labels": ["a.gpkg"],
            }
        )


# --------------------------------------------------------------------------- draws
def test_sources_are_drawn_by_weight_and_windows_jitter_in_scale():
    blocks = split_scene(1024, 1024, 64, "train", 0.0, "checkerboard", 0, 0)
    plan = WindowPlan([blocks], [np.zeros((0, 2))], 64)
    mix = SourceMixture([plan, plan], [0, 1], [1.0, 3.0], [0.0, 0.3], 64)
    draws = [mix.draw(key_rng(0, k)) for k in range(2000)]
    share = np.mean([s == 1 for s, *_ in draws])
    assert 0.70 < share < 0.80  # weight 3 of 4
    sizes0 = {size for s, _, _, size in draws if s == 0}
    sizes1 = [size for s, _, _, size in draws if s == 1]
    assert sizes0 == {64}  # no jitter on source 0
    assert min(sizes1) < 50 and max(sizes1) > 78  # 0.7–1.3 × 64
    assert all(0 <= x <= 1024 - size and 0 <= y <= 1024 - size for _, x, y, size in draws)
    assert draws == [mix.draw(key_rng(0, k)) for k in range(2000)]  # a pure function of the key


# --------------------------------------------------------------------------- labels
def test_mask_codes_map_to_any_road_and_ignore_for_a_multi_class_model(tmp_path):
    ds = _mask_dataset(tmp_path / "masks_ds")
    tif, gpkg = road_scene(tmp_path / "vec", size=128)
    cfg = TrainConfig.resolve(
        overrides={
            "data.sources": [
                {"name": "vec", "image": [str(tif)], "labels": [str(gpkg)], "classes": "synth"},
                {
                    "name": "masks",
                    "dataset": str(ds),
                    "image_gsd": 0.5,
                    "mask_values": "0=background,1=road,255=ignore",
                    "val_match": ["*t2.jpg"],
                },
            ],
            "classes": "synth",
            "gsd": 0.5,
            "tile": 64,
        }
    )
    dm = RoadDataModule(cfg.data, None, False, 0, cache_dir=tmp_path / "cache")
    assert dm.scheme.names == ("background", "major", "minor", "track")
    assert dm.source_names == ["vec", "masks"]
    masks = dm.sources[1]
    assert [p.role for p in masks.pairs] == ["train", "train", "val"]
    sample = masks.scenes[0].read(0, 0, 64)
    values = set(np.unique(sample.mask).tolist())
    assert ANY_ROAD in values and IGNORE in values and values <= {0, ANY_ROAD, IGNORE}
    assert (sample.mask[:8] == IGNORE).all()  # the no-data fill rows
    vec = dm.sources[0].scenes[0].read(0, 0, 64)
    assert set(np.unique(vec.mask).tolist()) <= {0, 1, 2, 3}  # classes kept for vectors


def test_val_match_that_matches_nothing_is_a_clear_error(tmp_path):
    ds = _mask_dataset(tmp_path / "ds")
    cfg = TrainConfig.resolve(
        overrides={
            "data.sources": [
                {"name": "m", "dataset": str(ds), "image_gsd": 0.5, "val_match": ["Tile 9/*"]},
                {"name": "s", "synthetic": 1},
            ],
            "tile": 64,
        }
    )
    with pytest.raises(DataError, match=r"val_match \['Tile 9/\*'\] matches no image"):
        RoadDataModule(cfg.data, None, False, 0, cache_dir=tmp_path / "cache")


def test_any_road_loss_accepts_every_road_class_and_punishes_background():
    """A road pixel of unknown class: low loss when any road class is likely, high for background."""
    target = torch.full((1, 1, 1), ANY_ROAD)
    as_minor = torch.log(torch.tensor([0.05, 0.05, 0.85, 0.05])).view(1, 4, 1, 1)
    as_major = torch.log(torch.tensor([0.05, 0.85, 0.05, 0.05])).view(1, 4, 1, 1)
    as_background = torch.log(torch.tensor([0.85, 0.05, 0.05, 0.05])).view(1, 4, 1, 1)
    for spec in ("ce", "focal", "dice", "ce+dice"):
        loss = SegLoss(spec, 4, binary=False)
        a, b, c = (float(loss(z, target)) for z in (as_minor, as_major, as_background))
        assert a == pytest.approx(b, abs=1e-6) and c > a, spec
    ce = SegLoss("ce", 4, binary=False)
    assert float(ce(as_minor, target)) == pytest.approx(-np.log(0.95), abs=1e-5)


# --------------------------------------------------------------------------- a run
def test_two_source_run_reports_each_source_and_stores_the_threshold(tmp_path):
    ds = _mask_dataset(tmp_path / "masks_ds", n=3)
    r = train(
        {
            "data": {
                "sources": [
                    {"name": "synth", "synthetic": 1, "synthetic_val": 1, "synthetic_size": 192},
                    {
                        "name": "masks",
                        "dataset": str(ds),
                        "image_gsd": 0.5,
                        "mask_values": "1=road,255=ignore",
                        "val_match": ["*t2.jpg"],
                        "weight": 2,
                    },
                ],
                "classes": "synth",
                "gsd": 0.5,
                "scale_jitter": 0.2,
            }
        },
        out=str(tmp_path / "run"),
        epochs=1,
        monitor="val_road_iou",
        **FAST,
    )
    m = r.metrics
    for key in ("road_iou", "road_iou_synth", "road_iou_masks", "road_threshold", "road_iou_t50"):
        assert key in m, key
    assert 0.2 <= m["road_threshold"] <= 0.8
    assert m["road_iou"] == pytest.approx(
        np.mean([m["road_iou_synth"], m["road_iou_masks"]]), abs=1e-6
    )
    meta = read_meta(r.model_path)
    assert meta.road_threshold == pytest.approx(m["road_threshold"])
    assert meta.classes == ("background", "major", "minor", "track")
    assert [s["name"] for s in meta.training["sources"]] == ["synth", "masks"]
    assert (tmp_path / "run" / "sources" / "synth").is_dir()  # made once, inside the run
    assert r.curves is not None and r.curves.exists()
